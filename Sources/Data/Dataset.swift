// Dataset: labelled samples in one float32 tensor, with the subsets, class filters, seeded
// per-class draws, stratified splits and normalisation that transfer-learning experiments need.
import Engine
import NN

/// Labelled samples: `images` is [N, ...sample shape] (for images [N, C, H, W]) and `labels[i]`
/// is in `0..<classes`. Immutable: every operation returns a new dataset with its own tensor, so
/// a cached dataset can be shared between experiments safely.
///
///     let train = try FashionMNIST.load(.train)
///     let shoes = try train.filtered(classes: [5, 7, 9])      // Sandal, Sneaker, Ankle boot → 0, 1, 2
///     let few = try shoes.perClass(100, seed: 1)
///     let (fit, val) = try few.split(fraction: 0.8, seed: 2)
public final class Dataset: CustomStringConvertible, @unchecked Sendable {
    /// A short identifier shown in descriptions, e.g. `fashion_mnist/train`.
    public let name: String
    /// The samples, [N, ...sampleShape].
    public let images: Tensor
    /// One class index per sample.
    public let labels: [Int]
    /// The number of classes (labels are in `0..<classes`).
    public let classes: Int
    /// A readable name per class.
    public let classNames: [String]
    /// Random transformations applied to training batches (shuffled batches only, so
    /// evaluation sees the samples unchanged); nil for none. Derived datasets drop it.
    public let augmentation: Augmentation?
    /// The values a sample may take, per channel, in the dataset's current units: [0, 1] for
    /// images as loaded, moved along by `normalized`; nil when unbounded (synthetic tasks).
    /// Adversarial examples are clipped to it. Derived datasets keep it.
    public let valueRange: ValueRange?

