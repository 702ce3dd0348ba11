// Sixteen-lane tiles of the sparse × dense product (Kernels/Sparse.swift), for CPUs with AVX-512,
// and the run-time choice between them and the eight-lane tiles. Per kept weight the tile does
// eight loads and eight fused multiply-adds over 128 columns, half the instructions of the
// eight-lane tile, and a masked load finishes a tile of fewer than sixteen columns instead of
// falling back to one column at a time. Each output element is, as in the eight-lane tiles, one
// chain of fused multiply-adds over its row's kept entries (the eight-lane path's last few
// columns sum in four chains), so the two paths agree to rounding (tested against the reference).
import Kernels
#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

/// The sparse kernels for this CPU: sixteen lanes where `AVX512.enabled`, eight otherwise.
public enum SparseKernels {
    /// The tile kernel to pass to Kernels' `sparseProduct` and `sparseLinear`.
    public static var rows: SparseRowsKernel {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        if AVX512.enabled { return sparseRows16 }
        #endif
        return sparseRows8
    }

    /// Which instruction path `rows` is ("avx512" or "avx2"), for reports.
    public static var path: String {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        if AVX512.enabled { return "avx512" }
        #endif
        return "avx2"
    }
}

#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
/// Sixteen-lane tiles: the whole vectors of the columns in as few passes over the kept entries
/// as tiles of at most eight vectors allow, shared out evenly (14 vectors as two tiles of seven,
/// not 8 + 4 + 2), then the last 15 or fewer columns under a mask; one column alone is Kernels'
/// row-by-row dot product. (A batch of 128 split between two threads gives each 64 columns: one
/// tile of four vectors, four chains of multiply-adds per row.) Call only where `AVX512.enabled`
/// says so.
public func sparseRows16(_ a: SparseMatrix, _ x: UnsafePointer<Float>, _ ldx: Int, _ n: Int,
                         _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ rows: Range<Int>) {
    // Measured: gathers are no faster here than four scalar chains.
    if n == 1 { sparseColumns(a, x, ldx, n, y, ldy, rows); return }
    let values = a.values, columns = a.columns
    let vectors = n / 16, passes = (vectors + 7) / 8
    var c0 = 0
    for p in 0..<passes {
        let v = vectors * (p + 1) / passes - vectors * p / passes
        switch v {
        case 1: rowTile16(InlineArray<1, Float>.self, a, x, ldx, c0, y, ldy, rows)
        case 2: rowTile16(InlineArray<2, Float>.self, a, x, ldx, c0, y, ldy, rows)
        case 3: rowTile16(InlineArray<3, Float>.self, a, x, ldx, c0, y, ldy, rows)
        case 4: rowTile16(InlineArray<4, Float>.self, a, x, ldx, c0, y, ldy, rows)
        case 5: rowTile16(InlineArray<5, Float>.self, a, x, ldx, c0, y, ldy, rows)
        case 6: rowTile16(InlineArray<6, Float>.self, a, x, ldx, c0, y, ldy, rows)
        case 7: rowTile16(InlineArray<7, Float>.self, a, x, ldx, c0, y, ldy, rows)
        default: rowTile16(InlineArray<8, Float>.self, a, x, ldx, c0, y, ldy, rows)
        }
        c0 += 16 * v
    }
    while n - c0 > 0 {
        let width = min(16, n - c0)
        let lanes = __mmask16(truncatingIfNeeded: (1 << width) - 1)
        for r in rows {
            var acc = _mm512_setzero_ps()
            for k in a.range(r) {
                acc = _mm512_fmadd_ps(_mm512_set1_ps(values[k]), _mm512_maskz_loadu_ps(lanes, x + Int(columns[k]) * ldx + c0), acc)
            }
            _mm512_mask_storeu_ps(y + r * ldy + c0, lanes, acc)
        }
        c0 += width
    }
}

/// Columns c0 ..< c0 + 16V of every row in `rows`: V accumulators (V fixed at compile time, so
/// they stay in registers), each kept weight broadcast once and multiplied into V vectors of its
/// input row.
@inline(__always)
private func rowTile16<let V: Int>(_ vectors: InlineArray<V, Float>.Type, _ a: SparseMatrix, _ x: UnsafePointer<Float>, _ ldx: Int,
                                   _ c0: Int, _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ rows: Range<Int>) {
    let values = a.values, columns = a.columns
    for r in rows {
        var acc = InlineArray<V, __m512>(repeating: _mm512_setzero_ps())
        for k in a.range(r) {
            let w = _mm512_set1_ps(values[k])
            let p = x + Int(columns[k]) * ldx + c0
            for v in 0..<V { acc[v] = _mm512_fmadd_ps(w, _mm512_loadu_ps(p + 16 * v), acc[v]) }
        }
        let d = y + r * ldy + c0
        for v in 0..<V { _mm512_storeu_ps(d + 16 * v, acc[v]) }
    }
}
#endif
