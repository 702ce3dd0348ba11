// Shape ops: reshape, permute/transpose, slice, concat, index-select and gather.
import Kernels

extension Tensor {
    /// Row-major strides of this tensor's shape.
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] }
        return s
    }

    /// Normalises a possibly negative axis. A scalar has no axes.
    func axis(_ a: Int, _ op: String) throws -> Int {
        let ax = a < 0 ? a + rank : a
        guard ax >= 0 && ax < rank else {
            throw EngineError("\(op): axis \(a) is out of range for a tensor of shape \(describe(shape: shape))")
        }
        return ax
    }

    func reshaped(unchecked newShape: [Int]) -> Tensor {
        let out = Tensor(shape: newShape, storage: storage)
        return Tensor.record("reshape", out, [self]) { g in [g.reshaped(unchecked: self.shape)] }
    }

    /// The same data with a new shape of the same element count (shares storage). One dimension
    /// may be −1 to be inferred.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            var others = s
            others.remove(at: i)
            let rest = try TensorSize.elements(others.filter { $0 != -1 })
            guard rest > 0, count % rest == 0, s.filter({ $0 == -1 }).count == 1 else {
                throw EngineError("reshape: cannot infer -1 in \(describe(shape: newShape)) for \(count) elements")
            }
            s[i] = count / rest
        }
        guard s.allSatisfy({ $0 >= 0 }), try TensorSize.elements(s) == count else {
            throw EngineError("reshape: cannot reshape \(describe(shape: shape)) (\(count) elements) to \(describe(shape: newShape))")
        }
        return reshaped(unchecked: s)
    }

    /// Collapses dimensions from `startAxis` on into one: [N, C, H, W] → [N, C·H·W].
    public func flattened(from startAxis: Int = 1) throws -> Tensor {
        if rank == 0 && (startAxis == 0 || startAxis == -1) { return reshaped(unchecked: [1]) }
        let a = try axis(startAxis, "flatten")
        return reshaped(unchecked: Array(shape[..<a]) + [shape[a...].reduce(1, *)])
    }

    /// Reorders dimensions: `out.shape[i] = shape[perm[i]]`.
    public func permuted(_ perm: [Int]) throws -> Tensor {
        guard perm.count == rank, Set(perm) == Set(0..<rank) else {
            throw EngineError("permute: \(perm) is not a permutation of the \(rank) axes of \(describe(shape: shape))")
        }
        return permutedUnchecked(perm)
    }

    func permutedUnchecked(_ perm: [Int]) -> Tensor {
        let outShape = perm.map { shape[$0] }
        let out = Tensor.empty(existing: outShape)
        let inStrides = strides
        let src = perm.map { inStrides[$0] }
        let n = count
        if n > 0 {
            if rank == 0 {
                out.data[0] = data[0]
            } else if rank == 2 && perm == [1, 0] {
                transposeMatrix(data, rows: shape[0], cols: shape[1], out.data)
            } else {
                var idx = [Int](repeating: 0, count: rank)
                var off = 0
                let last = rank - 1, inner = outShape[last], si = src[last]
                var o = 0
                while o < n {
                    for j in 0..<inner { out.data[o + j] = data[off + j * si] }
                    o += inner
                    var d = last - 1
                    while d >= 0 {
                        idx[d] += 1; off += src[d]
                        if idx[d] < outShape[d] { break }
                        off -= src[d] * outShape[d]; idx[d] = 0
                        d -= 1
                    }
                }
            }
        }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return Tensor.record("permute", out, [self]) { g in [g.permutedUnchecked(inverse)] }
    }

    /// Swaps two axes (the last two by default).
    public func transposed(_ a: Int = -2, _ b: Int = -1) throws -> Tensor {
        guard rank >= 2 else { throw EngineError("transpose: needs at least 2 dimensions, got \(describe(shape: shape))") }
        let x = try axis(a, "transpose"), y = try axis(b, "transpose")
        var perm = Array(0..<rank)
        perm.swapAt(x, y)
        return permutedUnchecked(perm)
    }

    /// Elements `start..<end` (step `step`) along `axis`.
    public func sliced(axis a: Int, start: Int, end: Int, step: Int = 1) throws -> Tensor {
        let ax = try axis(a, "slice")
        let d = shape[ax]
        guard step > 0, start >= 0, end <= d, start <= end else {
            throw EngineError("slice: range \(start)..<\(end) is out of bounds for axis \(ax) of size \(d)")
        }
        if step == 1 { return slicedUnchecked(axis: ax, start: start, end: end) }
        let idx = Array(stride(from: start, to: end, by: step))
        return indexSelectUnchecked(axis: ax, idx)
    }

    /// A contiguous slice: one block copy per outer index (slicing q, k and v out of a fused
    /// projection's last axis would otherwise copy, and add back, one float at a time).
    func slicedUnchecked(axis ax: Int, start: Int, end: Int) -> Tensor {
        let outer = shape[..<ax].reduce(1, *), d = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape
        outShape[ax] = end - start
        let out = Tensor.empty(existing: outShape)
        let block = (end - start) * inner
        if block > 0 {
            for o in 0..<outer { (out.data + o * block).update(from: data + (o * d + start) * inner, count: block) }
        }
        return Tensor.record("slice", out, [self]) { g in
            let gi = Tensor.zeros(like: self)
            if block > 0 {
                for o in 0..<outer { (gi.data + (o * d + start) * inner).update(from: g.data + o * block, count: block) }
            }
            return [gi]
        }
    }

    /// Picks entries `indices` along `axis` (like torch.index_select); indices may repeat.
    public func indexSelect(axis a: Int, _ indices: [Int]) throws -> Tensor {
        let ax = try axis(a, "index")
        let d = shape[ax]
        if let bad = indices.first(where: { $0 < 0 || $0 >= d }) {
            throw EngineError("index \(bad) is out of bounds for axis \(ax) of size \(d)")
        }
        var outShape = shape
        outShape[ax] = indices.count
        try TensorSize.elements(outShape)
        return indexSelectUnchecked(axis: ax, indices)
    }

    func indexSelectUnchecked(axis ax: Int, _ indices: [Int]) -> Tensor {
        let outer = shape[..<ax].reduce(1, *), d = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape
        outShape[ax] = indices.count
        let out = Tensor.empty(existing: outShape)
        let k = indices.count
        for o in 0..<outer {
            for (j, i) in indices.enumerated() {
                (out.data + (o * k + j) * inner).update(from: data + (o * d + i) * inner, count: inner)
            }
        }
        return Tensor.record("index_select", out, [self]) { g in
            let gi = Tensor.zeros(like: self)
            for o in 0..<outer {
                for (j, i) in indices.enumerated() {
                    axpy(1, g.data + (o * k + j) * inner, gi.data + (o * d + i) * inner, inner)
                }
            }
            return [gi]
        }
    }

    /// Joins tensors along `axis`; other dimensions must agree.
    public static func concat(_ parts: [Tensor], axis a: Int = 0) throws -> Tensor {
        guard let first = parts.first else { throw EngineError("concat: needs at least one tensor") }
        let ax = try first.axis(a, "concat")
        for p in parts where p.rank != first.rank || zip(p.shape, first.shape).enumerated().contains(where: { $0.offset != ax && $0.element.0 != $0.element.1 }) {
            throw EngineError("concat: shapes \(describe(shape: first.shape)) and \(describe(shape: p.shape)) differ outside axis \(ax)")
        }
        let outer = first.shape[..<ax].reduce(1, *), inner = first.shape[(ax + 1)...].reduce(1, *)
        let total = parts.reduce(0) { $0 + $1.shape[ax] }
        var outShape = first.shape
        outShape[ax] = total
        let out = try Tensor.empty(outShape)
        var offset = 0
        for p in parts {
            let chunk = p.shape[ax] * inner
            for o in 0..<outer { (out.data + o * total * inner + offset * inner).update(from: p.data + o * chunk, count: chunk) }
            offset += p.shape[ax]
        }
        return record("concat", out, parts) { g in
            var start = 0
            return parts.map { p in
                defer { start += p.shape[ax] }
                return g.indexSelectUnchecked(axis: ax, Array(start..<(start + p.shape[ax]))).detached()
            }
        }
    }

    /// Stacks equally shaped tensors along a new leading axis.
    public static func stack(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first else { throw EngineError("stack: needs at least one tensor") }
        if let bad = parts.first(where: { $0.shape != first.shape }) {
            throw EngineError("stack: shapes \(describe(shape: first.shape)) and \(describe(shape: bad.shape)) differ")
        }
        return try concat(parts.map { try $0.reshaped([1] + first.shape) }, axis: 0)
    }

    /// Picks one entry per row along the last axis: out[i] = self[i, index[i]] (as torch.gather
    /// with a single column). Used to read the logit of each label.
    public func gatherLast(_ index: [Int]) throws -> Tensor {
        guard rank >= 1 else { throw EngineError("gather: needs at least 1 dimension") }
        let c = shape[rank - 1], rows = count / Swift.max(c, 1)
        guard index.count == rows else {
            throw EngineError("gather: \(index.count) indices for \(rows) rows of shape \(describe(shape: shape))")
        }
        if let bad = index.first(where: { $0 < 0 || $0 >= c }) {
            throw EngineError("gather: index \(bad) is out of bounds for size \(c)")
        }
        let out = try Tensor.empty(Array(shape.dropLast()))
        for r in 0..<rows { out.data[r] = data[r * c + index[r]] }
        return Tensor.record("gather", out, [self]) { g in
            let gi = Tensor.zeros(like: self)
            for r in 0..<rows { gi.data[r * c + index[r]] = g.data[r] }
            return [gi]
        }
    }
}
