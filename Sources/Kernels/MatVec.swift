// y = W·x + b for one input row: a Linear layer at batch 1. OpenBLAS's sgemm costs about half a
// microsecond per call before any arithmetic (its interface and small-matrix dispatch), which is
// most of a small layer's time at batch 1; this is a plain loop of dot products. The dot products
// (one, or one vector against four) serve the sparse weight gradient too (Sparse.swift).

/// y[r] = bias[r] + Σ_i w[r, i] · x[i] for r < rows, w [rows, cols] row-major: four rows at a
/// time (`dot8x4`: each x vector loaded once for all four, two accumulators per row), then single
/// rows (`dot8`); sixteen columns a step, then eight, then the last seven or fewer one at a time.
public func matVec(_ w: UnsafePointer<Float>, rows: Int, cols: Int, _ x: UnsafePointer<Float>,
                   bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>) {
    var r = 0
    while r + 4 <= rows {
        let w0 = w + r * cols
        let s = dot8x4(x, w0, w0 + cols, w0 + 2 * cols, w0 + 3 * cols, cols)
        y[r] = s.0 + (bias?[r] ?? 0); y[r + 1] = s.1 + (bias?[r + 1] ?? 0)
        y[r + 2] = s.2 + (bias?[r + 2] ?? 0); y[r + 3] = s.3 + (bias?[r + 3] ?? 0)
        r += 4
    }
    while r < rows {
        y[r] = dot8(x, w + r * cols, cols) + (bias?[r] ?? 0)
        r += 1
    }
}

/// Σ a[i]·b[i] on eight lanes (two accumulators), the tail one at a time.
@inline(__always)
func dot8(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    typealias V = SIMD8<Float>
    var s0 = V(), s1 = V()
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 16 <= n {
        s0.addProduct(ra.loadUnaligned(fromByteOffset: 4 * i, as: V.self), rb.loadUnaligned(fromByteOffset: 4 * i, as: V.self))
        s1.addProduct(ra.loadUnaligned(fromByteOffset: 4 * i + 32, as: V.self), rb.loadUnaligned(fromByteOffset: 4 * i + 32, as: V.self))
        i += 16
    }
    if i + 8 <= n {
        s0.addProduct(ra.loadUnaligned(fromByteOffset: 4 * i, as: V.self), rb.loadUnaligned(fromByteOffset: 4 * i, as: V.self))
        i += 8
    }
    var s = (s0 + s1).sum()
    while i < n { s = s.addingProduct(a[i], b[i]); i += 1 }
    return s
}

/// `dot8` of `a` with each of b0…b3, interleaved: every one of the four is summed exactly as
/// `dot8` sums it (the same two accumulators over the same elements, the same reduction), so the
/// results are the same bits; the eight accumulators are independent, so the multiply-adds
/// overlap instead of waiting on each other, and each vector of `a` is loaded once for all four.
@inline(__always)
func dot8x4(_ a: UnsafePointer<Float>, _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>, _ b2: UnsafePointer<Float>,
            _ b3: UnsafePointer<Float>, _ n: Int) -> (Float, Float, Float, Float) {
    typealias V = SIMD8<Float>
    var s00 = V(), s01 = V(), s10 = V(), s11 = V(), s20 = V(), s21 = V(), s30 = V(), s31 = V()
    var i = 0
    let ra = UnsafeRawPointer(a)
    let r0 = UnsafeRawPointer(b0), r1 = UnsafeRawPointer(b1), r2 = UnsafeRawPointer(b2), r3 = UnsafeRawPointer(b3)
    while i + 16 <= n {
        let o = 4 * i
        let x0 = ra.loadUnaligned(fromByteOffset: o, as: V.self), x1 = ra.loadUnaligned(fromByteOffset: o + 32, as: V.self)
        s00.addProduct(x0, r0.loadUnaligned(fromByteOffset: o, as: V.self)); s01.addProduct(x1, r0.loadUnaligned(fromByteOffset: o + 32, as: V.self))
        s10.addProduct(x0, r1.loadUnaligned(fromByteOffset: o, as: V.self)); s11.addProduct(x1, r1.loadUnaligned(fromByteOffset: o + 32, as: V.self))
        s20.addProduct(x0, r2.loadUnaligned(fromByteOffset: o, as: V.self)); s21.addProduct(x1, r2.loadUnaligned(fromByteOffset: o + 32, as: V.self))
        s30.addProduct(x0, r3.loadUnaligned(fromByteOffset: o, as: V.self)); s31.addProduct(x1, r3.loadUnaligned(fromByteOffset: o + 32, as: V.self))
        i += 16
    }
    if i + 8 <= n {
        let o = 4 * i
        let x0 = ra.loadUnaligned(fromByteOffset: o, as: V.self)
        s00.addProduct(x0, r0.loadUnaligned(fromByteOffset: o, as: V.self))
        s10.addProduct(x0, r1.loadUnaligned(fromByteOffset: o, as: V.self))
        s20.addProduct(x0, r2.loadUnaligned(fromByteOffset: o, as: V.self))
        s30.addProduct(x0, r3.loadUnaligned(fromByteOffset: o, as: V.self))
        i += 8
    }
    var t0 = (s00 + s01).sum(), t1 = (s10 + s11).sum(), t2 = (s20 + s21).sum(), t3 = (s30 + s31).sum()
    while i < n {
        t0 = t0.addingProduct(a[i], b0[i]); t1 = t1.addingProduct(a[i], b1[i])
        t2 = t2.addingProduct(a[i], b2[i]); t3 = t3.addingProduct(a[i], b3[i])
        i += 1
    }
    return (t0, t1, t2, t3)
}
