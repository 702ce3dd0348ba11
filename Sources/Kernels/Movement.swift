// Movement pruning's step in one pass. Unfused, a step streams every gated weight through five
// kernels: W ⊙ M for the forward, dW = g ⊙ M and dS = g ⊙ W in the backward, the weights'
// update, Adam on the scores, and the top-k that makes the next mask. Here one pass reads the
// gradient g = ∂L/∂(W⊙M) once, updates the weights and the scores with the same arithmetic as
// `sgdStep` / `adamStep` (so results are bit-identical), writes the next forward's W ⊙ M, and
// places each new score against a window around the predicted threshold: entries above it are
// kept, those inside are collected, and `resolveWindow` then settles the few inside exactly. When the
// mask is re-selected every step it need not be stored at all: it is implied by the scores and
// the last selection's cut (`TopKHint.cut`), which saves a read and a write of every entry.
// This is the eight-lane (AVX2) pass; KernelsAVX512 runs the same operations on sixteen lanes
// where the CPU allows (`AVX512`), and training goes through Pruning's `fusedMovementSteps`.
#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif
import CPrefetch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The buffers of one gated weight, each of `n` elements.
public struct MovementBuffers {
    public var weight: UnsafeMutablePointer<Float>
    /// ∂L/∂(W ⊙ M), the gradient the forward's product received.
    public var gradient: UnsafePointer<Float>
    /// The weights' optimizer state: momentum (SGD with momentum), or Adam's two moments.
    public var weightFirst: UnsafeMutablePointer<Float>?, weightSecond: UnsafeMutablePointer<Float>?
    public var scores: UnsafeMutablePointer<Float>
    public var scoreFirst: UnsafeMutablePointer<Float>, scoreSecond: UnsafeMutablePointer<Float>
    /// The 0/1 mask; read and rewritten only when the current mask is `.stored`.
    public var mask: UnsafeMutablePointer<Float>
    /// Out: W ⊙ M for the next forward pass.
    public var masked: UnsafeMutablePointer<Float>
    public var count: Int

    public init(weight: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, weightFirst: UnsafeMutablePointer<Float>?,
                weightSecond: UnsafeMutablePointer<Float>?, scores: UnsafeMutablePointer<Float>,
                scoreFirst: UnsafeMutablePointer<Float>, scoreSecond: UnsafeMutablePointer<Float>,
                mask: UnsafeMutablePointer<Float>, masked: UnsafeMutablePointer<Float>, count: Int) {
        self.weight = weight; self.gradient = gradient; self.weightFirst = weightFirst; self.weightSecond = weightSecond
        self.scores = scores; self.scoreFirst = scoreFirst; self.scoreSecond = scoreSecond
        self.mask = mask; self.masked = masked; self.count = count
    }
}

/// What a pass with a window found: entries above it, and those inside it as candidates
/// (key << 32 | ~position, in sequence order, as `topKMasks` collects them).
public struct WindowCount {
    public var above = 0
    public var candidates: [UInt64] = []
    public init() {}
    public mutating func add(_ other: WindowCount) {
        above += other.above
        if candidates.isEmpty { candidates = other.candidates } else { candidates += other.candidates }
    }
    /// The pieces' counts and candidates together, in order, the candidates allocated once.
    init<C: Collection<WindowCount>>(merging parts: C) {
        candidates.reserveCapacity(parts.reduce(0) { $0 + $1.candidates.count })
        for p in parts { above += p.above; candidates += p.candidates }
    }
}

/// Where the mask the forward pass used comes from.
public enum CurrentMask: Sendable, Equatable {
    /// `MovementBuffers.mask`, which a pass with a window rewrites.
    case stored
    /// The scores before this update and the last selection's cut (`TopKHint.cut`): an entry is
    /// kept iff key(score) << 32 | ~position ≥ cut. The mask buffer is neither read nor written.
    case implied(cut: UInt64)
}

/// The key window [lo, hi] of a provisional selection (`TopKHint.window(k:)`).
public struct KeyWindow: Sendable, Equatable {
    public var lo: UInt32, hi: UInt32
    /// Where the threshold was expected.
    public var centre: Float?
    public init(lo: UInt32, hi: UInt32, centre: Float? = nil) { self.lo = lo; self.hi = hi; self.centre = centre }
}

