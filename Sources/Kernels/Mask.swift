// Pruning kernels: gated weights forward and backward, hard-concrete gates, exact top-k masks
// by radix selection, and counting.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

/// out = w ⊙ m.
public func gateForward(_ w: UnsafePointer<Float>, _ m: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    splitElementwise(n) { lo, hi in for i in lo..<hi { out[i] = w[i] * m[i] } }
}

/// x = x ⊙ m for a 0/1 mask, with +0.0 where m = 0 (adding +0 turns the −0.0 of a negative x
/// times 0 into +0.0; arithmetic rather than a select, which would compile to slow masked
/// memory operations).
public func applyMask(_ x: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, _ n: Int) {
    splitElementwise(n) { lo, hi in for i in lo..<hi { x[i] = x[i] * m[i] + 0 } }
}

/// The straight-through backward of w ⊙ m: dw = g ⊙ m and, when asked, ds = g ⊙ w (the
/// gradient a score behind the mask receives when the binarisation is treated as identity).
public func gateBackward(_ g: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ m: UnsafePointer<Float>,
                         _ dw: UnsafeMutablePointer<Float>?, _ ds: UnsafeMutablePointer<Float>?, _ n: Int) {
    splitElementwise(n) { lo, hi in
        switch (dw, ds) {
        case let (dw?, ds?): for i in lo..<hi { let gi = g[i]; dw[i] = gi * m[i]; ds[i] = gi * w[i] }
        case let (dw?, nil): for i in lo..<hi { dw[i] = g[i] * m[i] }
        case let (nil, ds?): for i in lo..<hi { ds[i] = g[i] * w[i] }
        case (nil, nil): break
        }
    }
}

/// Hard-concrete gate (Louizos et al.): s = σ((log u − log(1 − u) + a) / β) with noise u, or
/// s = σ(a) without; z = (r − l)·s + l; m = min(1, max(0, z)). Writes m and, for the backward,
/// dm/da (0 where the gate is clamped).
public func hardConcrete(_ a: UnsafePointer<Float>, _ u: UnsafePointer<Float>?, _ n: Int, l: Float, r: Float, beta: Float,
                         _ m: UnsafeMutablePointer<Float>, _ dm: UnsafeMutablePointer<Float>?) {
    splitElementwise(n) { lo, hi in hardConcreteSerial(a + lo, u.map { $0 + lo }, hi - lo, l: l, r: r, beta: beta, m + lo, dm.map { $0 + lo }) }
}

private func hardConcreteSerial(_ a: UnsafePointer<Float>, _ u: UnsafePointer<Float>?, _ n: Int, l: Float, r: Float, beta: Float,
                                _ m: UnsafeMutablePointer<Float>, _ dm: UnsafeMutablePointer<Float>?) {
    let span = r - l
    for i in 0..<n {
        var t = a[i], b: Float = 1
        if let u {
            let ui = u[i]
            t = (logf(ui) - logf(1 - ui) + t) / beta
            b = beta
        }
        let s = 1 / (1 + expf(-t))
        let z = span * s + l
        m[i] = z <= 0 ? 0 : (z >= 1 ? 1 : z)
        if let dm { dm[i] = (z > 0 && z < 1) ? span * s * (1 - s) / b : 0 }
    }
}

/// Number of entries different from zero.
public func countNonzero(_ x: UnsafePointer<Float>, _ n: Int) -> Int {
    maskStatistics(x, previous: nil, scores: nil, n).kept
}

