// AC/DC, alternating compressed/decompressed training (Peste et al. 2021): a dense warm-up, then
// compressed phases (every weight ranked by |w|, the target kept, the support fixed) alternating
// with decompressed ones (all weights train again, the pruned ones from 0), a longer last
// decompressed phase and a final compressed one, so that training ends sparse at the target.
import Engine
import NN

public final class ACDC: PruningMethod {
    public static let name = "acdc"
    public static let summary = "alternates dense and sparse phases after a dense warm-up; each sparse phase keeps the largest |w| of all the weights; ends sparse"
    public static let reference = "Peste et al. 2021 (arXiv 2106.12379)"
    /// The authors' ResNet-50 and MobileNet ImageNet plan (configs/neurips in IST-DASLab/ACDC),
    /// 100 epochs: dense to epoch 10, compressed 10–15, 20–25, …, 70–75, decompressed 15–20, …,
    /// 65–70 and 75–85, compressed 85–100. As fractions of training, short runs keep its shape.
    public static let parameters: [MethodParameter] = [
        .real("dense_warmup", 0.1, atLeast: 0, below: 1, "fraction of training dense before the first compressed phase"),
        .real("phase", 0.05, above: 0, below: 1, "length of each alternating compressed and decompressed phase, as a fraction of training"),
        .real("last_dense", 0.1, atLeast: 0, below: 1, "length of the last decompressed phase, as a fraction of training"),
        .real("last_sparse", 0.15, above: 0, atMost: 1, "length of the final compressed phase, as a fraction of training"),
    ]
    /// Its phases are its schedule.
    public static let schedules: [PruneSchedule.Kind] = []
    /// The authors rank every weight of the network together.
    public static let defaultScope = PruneScope.global
    /// The masks come from the weights training reaches; pruned once, AC/DC is magnitude pruning.
    public static let learnsWhileTraining = true
    public static let masksOnlyShrink = false

    /// Where a step falls in the plan: the warm-up and decompressed phases train every weight.
    enum Phase: Equatable { case warmup, compressed, decompressed }

    let denseWarmup: Double, phaseLength: Double, lastDense: Double, lastSparse: Double
    /// The phase whose masks are in place (nil before the first).
    var current: Phase?
    /// Steps taken in this run, so that the pruner's request for masks finds its phase.
    var stepsTaken = 0
    /// Compressed phases rank every weight as magnitude pruning does.
    let magnitude = Magnitude(settings: MethodSettings(Magnitude.parameters))

    public init(settings: MethodSettings) {
        denseWarmup = settings.number("dense_warmup"); phaseLength = settings.number("phase")
        lastDense = settings.number("last_dense"); lastSparse = settings.number("last_sparse")
    }

    public func validate(_ config: PrunerConfig) throws {
        let fixed = denseWarmup + lastDense + lastSparse
        guard fixed <= 1 + 1e-9 else {
            throw PruningError.invalid("acdc's dense warm-up (\(formatParameter(denseWarmup))), last decompressed phase (\(formatParameter(lastDense))) and final compressed phase (\(formatParameter(lastSparse))) take \(formatParameter(fixed)) of training; together they must fit in it")
        }
    }

    /// The phase of step `step` (counted from 0) of a run of `total` steps. Boundaries are whole
    /// steps, rounded: the final compressed phase starts at total − round(last_sparse · total),
    /// with at least one step so that every run ends compressed; the warm-up ends at
    /// round(dense_warmup · total); the last decompressed phase takes round(last_dense · total)
    /// steps before the final one; between them, phases of round(phase · total) steps (at least
    /// one) alternate, compressed first. Where the fractions overlap in a short run, the final
    /// phase wins over the warm-up, and the warm-up over the rest.
    func phase(at step: Int, of total: Int) -> Phase {
        func steps(_ fraction: Double) -> Int { Int((fraction * Double(total)).rounded()) }
        let finalStart = Swift.max(0, total - Swift.max(1, steps(lastSparse)))
        if step >= finalStart { return .compressed }
        let start = Swift.min(steps(denseWarmup), finalStart)
        if step < start { return .warmup }
        if step >= Swift.max(start, finalStart - steps(lastDense)) { return .decompressed }
        return ((step - start) / Swift.max(1, steps(phaseLength))) % 2 == 0 ? .compressed : .decompressed
    }

    /// The masks of the phase the run is in (the pruner asks before the first step; `keep` is
    /// the target, which only compressed phases apply).
    public func updateMasks(_ pruner: Pruner, keep: Double) throws {
        try enter(phase(at: stepsTaken, of: pruner.totalSteps), pruner)
    }

    public func afterStep(_ pruner: Pruner, step: Int) throws {
        stepsTaken = step
        guard step < pruner.totalSteps else { return }
        try enter(phase(at: step, of: pruner.totalSteps), pruner)
    }

    /// However the run ended (interrupted, or past its planned length), the model ends compressed
    /// at the target: the final phase's masks, or a compression now.
    public func end(_ pruner: Pruner) throws {
        if current != .compressed { try enter(.compressed, pruner) }
        current = nil
        stepsTaken = 0
    }

    /// Sets the masks for `next` when they differ from the current phase's. Compressing keeps the
    /// target by |w| over all the weights (those the last compressed phase pruned compete again,
    /// from where the decompressed phase took them), bounded only by a frozen upstream mask;
    /// decompressing turns the masks back to ones (or the frozen mask). Either way the weights
    /// that change side restart at 0 with no optimizer state.
    func enter(_ next: Phase, _ pruner: Pruner) throws {
        let sparse = next == .compressed
        if let current, (current == .compressed) == sparse { self.current = next; return }
        let previous = pruner.gates.map { $0.mask.copy() }
        if sparse {
            try pruner.select(magnitude.importance(pruner), keep: pruner.overallKeep ?? 1,
                              bound: pruner.allowed)
        } else {
            for (g, frozen) in zip(pruner.gates, pruner.allowed) {
                if let frozen, frozen.count == g.mask.count { g.mask.data.update(from: frozen.data, count: frozen.count) } else { g.mask.fill(1) }
            }
        }
        for (i, p) in previous.enumerated() { pruner.restartChanged(i, from: p) }
        current = next
    }
}
