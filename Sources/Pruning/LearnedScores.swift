// What the methods that learn scores share: the scores' own optimizer settings, declared with
// each method's defaults, and the mean-sigmoid penalty of soft movement and L0.
import Engine
import NN

enum LearnedScores {
    /// The declarations of `score_lr`, `score_optimizer` and `init`, with a method's defaults.
    static func parameters(lr: Double, initial: Double, what: String, note: String = "", optimizer: String = "adam") -> [MethodParameter] {
        [.real("score_lr", lr, above: 0, "learning rate of the \(what)"),
         .choice("score_optimizer", optimizer, ["adam", "sgd"], "optimizer of the \(what)"),
         .real("init", initial, "initial value of the \(what)\(note)")]
    }

    /// The optimizer those settings name.
    static func optimizer(_ s: MethodSettings) -> (kind: OptimizerKind, lr: Float) {
        (s.text("score_optimizer") == "sgd" ? .sgd() : .adam(), Float(s.number("score_lr")))
    }

    /// A gate whose scores start at `init`: one per weight, or of `shape` (one per matrix).
    static func gate(_ target: PruneTarget, mask: Tensor, settings: MethodSettings, method: String,
                     transform: GateTransform, shape: [Int]? = nil) throws -> WeightGate {
        WeightGate(mask: mask, scores: try Tensor(shape: shape ?? target.weight.shape, repeating: Float(settings.number("init"))).requiringGrad(),
                   method: method, transform: transform)
    }

    /// Mean over matrices of mean(σ(S − shift)): the soft-movement and expected-L0 penalties.
    static func penalty(_ gates: [WeightGate], shift: Float) throws -> Tensor {
        var total: Tensor?
        for g in gates {
            guard let s = g.scores else { continue }
            let term = (shift == 0 ? s : s - shift).sigmoid().mean()
            total = try total.map { try $0 + term } ?? term
        }
        return (total ?? Tensor(0)) * (1 / Float(Swift.max(gates.count, 1)))
    }
}