/// One branch-free pass over a 0/1 mask `m` for the pruner's log: the kept entries, the entries
/// whose kept state differs from `previous` (0 without one), and the smallest score among the
/// kept entries (+∞ without scores or when nothing is kept). −0.0 counts as 0.
public func maskStatistics(_ m: UnsafePointer<Float>, previous: UnsafePointer<Float>?, scores: UnsafePointer<Float>?,
                           _ n: Int) -> (kept: Int, changed: Int, smallestKeptScore: Float) {
    var k = 0, c = 0, low = Float.infinity, i = 0
    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    // Eight at a time: a lane is 0 when its bits without the sign are 0 (as `x != 0`, −0.0 is 0
    // and NaN is kept); movemask and popcount count the lanes.
    let magnitude = _mm256_set1_epi32(0x7FFF_FFFF), zero = _mm256_setzero_si256(), inf = _mm256_set1_ps(.infinity)
    var low8 = inf
    @inline(__always) func zeros(_ p: UnsafePointer<Float>) -> __m256i {
        _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(p)), magnitude), zero)
    }
    while i + 8 <= n {
        let dropped = zeros(m + i)
        let bits = ~_mm256_movemask_ps(_mm256_castsi256_ps(dropped)) & 0xFF
        k += bits.nonzeroBitCount
        if let previous {
            let before = ~_mm256_movemask_ps(_mm256_castsi256_ps(zeros(previous + i))) & 0xFF
            c += (bits ^ before).nonzeroBitCount
        }
        if let scores { low8 = _mm256_min_ps(low8, _mm256_blendv_ps(_mm256_loadu_ps(scores + i), inf, _mm256_castsi256_ps(dropped))) }
        i += 8
    }
    low = SIMD8<Float>(low8).min()
    #endif
    while i < n {
        let keep = m[i] != 0
        if keep { k += 1 }
        if let previous, keep != (previous[i] != 0) { c += 1 }
        if let scores, keep, scores[i] < low { low = scores[i] }
        i += 1
    }
    return (k, c, low)
}

/// 1 when x ≠ 0 (−0.0 counts as 0, NaN as not), else 0, without a branch.
@inline(__always)
func nonzeroBit(_ x: Float) -> UInt32 { ((x.bitPattern & 0x7FFF_FFFF) &+ 0x7FFF_FFFF) >> 31 }

/// 1 when a > b, else 0, without a branch, for a, b < 2³¹.
@inline(__always)
func greaterBit(_ a: UInt32, _ b: UInt32) -> UInt32 { (b &- a) >> 31 }

/// The bits of 1.0.
package let oneBits: UInt32 = 0x3F80_0000

/// A float's bits mapped to an unsigned key with the same order (−∞ smallest, NaN largest).
@inline(__always)
public func orderedKey(_ x: Float) -> UInt32 {
    let b = x.bitPattern
    return b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
}

/// Where the last top-k threshold was, so that the next selection over values that moved a
/// little (learned scores between two steps) can be made in one pass. The result never depends
/// on the hint, only the time it takes.
public struct TopKHint: Sendable {
    /// The order-preserving key (`orderedKey`) of the last threshold: the k-th largest value.
    public var threshold: UInt32?
    /// Half-width, in values, of the window searched around the predicted threshold next time
    /// (values, not keys: keys are logarithmic near zero, where learned scores cross).
    public var width: Float = 0
    /// Selections made in one pass around the threshold, and with the full two-pass histogram.
    public private(set) var windowed = 0, full = 0
    /// The last selection as one number: an entry with order-preserving key `key` at sequence
    /// position `p` was kept iff key << 32 | ~p ≥ cut (so 0 keeps everything). Nil when that
    /// does not describe it (nothing kept, or some entries were not allowed).
    public internal(set) var cut: UInt64?
    /// The last selection's k, and the entries per unit of value around its threshold (from the
    /// last window's candidates): while a schedule lowers k, they predict where the threshold goes.
    public private(set) var k: Int?
    public private(set) var density: Double?
    public init() {}

