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
/// The sixteen-lane `ShiftedProductKernel`. The output channels go in blocks of three to eight
/// (as even as they split: 12 as 6 + 6, 16 as 8 + 8, 5 as one block), each block R channels ×
/// 32 columns; one or two channels alone have their own wider tiles below. Wider blocks read
/// fewer input vectors per multiply-add: the two vectors of a term feed every channel of the
/// block, and unaligned 64-byte loads (every shifted offset) are what limits this kernel.
/// Measured (prune-bench --overhead, LeNet-5's first layer at batch 1): 5 channels as one block
/// 1.8 µs against 2.1 as four plus one; 6 as one 2.0 against 2.2 as four plus two; 16 as two
/// eights 4.1 against 4.6 as four fours (the 6→16 layer). Call only where `AVX512.enabled` says so.
public func shiftedProduct16(_ w: UnsafePointer<Float>, _ k: Int, _ o: Int, _ xp: UnsafePointer<Float>,
                             _ offsets: UnsafePointer<Int>, _ columns: Int, _ y: UnsafeMutablePointer<Float>) {
    guard o >= 3 else { return narrowProduct16(w, k, o, xp, offsets, columns, y) }
    let blocks = (o + 7) / 8
    for b in 0..<blocks {
        let o0 = o * b / blocks, r = o * (b + 1) / blocks - o0
        let wb = w + o0 * k, yb = y + o0 * columns
        switch r {
        case 3: shiftedBlock16(InlineArray<3, Float>.self, wb, k, xp, offsets, columns, yb)
        case 4: shiftedBlock16(InlineArray<4, Float>.self, wb, k, xp, offsets, columns, yb)
        case 5: shiftedBlock16(InlineArray<5, Float>.self, wb, k, xp, offsets, columns, yb)
        case 6: shiftedBlock16(InlineArray<6, Float>.self, wb, k, xp, offsets, columns, yb)
        case 7: shiftedBlock16(InlineArray<7, Float>.self, wb, k, xp, offsets, columns, yb)
        default: shiftedBlock16(InlineArray<8, Float>.self, wb, k, xp, offsets, columns, yb)
        }
    }
}

/// R output channels × 32 columns, 2R accumulators (R is fixed at compile time, so they stay
/// in registers): each term's two input vectors feed every channel, each channel's weight is
/// broadcast once per term.
@inline(__always)
private func shiftedBlock16<let R: Int>(_ rows: InlineArray<R, Float>.Type, _ w: UnsafePointer<Float>, _ k: Int,
                                        _ xp: UnsafePointer<Float>, _ offsets: UnsafePointer<Int>, _ columns: Int,
                                        _ y: UnsafeMutablePointer<Float>) {
    var j = 0
    while j < columns {
        var a = InlineArray<R, __m512>(repeating: _mm512_setzero_ps())
        var b = InlineArray<R, __m512>(repeating: _mm512_setzero_ps())
        for t in 0..<k {
            let p = xp + offsets[t] + j
            let x0 = _mm512_loadu_ps(p), x1 = _mm512_loadu_ps(p + 16)
            for r in 0..<R {
                let c = _mm512_set1_ps(w[r * k + t])
                a[r] = _mm512_fmadd_ps(c, x0, a[r]); b[r] = _mm512_fmadd_ps(c, x1, b[r])
            }
        }
        for r in 0..<R {
            let d = y + r * columns + j
            _mm512_storeu_ps(d, a[r]); _mm512_storeu_ps(d + 16, b[r])
        }
        j += 32
    }
}

/// One or two output channels: wider column tiles keep eight accumulators busy.
private func narrowProduct16(_ w: UnsafePointer<Float>, _ k: Int, _ o: Int, _ xp: UnsafePointer<Float>,
                             _ offsets: UnsafePointer<Int>, _ columns: Int, _ y: UnsafeMutablePointer<Float>) {
    // Two channels: each input vector feeds both (two loads and two broadcasts per
    // four multiply-adds, where one channel at a time would load every vector twice).
    if o == 2 {
        let w0 = w, w1 = w0 + k
        let y0 = y, y1 = y0 + columns
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
        return
    }
    for r in 0..<o {
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
