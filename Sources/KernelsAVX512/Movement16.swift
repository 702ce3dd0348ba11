// Movement pruning's fused step on sixteen lanes, for CPUs with AVX-512 (x86-64-v4). The pass is
// Kernels/Movement.swift's, operation for operation: the same IEEE operations in the same order on
// every weight, so the results are bit-identical to the eight-lane pass and to the unfused kernels
// (tested). What changes is the instruction count: one instruction per sixteen weights instead of
// eight, masks in mask registers instead of vector compares and blends, and thirty-two vector
// registers, so no constant is spilled. On the benchmark MLP's two matrices the pass takes about
// a third less time (prune-bench --kernels: fused_implied_two_avx512 against fused_implied_two).
//
// This target alone is built for x86-64-v4, so nothing in it may run before the check: callers
// ask Kernels' `AVX512.enabled` (CPUID and XCR0, checked in code built for AVX2) and otherwise
// run the eight-lane pass. PRUNE_NO_AVX512=1 forces the eight-lane pass.
import Kernels
#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
import CPrefetch
#endif

/// Elements lo..<hi of a movement task (lo a multiple of 8) on sixteen lanes, the last fewer than
/// sixteen on eight: a `piece` for Kernels' `movementSteps`. Call it only where `AVX512.enabled`
/// (Kernels) says so; elsewhere it is the eight-lane piece.
public func movementPiece16(_ task: MovementTask, _ lo: Int, _ hi: Int) -> WindowCount {
    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    return piece16(task, lo, hi)
    #else
    return movementPiece(task, lo, hi)
    #endif
}

#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
typealias F16 = SIMD16<Float>

@inline(__always) private func load16(_ p: UnsafePointer<Float>) -> F16 { _mm512_loadu_ps(p) }
@inline(__always) private func store16(_ p: UnsafeMutablePointer<Float>, _ x: F16) { _mm512_storeu_ps(p, x) }
@inline(__always) private func add16(_ a: F16, _ b: F16) -> F16 { _mm512_add_ps(a, b) }
@inline(__always) private func sub16(_ a: F16, _ b: F16) -> F16 { _mm512_sub_ps(a, b) }
@inline(__always) private func mul16(_ a: F16, _ b: F16) -> F16 { _mm512_mul_ps(a, b) }
@inline(__always) private func div16(_ a: F16, _ b: F16) -> F16 { _mm512_div_ps(a, b) }
@inline(__always) private func sqrt16(_ a: F16) -> F16 { _mm512_sqrt_ps(a) }
@inline(__always) private func splat(_ x: Float) -> F16 { _mm512_set1_ps(x) }

/// Sixteen-lane elements of a piece, the rest (fewer than 16) on eight lanes and one.
private func piece16(_ task: MovementTask, _ lo: Int, _ hi: Int) -> WindowCount {
    let end = lo + (hi - lo) & ~15
    var found: WindowCount
    switch task.current {
    case .stored: found = piece16(task, lo, end, Stored16(mask: task.buffers.mask))
    case let .implied(cut): found = piece16(task, lo, end, Implied16(cut: cut, offset: task.offset))
    }
    if end < hi { found.add(movementPiece(task, end, hi)) }
    return found
}

private func piece16<M: Mask16>(_ task: MovementTask, _ lo: Int, _ hi: Int, _ mask: M) -> WindowCount {
    let b = task.buffers
    switch task.rule {
    case let .sgd(lr, momentum, wd, nesterov):
        if momentum == 0 || b.weightFirst == nil { return loop16(task, lo, hi, SGDPlain16(lr: lr, wd: wd), mask) }
        return nesterov ? loop16(task, lo, hi, SGDNesterov16(lr: lr, mu: momentum, wd: wd), mask)
                        : loop16(task, lo, hi, SGDMomentum16(lr: lr, mu: momentum, wd: wd), mask)
    case let .adam(lr, b1, b2, eps, wd, decoupled, c1, c2):
        return loop16(task, lo, hi, Adam16(AdamConstants(lr: lr, beta1: b1, beta2: b2, eps: eps, weightDecay: wd,
                                                         decoupled: decoupled, c1: c1, c2: c2)), mask)
    }
}

