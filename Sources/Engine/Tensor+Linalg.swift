// Matrix products on OpenBLAS: matmul (2-D and batched) and the fused linear layer.
import Kernels

extension Tensor {
    /// Matrix product. [m,k]@[k,n] → [m,n]; [b,m,k]@[b,k,n] → [b,m,n]; [b,m,k]@[k,n] → [b,m,n].
    public func matmul(_ other: Tensor) throws -> Tensor {
        let a = self, b = other
        guard a.rank >= 2, b.rank == 2 || b.rank == a.rank else {
            throw EngineError("matmul: shapes \(describe(shape: a.shape)) and \(describe(shape: b.shape)) are not matrices or batches of matrices")
        }
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1]
        let k2 = b.shape[b.rank - 2], n = b.shape[b.rank - 1]
        guard k == k2 else {
            throw EngineError("matmul: inner dimensions differ: \(describe(shape: a.shape)) @ \(describe(shape: b.shape))")
        }
        let batchShape = Array(a.shape.dropLast(2))
        if b.rank == 2 {
            // Fold the batch into the rows: one large GEMM.
            let rows = batchShape.reduce(1, *) * m
            let out = try Tensor.empty(batchShape + [m, n])
            BLAS.gemm(m: rows, n: n, k: k, a.data, b.data, out.data)
            return Tensor.record("matmul", out, [a, b]) { g in
                var ga: Tensor?, gb: Tensor?
                if a.requiresGrad {
                    ga = Tensor.empty(like: a)
                    BLAS.gemm(transB: true, m: rows, n: k, k: n, g.data, b.data, ga!.data)
                }
                if b.requiresGrad {
                    gb = Tensor.empty(like: b)
                    BLAS.gemm(transA: true, m: k, n: n, k: rows, a.data, g.data, gb!.data)
                }
                return [ga, gb]
            }
        }
        guard Array(b.shape.dropLast(2)) == batchShape else {
            throw EngineError("matmul: batch dimensions differ: \(describe(shape: a.shape)) @ \(describe(shape: b.shape))")
        }
        let batch = batchShape.reduce(1, *)
        let out = try Tensor.empty(batchShape + [m, n])
        for i in 0..<batch {
            BLAS.gemm(m: m, n: n, k: k, a.data + i * m * k, b.data + i * k * n, out.data + i * m * n)
        }
        return Tensor.record("bmm", out, [a, b]) { g in
            var ga: Tensor?, gb: Tensor?
            if a.requiresGrad {
                let t = Tensor.empty(like: a)
                for i in 0..<batch { BLAS.gemm(transB: true, m: m, n: k, k: n, g.data + i * m * n, b.data + i * k * n, t.data + i * m * k) }
                ga = t
            }
            if b.requiresGrad {
                let t = Tensor.empty(like: b)
                for i in 0..<batch { BLAS.gemm(transA: true, m: k, n: n, k: m, a.data + i * m * k, g.data + i * m * n, t.data + i * k * n) }
                gb = t
            }
            return [ga, gb]
        }
    }

    /// y = x·Wᵀ + b with W laid out [out, in] as in PyTorch; x is [..., in].
    public static func linear(_ x: Tensor, weight w: Tensor, bias: Tensor?) throws -> Tensor {
        guard w.rank == 2, x.rank >= 1, x.shape[x.rank - 1] == w.shape[1] else {
            throw EngineError("linear: input of shape \(describe(shape: x.shape)) does not match weight \(describe(shape: w.shape)) (expects \(w.rank == 2 ? w.shape[1] : 0) features)")
        }
        if let bias, bias.rank != 1 || bias.shape[0] != w.shape[0] {
            throw EngineError("linear: bias of shape \(describe(shape: bias.shape)) does not match \(w.shape[0]) outputs")
        }
        let nIn = w.shape[1], nOut = w.shape[0]
        let rows = x.count / Swift.max(nIn, 1)
        let out = try Tensor.empty(x.shape.replacingLast(with: nOut))
        if rows == 1 {
            // One row (batch 1): dot products, without sgemm's fixed cost per call.
            matVec(w.data, rows: nOut, cols: nIn, x.data, bias: bias?.data, out.data)
        } else {
            var beta: Float = 0
            if let bias {
                for r in 0..<rows { (out.data + r * nOut).update(from: bias.data, count: nOut) }
                beta = 1
            }
            BLAS.gemm(transB: true, m: rows, n: nOut, k: nIn, x.data, w.data, beta: beta, out.data)
        }
        return record("linear", out, bias.map { [x, w, $0] } ?? [x, w]) { g in
            var gx: Tensor?, gw: Tensor?, gb: Tensor?
            if x.requiresGrad {
                gx = Tensor.empty(like: x)
                BLAS.gemm(m: rows, n: nIn, k: nOut, g.data, w.data, gx!.data)
            }
            if w.requiresGrad {
                gw = Tensor.empty(like: w)
                BLAS.gemm(transA: true, m: nOut, n: nIn, k: rows, g.data, x.data, gw!.data)
            }
            if let bias, bias.requiresGrad {
                gb = Tensor.empty(like: bias)
                sumMid(g.data, outer: 1, mid: rows, inner: nOut, gb!.data)
            }
            return bias == nil ? [gx, gw] : [gx, gw, gb]
        }
    }
}
