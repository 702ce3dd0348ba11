// Movement pruning (Sanh, Wolf & Rush 2020): scores S learned beside the weights, M = Top_v(S)
// with a straight-through backward, so S accumulates −Σ (∂L/∂W)·W. It offers a fused pass
// (FusedMovement.swift) that updates weights, scores and masks in one sweep per step.
import Engine
import NN

public final class Movement: PruningMethod {
    public static let name = "movement"
    public static let summary = "learns scores S beside the weights (straight-through Top_v(S)); weights moving away from zero are kept"
    public static let reference = "Sanh, Wolf & Rush 2020 (arXiv 2005.07683)"
    public static let parameters = LearnedScores.parameters(lr: 1e-2, initial: 0, what: "scores")
    // The authors recompute Top_v at every forward pass; with masks held for 10 steps,
    // fine-tuning on little data ends visibly worse (see tutorials/02).
    public static let defaultSchedule = PruneSchedule(.cubic, every: 1)
    public static let schedules: [PruneSchedule.Kind] = [.constant, .linear, .cubic]
    public static let learnsWhileTraining = true
    public static let masksOnlyShrink = false
    let settings: MethodSettings

    public init(settings: MethodSettings) { self.settings = settings }

    public func makeGate(_ target: PruneTarget, mask: Tensor, pruner: Pruner) throws -> WeightGate {
        try LearnedScores.gate(target, mask: mask, settings: settings, method: Self.name, transform: StraightThroughGate())
    }

    public func scoreOptimizer() -> (kind: OptimizerKind, lr: Float)? { LearnedScores.optimizer(settings) }

    public func begin(_ pruner: Pruner, optimizer: Optimizer) throws { pruner.startFused(optimizer: optimizer) }

    public func loss(_ loss: Tensor, pruner: Pruner, step: Int) throws -> Tensor {
        // A new step: gradients a failed step left behind are not this step's.
        pruner.clearFusedGradients()
        return loss
    }

    public func afterStep(_ pruner: Pruner, step: Int) throws {
        if pruner.fusedRun != nil { return try pruner.fusedStep(step: step) }
        try pruner.scheduledUpdate(after: step)
    }

    public func end(_ pruner: Pruner) throws {
        pruner.stopFused()
        if pruner.gates.contains(where: { $0.transform is StraightThroughGate }) {
            try pruner.updateMasks(keep: pruner.keep(at: pruner.stepsTaken))
        }
    }

    public func importance(_ pruner: Pruner) throws -> [Tensor] {
        pruner.gates.map { $0.scores ?? Tensor.zeros(like: $0.mask) }
    }

    public static func restoreTransform(name: String, settings: [String: Double], rng: RNG) -> GateTransform? {
        name == StraightThroughGate.transformName ? StraightThroughGate() : nil
    }
}

/// A 0/1 mask recomputed from learned scores: the forward pass computes W ⊙ M and the scores
/// receive the straight-through gradient ∂L/∂(W⊙M) ⊙ W. Movement and soft movement use it.
public final class StraightThroughGate: GateTransform {
    static let transformName = "straight_through"
    public var name: String { Self.transformName }
    public var settings: [String: Double] { [:] }
    /// Set while a pruner updates this gate in one fused pass (see `FusedGate`); the forward
    /// pass then reads W ⊙ M from it instead of computing it.
    public var fused: FusedGate?

    public init() {}

    public func apply(_ w: Tensor, gate: WeightGate, training: Bool) throws -> Tensor {
        if let fused {
            return try Tensor.gated(w, scores: gate.scores, maskedWeight: fused.masked) { g in
                fused.gradient = fused.gradient.map { $0.adding(g) } ?? g
            }
        }
        return try Tensor.gated(w, mask: gate.mask, scores: gate.scores)
    }

    /// The mask is already 0/1; the weights are masked by `WeightGate.makeFixed`.
    public func fix(_ w: Tensor, gate: WeightGate) {}

    public func copy() -> GateTransform { StraightThroughGate() }
}

/// The state of a straight-through gate whose weight, scores and mask a pruner updates in one
/// pass after each optimizer step: W ⊙ M kept up to date for the forward pass, and the
/// gradient that product received in the backward pass (taken by the pruner, so the weight and
/// scores themselves get no `.grad`).
public final class FusedGate {
    /// W ⊙ M, rewritten by every fused step.
    public let masked: Tensor
    /// ∂L/∂(W ⊙ M) since the last fused step (summed over uses), nil before the backward pass.
    public var gradient: Tensor?
    public init(masked: Tensor) { self.masked = masked }
}
