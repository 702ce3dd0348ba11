// RigL, rigging the lottery (Evci et al. 2020): sparse from the first step, at a random mask with
// the target's per-layer densities (ERK by default); every ΔT steps until T_end each layer drops
// the f(t) fraction of its active weights with the smallest |w| and grows as many inactive ones
// with the largest |∂L/∂w|, the new weights starting at 0 with no optimizer state.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import Kernels
import NN

public final class RigL: PruningMethod {
    public static let name = "rigl"
    public static let summary = "sparse from the start (random mask); every ΔT steps swaps the smallest |w| for the largest |∂L/∂w|, grown weights from 0"
    public static let reference = "Evci et al. 2020 (arXiv 1911.11134)"
    public static let parameters: [MethodParameter] = [
        .real("alpha", 0.3, above: 0, atMost: 1, "the fraction of each layer's active weights swapped at the first update; it decays as (α/2)(1 + cos(πt/T_end))"),
        .real("t_end", 0.75, above: 0, atMost: 1, "T_end as a fraction of training: the masks stay fixed from then on"),
    ]
    /// ΔT is the shared `every`, the authors' 100 steps. Their first update comes before any
    /// training step (at t = 0, f = α) and the next every ΔT steps while t < T_end, so a run
    /// shorter than ΔT gets that one update only: set `every` for short runs.
    public static let defaultSchedule = PruneSchedule(.constant, every: 100)
    /// The density is the target from the first step to the last.
    public static let schedules: [PruneSchedule.Kind] = [.constant]
    public static let defaultScope = PruneScope.erk
    /// The masks follow the gradients seen in training; pruned once, RigL would be random pruning.
    public static let learnsWhileTraining = true
    public static let masksOnlyShrink = false
    let alpha: Double, tEnd: Double

    public init(settings: MethodSettings) { alpha = settings.number("alpha"); tEnd = settings.number("t_end") }

    /// The starting mask (the pruner asks for it before the first step): random, at the target's
    /// per-layer fractions, never outside a frozen upstream mask. Fixed gates zero the rest.
    public func updateMasks(_ pruner: Pruner, keep: Double) throws {
        let scores = try pruner.targets.map { try Tensor.uniform($0.weight.shape, low: 0, high: 1, rng: pruner.rng) }
        try pruner.select(scores, keep: keep, bound: pruner.allowed)
    }

    public func afterStep(_ pruner: Pruner, step: Int) throws {
        guard let f = RigL.dropFraction(after: step, every: pruner.config.schedule.every, total: pruner.totalSteps,
                                        alpha: alpha, end: tEnd) else { return }
        try update(pruner, fraction: f)
    }

    /// f(t) = (α/2)(1 + cos(π t / T_end)) for the update after step `step` (counted from 1), or nil
    /// when there is none. The authors' global step t counts the steps before it and they update
    /// at t = 0, ΔT, 2ΔT, … while t < T_end (f is 0 at T_end), in place of that step's optimizer
    /// update; here the update follows the step, with its gradient: t = step − 1.
    /// T_end = round(t_end · total) steps.
    static func dropFraction(after step: Int, every: Int, total: Int, alpha: Double, end: Double) -> Double? {
        let t = step - 1, last = Int((end * Double(total)).rounded())
        guard t >= 0, t % Swift.max(every, 1) == 0, t < last else { return nil }
        return alpha / 2 * (1 + cos(Double.pi * Double(t) / Double(last)))
    }

