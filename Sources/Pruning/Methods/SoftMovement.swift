// Soft movement pruning (Sanh et al. 2020): M = 1[σ(S) > τ] with a penalty λ·mean(σ(S)); τ and
// λ rise on the schedule, and the sparsity is whatever the penalty reaches.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import Kernels
import NN

public final class SoftMovement: PruningMethod {
    public static let name = "soft_movement"
    public static let summary = "thresholds σ(S) of learned scores under a penalty"
    public static let reference = "Sanh, Wolf & Rush 2020 (arXiv 2005.07683)"
    public static let parameters: [MethodParameter] = [
        .real("lambda", 400, atLeast: 0, "final penalty weight λ (it rises with τ)", displayed: true),
        .real("threshold", 0.1, above: 0, below: 1, "final threshold τ on σ(S)", displayed: true),
        .real("min_keep", 0.005, above: 0, atMost: 1, "every matrix keeps at least this fraction"),
    ] + LearnedScores.parameters(lr: 1e-2, initial: 0, what: "scores")
    public static let target = MethodTarget.own
    public static let defaultSchedule = PruneSchedule(.cubic, every: 1)
    public static let schedules: [PruneSchedule.Kind] = [.constant, .linear, .cubic]
    public static let structured = false
    public static let learnsWhileTraining = true
    public static let masksOnlyShrink = false
    let settings: MethodSettings
    let threshold: Double

    public init(settings: MethodSettings) { self.settings = settings; threshold = settings.number("threshold") }

    public func makeGate(_ target: PruneTarget, mask: Tensor, pruner: Pruner) throws -> WeightGate {
        try LearnedScores.gate(target, mask: mask, settings: settings, method: Self.name, transform: StraightThroughGate())
    }

    public func scoreOptimizer() -> (kind: OptimizerKind, lr: Float)? { LearnedScores.optimizer(settings) }

    /// τ(t), from 0 to τ_final on the pruner's schedule.
    func tau(_ pruner: Pruner, at t: Int) -> Double {
        pruner.config.schedule.value(at: t, total: pruner.totalSteps, initial: 0, final: threshold)
    }

    public func loss(_ loss: Tensor, pruner: Pruner, step: Int) throws -> Tensor {
        let lambda = Float(settings.number("lambda") * tau(pruner, at: step - 1) / threshold)
        guard lambda > 0 else { return loss }
        return try loss + LearnedScores.penalty(pruner.gates, shift: 0) * lambda
    }

    public func updateMasks(_ pruner: Pruner, keep: Double) throws {
        let t = tau(pruner, at: pruner.stepsTaken)
        for g in pruner.gates { softMask(g, tau: t) }
    }

    public func end(_ pruner: Pruner) throws {
        let t = tau(pruner, at: pruner.stepsTaken)
        for g in pruner.gates where g.transform is StraightThroughGate { softMask(g, tau: t) }
    }

    /// M = 1[σ(S) > τ], keeping at least `min_keep` of the matrix.
    func softMask(_ g: WeightGate, tau: Double) {
        guard let s = g.scores else { return }
        let n = s.count
        let cut = tau <= 0 ? -Float.infinity : Float(log(tau / (1 - tau)))
        var kept = 0
        for i in 0..<n { let on: Float = s.data[i] > cut ? 1 : 0; g.mask.data[i] = on; kept += Int(on) }
        let floor = Swift.max(1, Int((settings.number("min_keep") * Double(n)).rounded(.up)))
        if kept < floor {
            topKMasks(values: [(UnsafePointer(s.data), n)], allowed: [nil], k: floor, masks: [g.mask.data])
        }
        g.requestedSparsity = nil
    }
}