    /// Wraps samples and labels, checking that they agree. `classes` defaults to the number of
    /// `classNames`, else to the largest label plus one; names default to "0", "1", ….
    public init(name: String, images: Tensor, labels: [Int], classes: Int? = nil, classNames: [String]? = nil,
                augmentation: Augmentation? = nil, valueRange: ValueRange? = nil) throws {
        guard images.rank >= 2 else {
            throw DataError("dataset \(name): images need a sample dimension and at least one more, got shape \(describe(shape: images.shape))")
        }
        guard images.shape[0] == labels.count else {
            throw DataError("dataset \(name): \(images.shape[0]) samples but \(labels.count) labels")
        }
        let k = classes ?? classNames?.count ?? ((labels.max() ?? -1) + 1)
        let names = classNames ?? (0..<max(k, 0)).map(String.init)
        guard k >= 0, names.count == k else {
            throw DataError("dataset \(name): \(k) classes but \(names.count) class names")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= k }) {
            throw DataError("dataset \(name): label \(labels[bad]) of sample \(bad) is outside 0..<\(k)")
        }
        self.name = name
        self.images = images
        self.labels = labels
        self.classes = k
        self.classNames = names
        self.augmentation = augmentation
        if let valueRange {
            let channels = images.shape[1]
            guard valueRange.lower.count == channels, valueRange.upper.count == channels,
                  zip(valueRange.lower, valueRange.upper).allSatisfy({ $0.isFinite && $1.isFinite && $0 <= $1 }) else {
                throw DataError("dataset \(name): the value range needs \(channels) finite bounds with lower ≤ upper, got \(valueRange.lower) and \(valueRange.upper)")
            }
        }
        self.valueRange = valueRange
        if let augmentation { try augmentation.check(sampleShape: Array(images.shape.dropFirst()), dataset: name) }
    }

    /// The same samples with `augmentation` applied to training batches (nil removes it). The
    /// images tensor is shared, not copied.
    public func augmented(_ augmentation: Augmentation?) throws -> Dataset {
        try Dataset(name: name, images: images, labels: labels, classes: classes, classNames: classNames,
                    augmentation: augmentation, valueRange: valueRange)
    }

    /// The number of samples.
    public var count: Int { labels.count }
    /// The shape of one sample, e.g. [1, 28, 28].
    public var sampleShape: [Int] { Array(images.shape.dropFirst()) }
    /// The number of floats in one sample.
    public var sampleSize: Int { sampleShape.reduce(1, *) }

    public var description: String {
        "Dataset \(name): \(count) samples, \(classes) classes, shape \(describe(shape: sampleShape))"
    }

    /// How many samples each class has.
    public func classCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for y in labels { counts[y] += 1 }
        return counts
    }

    /// The samples at `indices` stacked into [B, ...sampleShape], with their labels: one memcpy
    /// per sample, and a fresh leaf tensor, so nothing is recorded for autodiff.
    public func gather(_ indices: [Int]) throws -> (x: Tensor, y: [Int]) {
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) {
            throw DataError("dataset \(name): index \(bad) is outside 0..<\(count)")
        }
        try TensorSize.elements([indices.count] + sampleShape)
        return gatherUnchecked(indices)
    }

    /// `gather` for indices already known to be in range (batches draw them from `0..<count`).
    func gatherUnchecked(_ indices: [Int]) -> (x: Tensor, y: [Int]) {
        let size = sampleSize
        // Callers pass distinct indices (a permutation, a class filter), so the batch is no
        // larger than the images; `gather` checks repeated ones.
        let x = Tensor.empty(rows: indices.count, of: images)
        let source = images.data, target = x.data
        for (row, i) in indices.enumerated() {
            (target + row * size).update(from: source + i * size, count: size)
        }
        return (x, indices.map { labels[$0] })
    }

    /// The samples at `indices`, in that order (repeats allowed), keeping classes and names.
    public func subset(indices: [Int], name: String? = nil) throws -> Dataset {
        let (x, y) = try gather(indices)
        return try Dataset(name: name ?? "\(self.name)[subset \(indices.count)]", images: x, labels: y,
                           classes: classes, classNames: classNames, valueRange: valueRange)
    }

    /// Only the samples of `classes`, in their original order. With `relabel`, class
    /// `classes[j]` becomes label `j` and the names follow that order; without it, labels,
    /// class count and names are unchanged.
    public func filtered(classes keep: [Int], relabel: Bool = true) throws -> Dataset {
        guard !keep.isEmpty else { throw DataError("dataset \(name): filtered(classes:) needs at least one class") }
        var newLabel = [Int](repeating: -1, count: classes)
        for (j, c) in keep.enumerated() {
            guard c >= 0 && c < classes else {
                throw DataError("dataset \(name): class \(c) is outside 0..<\(classes)")
            }
            guard newLabel[c] < 0 else { throw DataError("dataset \(name): class \(c) is listed twice") }
            newLabel[c] = j
        }
        let indices = labels.indices.filter { newLabel[labels[$0]] >= 0 }
        let (x, y) = gatherUnchecked(indices)
        let tag = "\(name)[classes \(keep.map(String.init).joined(separator: ","))]"
        guard relabel else {
            return try Dataset(name: tag, images: x, labels: y, classes: classes, classNames: classNames, valueRange: valueRange)
        }
        return try Dataset(name: tag, images: x, labels: y.map { newLabel[$0] }, classes: keep.count,
                           classNames: keep.map { classNames[$0] }, valueRange: valueRange)
    }

    /// The indices of each class, in order.
    private func indicesByClass() -> [[Int]] {
        var groups = [[Int]](repeating: [], count: classes)
        for (i, y) in labels.enumerated() { groups[y].append(i) }
        return groups
    }

    /// Exactly `n` samples of every class, drawn without replacement by `seed`, kept in their
    /// original order. Throws if some class has fewer than `n`.
    public func perClass(_ n: Int, seed: UInt64) throws -> Dataset {
        guard n >= 0 else { throw DataError("dataset \(name): perClass needs n ≥ 0, got \(n)") }
        let rng = RNG(seed: seed)
        var chosen: [Int] = []
        chosen.reserveCapacity(n * classes)
        for (c, group) in indicesByClass().enumerated() {
            guard group.count >= n else {
                throw DataError("dataset \(name): class \(c) (\(classNames[c])) has \(group.count) samples, fewer than the \(n) requested")
            }
            chosen += rng.permutation(group.count).prefix(n).map { group[$0] }
        }
        chosen.sort()
        return try subset(indices: chosen, name: "\(name)[\(n)/class]")
    }

    /// Splits into two disjoint datasets covering every sample, stratified: each class puts
    /// round(fraction × its count) samples, drawn by `seed`, into the first. Both keep the
    /// original order.
    public func split(fraction: Double, seed: UInt64) throws -> (Dataset, Dataset) {
        guard fraction.isFinite, fraction >= 0, fraction <= 1 else {
            throw DataError("dataset \(name): split fraction must be in [0, 1], got \(fraction)")
        }
        let rng = RNG(seed: seed)
        var first: [Int] = [], second: [Int] = []
        for group in indicesByClass() {
            let order = rng.permutation(group.count)
            let k = Int((fraction * Double(group.count)).rounded())
            first += order.prefix(k).map { group[$0] }
            second += order.dropFirst(k).map { group[$0] }
        }
        first.sort()
        second.sort()
        return (try subset(indices: first, name: "\(name)[:\(fraction)]"),
                try subset(indices: second, name: "\(name)[\(fraction):]"))
    }

    /// (x − mean) / std with one mean and std for every channel.
    public func normalized(mean: Float, std: Float) throws -> Dataset {
        let channels = sampleShape[0]
        return try normalized(mean: [Float](repeating: mean, count: channels), std: [Float](repeating: std, count: channels))
    }

    /// (x − mean[c]) / std[c] per channel c (the first sample dimension).
    public func normalized(mean: [Float], std: [Float]) throws -> Dataset {
        let channels = sampleShape[0]
        guard mean.count == channels, std.count == channels else {
            throw DataError("dataset \(name): normalisation needs \(channels) means and stds, got \(mean.count) and \(std.count)")
        }
        guard std.allSatisfy({ $0.isFinite && $0 > 0 }), mean.allSatisfy(\.isFinite) else {
            throw DataError("dataset \(name): normalisation needs finite means and positive stds")
        }
        let plane = sampleSize / max(channels, 1)
        let out = Tensor.empty(like: images)
        let src = images.data, dst = out.data
        for s in 0..<count {
            for c in 0..<channels {
                let base = (s * channels + c) * plane
                let m = mean[c], inv = 1 / std[c]
                for i in base..<base + plane { dst[i] = (src[i] - m) * inv }
            }
        }
        // The valid range moves with the values, so that it is still known after normalising.
        var range: ValueRange?
        if let r = valueRange {
            var lower: [Float] = [], upper: [Float] = []
            for c in 0..<channels {
                lower.append((r.lower[c] - mean[c]) / std[c])
                upper.append((r.upper[c] - mean[c]) / std[c])
            }
            range = ValueRange(lower: lower, upper: upper)
        }
        return try Dataset(name: name, images: out, labels: labels, classes: classes, classNames: classNames, valueRange: range)
    }

    /// Per-channel mean and (population) standard deviation, accumulated in Double, e.g. to
    /// normalise a test set with its training set's statistics.
    public func channelStatistics() -> (mean: [Float], std: [Float]) {
        let channels = sampleShape[0]
        let plane = sampleSize / max(channels, 1)
        var sum = [Double](repeating: 0, count: channels), squares = sum
        let src = images.data
        for s in 0..<count {
            for c in 0..<channels {
                let base = (s * channels + c) * plane
                var a = 0.0, b = 0.0
                for i in base..<base + plane { let v = Double(src[i]); a += v; b += v * v }
                sum[c] += a
                squares[c] += b
            }
        }
        let n = Double(max(count * plane, 1))
        let mean = sum.map { $0 / n }
        let std = zip(squares, mean).map { (max($0 / n - $1 * $1, 0)).squareRoot() }
        return (mean.map(Float.init), std.map(Float.init))
    }
}
