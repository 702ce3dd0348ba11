// The product of a sparse matrix in lane layout (Kernels/SparseLanes.swift) with one vector: a
// Linear layer's forward pass at batch 1 on CPUs with AVX-512.
import Kernels
#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel

/// y [rows] = A·x + bias for x [cols]. Per segment, its window of inputs in two registers; per
/// slot, a byte-index load widened to sixteen lanes, a two-register permute and a fused
/// multiply-add, into four accumulators in turn so that consecutive slots do not wait on each
/// other. Call only where `AVX512.enabled` says so.
public func sparseLaneProduct(_ a: SparseLaneMatrix, _ x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              _ y: UnsafeMutablePointer<Float>) {
    let lanes = SparseLaneMatrix.lanes, window = SparseLaneMatrix.window
    if a.cols < window {
        // Too short for a window: read a zero-padded copy.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: window) { padded in
            guard let p = padded.baseAddress else { return }
            p.initialize(repeating: 0, count: window)
            p.update(from: x, count: a.cols)
            laneBlocks(UnsafePointer(p))
        }
        return
    }
    laneBlocks(x)

    /// The product reading the input from `x` (the caller's, or its padded copy).
    @inline(__always)
    func laneBlocks(_ x: UnsafePointer<Float>) {
        let values = a.values, indices = a.indices
        var k = 0
        for b in 0..<a.blocks {
            let zero = _mm512_setzero_ps()
            var a0 = zero, a1 = zero, a2 = zero, a3 = zero
            for g in Int(a.blockStart[b])..<Int(a.blockStart[b + 1]) {
                let p = x + Int(a.windowStart[g])
                let lo = _mm512_loadu_ps(p), hi = _mm512_loadu_ps(p + 16)
                @inline(__always) func term(_ k: Int) -> (__m512, __m512) {
                    let idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(UnsafeRawPointer(indices + k * lanes).assumingMemoryBound(to: __m128i_u.self)))
                    return (_mm512_permutex2var_ps(lo, idx, hi), _mm512_load_ps(values + k * lanes))
                }
                let end = k + Int(a.segmentSlots[g])
                while k + 4 <= end {
                    let (x0, w0) = term(k), (x1, w1) = term(k + 1), (x2, w2) = term(k + 2), (x3, w3) = term(k + 3)
                    a0 = _mm512_fmadd_ps(x0, w0, a0); a1 = _mm512_fmadd_ps(x1, w1, a1)
                    a2 = _mm512_fmadd_ps(x2, w2, a2); a3 = _mm512_fmadd_ps(x3, w3, a3)
                    k += 4
                }
                // The last one to three: each into the next accumulator, which then moves to the back.
                while k < end {
                    let (xv, wv) = term(k)
                    (a0, a1, a2, a3) = (a1, a2, a3, _mm512_fmadd_ps(xv, wv, a0))
                    k += 1
                }
            }
            var sum = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))
            let r0 = b * lanes, n = min(lanes, a.rows - r0)
            if let order = a.rowOrder {
                // The lanes are rows in another order: each to its place.
                let v: SIMD16<Float> = sum
                for i in 0..<n {
                    let r = Int(order[r0 + i])
                    y[r] = bias.map { v[i] + $0[r] } ?? v[i]
                }
            } else {
                let out = __mmask16(truncatingIfNeeded: n == lanes ? 0xFFFF : (1 << n) - 1)
                if let bias { sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(out, bias + r0)) }
                _mm512_mask_storeu_ps(y + r0, out, sum)
            }
        }
    }
}
#else
/// Without AVX-512 (never chosen then: `AVX512.enabled` is false), the reference.
public func sparseLaneProduct(_ a: SparseLaneMatrix, _ x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              _ y: UnsafeMutablePointer<Float>) {
    sparseLaneProductReference(a, x, bias: bias, y)
}
#endif
