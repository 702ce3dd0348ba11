// Gradient samples for the empirical Fisher of second-order methods (WoodFisher, OBD): m gradients
// of the cross-entropy at the current weights, each the mean over a mini-batch of the training
// data, stored as one m × d matrix per pruned matrix.
import Engine
import NN

/// m gradients of every target of a pruner: the rows g_i of F = λI + (1/m) Σ g_i g_iᵀ.
struct FisherSamples {
    /// Per target, gradient i in row i (shape [rows, d] with rows ≥ `count`; only the first
    /// `count` rows hold gradients).
    let gradients: [Tensor]
    /// The number of gradients m taken: as asked, or fewer when the data hold fewer mini-batches
    /// (drawing the same samples again would add no information, only weight).
    let count: Int

    /// Buffers above this many bytes are refused with an error rather than failing to allocate.
    static let byteLimit = 1 << 33

    /// Takes up to `samples` gradients, one per mini-batch of `batchSize` drawn from `data`
    /// (shuffled with `seed`: different seeds give the different draws of a gradual run).
    ///
    /// The model runs in evaluation mode, so BatchNorm statistics and dropout are untouched, and
    /// its gradients are cleared afterwards; no optimizer is involved. Each gradient is masked by
    /// the target's current mask, as in the authors' code: pruned weights (0 and staying 0) must
    /// not correlate with the rest in F.
    static func collect(_ pruner: Pruner, data: BatchSource, samples: Int, batchSize: Int, seed: UInt64) throws -> FisherSamples {
        guard pruner.model != nil else { return FisherSamples(gradients: [], count: 0) }
        guard GradMode.isEnabled else {
            throw PruningError.invalid("\(pruner.methodName) estimates a Fisher from gradients; it cannot prune where gradients are turned off")
        }
        let targets = pruner.targets, masks = pruner.gates.map { $0.mask }
        let batches = (data.count + batchSize - 1) / Swift.max(batchSize, 1)
        let rows = Swift.max(1, Swift.min(samples, batches))
        let total = targets.reduce(0) { $0 + $1.weight.count }
        guard Double(rows) * Double(total) * 4 <= Double(byteLimit) else {
            throw PruningError.invalid("\(pruner.methodName): \(rows) gradients of \(total) weights would take \(gigabytes(rows, total)) GB; take fewer samples or prune fewer layers")
        }
        let grads = try targets.map { try Tensor.empty([rows, $0.weight.count]) }
        let m = try pruner.withTargetGradients { model -> Int in
            var m = 0
            for (x, y) in data.makeBatches(size: batchSize, shuffle: true, rng: RNG(seed: seed)) {
                if m >= rows { break }
                model.zeroGrad()
                try model(x).crossEntropy(labels: y).backward()
                for (i, t) in targets.enumerated() {
                    let d = t.weight.count, row = grads[i].data + m * d
                    guard let g = t.weight.grad else { row.update(repeating: 0, count: d); continue }
                    let gd = g.data, md = masks[i].data
                    for j in 0..<d { row[j] = gd[j] * md[j] }
                }
                m += 1
            }
            return m
        } ?? 0
        return FisherSamples(gradients: grads, count: m)
    }

    /// The data a method estimates from: those given for one-shot pruning, else the data of the
    /// training run in progress (`Pruner.trainingData`).
    static func data(_ given: BatchSource?, _ pruner: Pruner) throws -> BatchSource {
        guard let data = given ?? pruner.trainingData else { throw PruningError.needsData(method: pruner.methodName) }
        return data
    }

    static func gigabytes(_ a: Int, _ b: Int) -> String {
        String(Double(Int(Double(a) * Double(b) * 4 / 1e8)) / 10)
    }
}
