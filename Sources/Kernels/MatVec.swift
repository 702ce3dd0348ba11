// y = W·x + b for one input row: a Linear layer at batch 1. OpenBLAS's sgemm costs about half a
// microsecond per call before any arithmetic (its interface and small-matrix dispatch), which is
// most of a small layer's time at batch 1; this is a plain loop of dot products.

/// y[r] = bias[r] + Σ_i w[r, i] · x[i] for r < rows, w [rows, cols] row-major: four rows at a
/// time (each x vector loaded once for all four, two accumulators per row), then single rows;
/// sixteen columns a step, then eight, then the last seven or fewer one term at a time.
public func matVec(_ w: UnsafePointer<Float>, rows: Int, cols: Int, _ x: UnsafePointer<Float>,
                   bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>) {
    typealias V = SIMD8<Float>
    let rx = UnsafeRawPointer(x)
    let full = cols & ~15
    var r = 0
    while r + 4 <= rows {
        let w0 = UnsafeRawPointer(w + r * cols), w1 = UnsafeRawPointer(w + (r + 1) * cols)
        let w2 = UnsafeRawPointer(w + (r + 2) * cols), w3 = UnsafeRawPointer(w + (r + 3) * cols)
        var a0 = V(), b0 = V(), a1 = V(), b1 = V(), a2 = V(), b2 = V(), a3 = V(), b3 = V()
        var i = 0
        while i < full {
            let o = 4 * i
            let x0 = rx.loadUnaligned(fromByteOffset: o, as: V.self), x1 = rx.loadUnaligned(fromByteOffset: o + 32, as: V.self)
            a0.addProduct(x0, w0.loadUnaligned(fromByteOffset: o, as: V.self)); b0.addProduct(x1, w0.loadUnaligned(fromByteOffset: o + 32, as: V.self))
            a1.addProduct(x0, w1.loadUnaligned(fromByteOffset: o, as: V.self)); b1.addProduct(x1, w1.loadUnaligned(fromByteOffset: o + 32, as: V.self))
            a2.addProduct(x0, w2.loadUnaligned(fromByteOffset: o, as: V.self)); b2.addProduct(x1, w2.loadUnaligned(fromByteOffset: o + 32, as: V.self))
            a3.addProduct(x0, w3.loadUnaligned(fromByteOffset: o, as: V.self)); b3.addProduct(x1, w3.loadUnaligned(fromByteOffset: o + 32, as: V.self))
            i += 16
        }
        if i + 8 <= cols {
            // Half a tile left: one more vector per row, so that at most seven terms go singly.
            let o = 4 * i
            let x0 = rx.loadUnaligned(fromByteOffset: o, as: V.self)
            a0.addProduct(x0, w0.loadUnaligned(fromByteOffset: o, as: V.self))
            a1.addProduct(x0, w1.loadUnaligned(fromByteOffset: o, as: V.self))
            a2.addProduct(x0, w2.loadUnaligned(fromByteOffset: o, as: V.self))
            a3.addProduct(x0, w3.loadUnaligned(fromByteOffset: o, as: V.self))
            i += 8
        }
        var s0 = (a0 + b0).sum(), s1 = (a1 + b1).sum(), s2 = (a2 + b2).sum(), s3 = (a3 + b3).sum()
        let p0 = w + r * cols, p1 = p0 + cols, p2 = p1 + cols, p3 = p2 + cols
        while i < cols {
            s0 = s0.addingProduct(p0[i], x[i]); s1 = s1.addingProduct(p1[i], x[i])
            s2 = s2.addingProduct(p2[i], x[i]); s3 = s3.addingProduct(p3[i], x[i])
            i += 1
        }
        y[r] = s0 + (bias?[r] ?? 0); y[r + 1] = s1 + (bias?[r + 1] ?? 0)
        y[r + 2] = s2 + (bias?[r + 2] ?? 0); y[r + 3] = s3 + (bias?[r + 3] ?? 0)
        r += 4
    }
    while r < rows {
        let wr = UnsafeRawPointer(w + r * cols)
        var a = V(), b = V()
        var i = 0
        while i < full {
            let o = 4 * i
            a.addProduct(rx.loadUnaligned(fromByteOffset: o, as: V.self), wr.loadUnaligned(fromByteOffset: o, as: V.self))
            b.addProduct(rx.loadUnaligned(fromByteOffset: o + 32, as: V.self), wr.loadUnaligned(fromByteOffset: o + 32, as: V.self))
            i += 16
        }
        if i + 8 <= cols {
            let o = 4 * i
            a.addProduct(rx.loadUnaligned(fromByteOffset: o, as: V.self), wr.loadUnaligned(fromByteOffset: o, as: V.self))
            i += 8
        }
        var s = (a + b).sum()
        let p = w + r * cols
        while i < cols { s = s.addingProduct(p[i], x[i]); i += 1 }
        y[r] = s + (bias?[r] ?? 0)
        r += 1
    }
}