    /// The window the next one-pass selection of the `k` largest searches, if there was a last
    /// threshold: centred where the threshold goes if only k changes (the values around it as
    /// dense as last time), `width` either side and at least 64 keys either side. When k holds,
    /// it is centred on the last threshold.
    public func window(k: Int) -> KeyWindow? {
        guard let t = threshold else { return nil }
        let last = value(ofKey: t)
        // At least 64 keys either side of `key`; lo ≥ 1, as the passes compare with lo − 1.
        func around(_ key: UInt32) -> (lo: UInt32, hi: UInt32) {
            (Swift.max(key, 65) - 64, key < UInt32.max - 64 ? key + 64 : UInt32.max)
        }
        guard last.isFinite else { let w = around(t); return KeyWindow(lo: w.lo, hi: w.hi) }
        var centre = Double(last)
        if let previous = self.k, previous != k, let density, density > 0 { centre += Double(previous - k) / density }
        let largest = Double(Float.greatestFiniteMagnitude)
        let c = Float(Swift.min(Swift.max(centre, -largest), largest))
        let least = around(orderedKey(c))
        return KeyWindow(lo: Swift.min(orderedKey(c - width), least.lo), hi: Swift.max(orderedKey(c + width), least.hi), centre: c)
    }

    /// Records where the threshold of the `k` largest went (nil: nothing kept) and sizes the
    /// next window to twice its distance from where it was looked for (the centre of `window`,
    /// else the last threshold), growing at once and shrinking by a tenth a step. (Measured on
    /// movement pruning's ramp: shrinking by half missed 42 of 938 windows, a tenth 10, for 9%
    /// more candidates; a miss costs a full selection, a candidate a few nanoseconds.)
    /// `window` is the window tried, and `candidates` what it held when it held the threshold.
    mutating func moved(to key: UInt32?, k: Int, window: KeyWindow?, hit: Bool, candidates: Int = 0) {
        if hit { windowed += 1 } else { full += 1 }
        let previous = self.k
        self.k = k
        if hit, let window, candidates > 0 {
            let span = Double(value(ofKey: window.hi)) - Double(value(ofKey: window.lo))
            if span > 0, span.isFinite { density = Double(candidates) / span }
        }
        guard let key else { return }
        let now = value(ofKey: key)
        if density == nil, let previous, previous != k, let last = threshold.map(value(ofKey:)), now != last,
           now.isFinite, last.isFinite {
            // The first move with k changing was not predicted: it gives the density, and says
            // nothing about how far from a prediction the threshold lands.
            density = Double(abs(previous - k)) / abs(Double(now) - Double(last))
            threshold = key
            return
        }
        if let reference = window?.centre ?? threshold.map(value(ofKey:)), now.isFinite, reference.isFinite {
            let wanted = Swift.min(2 * abs(now - reference), Float.greatestFiniteMagnitude)
            width = hit ? Swift.max(wanted, width * 0.9)
                        : Swift.max(wanted, Swift.min(2 * width, Float.greatestFiniteMagnitude))
        }
        threshold = key
    }
}

/// The value whose `orderedKey` is `key`.
@inline(__always)
func value(ofKey key: UInt32) -> Float {
    Float(bitPattern: key & 0x8000_0000 != 0 ? key & 0x7FFF_FFFF : ~key)
}

/// Writes 1 into `masks` at the `k` largest entries of `values`, taken as one sequence across
/// all buffers (in buffer order, then index), and 0 elsewhere. Entries where `allowed` is 0 are
/// never kept; `k` is capped at the number allowed. Ties at the threshold go to the earliest
/// entries, so the result is deterministic and keeps exactly `k`. `allowed` may be the mask
/// itself (each entry's bound is read before it is written).
public func topKMasks(values: [(UnsafePointer<Float>, Int)], allowed: [UnsafePointer<Float>?], k: Int,
                      masks: [UnsafeMutablePointer<Float>]) {
    var hint = TopKHint()
    topKMasks(values: values, allowed: allowed, k: k, masks: masks, hint: &hint)
}

