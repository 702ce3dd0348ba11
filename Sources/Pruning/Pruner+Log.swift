// What a pruner did while training: per mask update and per layer, the sparsity reached, and for
// methods that learn scores the threshold (the smallest kept score) and the fraction of mask
// entries that changed since the previous record. The progress line and the per-epoch history
// read it; `history(p)` shows it all.
import Engine
import Kernels
import NN

/// One layer's mask at one recorded update.
public struct MaskRecord: Sendable, Equatable {
    /// The optimizer step after which it was recorded (0: when training began).
    public var step: Int
    public var layer: String
    /// The layer's weight count, for overall figures weighted by size.
    public var size: Int
    public var sparsity: Double
    /// The smallest kept score (learned scores, one per weight); nil otherwise.
    public var threshold: Double?
    /// The fraction of the mask's entries that differ from the previous record; nil at the first.
    public var changed: Double?
}

/// The log a pruner keeps while it trains, at most about `maxRecords` updates per run.
public struct PrunerLog: Sendable {
    public internal(set) var records: [MaskRecord] = []
    var previous: [Tensor] = []
    var lastStep = -1
    /// Records are spaced so that a run of any length keeps about this many.
    public static let maxRecords = 100

    /// The records of the last recorded step (one per layer).
    public var latest: [MaskRecord] {
        guard let step = records.last?.step else { return [] }
        return records.filter { $0.step == step }
    }

    /// Sparsity, mean threshold and fraction changed over the layers of `records`, weighted by size.
    public static func overall(_ records: [MaskRecord]) -> (sparsity: Double, threshold: Double?, changed: Double?) {
        let total = Double(records.reduce(0) { $0 + $1.size })
        guard total > 0 else { return (0, nil, nil) }
        let sparsity = records.reduce(0) { $0 + $1.sparsity * Double($1.size) } / total
        let thresholds = records.compactMap(\.threshold)
        let threshold = thresholds.isEmpty ? nil : thresholds.reduce(0, +) / Double(thresholds.count)
        let changedRecords = records.filter { $0.changed != nil }
        let changed = changedRecords.isEmpty ? nil
            : changedRecords.reduce(0) { $0 + ($1.changed ?? 0) * Double($1.size) } / Double(changedRecords.reduce(0) { $0 + $1.size })
        return (sparsity, threshold, changed)
    }
}

extension Pruner {
    /// Whether this pruner's masks come from learned scores (one per weight).
    var learnsScores: Bool {
        zip(targets, gates).contains { t, g in g.scores?.shape == t.weight.shape }
    }

    /// The overall sparsity of the masks now (the fraction of zeros).
    public var currentSparsity: Double {
        let total = gates.reduce(0) { $0 + $1.mask.count }
        guard total > 0 else { return 0 }
        return Double(total - gates.reduce(0) { $0 + $1.mask.nonzeroCount }) / Double(total)
    }

    /// Records every layer's mask after `step`, unless the last record is too recent (the
    /// spacing keeps a long run to about `PrunerLog.maxRecords` records); `force` records anyway.
    func recordMasks(step: Int, force: Bool = false) {
        guard step != maskLog.lastStep else { return }
        let spacing = Swift.max(1, totalSteps / PrunerLog.maxRecords)
        guard force || maskLog.lastStep < 0 || step - maskLog.lastStep >= spacing else { return }
        let first = maskLog.previous.count != gates.count
        for (i, (t, g)) in zip(targets, gates).enumerated() {
            let mask = g.mask, n = mask.count
            let before = !first && maskLog.previous[i].count == n ? maskLog.previous[i] : nil
            let scores = g.scores.flatMap { $0.shape == mask.shape ? $0 : nil }
            let stats = maskStatistics(mask.data, previous: before.map { UnsafePointer($0.data) },
                                       scores: scores.map { UnsafePointer($0.data) }, n)
            let threshold = scores != nil && stats.smallestKeptScore.isFinite ? Double(stats.smallestKeptScore) : nil
            let changed = before.map { _ in Double(stats.changed) / Double(Swift.max(n, 1)) }
            maskLog.records.append(MaskRecord(step: step, layer: t.name, size: n, sparsity: Double(n - stats.kept) / Double(Swift.max(n, 1)),
                                              threshold: threshold, changed: changed))
        }
        // The masks as they are now, for the next record's changes (the buffers are reused).
        if first || zip(maskLog.previous, gates).contains(where: { $0.count != $1.mask.count }) {
            maskLog.previous = gates.map { $0.mask.copy() }
        } else {
            for (p, g) in zip(maskLog.previous, gates) { p.data.update(from: g.mask.data, count: p.count) }
        }
        maskLog.lastStep = step
    }

    /// The progress line's note: the current sparsity.
    public var progressNote: String? { "sparsity \(fmt(currentSparsity, 3))" }

    /// The per-epoch history's columns: sparsity, and for learned scores the threshold and the
    /// fraction of mask entries that changed at the last recorded update.
    public func epochValues() -> [(String, Double)] {
        var values: [(String, Double)] = [("sparsity", currentSparsity)]
        guard learnsScores else { return values }
        let o = PrunerLog.overall(maskLog.latest)
        if let t = o.threshold { values.append(("threshold", t)) }
        values.append(("changed", o.changed ?? 0))
        return values
    }
}