/// The mask the forward pass used, on sixteen lanes, as 1/0 floats; and where a new one goes.
private protocol Mask16 {
    func lanes(_ i: Int, _ scores: F16) -> F16
    func store(_ i: Int, _ kept: F16)
}

private struct Stored16: Mask16 {
    let mask: UnsafeMutablePointer<Float>
    @inline(__always) func lanes(_ i: Int, _ scores: F16) -> F16 { load16(mask + i) }
    @inline(__always) func store(_ i: Int, _ kept: F16) { store16(mask + i, kept) }
}

/// Kept iff key << 32 | ~position ≥ cut, as Kernels' `ImpliedMask`: keys in signed form
/// (x ^ 2³¹), positions compared unsigned.
private struct Implied16: Mask16 {
    let offset: Int
    let cutKey: Int32, cutPosition: UInt32
    let iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
    init(cut: UInt64, offset: Int) {
        self.offset = offset
        cutKey = Int32(bitPattern: UInt32(truncatingIfNeeded: cut >> 32) ^ 0x8000_0000)
        cutPosition = ~UInt32(truncatingIfNeeded: cut)
    }
    @inline(__always) func lanes(_ i: Int, _ scores: F16) -> F16 {
        let key = signedKeys(scores), vkey = _mm512_set1_epi32(cutKey)
        let position = _mm512_add_epi32(_mm512_set1_epi32(Int32(bitPattern: UInt32(truncatingIfNeeded: offset + i))), iota)
        let early = prune_cmple_epu32_mask(position, _mm512_set1_epi32(Int32(bitPattern: cutPosition)))
        let kept = prune_cmpgt_epi32_mask(key, vkey) | (prune_cmpeq_epi32_mask(key, vkey) & early)
        return _mm512_maskz_mov_ps(kept, splat(1))
    }
    @inline(__always) func store(_ i: Int, _ kept: F16) {}
}

/// `orderedKey` of each lane, in signed form (key ^ 2³¹): x ^ ((x >> 31) & 0x7FFF_FFFF).
@inline(__always)
private func signedKeys(_ x: F16) -> __m512i {
    let bits = _mm512_castps_si512(x)
    return _mm512_xor_si512(bits, _mm512_and_si512(_mm512_srai_epi32(bits, 31), _mm512_set1_epi32(0x7FFF_FFFF)))
}

/// A weight update on sixteen lanes, as Kernels' `WeightLanes` on eight.
private protocol Weight16 {
    func lanes(_ w: F16, _ g: F16, _ first: UnsafeMutablePointer<Float>?, _ second: UnsafeMutablePointer<Float>?) -> F16
}

private struct SGDPlain16: Weight16 {
    let lr: Float, wd: Float
    @inline(__always) func lanes(_ w: F16, _ g: F16, _ f: UnsafeMutablePointer<Float>?, _ s: UnsafeMutablePointer<Float>?) -> F16 {
        sub16(w, mul16(splat(lr), add16(g, mul16(splat(wd), w))))
    }
}

private struct SGDMomentum16: Weight16 {
    let lr: Float, mu: Float, wd: Float
    @inline(__always) func lanes(_ w: F16, _ g: F16, _ f: UnsafeMutablePointer<Float>?, _ s: UnsafeMutablePointer<Float>?) -> F16 {
        let v = add16(add16(mul16(splat(mu), load16(f!)), g), mul16(splat(wd), w))
        store16(f!, v)
        return sub16(w, mul16(splat(lr), v))
    }
}

private struct SGDNesterov16: Weight16 {
    let lr: Float, mu: Float, wd: Float
    @inline(__always) func lanes(_ w: F16, _ g: F16, _ f: UnsafeMutablePointer<Float>?, _ s: UnsafeMutablePointer<Float>?) -> F16 {
        let gi = add16(g, mul16(splat(wd), w))
        let v = add16(mul16(splat(mu), load16(f!)), gi)
        store16(f!, v)
        return sub16(w, mul16(splat(lr), add16(gi, mul16(splat(mu), v))))
    }
}