/// `topKMasks` with a hint from the previous selection over the same buffers. When the new
/// threshold lies in the hint's window (`TopKHint.window(k:)`), one pass writes the mask of
/// every entry above the window and collects the few inside it, among which the threshold is
/// placed exactly; otherwise the two-pass histogram runs. Either way the result is the same.
/// `missed` is a window a caller already found not to hold the threshold: it is not tried again.
public func topKMasks(values: [(UnsafePointer<Float>, Int)], allowed: [UnsafePointer<Float>?], k: Int,
                      masks: [UnsafeMutablePointer<Float>], hint: inout TopKHint, missed: KeyWindow? = nil) {
    let total = values.reduce(0) { $0 + $1.1 }
    precondition(total < Int(UInt32.max), "topKMasks: more than 2³² − 1 entries")
    precondition(values.count == allowed.count && values.count == masks.count, "topKMasks: one allowed and one mask per buffer")
    let unbounded = allowed.allSatisfy { $0 == nil }
    if k <= 0 || total == 0 {
        for (b, (_, n)) in values.enumerated() { masks[b].update(repeating: 0, count: n) }
        hint.cut = nil
        return
    }
    if k >= total && unbounded {
        for (b, (_, n)) in values.enumerated() { masks[b].update(repeating: 1, count: n) }
        hint.cut = 0
        return
    }
    // The one-pass selection writes masks before it knows whether the window held the
    // threshold, so it needs the bounds intact; when a bound is a mask being written (gradual
    // magnitude pruning: the mask bounds the next), the window pass only counts, and a second
    // pass writes.
    let aliased = allowed.indices.contains { c in
        guard let a = allowed[c].map(UnsafeRawPointer.init), values[c].1 > 0 else { return false }
        return values.indices.contains { b in
            let m = UnsafeRawPointer(masks[b])
            return values[b].1 > 0 && a < m + 4 * values[b].1 && m < a + 4 * values[c].1
        }
    }
    var tried = missed
    if missed == nil, let window = hint.window(k: k) {
        if let (key, cut, candidates) = topKWindow(values: values, allowed: allowed, k: k, masks: masks, lo: window.lo,
                                                   hi: window.hi, writing: !aliased) {
            hint.moved(to: key, k: k, window: window, hit: true, candidates: candidates)
            hint.cut = unbounded ? cut : nil
            return
        }
        tried = window
    }
    let cut = topKHistogram(values: values, allowed: allowed, k: k, masks: masks)
    hint.moved(to: cut.map { UInt32(truncatingIfNeeded: $0 >> 32) }, k: k, window: tried, hit: false)
    hint.cut = unbounded ? cut : nil
}

/// One pass: masks get 1 where the key is above `hi` (and allowed), 0 elsewhere, and the allowed
/// entries with keys in [lo, hi] are collected. If the k-th largest lies in the window, the
/// right ones among those are set and the threshold key, the cut (see `TopKHint.cut`) and the
/// number of candidates are returned; otherwise nil (the masks
/// are then left half written). Without `writing`, the pass leaves the masks alone and a second
/// one writes them once the window is known to hold the threshold.
func topKWindow(values: [(UnsafePointer<Float>, Int)], allowed: [UnsafePointer<Float>?], k: Int,
                masks: [UnsafeMutablePointer<Float>], lo: UInt32, hi: UInt32, writing: Bool) -> (UInt32, UInt64, Int)? {
    var candidates = [UInt64]()
    var above = 0, available = 0, offset = 0
    for (b, (v, n)) in values.enumerated() {
        let allow = allowed[b], m = masks[b]
        // Large buffers in parts on the pool's threads, each collecting its own candidates;
        // joined in part order, they stay in sequence order.
        let parts = Parallel.taskCount(n)
        if parts == 1 {
            let (a, c) = windowPass(v, allow, m, n, lo: lo, hi: hi, offset: offset, writing: writing, into: &candidates)
            above += a; available += c
        } else {
            let found = UnsafeMutablePointer<[UInt64]>.allocate(capacity: parts)
            found.initialize(repeating: [], count: parts)
            let counts = UnsafeMutablePointer<(Int, Int)>.allocate(capacity: parts)
            counts.initialize(repeating: (0, 0), count: parts)
            defer { found.deinitialize(count: parts); found.deallocate(); counts.deallocate() }
            parallelFor(parts) { i in
                let r = Parallel.range(i, of: parts, count: n / 8)
                let start = 8 * r.lowerBound, end = i == parts - 1 ? n : 8 * r.upperBound
                counts[i] = windowPass(v + start, allow.map { $0 + start }, m + start, end - start, lo: lo, hi: hi,
                                       offset: offset + start, writing: writing, into: &found[i])
            }
            for i in 0..<parts { above += counts[i].0; available += counts[i].1; candidates += found[i] }
        }
        offset += n
    }
    let k = min(k, available)
    guard k > 0, above <= k, above + candidates.count >= k else { return nil }
    if !writing {
        // Every entry above the window is kept: an empty window (lo = hi + 1) only writes.
        var none = [UInt64]()
        for (b, (v, n)) in values.enumerated() {
            _ = windowPass(v, allowed[b], masks[b], n, lo: hi &+ 1, hi: hi, offset: 0, writing: true, into: &none)
        }
    }
    if above == k { return (hi, cutAbove(hi), candidates.count) }
    let cut = largest(candidates, k - above)
    setKept(candidates, from: cut, values: values, masks: masks)
    return (UInt32(truncatingIfNeeded: cut >> 32), cut, candidates.count)
}

