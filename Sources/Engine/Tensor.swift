// Tensor: an n-dimensional, contiguous float32 array that can record operations for autodiff.

/// A contiguous float32 array with a shape, optionally recording the operations that made it so
/// that `backward()` can compute gradients. Tensors are references, as in PyTorch: parameters
/// are updated in place by optimizers, and `copy()` makes an independent tensor.
///
///     let x = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
///     let w = Tensor.randn([3, 4], rng: RNG(seed: 0)).requiringGrad()
///     let loss = try (x.matmul(w)).relu().sum()
///     try loss.backward()      // w.grad is now [3, 4]
public final class Tensor: @unchecked Sendable {
    /// The extent of each dimension; `[]` is a scalar.
    public let shape: [Int]
    /// The data, shared with views such as reshapes.
    public let storage: Storage
    /// Whether gradients flow to this tensor (parameters, inputs for saliency).
    public var requiresGrad: Bool
    /// The accumulated gradient after `backward()`, for leaves that require it.
    public var grad: Tensor?
    /// How this tensor was made, when recorded for autodiff.
    var node: Node?

    /// Number of elements.
    public var count: Int { storage.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Raw pointer to the first element.
    @inline(__always) public var data: UnsafeMutablePointer<Float> { storage.data }
    /// The elements, in row-major order.
    public var array: [Float] { Array(UnsafeBufferPointer(start: storage.data, count: count)) }
    /// The single element of a one-element tensor.
    public var item: Float { count > 0 ? storage.data[0] : .nan }
    /// Whether this tensor was produced by a recorded operation (not a leaf).
    public var isRecorded: Bool { node != nil }

    /// Wraps existing storage (shared, not copied). `shape` must have `storage.count` elements.
    init(shape: [Int], storage: Storage, requiresGrad: Bool = false) {
        self.shape = shape
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// A tensor of `shape` with uninitialised contents (for kernels that overwrite every element).
    /// Throws when the shape fails `TensorSize.elements` (negative, overflowing or too large).
    public static func empty(_ shape: [Int]) throws -> Tensor {
        Tensor(shape: shape, storage: Storage.make(count: try TensorSize.elements(shape)))
    }

    /// An uninitialised tensor of `shape`, for kernels whose output shape is that of tensors that
    /// exist already (a gradient, a broadcast back to an input), so it has passed the check.
    static func empty(existing shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: Storage.make(count: shape.reduce(1, *)))
    }

    /// An uninitialised tensor of `other`'s shape. No check is needed: `other` exists.
    public static func empty(like other: Tensor) -> Tensor {
        Tensor(shape: other.shape, storage: Storage.make(count: other.count))
    }

    /// An uninitialised tensor of `other`'s shape with `rows` as its first dimension: rows taken
    /// from `other` without repeats (a batch, a subset), so it is no larger than `other`.
    public static func empty(rows: Int, of other: Tensor) -> Tensor {
        let n = Swift.max(0, Swift.min(rows, other.shape.first ?? 1))
        return empty(existing: [n] + other.shape.dropFirst())
    }

    /// A tensor of `shape` filled with `value`; throws when the shape fails `TensorSize.elements`.
    public convenience init(shape: [Int], repeating value: Float) throws {
        self.init(shape: shape, storage: Storage.make(count: try TensorSize.elements(shape), repeating: value))
    }

    /// A tensor of `other`'s shape filled with `value`.
    public convenience init(like other: Tensor, repeating value: Float) {
        self.init(shape: other.shape, storage: Storage.make(count: other.count, repeating: value))
    }

    /// A tensor of `shape` holding `data` in row-major order. Throws when the counts differ.
    public convenience init(shape: [Int], data: [Float]) throws {
        let n = try TensorSize.elements(shape)
        guard n == data.count else {
            throw EngineError("tensor of shape \(describe(shape: shape)) needs \(n) values, got \(data.count)")
        }
        self.init(shape: shape, storage: Storage.make(count: n))
        data.withUnsafeBufferPointer { if n > 0, let base = $0.baseAddress { storage.data.update(from: base, count: n) } }
    }

    /// A tensor of `shape` copied from a buffer of at least `shape.product` elements.
    public convenience init(shape: [Int], copying buffer: UnsafeBufferPointer<Float>) throws {
        let n = try TensorSize.elements(shape)
        self.init(shape: shape, storage: Storage.make(count: n))
        if n > 0, let base = buffer.baseAddress { storage.data.update(from: base, count: Swift.min(n, buffer.count)) }
    }

    /// A 1-D tensor of `values` (already in memory, so no size check is needed).
    public convenience init(vector values: [Float]) {
        self.init(shape: [values.count], storage: Storage.make(count: values.count))
        values.withUnsafeBufferPointer { if let base = $0.baseAddress { storage.data.update(from: base, count: values.count) } }
    }

    /// A scalar tensor.
    public convenience init(_ value: Float) { self.init(shape: [], storage: Storage.make(count: 1, repeating: value)) }

    public static func zeros(_ shape: [Int]) throws -> Tensor { try Tensor(shape: shape, repeating: 0) }
    public static func ones(_ shape: [Int]) throws -> Tensor { try Tensor(shape: shape, repeating: 1) }
    public static func zeros(like other: Tensor) -> Tensor { Tensor(like: other, repeating: 0) }
    public static func ones(like other: Tensor) -> Tensor { Tensor(like: other, repeating: 1) }

    /// Marks this tensor as a leaf that receives gradients; returns self for chaining.
    @discardableResult public func requiringGrad(_ flag: Bool = true) -> Tensor {
        requiresGrad = flag
        return self
    }

    /// An independent copy of the data, detached from any recorded graph.
    public func copy() -> Tensor {
        let t = Tensor.empty(like: self)
        t.data.update(from: data, count: count)
        return t
    }

    /// The same data, detached from the graph (no copy).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Overwrites the contents with those of `other` (same element count), in place.
    public func assign(_ other: Tensor) throws {
        guard other.count == count else {
            throw EngineError("cannot assign a tensor of shape \(describe(shape: other.shape)) to one of shape \(describe(shape: shape))")
        }
        data.update(from: other.data, count: count)
    }

    /// Fills every element with `value`, in place.
    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    /// Element at a multi-index (for tests and display).
    public subscript(_ index: Int...) -> Float {
        var flat = 0
        for (i, d) in index.enumerated() { flat = flat * shape[i] + d }
        return data[flat]
    }
}