/// One fused movement step over a gated weight, as `movementSteps` runs it. `offset` is the
/// buffer's first position in its selection's sequence (0 per matrix, running across matrices
/// for a global threshold). `rule` updates the weights with the masked gradient g ⊙ M, M from
/// `current`; `scoreRule` (Adam) the scores with g ⊙ W (W before its update). Without `window`
/// the mask is kept and the pass writes W ⊙ M. With it, the new mask is 1 where the new score's
/// key is above `window.hi` and 0 elsewhere (written back when stored), W ⊙ M follows it, and
/// the entries inside the window are returned for `resolveWindow`.
public struct MovementTask {
    public var buffers: MovementBuffers
    public var rule: UpdateRule, scoreRule: UpdateRule
    public var current: CurrentMask
    public var window: KeyWindow?
    public var offset: Int
    public init(_ buffers: MovementBuffers, rule: UpdateRule, scoreRule: UpdateRule, current: CurrentMask,
                window: KeyWindow?, offset: Int) {
        self.buffers = buffers; self.rule = rule; self.scoreRule = scoreRule; self.current = current
        self.window = window; self.offset = offset
    }
}

/// Room for the candidates a piece collects, allocated once (a narrow window holds a few dozen
/// per piece; growing from empty took five allocations).
package let candidateReserve = 64

/// One `MovementTask`.
public func movementStep(_ b: MovementBuffers, rule: UpdateRule, scoreRule: UpdateRule, current: CurrentMask,
                         window: KeyWindow?, offset: Int) -> WindowCount {
    movementSteps([MovementTask(b, rule: rule, scoreRule: scoreRule, current: current, window: window, offset: offset)])[0]
}

/// Several `MovementTask`s (the matrices of one step) run as one job on the pool, each split
/// into pieces by size, so that a small matrix does not leave a thread idle. Returns what each
/// task's window found, its candidates in sequence order.
public func movementSteps(_ tasks: [MovementTask]) -> [WindowCount] {
    movementSteps(tasks, piece: movementPiece)
}

/// `movementSteps` with another kernel for the pieces (KernelsAVX512's sixteen lanes): `piece`
/// runs elements lo..<hi of a task, lo a multiple of 8, and returns what its window found.
package func movementSteps(_ tasks: [MovementTask], piece: (MovementTask, Int, Int) -> WindowCount) -> [WindowCount] {
    var pieces: [(task: Int, lo: Int, hi: Int)] = []
    var firstPiece: [Int] = []     // each task's pieces are contiguous, in sequence order
    for (t, task) in tasks.enumerated() {
        firstPiece.append(pieces.count)
        let n = task.buffers.count
        precondition(task.offset + n < Int(UInt32.max), "movementStep: more than 2³² − 1 entries in one selection")
        let parts = Parallel.taskCount(n, grain: Parallel.minParallelElements / 8, maxTasks: 64)
        for i in 0..<parts {
            let r = Parallel.range(i, of: parts, count: n / 8)
            pieces.append((t, 8 * r.lowerBound, i == parts - 1 ? n : 8 * r.upperBound))
        }
    }
    let found = UnsafeMutablePointer<WindowCount>.allocate(capacity: pieces.count)
    found.initialize(repeating: WindowCount(), count: pieces.count)
    defer { found.deinitialize(count: pieces.count); found.deallocate() }
    // Last piece first: in paired runs on the benchmark MLP this took 10–15 µs less per step than
    // first piece first (the pass, the selection after it and the next forward together).
    pieces.withUnsafeBufferPointer { pieces in
        parallelFor(pieces.count) { j in
            let i = pieces.count - 1 - j
            let (t, lo, hi) = pieces[i]
            found[i] = piece(tasks[t], lo, hi)
        }
    }
    firstPiece.append(pieces.count)
    return tasks.indices.map { t in
        WindowCount(merging: UnsafeBufferPointer(start: found + firstPiece[t], count: firstPiece[t + 1] - firstPiece[t]))
    }
}