/// The cut that keeps exactly the keys above `hi` (which is then below UInt32.max: something
/// lies above it).
@inline(__always)
func cutAbove(_ hi: UInt32) -> UInt64 { hi == UInt32.max ? UInt64.max : (UInt64(hi) + 1) << 32 }

/// The window pass over one buffer; returns (entries above the window, entries allowed).
func windowPass(_ v: UnsafePointer<Float>, _ allow: UnsafePointer<Float>?, _ m: UnsafeMutablePointer<Float>, _ n: Int,
                lo: UInt32, hi: UInt32, offset: Int, writing: Bool, into candidates: inout [UInt64]) -> (Int, Int) {
    var above = 0, available = allow == nil ? n : 0
    var i = 0
    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    // Eight lanes at a time on the signed form of the key (key ^ 2³¹, which AVX2 compares);
    // counts accumulate in vector lanes (a true comparison is −1), and lanes inside the window
    // (a few in a thousand) are collected out of line.
    let low31 = _mm256_set1_epi32(0x7FFF_FFFF), one = _mm256_set1_epi32(Int32(bitPattern: oneBits))
    let vhi = _mm256_set1_epi32(Int32(bitPattern: hi ^ 0x8000_0000))
    let vlo = _mm256_set1_epi32(Int32(bitPattern: (lo ^ 0x8000_0000) &- 1))     // key ≥ lo ⇔ key > lo − 1
    let end = n & ~7
    var countAbove = _mm256_setzero_si256(), countAllowed = _mm256_setzero_si256()
    if let allow {
        let zero = _mm256_setzero_si256()
        while i < end {
            let x = _mm256_castps_si256(_mm256_loadu_ps(v + i))
            let key = _mm256_xor_si256(x, _mm256_and_si256(_mm256_srai_epi32(x, 31), low31))
            let no = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(allow + i)), low31), zero)
            let gt = _mm256_andnot_si256(no, _mm256_cmpgt_epi32(key, vhi))
            if writing { _mm256_storeu_ps(m + i, _mm256_castsi256_ps(_mm256_and_si256(gt, one))) }
            countAbove = _mm256_sub_epi32(countAbove, gt)
            countAllowed = _mm256_sub_epi32(countAllowed, _mm256_andnot_si256(no, _mm256_cmpeq_epi32(zero, zero)))
            let inside = _mm256_andnot_si256(_mm256_or_si256(no, gt), _mm256_cmpgt_epi32(key, vlo))
            let lanes = _mm256_movemask_ps(_mm256_castsi256_ps(inside))
            if lanes != 0 { collectLanes(v, i, UInt32(lanes), offset, &candidates) }
            i += 8
        }
    } else {
        while i < end {
            let x = _mm256_castps_si256(_mm256_loadu_ps(v + i))
            let key = _mm256_xor_si256(x, _mm256_and_si256(_mm256_srai_epi32(x, 31), low31))
            let gt = _mm256_cmpgt_epi32(key, vhi)
            if writing { _mm256_storeu_ps(m + i, _mm256_castsi256_ps(_mm256_and_si256(gt, one))) }
            countAbove = _mm256_sub_epi32(countAbove, gt)
            let inside = _mm256_andnot_si256(gt, _mm256_cmpgt_epi32(key, vlo))
            let lanes = _mm256_movemask_ps(_mm256_castsi256_ps(inside))
            if lanes != 0 { collectLanes(v, i, UInt32(lanes), offset, &candidates) }
            i += 8
        }
    }
    above = horizontalSum(countAbove)
    if allow != nil { available = horizontalSum(countAllowed) }
    #endif
    while i < n {
        let ok = allow.map { $0[i] != 0 } ?? true
        let key = orderedKey(v[i])
        if writing { m[i] = ok && key > hi ? 1 : 0 }
        if ok {
            if allow != nil { available += 1 }
            if key > hi { above += 1 } else if key >= lo { collectLanes(v, i, 1, offset, &candidates) }
        }
        i += 1
    }
    return (above, available)
}

