// The sixteen-lane product of the direct stride-1 convolution (Kernels/ConvShifted.swift) and
// the run-time choice between it and the eight-lane one.
import Kernels
#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

public enum ShiftedKernels {
    /// The product to pass to Kernels' `convShifted`.
    public static var product: ShiftedProductKernel {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        if AVX512.enabled { return shiftedProduct16 }
        #endif
        return shiftedProduct8
    }

    /// Whether `product` beats im2col + GEMM at small batches on a layer with `terms` (C·kh·kw)
    /// terms per output. Sixteen lanes: on every layer measured (prune-bench --conv-kernels).
    /// Eight lanes: up to about 150 terms; OpenBLAS's GEMM wins on wider layers (288 and 576).
    public static func suits(terms: Int) -> Bool {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        if AVX512.enabled { return true }
        #endif
        return terms <= 160
    }
}

#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
/// The sixteen-lane `ShiftedProductKernel`: four output channels × thirty-two columns (eight
/// accumulators); of the channels left over, two × 64 columns (then 32) and the last one alone
/// × 128 columns (then 32). Call only
/// where `AVX512.enabled` says so.
public func shiftedProduct16(_ w: UnsafePointer<Float>, _ k: Int, _ o: Int, _ xp: UnsafePointer<Float>,
                             _ offsets: UnsafePointer<Int>, _ columns: Int, _ y: UnsafeMutablePointer<Float>) {
    var o0 = 0
    while o0 + 4 <= o {
        let w0 = w + o0 * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k
        var j = 0
        while j < columns {
            let zero = _mm512_setzero_ps()
            var a0 = zero, b0 = zero, a1 = zero, b1 = zero, a2 = zero, b2 = zero, a3 = zero, b3 = zero
            for t in 0..<k {
                let p = xp + offsets[t] + j
                let x0 = _mm512_loadu_ps(p), x1 = _mm512_loadu_ps(p + 16)
                let c0 = _mm512_set1_ps(w0[t]), c1 = _mm512_set1_ps(w1[t])
                let c2 = _mm512_set1_ps(w2[t]), c3 = _mm512_set1_ps(w3[t])
                a0 = _mm512_fmadd_ps(c0, x0, a0); b0 = _mm512_fmadd_ps(c0, x1, b0)
                a1 = _mm512_fmadd_ps(c1, x0, a1); b1 = _mm512_fmadd_ps(c1, x1, b1)
                a2 = _mm512_fmadd_ps(c2, x0, a2); b2 = _mm512_fmadd_ps(c2, x1, b2)
                a3 = _mm512_fmadd_ps(c3, x0, a3); b3 = _mm512_fmadd_ps(c3, x1, b3)
            }
            let d = y + o0 * columns + j
            _mm512_storeu_ps(d, a0); _mm512_storeu_ps(d + 16, b0)
            _mm512_storeu_ps(d + columns, a1); _mm512_storeu_ps(d + columns + 16, b1)
            _mm512_storeu_ps(d + 2 * columns, a2); _mm512_storeu_ps(d + 2 * columns + 16, b2)
            _mm512_storeu_ps(d + 3 * columns, a3); _mm512_storeu_ps(d + 3 * columns + 16, b3)
            j += 32
        }
        o0 += 4
    }
    // Two channels left over: each input vector feeds both (two loads and two broadcasts per
    // four multiply-adds, where one channel at a time would load every vector twice).
    if o0 + 2 <= o {
        let w0 = w + o0 * k, w1 = w0 + k
        let y0 = y + o0 * columns, y1 = y0 + columns
        var j = 0
        while j + 64 <= columns {
            let zero = _mm512_setzero_ps()
            var a0 = zero, a1 = zero, a2 = zero, a3 = zero, b0 = zero, b1 = zero, b2 = zero, b3 = zero
            for t in 0..<k {
                let p = xp + offsets[t] + j
                let x0 = _mm512_loadu_ps(p), x1 = _mm512_loadu_ps(p + 16), x2 = _mm512_loadu_ps(p + 32), x3 = _mm512_loadu_ps(p + 48)
                let c0 = _mm512_set1_ps(w0[t]), c1 = _mm512_set1_ps(w1[t])
                a0 = _mm512_fmadd_ps(c0, x0, a0); a1 = _mm512_fmadd_ps(c0, x1, a1)
                a2 = _mm512_fmadd_ps(c0, x2, a2); a3 = _mm512_fmadd_ps(c0, x3, a3)
                b0 = _mm512_fmadd_ps(c1, x0, b0); b1 = _mm512_fmadd_ps(c1, x1, b1)
                b2 = _mm512_fmadd_ps(c1, x2, b2); b3 = _mm512_fmadd_ps(c1, x3, b3)
            }
            _mm512_storeu_ps(y0 + j, a0); _mm512_storeu_ps(y0 + j + 16, a1)
            _mm512_storeu_ps(y0 + j + 32, a2); _mm512_storeu_ps(y0 + j + 48, a3)
            _mm512_storeu_ps(y1 + j, b0); _mm512_storeu_ps(y1 + j + 16, b1)
            _mm512_storeu_ps(y1 + j + 32, b2); _mm512_storeu_ps(y1 + j + 48, b3)
            j += 64
        }
        while j < columns {
            let zero = _mm512_setzero_ps()
            var a0 = zero, a1 = zero, b0 = zero, b1 = zero
            for t in 0..<k {
                let p = xp + offsets[t] + j
                let x0 = _mm512_loadu_ps(p), x1 = _mm512_loadu_ps(p + 16)
                let c0 = _mm512_set1_ps(w0[t]), c1 = _mm512_set1_ps(w1[t])
                a0 = _mm512_fmadd_ps(c0, x0, a0); a1 = _mm512_fmadd_ps(c0, x1, a1)
                b0 = _mm512_fmadd_ps(c1, x0, b0); b1 = _mm512_fmadd_ps(c1, x1, b1)
            }
            _mm512_storeu_ps(y0 + j, a0); _mm512_storeu_ps(y0 + j + 16, a1)
            _mm512_storeu_ps(y1 + j, b0); _mm512_storeu_ps(y1 + j + 16, b1)
            j += 32
        }
        o0 += 2
    }
    for r in o0..<o {
        let wr = w + r * k, yr = y + r * columns
        var j = 0
        while j + 128 <= columns {
            let zero = _mm512_setzero_ps()
            var a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero
            for t in 0..<k {
                let c = _mm512_set1_ps(wr[t]), p = xp + offsets[t] + j
                a0 = _mm512_fmadd_ps(c, _mm512_loadu_ps(p), a0); a1 = _mm512_fmadd_ps(c, _mm512_loadu_ps(p + 16), a1)
                a2 = _mm512_fmadd_ps(c, _mm512_loadu_ps(p + 32), a2); a3 = _mm512_fmadd_ps(c, _mm512_loadu_ps(p + 48), a3)
                a4 = _mm512_fmadd_ps(c, _mm512_loadu_ps(p + 64), a4); a5 = _mm512_fmadd_ps(c, _mm512_loadu_ps(p + 80), a5)
                a6 = _mm512_fmadd_ps(c, _mm512_loadu_ps(p + 96), a6); a7 = _mm512_fmadd_ps(c, _mm512_loadu_ps(p + 112), a7)
            }
            let d = yr + j
            _mm512_storeu_ps(d, a0); _mm512_storeu_ps(d + 16, a1); _mm512_storeu_ps(d + 32, a2); _mm512_storeu_ps(d + 48, a3)
            _mm512_storeu_ps(d + 64, a4); _mm512_storeu_ps(d + 80, a5); _mm512_storeu_ps(d + 96, a6); _mm512_storeu_ps(d + 112, a7)
            j += 128
        }
        while j < columns {
            var a = _mm512_setzero_ps(), b = _mm512_setzero_ps()
            for t in 0..<k {
                let c = _mm512_set1_ps(wr[t]), p = xp + offsets[t] + j
                a = _mm512_fmadd_ps(c, _mm512_loadu_ps(p), a); b = _mm512_fmadd_ps(c, _mm512_loadu_ps(p + 16), b)
            }
            _mm512_storeu_ps(yr + j, a); _mm512_storeu_ps(yr + j + 16, b)
            j += 32
        }
    }
}
#endif
