// What a pruner did while training: per mask update and per layer, the sparsity reached, and for
// methods that learn scores the threshold (the smallest kept score) and the fraction of mask
// entries that changed since the previous record. The progress line and the per-epoch history
// read it; `history(p)` shows it all.
import Engine
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
            let zeros = n - mask.nonzeroCount
            var threshold: Double?
            if let s = g.scores, s.shape == mask.shape {
                var smallest = Float.infinity
                for j in 0..<n where mask.data[j] != 0 && s.data[j] < smallest { smallest = s.data[j] }
                if smallest.isFinite { threshold = Double(smallest) }
            }
            var changed: Double?
            if !first, maskLog.previous[i].count == n {
                let before = maskLog.previous[i]
                var differ = 0
                for j in 0..<n where (mask.data[j] != 0) != (before.data[j] != 0) { differ += 1 }
                changed = Double(differ) / Double(Swift.max(n, 1))
            }
            maskLog.records.append(MaskRecord(step: step, layer: t.name, size: n, sparsity: Double(zeros) / Double(Swift.max(n, 1)),
                                          threshold: threshold, changed: changed))
        }
        maskLog.previous = gates.map { $0.mask.copy() }
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
