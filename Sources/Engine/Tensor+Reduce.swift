// Reductions: sum, mean, max and argmax, over everything or along axes.
import Kernels

extension Tensor {
    /// Sum along one axis as an [outer, mid, inner] reduction.
    func sumAxis(_ ax: Int, keepDim: Bool) -> Tensor {
        let outer = shape[..<ax].reduce(1, *), mid = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape
        if keepDim { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        // A reduction never has more non-zero dimensions than its input, which passed the check.
        let out = Tensor.empty(existing: outShape)
        sumMid(data, outer: outer, mid: mid, inner: inner, out.data)
        return Tensor.record("sum", out, [self]) { g in
            [g.reshaped(unchecked: self.shape.enumerated().map { $0.offset == ax ? 1 : $0.element }).broadcastTo(self.shape)]
        }
    }

    /// Sum of all elements (a scalar).
    public func sum() -> Tensor {
        let out = Tensor(Float(total(data, count)))
        return Tensor.record("sum", out, [self]) { g in [Tensor(like: self, repeating: g.item)] }
    }

    /// Sum along `axes`, keeping them as size 1 when `keepDims`.
    public func sum(axes: [Int], keepDims: Bool = false) throws -> Tensor {
        let ax = try Set(axes.map { try axis($0, "sum") }).sorted(by: >)
        var t = self
        for a in ax { t = t.sumAxis(a, keepDim: keepDims) }
        return t
    }

    /// Mean of all elements (a scalar).
    public func mean() -> Tensor { sum() * (1 / Float(Swift.max(count, 1))) }

    /// Mean along `axes`.
    public func mean(axes: [Int], keepDims: Bool = false) throws -> Tensor {
        let ax = try Set(axes.map { try axis($0, "mean") })
        let n = ax.reduce(1) { $0 * shape[$1] }
        return try sum(axes: Array(ax), keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    /// Maximum along `axis` (gradient flows to the arg-max), or over everything when nil.
    public func max(axis a: Int? = nil, keepDims: Bool = false) throws -> Tensor {
        guard count > 0 else { throw EngineError("max: empty tensor") }
        guard let a else { return try reshaped([count]).max(axis: 0, keepDims: false) }
        let ax = try axis(a, "max")
        let outer = shape[..<ax].reduce(1, *), mid = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape
        if keepDims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let out = try Tensor.empty(outShape)
        var index = [Int32](repeating: 0, count: outer * inner)
        index.withUnsafeMutableBufferPointer { maxMid(data, outer: outer, mid: mid, inner: inner, out.data, index: $0.baseAddress) }
        return Tensor.record("max", out, [self]) { g in
            let gi = Tensor.zeros(like: self)
            for o in 0..<outer { for i in 0..<inner {
                gi.data[(o * mid + Int(index[o * inner + i])) * inner + i] = g.data[o * inner + i]
            } }
            return [gi]
        }
    }

    /// Minimum along `axis`, or over everything.
    public func min(axis a: Int? = nil, keepDims: Bool = false) throws -> Tensor {
        try -((-self).max(axis: a, keepDims: keepDims))
    }

    /// Indices of the maximum along `axis` (the last by default), as Ints.
    public func argmax(axis a: Int = -1) throws -> [Int] {
        guard count > 0 else { throw EngineError("argmax: empty tensor") }
        let ax = try axis(a, "argmax")
        let outer = shape[..<ax].reduce(1, *), mid = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        let out = try Tensor.empty([outer * inner])
        var index = [Int32](repeating: 0, count: outer * inner)
        index.withUnsafeMutableBufferPointer { maxMid(data, outer: outer, mid: mid, inner: inner, out.data, index: $0.baseAddress) }
        return index.map(Int.init)
    }
}
