// Taylor (first-order) importance (Molchanov et al. 2019): Σ over batches of |w · ∂L/∂w|,
// accumulated while training between mask updates, or over a few batches of data at once.
import Engine
import NN

public final class Taylor: PruningMethod {
    public static let name = "taylor"
    public static let summary = "ranks by Σ|w·∂L/∂w| over the batches since the last update"
    public static let reference = "Molchanov et al. 2019 (arXiv 1906.10771)"
    public static let parameters: [MethodParameter] = [
        .integer("batches", 16, 1...1_000_000, "batches of data for one-shot pruning"),
    ]
    let batches: Int
    /// Importance accumulated since the last mask update.
    var accumulated: [Tensor] = []

    public init(settings: MethodSettings) { batches = settings.int("batches") }

    public func attached(_ pruner: Pruner) throws { accumulated = pruner.targets.map { Tensor.zeros(like: $0.weight) } }

    public func afterBackward(_ pruner: Pruner, step: Int) throws {
        for (t, acc) in zip(pruner.targets, accumulated) { addSaliency(t.weight, into: acc) }
    }

    public func updateMasks(_ pruner: Pruner, keep: Double) throws {
        try pruner.select(accumulated, keep: keep)
        for a in accumulated { a.fill(0) }
    }

    public func oneShotImportance(_ pruner: Pruner, data: BatchSource?, batchSize: Int) throws -> [Tensor] {
        guard let data else { throw PruningError.needsData(method: Self.name) }
        return try Taylor.saliency(pruner, data: data, batchSize: batchSize, batches: batches, summedFirst: false)
    }

    /// Over the first `batches` batches of `data` (gradients of the cross-entropy, no update):
    /// Σ_b |w ⊙ g_b|, or with `summedFirst` |w ⊙ Σ_b g_b| (SNIP).
    static func saliency(_ pruner: Pruner, data: BatchSource, batchSize: Int, batches: Int, summedFirst: Bool) throws -> [Tensor] {
        let targets = pruner.targets
        let acc = targets.map { Tensor.zeros(like: $0.weight) }
        return try pruner.withTargetGradients { model -> [Tensor] in
            var seen = 0
            for (x, y) in data.makeBatches(size: batchSize, shuffle: true, rng: RNG(seed: pruner.config.seed)) {
                if seen >= batches { break }
                if !summedFirst { model.zeroGrad() }
                try model(x).crossEntropy(labels: y).backward()
                if !summedFirst { for (t, a) in zip(targets, acc) { addSaliency(t.weight, into: a) } }
                seen += 1
            }
            if summedFirst { for (t, a) in zip(targets, acc) { addSaliency(t.weight, into: a) } }
            return acc
        } ?? []
    }
}

/// acc += |w ⊙ ∂L/∂w|, the first-order saliency of each weight (nothing without a gradient).
func addSaliency(_ w: Tensor, into acc: Tensor) {
    guard let g = w.grad else { return }
    let wd = w.data, gd = g.data, a = acc.data
    for i in 0..<acc.count { a[i] += Swift.abs(wd[i] * gd[i]) }
}