/// Appends the entries at i + (set bits of `lanes`) as candidates (key << 32 | ~position).
@inline(never)
package func collectLanes(_ v: UnsafePointer<Float>, _ i: Int, _ lanes: UInt32, _ offset: Int, _ candidates: inout [UInt64]) {
    var lanes = lanes
    while lanes != 0 {
        let j = i + lanes.trailingZeroBitCount
        candidates.append(candidate(v[j], at: offset + j))
        lanes &= lanes &- 1
    }
}

#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
/// The sum of eight 32-bit lanes.
@inline(__always)
func horizontalSum(_ x: __m256i) -> Int {
    let s = unsafeBitCast(x, to: SIMD8<Int32>.self)
    var t = 0
    for j in 0..<8 { t += Int(s[j]) }
    return t
}
#endif

/// The two-pass selection: a histogram of the top 16 bits of each order-preserving key finds
/// the bucket holding the k-th largest; the second pass writes every entry outside that bucket
/// and collects the entries inside it (in sequence order), among which the threshold is placed
/// exactly. Both passes are branch-free per entry (a mask of scattered zeros would otherwise
/// mispredict on every other entry). Returns the cut (see `TopKHint.cut`; nil when nothing is
/// kept).
func topKHistogram(values: [(UnsafePointer<Float>, Int)], allowed: [UnsafePointer<Float>?], k: Int,
                   masks: [UnsafeMutablePointer<Float>]) -> UInt64? {
    let bins = 1 << 16
    // Entries that are not allowed are counted in 8 spare bins in rotation, so that a run of them
    // is not one long chain of increments of the same counter.
    let hist = UnsafeMutablePointer<UInt32>.allocate(capacity: bins + 8)
    defer { hist.deallocate() }
    hist.initialize(repeating: 0, count: bins + 8)
    var available = 0
    for (b, (v, n)) in values.enumerated() {
        if let allow = allowed[b] {
            var count = 0
            for i in 0..<n {
                let ok = nonzeroBit(allow[i]), all = 0 &- ok
                let bin = (orderedKey(v[i]) >> 16) & all | (UInt32(bins) + UInt32(i & 7)) & ~all
                hist[Int(bin)] &+= 1
                count &+= Int(ok)
            }
            available += count
        } else {
            for i in 0..<n { hist[Int(orderedKey(v[i]) >> 16)] &+= 1 }
            available += n
        }
    }
    let k = min(max(k, 0), available)
    guard k > 0 else {
        for (b, (_, n)) in values.enumerated() { masks[b].update(repeating: 0, count: n) }
        return nil
    }
    // The bucket holding the k-th largest key, and how many keys lie above that bucket.
    var above = 0, bucket = bins - 1
    while bucket > 0 && above + Int(hist[bucket]) < k { above += Int(hist[bucket]); bucket -= 1 }
    var candidates = [UInt64]()
    candidates.reserveCapacity(Int(hist[bucket]))
    let b32 = UInt32(bucket)
    var offset = 0
    for (b, (v, n)) in values.enumerated() {
        let m = masks[b]
        @inline(__always) func visit(_ i: Int, _ ok: UInt32) {
            let key = orderedKey(v[i]), top = key >> 16
            m[i] = Float(bitPattern: (ok & greaterBit(top, b32)) &* oneBits)
            if ok & (top == b32 ? 1 : 0) != 0 {
                candidates.append(UInt64(key) << 32 | UInt64(~UInt32(truncatingIfNeeded: offset + i)))
            }
        }
        if let allow = allowed[b] { for i in 0..<n { visit(i, nonzeroBit(allow[i])) } } else { for i in 0..<n { visit(i, 1) } }
        offset += n
    }
    let cut = largest(candidates, k - above)
    setKept(candidates, from: cut, values: values, masks: masks)
    return cut
}

