// Compensation-aware pruning (Xie et al. 2021): one-shot, layer by layer in forward order, no
// retraining. For each group of units, the Gram matrix of what its reader multiplies (a few
// batches) ranks the units by the reconstruction loss their removal leaves after the reader is
// refitted (Compensation.removalOrder); the lowest go, the reader is refitted by ridge least
// squares, and the next layer sees the compensated model. Each layer keeps `keep` of its
// units, or, with `step` > 0, the fewest units (down to `keep`) whose removal costs at most
// `step` accuracy on the calibration batches, found by binary search (the paper's binary
// structural search with a step constraint).
import Engine
import NN

public final class CaP: PruningMethod {
    public static let name = "cap"
    public static let summary = "removes the units whose readers, refitted by ridge least squares on a few batches, lose least; one-shot, no retraining"
    public static let reference = "Xie et al. 2021 (arXiv 2108.13728)"
    public static let parameters: [MethodParameter] = [
        .integer("batches", 8, 1...1_000_000, "batches of data for the Gram matrices and the accuracy checks"),
        .real("mu", 1e-3, atLeast: 0, "ridge μ, relative to the mean diagonal of the Gram matrix"),
        .real("step", 0, atLeast: 0, atMost: 1, "with step > 0, each layer keeps the fewest units (down to keep) whose removal costs at most this much calibration accuracy", displayed: true),
    ]
    public static let schedules: [PruneSchedule.Kind] = [.oneshot]
    public static let defaultSchedule = PruneSchedule(.oneshot, every: 1)
    public static let removesUnits = true

    let batches: Int, mu: Double, step: Double
    /// The groups and their masks (channel pruning's machinery).
    let units: Channel

    public init(settings: MethodSettings) {
        batches = settings.int("batches")
        mu = settings.number("mu")
        step = settings.number("step")
        units = Channel(criterion: "l1", batches: batches, label: "cap")
    }

    public func validate(_ config: PrunerConfig) throws {
        if config.granularity != .element { throw PruningError.invalid("cap removes whole units; it takes no granularity") }
        if config.scope == .global { throw PruningError.invalid("cap chooses units layer by layer; it takes no global scope") }
    }

    public func attached(_ pruner: Pruner) throws { try units.attached(pruner) }

    public func updateMasks(_ pruner: Pruner, keep: Double) throws {
        throw PruningError.prunesOnceFromData(method: Self.name)
    }

    public func pruneNow(_ pruner: Pruner, data: BatchSource?, batchSize: Int, keep: Double) throws {
        guard let model = pruner.model else { return }
        guard let data else { throw PruningError.needsData(method: "cap") }
        guard let seq = model as? Sequential else { throw PruningError.structure("cap follows Sequential models; this is a \(model.typeName)") }
        let keeps = pruner.layerKeeps(keep)
        let calibration = try CalibrationBatches(data, batches: batches, batchSize: batchSize)
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        for (k, group) in units.groups.enumerated() {
            guard group.consumers.count == 1, let slice = group.consumers.first else {
                throw PruningError.structure("cap refits one reader per group; \(group.name) is read by \(group.consumers.map(\.name).joined(separator: ", "))")
            }
            let (index, columns) = try Compensation.reader(slice, of: group, in: seq)
            let params = Dictionary(model.namedParameters(), uniquingKeysWith: { a, _ in a })
            guard let weight = params[slice.name] else { continue }
            let alive = try Structure.deadUnits(model, group).map { !$0 }
            let gram = try Compensation.gram(of: index, in: seq, data: calibration, batches: batches, batchSize: batchSize)
            let order = try Compensation.removalOrder(weight: weight, gram: gram, columns: columns, alive: alive, mu: mu)
            let fraction = pruner.targets.firstIndex { t in group.producers.contains { $0.name == t.name } }.map { keeps[$0] } ?? keep
            let floor = Swift.min(order.count, Swift.max(1, Int((fraction * Double(group.units)).rounded())))
            // Keeping the last `count` of the removal order: apply, or try and undo.
            let touched = Set((group.producers + group.gates + [slice]).map(\.name)).sorted()
            // The refit reproduces what the reader computed from every input: its weight before
            // any removal (write() below zeroes the removed columns).
            let original = weight.copy()
            func apply(_ count: Int) throws {
                let removed = Array(order.prefix(order.count - count))
                var kept = units.groups.map { g in [Bool](repeating: true, count: g.units) }
                for u in removed { kept[k][u] = false }
                for u in alive.indices where !alive[u] { kept[k][u] = false }
                try units.write(kept, model: model, pruner: pruner, keep: fraction)
                let keptColumns = (0..<(weight.count / weight.shape[0])).filter { kept[k][$0 / columns] }
                try weight.assign(try Compensation.refit(weight: original, gram: gram, kept: keptColumns, mu: mu))
            }
            var count = floor
            if step > 0 && floor < order.count {
                let saved = touched.map { (params[$0]?.copy(), model.gate(for: $0)?.mask.copy()) }
                func restore() throws {
                    for (name, (w, m)) in zip(touched, saved) {
                        if let w, let t = params[name] { try t.assign(w) }
                        if let m, let gate = model.gate(for: name) { try gate.mask.assign(m) }
                    }
                }
                let before = try evaluate(model, on: calibration).accuracy
                // The smallest count in floor...order.count whose accuracy stays within step.
                var lo = floor, hi = order.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    try apply(mid)
                    let acc = try evaluate(model, on: calibration).accuracy
                    try restore()
                    if before - acc <= step { hi = mid } else { lo = mid + 1 }
                }
                count = lo
            }
            try apply(count)
        }
        pruner.lastKeep = keep; pruner.currentKeep = keep
    }
}

/// The first `batches` batches of a source, held in memory so every pass sees the same samples.
final class CalibrationBatches: BatchSource {
    let batches: [(x: Tensor, y: [Int])]
    let count: Int, sampleShape: [Int], classes: Int
    init(_ data: BatchSource, batches n: Int, batchSize: Int) throws {
        batches = Array(data.makeBatches(size: batchSize, shuffle: true, rng: RNG(seed: 0)).prefix(n))
        guard !batches.isEmpty else { throw PruningError.invalid("cap needs data: the dataset gave no batch") }
        count = batches.reduce(0) { $0 + $1.y.count }
        sampleShape = data.sampleShape
        classes = data.classes
    }
    func makeBatches(size: Int, shuffle: Bool, rng: RNG) -> AnySequence<(x: Tensor, y: [Int])> { AnySequence(batches) }
}