/// Settles a windowed selection of the `k` largest: when the k-th largest key lies in the
/// window, sets W ⊙ M (and the stored mask, with `storing`) of the candidates that make the
/// cut, records the threshold and the cut in `hint` and returns true; otherwise returns false,
/// and the caller selects afresh (`topKMasks` with the same hint). `buffers` are the
/// selection's (weight, mask, masked, count) in sequence order. The result is `topKMasks`'s,
/// ties included.
public func resolveWindow(_ found: WindowCount, window: KeyWindow, k: Int,
                          buffers: [(weight: UnsafePointer<Float>, mask: UnsafeMutablePointer<Float>,
                                     masked: UnsafeMutablePointer<Float>, count: Int)], storing: Bool,
                          hint: inout TopKHint) -> Bool {
    let total = buffers.reduce(0) { $0 + $1.count }
    let k = min(k, total)
    guard k > 0, found.above <= k, found.above + found.candidates.count >= k else { return false }
    if found.above == k {
        hint.moved(to: window.hi, k: k, window: window, hit: true, candidates: found.candidates.count)
        hint.cut = cutAbove(window.hi)
        return true
    }
    let cut = largest(found.candidates, k - found.above)
    forEachKept(found.candidates, from: cut, counts: buffers.map(\.count)) { j, i in
        if storing { buffers[j].mask[i] = 1 }
        buffers[j].masked[i] = buffers[j].weight[i] * 1
    }
    hint.moved(to: UInt32(truncatingIfNeeded: cut >> 32), k: k, window: window, hit: true, candidates: found.candidates.count)
    hint.cut = cut
    return true
}

/// Writes the 0/1 mask a cut implies for `scores` at sequence positions offset..<offset + n.
public func writeMask(cut: UInt64, scores: UnsafePointer<Float>, offset: Int, _ n: Int, into mask: UnsafeMutablePointer<Float>) {
    for i in 0..<n {
        mask[i] = candidate(scores[i], at: offset + i) >= cut ? 1 : 0
    }
}

/// Elements lo..<hi of a task on eight lanes.
package func movementPiece(_ task: MovementTask, _ lo: Int, _ hi: Int) -> WindowCount {
    movementPiece(task.buffers, lo, hi, task.rule, task.scoreRule, task.current, task.window, task.offset)
}

private func movementPiece(_ b: MovementBuffers, _ lo: Int, _ hi: Int, _ rule: UpdateRule, _ scoreRule: UpdateRule,
                           _ current: CurrentMask, _ window: KeyWindow?, _ offset: Int) -> WindowCount {
    switch current {
    case .stored: return movementPiece(b, lo, hi, rule, scoreRule, StoredMask(mask: b.mask), window, offset)
    case let .implied(cut): return movementPiece(b, lo, hi, rule, scoreRule, ImpliedMask(cut: cut, offset: offset), window, offset)
    }
}

private func movementPiece<M: MaskLanes>(_ b: MovementBuffers, _ lo: Int, _ hi: Int, _ rule: UpdateRule, _ scoreRule: UpdateRule,
                                         _ mask: M, _ window: KeyWindow?, _ offset: Int) -> WindowCount {
    switch rule {
    case let .sgd(lr, momentum, wd, nesterov):
        if momentum == 0 || b.weightFirst == nil {
            return fusedLoop(b, lo, hi, SGDPlain(lr: lr, wd: wd), mask, scoreRule, window, offset)
        }
        return nesterov ? fusedLoop(b, lo, hi, SGDNesterov(lr: lr, mu: momentum, wd: wd), mask, scoreRule, window, offset)
                        : fusedLoop(b, lo, hi, SGDMomentum(lr: lr, mu: momentum, wd: wd), mask, scoreRule, window, offset)
    case let .adam(lr, b1, b2, eps, wd, decoupled, c1, c2):
        let c = AdamConstants(lr: lr, beta1: b1, beta2: b2, eps: eps, weightDecay: wd, decoupled: decoupled, c1: c1, c2: c2)
        return fusedLoop(b, lo, hi, AdamLanes(c), mask, scoreRule, window, offset)
    }
}

/// The current mask on eight lanes or one element (from the scores before their update), and
/// where a new provisional mask goes.
private protocol MaskLanes {
    func lanes(_ i: Int, _ scores: F8) -> F8
    func scalar(_ i: Int, _ score: Float) -> Float
    func store(_ i: Int, _ kept: F8)
    func store(_ i: Int, _ kept: Float)
}