/// The `need`-th largest of `candidates` (1 ≤ need ≤ count), each key << 32 | ~position, listed
/// in sequence order. All differ (positions do), so the `need` largest are exactly those ≥ the
/// result: larger keys first, and among equal keys the earliest. Narrowed by histograms of the
/// keys (about one bin per candidate, at most 2¹⁶), keeping the order, until few are left to sort.
func largest(_ candidates: [UInt64], _ need: Int) -> UInt64 {
    var c = candidates, need = need
    while c.count > 64 {
        var lo = UInt32.max, hi: UInt32 = 0
        for x in c { let key = UInt32(truncatingIfNeeded: x >> 32); lo = min(lo, key); hi = max(hi, key) }
        // One key: the earliest `need` in sequence order.
        if lo == hi { return c[need - 1] }
        let span = hi - lo
        let bits = min(16, Int.bitWidth - c.count.leadingZeroBitCount)
        let shift = UInt32(Swift.max(0, (UInt32.bitWidth - span.leadingZeroBitCount) - bits))
        var hist = [UInt32](repeating: 0, count: Int(span >> shift) + 1)
        for x in c { hist[Int((UInt32(truncatingIfNeeded: x >> 32) - lo) >> shift)] &+= 1 }
        var bucket = hist.count - 1, above = 0
        while above + Int(hist[bucket]) < need { above += Int(hist[bucket]); bucket -= 1 }
        need -= above
        let b = UInt32(bucket)
        c = c.filter { (UInt32(truncatingIfNeeded: $0 >> 32) - lo) >> shift == b }
    }
    c.sort(by: >)
    return c[need - 1]
}

/// Sets the mask of every candidate ≥ `cut`.
func setKept(_ candidates: [UInt64], from cut: UInt64, values: [(UnsafePointer<Float>, Int)],
             masks: [UnsafeMutablePointer<Float>]) {
    forEachKept(candidates, from: cut, counts: values.map(\.1)) { b, i in masks[b][i] = 1 }
}

/// Calls `body(buffer, index)` for every candidate ≥ `cut`, its sequence position located in
/// the buffers of these sizes.
@inline(__always)
func forEachKept(_ candidates: [UInt64], from cut: UInt64, counts: [Int], _ body: (Int, Int) -> Void) {
    var starts = [Int](), start = 0
    for n in counts { starts.append(start); start += n }
    for c in candidates where c >= cut {
        let position = Int(~UInt32(truncatingIfNeeded: c))
        var b = starts.count - 1
        while starts[b] > position { b -= 1 }
        body(b, position - starts[b])
    }
}

/// A candidate as selections order them: the value's order-preserving key, then the earlier
/// sequence position first (key << 32 | ~position).
@inline(__always)
func candidate(_ value: Float, at position: Int) -> UInt64 {
    UInt64(orderedKey(value)) << 32 | UInt64(~UInt32(truncatingIfNeeded: position))
}