private struct Adam16: Weight16 {
    let c: AdamConstants
    init(_ c: AdamConstants) { self.c = c }
    @inline(__always) func lanes(_ w: F16, _ g: F16, _ f: UnsafeMutablePointer<Float>?, _ s: UnsafeMutablePointer<Float>?) -> F16 {
        let gi = add16(g, mul16(splat(c.l2), w))
        let mi = add16(mul16(splat(c.b1), load16(f!)), mul16(splat(c.nb1), gi))
        let vi = add16(mul16(splat(c.b2), load16(s!)), mul16(mul16(splat(c.nb2), gi), gi))
        store16(f!, mi); store16(s!, vi)
        return sub16(mul16(w, splat(c.shrink)), div16(mul16(splat(c.step), mi), add16(mul16(sqrt16(vi), splat(c.inv2)), splat(c.eps))))
    }
}

/// Elements lo..<hi (a multiple of 16 apart) of the fused step, as Kernels' `fusedLoop`.
@inline(__always)
private func loop16<W: Weight16, M: Mask16>(_ task: MovementTask, _ lo: Int, _ hi: Int, _ weight: W, _ mask: M) -> WindowCount {
    guard case let .adam(slr, sb1, sb2, seps, swd, sdecoupled, sc1, sc2) = task.scoreRule else {
        preconditionFailure("movementStep: the scores' rule must be Adam")
    }
    let score = Adam16(AdamConstants(lr: slr, beta1: sb1, beta2: sb2, eps: seps, weightDecay: swd, decoupled: sdecoupled,
                                     c1: sc1, c2: sc2))
    let b = task.buffers, offset = task.offset
    let w = b.weight, g = b.gradient, out = b.masked, s = b.scores
    let wf = b.weightFirst, ws = b.weightSecond, sf = b.scoreFirst, ss = b.scoreSecond
    var result = WindowCount()
    var i = lo
    if let window = task.window {
        result.candidates.reserveCapacity(candidateReserve)
        let vhi = _mm512_set1_epi32(Int32(bitPattern: window.hi ^ 0x8000_0000))
        let vlo = _mm512_set1_epi32(Int32(bitPattern: (window.lo ^ 0x8000_0000) &- 1))
        var above = 0
        while i < hi {
            prefetchAhead(b, i)
            let gi = load16(g + i), wi = load16(w + i), si = load16(s + i), mi = mask.lanes(i, si)
            let wn = weight.lanes(wi, mul16(gi, mi), wf.map { $0 + i }, ws.map { $0 + i })
            store16(w + i, wn)
            let sn = score.lanes(si, mul16(gi, wi), sf + i, ss + i)
            store16(s + i, sn)
            let key = signedKeys(sn)
            let gt = prune_cmpgt_epi32_mask(key, vhi)
            let kept = _mm512_maskz_mov_ps(gt, splat(1))
            mask.store(i, kept)
            store16(out + i, mul16(wn, kept))
            above += gt.nonzeroBitCount
            let inside = prune_cmpgt_epi32_mask(key, vlo) & ~gt
            if inside != 0 { collectLanes(UnsafePointer(s), i, UInt32(inside), offset, &result.candidates) }
            i += 16
        }
        result.above = above
    } else {
        while i < hi {
            prefetchAhead(b, i)
            let gi = load16(g + i), wi = load16(w + i), si = load16(s + i), mi = mask.lanes(i, si)
            let wn = weight.lanes(wi, mul16(gi, mi), wf.map { $0 + i }, ws.map { $0 + i })
            store16(w + i, wn)
            store16(s + i, score.lanes(si, mul16(gi, wi), sf + i, ss + i))
            store16(out + i, mul16(wn, mi))
            i += 16
        }
    }
    return result
}
#endif