private struct StoredMask: MaskLanes {
    let mask: UnsafeMutablePointer<Float>
    @inline(__always) func lanes(_ i: Int, _ scores: F8) -> F8 { load8(mask + i) }
    @inline(__always) func scalar(_ i: Int, _ score: Float) -> Float { mask[i] }
    @inline(__always) func store(_ i: Int, _ kept: F8) { store8(mask + i, kept) }
    @inline(__always) func store(_ i: Int, _ kept: Float) { mask[i] = kept }
}

/// Kept iff key << 32 | ~position ≥ cut: the key above the cut's, or equal and the position at
/// most the cut's. Compared in signed form (x ^ 2³¹), which AVX2 compares.
private struct ImpliedMask: MaskLanes {
    let cut: UInt64, offset: Int
    let cutKey: Int32, cutPosition: Int32
    init(cut: UInt64, offset: Int) {
        self.cut = cut; self.offset = offset
        cutKey = Int32(bitPattern: UInt32(truncatingIfNeeded: cut >> 32) ^ 0x8000_0000)
        cutPosition = Int32(bitPattern: ~UInt32(truncatingIfNeeded: cut) ^ 0x8000_0000)
    }
    @inline(__always) func lanes(_ i: Int, _ scores: F8) -> F8 {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        let x = _mm256_castps_si256(scores)
        let key = _mm256_xor_si256(x, _mm256_and_si256(_mm256_srai_epi32(x, 31), _mm256_set1_epi32(0x7FFF_FFFF)))
        let vkey = _mm256_set1_epi32(cutKey)
        let p = Int32(bitPattern: UInt32(truncatingIfNeeded: offset + i) &+ 0x8000_0000)
        let position = _mm256_add_epi32(_mm256_set1_epi32(p), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
        let late = _mm256_cmpgt_epi32(position, _mm256_set1_epi32(cutPosition))
        let kept = _mm256_or_si256(_mm256_cmpgt_epi32(key, vkey), _mm256_andnot_si256(late, _mm256_cmpeq_epi32(key, vkey)))
        return _mm256_castsi256_ps(_mm256_and_si256(kept, _mm256_set1_epi32(Int32(bitPattern: oneBits))))
        #else
        var m = F8(repeating: 0)
        for j in 0..<8 { m[j] = scalar(i + j, scores[j]) }
        return m
        #endif
    }
    @inline(__always) func scalar(_ i: Int, _ score: Float) -> Float {
        candidate(score, at: offset + i) >= cut ? 1 : 0
    }
    @inline(__always) func store(_ i: Int, _ kept: F8) {}
    @inline(__always) func store(_ i: Int, _ kept: Float) {}
}

/// A weight update on eight lanes and on one element, with the same operations in the same
/// order as the unfused kernels (`sgdStepSerial`, `adamStepSerial`).
private protocol WeightLanes {
    func lanes(_ w: F8, _ g: F8, _ first: UnsafeMutablePointer<Float>?, _ second: UnsafeMutablePointer<Float>?) -> F8
    func scalar(_ w: Float, _ g: Float, _ first: UnsafeMutablePointer<Float>?, _ second: UnsafeMutablePointer<Float>?) -> Float
}

private struct SGDPlain: WeightLanes {
    let lr: Float, wd: Float
    @inline(__always) func lanes(_ w: F8, _ g: F8, _ f: UnsafeMutablePointer<Float>?, _ s: UnsafeMutablePointer<Float>?) -> F8 {
        sub8(w, mul8(F8(repeating: lr), add8(g, mul8(F8(repeating: wd), w))))
    }
    @inline(__always) func scalar(_ w: Float, _ g: Float, _ f: UnsafeMutablePointer<Float>?, _ s: UnsafeMutablePointer<Float>?) -> Float {
        w - lr * (g + wd * w)
    }
}

private struct SGDMomentum: WeightLanes {
    let lr: Float, mu: Float, wd: Float
    @inline(__always) func lanes(_ w: F8, _ g: F8, _ f: UnsafeMutablePointer<Float>?, _ s: UnsafeMutablePointer<Float>?) -> F8 {
        let v = add8(add8(mul8(F8(repeating: mu), load8(f!)), g), mul8(F8(repeating: wd), w))
        store8(f!, v)
        return sub8(w, mul8(F8(repeating: lr), v))
    }
    @inline(__always) func scalar(_ w: Float, _ g: Float, _ f: UnsafeMutablePointer<Float>?, _ s: UnsafeMutablePointer<Float>?) -> Float {
        let v = mu * f![0] + g + wd * w
        f![0] = v
        return w - lr * v
    }
}

private struct SGDNesterov: WeightLanes {
    let lr: Float, mu: Float, wd: Float
    @inline(__always) func lanes(_ w: F8, _ g: F8, _ f: UnsafeMutablePointer<Float>?, _ s: UnsafeMutablePointer<Float>?) -> F8 {
        let gi = add8(g, mul8(F8(repeating: wd), w))
        let v = add8(mul8(F8(repeating: mu), load8(f!)), gi)
        store8(f!, v)
        return sub8(w, mul8(F8(repeating: lr), add8(gi, mul8(F8(repeating: mu), v))))
    }
    @inline(__always) func scalar(_ w: Float, _ g: Float, _ f: UnsafeMutablePointer<Float>?, _ s: UnsafeMutablePointer<Float>?) -> Float {
        let gi = g + wd * w
        let v = mu * f![0] + gi
        f![0] = v
        return w - lr * (gi + mu * v)
    }
}

/// Adam's constants for one step, as `adamStepSerial` derives them: the update is
/// w·shrink − step·m / (√v·inv2 + eps), with the gradient g + l2·w.
package struct AdamConstants {
    package let b1: Float, b2: Float, nb1: Float, nb2: Float, l2: Float, shrink: Float, step: Float, inv2: Float, eps: Float
    package init(lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float, decoupled: Bool, c1: Float, c2: Float) {
        b1 = beta1; b2 = beta2; nb1 = 1 - beta1; nb2 = 1 - beta2; self.eps = eps
        step = lr / c1; inv2 = 1 / c2.squareRoot()
        l2 = decoupled ? 0 : weightDecay
        shrink = decoupled ? 1 - lr * weightDecay : 1
    }
}

private struct AdamLanes: WeightLanes {
    let c: AdamConstants
    init(_ c: AdamConstants) { self.c = c }
    @inline(__always) func lanes(_ w: F8, _ g: F8, _ f: UnsafeMutablePointer<Float>?, _ s: UnsafeMutablePointer<Float>?) -> F8 {
        let gi = add8(g, mul8(F8(repeating: c.l2), w))
        let mi = add8(mul8(F8(repeating: c.b1), load8(f!)), mul8(F8(repeating: c.nb1), gi))
        let vi = add8(mul8(F8(repeating: c.b2), load8(s!)), mul8(mul8(F8(repeating: c.nb2), gi), gi))
        store8(f!, mi); store8(s!, vi)
        return sub8(mul8(w, F8(repeating: c.shrink)),
                    div8(mul8(F8(repeating: c.step), mi), add8(mul8(sqrt8(vi), F8(repeating: c.inv2)), F8(repeating: c.eps))))
    }
    @inline(__always) func scalar(_ w: Float, _ g: Float, _ f: UnsafeMutablePointer<Float>?, _ s: UnsafeMutablePointer<Float>?) -> Float {
        let gi = g + c.l2 * w
        let mi = c.b1 * f![0] + c.nb1 * gi
        let vi = c.b2 * s![0] + c.nb2 * gi * gi
        f![0] = mi; s![0] = vi
        return w * c.shrink - c.step * mi / (vi.squareRoot() * c.inv2 + c.eps)
    }
}

@inline(__always)
private func fusedLoop<W: WeightLanes, M: MaskLanes>(_ b: MovementBuffers, _ lo: Int, _ hi: Int, _ weight: W, _ mask: M,
                                                     _ scoreRule: UpdateRule, _ window: KeyWindow?, _ offset: Int) -> WindowCount {
    guard case let .adam(slr, sb1, sb2, seps, swd, sdecoupled, sc1, sc2) = scoreRule else {
        preconditionFailure("movementStep: the scores' rule must be Adam")
    }
    let score = AdamLanes(AdamConstants(lr: slr, beta1: sb1, beta2: sb2, eps: seps, weightDecay: swd, decoupled: sdecoupled,
                                        c1: sc1, c2: sc2))
    var result = WindowCount()
    let w = b.weight, g = b.gradient, out = b.masked, s = b.scores
    let wf = b.weightFirst, ws = b.weightSecond, sf = b.scoreFirst, ss = b.scoreSecond
    var i = lo
    let end = lo + (hi - lo) & ~7
    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    if let window {
        result.candidates.reserveCapacity(candidateReserve)
        // The new mask from the window, as in `windowPass`: keys compared in signed form.
        let low31 = _mm256_set1_epi32(0x7FFF_FFFF), one = _mm256_set1_epi32(Int32(bitPattern: oneBits))
        let vhi = _mm256_set1_epi32(Int32(bitPattern: window.hi ^ 0x8000_0000))
        let vlo = _mm256_set1_epi32(Int32(bitPattern: (window.lo ^ 0x8000_0000) &- 1))
        var countAbove = _mm256_setzero_si256()
        while i < end {
            if i & 15 == 0 { prefetchAhead(b, i) }
            let gi = load8(g + i), wi = load8(w + i), si = load8(s + i), mi = mask.lanes(i, si)
            let wn = weight.lanes(wi, mul8(gi, mi), wf.map { $0 + i }, ws.map { $0 + i })
            store8(w + i, wn)
            let sn = score.lanes(si, mul8(gi, wi), sf + i, ss + i)
            store8(s + i, sn)
            let x = _mm256_castps_si256(sn)
            let key = _mm256_xor_si256(x, _mm256_and_si256(_mm256_srai_epi32(x, 31), low31))
            let gt = _mm256_cmpgt_epi32(key, vhi)
            let kept = _mm256_castsi256_ps(_mm256_and_si256(gt, one))
            mask.store(i, kept)
            store8(out + i, mul8(wn, kept))
            countAbove = _mm256_sub_epi32(countAbove, gt)
            let inside = _mm256_andnot_si256(gt, _mm256_cmpgt_epi32(key, vlo))
            let lanes = _mm256_movemask_ps(_mm256_castsi256_ps(inside))
            if lanes != 0 { collectLanes(UnsafePointer(s), i, UInt32(lanes), offset, &result.candidates) }
            i += 8
        }
        result.above = horizontalSum(countAbove)
    } else {
        while i < end {
            if i & 15 == 0 { prefetchAhead(b, i) }
            let gi = load8(g + i), wi = load8(w + i), si = load8(s + i), mi = mask.lanes(i, si)
            let wn = weight.lanes(wi, mul8(gi, mi), wf.map { $0 + i }, ws.map { $0 + i })
            store8(w + i, wn)
            store8(s + i, score.lanes(si, mul8(gi, wi), sf + i, ss + i))
            store8(out + i, mul8(wn, mi))
            i += 8
        }
    }
    #endif
    while i < hi {
        let gi = g[i], wi = w[i], si = s[i], mi = mask.scalar(i, si)
        let wn = weight.scalar(wi, gi * mi, wf.map { $0 + i }, ws.map { $0 + i })
        w[i] = wn
        let sn = score.scalar(si, gi * wi, sf + i, ss + i)
        s[i] = sn
        if let window {
            let key = orderedKey(sn)
            let kept: Float = key > window.hi ? 1 : 0
            mask.store(i, kept)
            out[i] = wn * kept
            if key > window.hi { result.above += 1 } else if key >= window.lo { collectLanes(UnsafePointer(s), i, 1, offset, &result.candidates) }
        } else {
            out[i] = wn * mi
        }
        i += 1
    }
    return result
}

/// Asks for the lines `prefetchDistance` floats ahead in every buffer the pass streams (up to
/// eight per thread), once every sixteen elements: 5–10% faster than leaving them to the
/// hardware prefetchers here. (KernelsAVX512's pass calls it too.)
@inlinable @inline(__always)
package func prefetchAhead(_ b: MovementBuffers, _ i: Int) {
    let j = i + prefetchDistance
    prune_prefetch(b.gradient + j); prune_prefetch_write(b.weight + j); prune_prefetch_write(b.scores + j)
    prune_prefetch_write(b.scoreFirst + j); prune_prefetch_write(b.scoreSecond + j); prune_prefetch_write(b.masked + j)
    if let f = b.weightFirst { prune_prefetch_write(f + j) }
    if let s = b.weightSecond { prune_prefetch_write(s + j) }
}

@usableFromInline package let prefetchDistance = 512