    /// One drop-and-grow on every layer that has a gradient: ⌊f · active⌋ units (weights, or blocks
    /// for block granularity) leave and as many come in, so each layer keeps its count exactly (N:M:
    /// every group keeps N).
    func update(_ pruner: Pruner, fraction f: Double) throws {
        for (i, (t, g)) in zip(pruner.targets, pruner.gates).enumerated() {
            guard g.isFixed, let grad = t.weight.grad, grad.count == t.weight.count else { continue }
            let previous = g.mask.copy()
            let n = g.mask.count, allowed = pruner.allowed[i]
            let w = t.weight.data, gd = grad.data, m = g.mask.data
            switch pruner.config.granularity {
            case .element, .nm:
                var groups: [Int]?
                if case let .nm(_, size) = pruner.config.granularity { groups = (0..<n).map { $0 / size } }
                let active = (0..<n).map { m[$0] != 0 }
                let kept = RigL.dropAndGrow(active: active, drop: (0..<n).map { Swift.abs(w[$0]) },
                                            grow: (0..<n).map { Swift.abs(gd[$0]) },
                                            eligible: (0..<n).map { (allowed?.data[$0] ?? 1) != 0 }, classes: groups,
                                            count: Int(f * Double(active.filter { $0 }.count)))
                for j in 0..<n { m[j] = kept[j] ? 1 : 0 }
            case let .block(br, bc):
                let rows = t.weight.shape.first ?? 1, cols = n / Swift.max(rows, 1)
                let bound = allowed.map { UnsafePointer($0.data) }
                let blocks = blockCount(rows: rows, cols: cols, blockRows: br, blockCols: bc)
                func means(_ values: UnsafePointer<Float>) throws -> [Float] {
                    let out = try Tensor.empty([blocks])
                    blockMeans(values: values, rows: rows, cols: cols, blockRows: br, blockCols: bc, allowed: bound, into: out.data)
                    return (0..<blocks).map { out.data[$0] }
                }
                let magnitude = Tensor.empty(like: t.weight), gradient = Tensor.empty(like: t.weight)
                for j in 0..<n { magnitude.data[j] = Swift.abs(w[j]); gradient.data[j] = Swift.abs(gd[j]) }
                // A kept block has every allowed entry on; an empty one (nothing allowed) scores −∞.
                let active = try means(m).map { $0 > 0 }
                // Blocks come in per size (edge blocks and frozen entries make some smaller), so the
                // layer keeps exactly as many weights.
                let sizes = blockSizes(rows: rows, cols: cols, blockRows: br, blockCols: bc, allowed: bound)
                let kept = RigL.dropAndGrow(active: active, drop: try means(magnitude.data), grow: try means(gradient.data),
                                            eligible: sizes.map { $0 > 0 }, classes: sizes,
                                            count: Int(f * Double(active.filter { $0 }.count)))
                let chosen = try Tensor.empty([blocks])
                for b in 0..<blocks { chosen.data[b] = kept[b] ? 1 : 0 }
                expandBlockMask(chosen.data, rows: rows, cols: cols, blockRows: br, blockCols: bc, allowed: bound, into: m)
            }
            pruner.restartChanged(i, from: previous)
        }
    }

    /// The units kept after one update. Of the active units, the `count` with the smallest `drop`
    /// score leave; then as many eligible units that are not kept come in, by the largest `grow`
    /// score, each in the class (N:M group, block size; nil: one class) of one that left, so every
    /// class keeps its count. A unit that left may come straight back, as in the authors' code
    /// (it then keeps its value). Ties go to the earlier unit, where the authors add noise of
    /// σ = 1e-5 to |w|; NaN scores count as −∞ (dropped first, grown last).
    static func dropAndGrow(active: [Bool], drop: [Float], grow: [Float], eligible: [Bool], classes: [Int]?,
                            count: Int) -> [Bool] {
        func key(_ x: Float) -> Float { x.isNaN ? -.infinity : x }
        var kept = active
        let leaving = active.indices.filter { active[$0] }.sorted { (key(drop[$0]), $0) < (key(drop[$1]), $1) }
        var owed: [Int: Int] = [:], remaining = 0
        for u in leaving.prefix(Swift.max(count, 0)) {
            kept[u] = false
            owed[classes?[u] ?? 0, default: 0] += 1
            remaining += 1
        }
        guard remaining > 0 else { return kept }
        let candidates = kept.indices.filter { !kept[$0] && eligible[$0] && owed[classes?[$0] ?? 0] != nil }
            .sorted { a, b in key(grow[a]) > key(grow[b]) || (key(grow[a]) == key(grow[b]) && a < b) }
        for u in candidates where remaining > 0 {
            let c = classes?[u] ?? 0
            guard let need = owed[c], need > 0 else { continue }
            kept[u] = true
            owed[c] = need - 1
            remaining -= 1
        }
        return kept
    }
}
