// Batches: mini-batches over a dataset, optionally shuffled by a seeded generator.
import Engine

/// The mini-batches of one epoch: `x` is [B, ...sampleShape], gathered with one memcpy per
/// sample into a fresh leaf tensor (nothing is recorded for autodiff), and `y` the labels.
///
///     let rng = RNG(seed: 7)
///     let batches = try Batches(train, batchSize: 128, shuffle: true, rng: rng)
///     for epoch in 0..<10 { for (x, y) in batches { … } }   // a new order each epoch
///
/// Each iteration draws a fresh permutation from `rng` when it starts, so iterating the same
/// `Batches` again gives the next epoch's order, and the same seed gives the same sequence of
/// orders. Without `shuffle` the samples come in dataset order and `rng` is not used.
public struct Batches: Sequence {
    public let dataset: Dataset
    public let batchSize: Int
    public let shuffle: Bool
    public let rng: RNG
    /// Whether a final batch smaller than `batchSize` is skipped (keeps batch statistics even).
    public let dropLast: Bool

    /// A `batchSize` below 1 is treated as 1: callers that take it from a user check it and
    /// report (as `fit` does); here it only must not make an epoch loop forever.
    public init(_ dataset: Dataset, batchSize: Int, shuffle: Bool = false, rng: RNG = RNG(seed: 0),
                dropLast: Bool = false) {
        self.dataset = dataset
        self.batchSize = Swift.max(batchSize, 1)
        self.shuffle = shuffle
        self.rng = rng
        self.dropLast = dropLast
    }

    /// The number of batches in one epoch.
    public var count: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    public var underestimatedCount: Int { count }

    public func makeIterator() -> Iterator {
        let order = shuffle ? rng.permutation(dataset.count) : Array(0..<dataset.count)
        // With dropLast the tail that cannot fill a batch is simply never reached.
        let end = dropLast ? count * batchSize : dataset.count
        // Augmentation draws from its own generator seeded from the batch generator, so the
        // order of the samples is the same with and without it.
        let augmenter = shuffle ? dataset.augmentation.map { ($0, RNG(seed: rng.next())) } : nil
        return Iterator(dataset: dataset, order: order, batchSize: batchSize, end: end, augmenter: augmenter)
    }

    /// Walks one epoch's order `batchSize` indices at a time.
    public struct Iterator: IteratorProtocol {
        let dataset: Dataset
        let order: [Int]
        let batchSize: Int
        let end: Int
        let augmenter: (Augmentation, RNG)?
        var position = 0

        public mutating func next() -> (x: Tensor, y: [Int])? {
            guard position < end else { return nil }
            let stop = Swift.min(position + batchSize, end)
            let indices = Array(order[position..<stop])
            position = stop
            // The indices are a permutation of 0..<count, so the unchecked gather is safe.
            let batch = dataset.gatherUnchecked(indices)
            if let (augmentation, rng) = augmenter { augmentation.apply(to: batch.x, rng: rng) }
            return batch
        }
    }
}
