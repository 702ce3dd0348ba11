// Soft threshold reparameterisation (STR, Kusupati et al. 2020): the layer computes
// sign(W)·ReLU(|W| − σ(s)) with one learned threshold logit s per matrix; weight decay on s
// raises the thresholds, the loss holds them back, and each layer's sparsity is what results.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import NN

public final class STR: PruningMethod {
    public static let name = "str"
    public static let summary = "learns one soft threshold σ(s) per matrix: W_eff = sign(W)·ReLU(|W| − σ(s)), s under weight decay"
    public static let reference = "Kusupati et al. 2020 (arXiv 2002.03231)"
    // The authors train s with the weights' SGD and weight decay, from a very negative s_init
    // (dense at the start) picked per target; these defaults suit the small models here.
    public static let parameters: [MethodParameter] = [
        .real("lambda", 5e-3, atLeast: 0, "weight decay on the threshold logits s: the larger, the sparser", displayed: true),
    ] + LearnedScores.parameters(lr: 0.1, initial: -10, what: "threshold logits s", note: " (σ(−10) ≈ 4.5e-5: dense)",
                                 optimizer: "sgd")
    public static let target = MethodTarget.own
    public static let schedules: [PruneSchedule.Kind] = [.constant]
    /// The forward pass thresholds by itself; the stored masks only serve reports while training
    /// (fixing writes the final one), so they need not be rewritten every step.
    public static let defaultSchedule = PruneSchedule(.constant, every: 10)
    public static let structured = false
    public static let learnsWhileTraining = true
    public static let masksOnlyShrink = false
    let settings: MethodSettings

    public init(settings: MethodSettings) { self.settings = settings }

    public func makeGate(_ target: PruneTarget, mask: Tensor, pruner: Pruner) throws -> WeightGate {
        try LearnedScores.gate(target, mask: mask, settings: settings, method: Self.name, transform: SoftThresholdGate(), shape: [1])
    }

    public func scoreOptimizer() -> (kind: OptimizerKind, lr: Float)? { LearnedScores.optimizer(settings) }

    /// (λ/2)·Σ s²: weight decay on the logits through the loss, so it acts whichever optimizer.
    public func loss(_ loss: Tensor, pruner: Pruner, step: Int) throws -> Tensor {
        let lambda = Float(settings.number("lambda"))
        guard lambda > 0 else { return loss }
        var total = loss
        for g in pruner.gates { if let s = g.scores { total = try total + s.square().sum() * (lambda / 2) } }
        return total
    }

    /// The masks follow the thresholds (for reports while training): M = 1[|W| > σ(s)].
    public func updateMasks(_ pruner: Pruner, keep: Double) throws {
        for (t, g) in zip(pruner.targets, pruner.gates) { SoftThresholdGate.writeMask(t.weight, gate: g) }
    }

    public static func restoreTransform(name: String, settings: [String: Double], rng: RNG) -> GateTransform? {
        name == SoftThresholdGate.transformName ? SoftThresholdGate() : nil
    }
}

/// sign(W)·ReLU(|W| − σ(s)) with the matrix's threshold logit s in the gate's scores (shape [1]).
/// ∂/∂W = 1[|W| > σ(s)]; ∂/∂s = −σ'(s)·Σ sign(W)·1[|W| > σ(s)]·(upstream gradient).
public final class SoftThresholdGate: GateTransform {
    static let transformName = "soft_threshold"
    public var name: String { Self.transformName }
    public var settings: [String: Double] { [:] }
    public init() {}

    public func apply(_ w: Tensor, gate: WeightGate, training: Bool) throws -> Tensor {
        guard let s = gate.scores else { return w }
        return try w.sign() * (w.abs() - s.sigmoid()).relu()
    }

    /// W becomes the thresholded weight the layer computed with; M = 1[|W| > σ(s)].
    public func fix(_ w: Tensor, gate: WeightGate) {
        guard let s = gate.scores, s.count > 0 else { return }
        let tau = 1 / (1 + exp(-Double(s.data[0])))
        for i in 0..<w.count {
            let a = Double(Swift.abs(w.data[i]))
            let kept = a > tau
            gate.mask.data[i] = kept ? 1 : 0
            w.data[i] = kept ? Float(Double(w.data[i].sign == .minus ? -1 : 1) * (a - tau)) : 0
        }
    }

    /// M = 1[|W| > σ(s)] without changing W.
    static func writeMask(_ w: Tensor, gate: WeightGate) {
        guard let s = gate.scores, s.count > 0 else { return }
        let tau = Float(1 / (1 + exp(-Double(s.data[0]))))
        for i in 0..<w.count { gate.mask.data[i] = Swift.abs(w.data[i]) > tau ? 1 : 0 }
        gate.requestedSparsity = nil
    }

    public func copy() -> GateTransform { SoftThresholdGate() }
}
