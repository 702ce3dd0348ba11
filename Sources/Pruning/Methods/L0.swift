// L0 regularisation with hard-concrete gates (Louizos, Welling & Kingma 2018), as Movement
// Pruning compares it: stochastic gates on learned logits, an expected-L0 penalty, and the
// deterministic gate value at evaluation.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import NN

public final class L0: PruningMethod {
    public static let name = "l0"
    public static let summary = "learns hard-concrete gates under an expected-L0 penalty"
    public static let reference = "Louizos et al. 2018 (arXiv 1712.01312)"
    public static let parameters: [MethodParameter] = [
        .real("lambda", 1, atLeast: 0, "penalty weight λ on the expected number of open gates", displayed: true),
    ] + LearnedScores.parameters(lr: 0.1, initial: 2.197, what: "gate logits", note: " (2.197: σ = 0.9)")
    public static let target = MethodTarget.own
    public static let schedules: [PruneSchedule.Kind] = [.constant, .linear, .cubic]
    public static let structured = false
    public static let learnsWhileTraining = true
    public static let masksOnlyShrink = false
    /// The stretch l < 0 < 1 < r and temperature β of the authors.
    static let l: Float = -0.1, r: Float = 1.1, beta: Float = 2.0 / 3.0
    let settings: MethodSettings

    public init(settings: MethodSettings) { self.settings = settings }

    public func makeGate(_ target: PruneTarget, mask: Tensor, pruner: Pruner) throws -> WeightGate {
        try LearnedScores.gate(target, mask: mask, settings: settings, method: Self.name,
                           transform: HardConcreteGate(l: L0.l, r: L0.r, beta: L0.beta, rng: RNG(seed: pruner.rng.next())))
    }

    public func scoreOptimizer() -> (kind: OptimizerKind, lr: Float)? { LearnedScores.optimizer(settings) }

    public func loss(_ loss: Tensor, pruner: Pruner, step: Int) throws -> Tensor {
        let lambda = settings.number("lambda")
        guard lambda > 0 else { return loss }
        let shift = L0.beta * Float(log(Double(-L0.l / L0.r)))
        return try loss + LearnedScores.penalty(pruner.gates, shift: shift) * Float(lambda)
    }

    /// The gates decide; there is no top-k to redo.
    public func updateMasks(_ pruner: Pruner, keep: Double) throws {}

    public static func restoreTransform(name: String, settings: [String: Double], rng: RNG) -> GateTransform? {
        guard name == HardConcreteGate.transformName else { return nil }
        return HardConcreteGate(l: Float(settings["l"] ?? Double(l)), r: Float(settings["r"] ?? Double(r)),
                                beta: Float(settings["beta"] ?? Double(beta)), rng: rng)
    }
}

/// Stochastic hard-concrete gates on logits (the gate's `scores`) in training, their
/// deterministic value at evaluation.
public final class HardConcreteGate: GateTransform {
    static let transformName = "hard_concrete"
    public let l: Float, r: Float, beta: Float
    /// Noise source for the gates in training.
    public let rng: RNG

    public init(l: Float, r: Float, beta: Float, rng: RNG) { self.l = l; self.r = r; self.beta = beta; self.rng = rng }

    public var name: String { Self.transformName }
    public var settings: [String: Double] { ["l": Double(l), "r": Double(r), "beta": Double(beta)] }

    public func apply(_ w: Tensor, gate: WeightGate, training: Bool) throws -> Tensor {
        guard let scores = gate.scores else { return try Tensor.gated(w, mask: gate.mask) }
        var noise: Tensor?
        if training {
            let u = Tensor.empty(like: w)
            rng.fillUniform(u.data, count: u.count, low: 1e-4, span: 1 - 2e-4)
            noise = u
        }
        return try Tensor.hardConcreteGated(w, logits: scores, noise: noise, l: l, r: r, beta: beta)
    }

    /// Folds the deterministic gate value into the weights; the mask is where it is open.
    public func fix(_ w: Tensor, gate: WeightGate) {
        guard let s = gate.scores else { return }
        let m = Tensor.hardConcreteMask(logits: s, l: l, r: r)
        w.multiplyInPlace(by: m)
        for i in 0..<m.count { gate.mask.data[i] = m.data[i] > 0 ? 1 : 0 }
    }

    public func copy() -> GateTransform { HardConcreteGate(l: l, r: r, beta: beta, rng: RNG(seed: rng.next())) }
}
