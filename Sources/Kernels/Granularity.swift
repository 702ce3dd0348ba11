// Structured selections for pruning masks: the k largest in every group of consecutive entries
// (N:M sparsity).
#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

// MARK: N:M groups

/// Keeps, in every group of `group` consecutive entries of each row, the `keep` entries with the
/// largest values (ties to the earliest), never one where `allowed` is 0 (then fewer are kept in
/// that group); 0 elsewhere. `rowLength` must be a multiple of `group` (the caller checks and reports).
/// N:M sparsity is keep = N, group = M; a gradual schedule lowers keep from M to N.
///
/// Values are ordered as `topKMasks` orders them (by `orderedKey`: −0 below +0, NaN above
/// everything), so a group's mask is exactly what `topKMasks` with k = `keep` would choose on
/// that group alone. As rows are a whole number of groups, the matrix is one run of groups.
/// Every group is read before it is written, so `allowed` may be `mask` itself (a gradual
/// schedule bounding each step by the last mask).
public func groupTopKMask(values: UnsafePointer<Float>, rows: Int, rowLength: Int, group: Int, keep: Int,
                          allowed: UnsafePointer<Float>?, mask: UnsafeMutablePointer<Float>) {
    let n = rows * rowLength
    guard n > 0, group > 0 else { return }
    let keep = min(max(keep, 0), group), groups = n / group
    // Groups are independent, so any split gives the same mask; the split depends on the size only.
    let parts = Parallel.taskCount(n)
    parallelFor(parts) { i in
        let r = Parallel.range(i, of: parts, count: groups)
        let start = r.lowerBound * group
        groupTopKRun(values + start, allowed.map { $0 + start }, mask + start, groups: r.count, group: group, keep: keep)
    }
}

/// Groups of at most this many entries are ranked by comparing every pair (g² comparisons of
/// entries held in a scratch buffer, vectorised); larger ones go through the radix selection,
/// which costs a few passes over the group but allocates. Measured per entry: 6 ns against 25
/// at 64, 10 against 17 at 128, 18 against 13 at 256.
let pairwiseGroupLimit = 128

/// `groupTopKMask` on `groups` consecutive groups, `keep` already within 0...group.
func groupTopKRun(_ v: UnsafePointer<Float>, _ allow: UnsafePointer<Float>?, _ m: UnsafeMutablePointer<Float>,
                  groups: Int, group g: Int, keep: Int) {
    var done = 0
    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    // Groups that divide eight lanes (2:4, 1:4, 4:8 …) are ranked in registers.
    switch g {
    case 1: done = groupTopK8(v, allow, m, groups * g, group: 1, keep: keep)
    case 2: done = groupTopK8(v, allow, m, groups * g, group: 2, keep: keep)
    case 4: done = groupTopK8(v, allow, m, groups * g, group: 4, keep: keep)
    case 8: done = groupTopK8(v, allow, m, groups * g, group: 8, keep: keep)
    default: break
    }
    #endif
    let rest = groups - done / g
    if rest == 0 { return }
    let v = v + done, allow = allow.map { $0 + done }, m = m + done
    if g <= pairwiseGroupLimit {
        let scratch = UnsafeMutablePointer<Int>.allocate(capacity: g)
        defer { scratch.deallocate() }
        for q in 0..<rest {
            let o = q * g
            groupTopKPairwise(v + o, allow.map { $0 + o }, m + o, group: g, keep: keep, scratch: scratch)
        }
    } else {
        var candidates = [UInt64]()
        candidates.reserveCapacity(g)
        for q in 0..<rest {
            let o = q * g
            groupTopKSelect(v + o, allow.map { $0 + o }, m + o, group: g, keep: keep, candidates: &candidates)
        }
    }
}

/// One group by ranks: an allowed entry's rank is the number of allowed entries of its group
/// that come before it in the selection order (a larger key, or an equal key earlier); it is
/// kept iff its rank is below `keep`. Ranks of the allowed entries are 0, 1, 2 … in some order,
/// so exactly min(keep, allowed) are kept. Each entry is held as one non-negative integer, its
/// key then its place from the end (key · 2³¹ + 2³¹ − 1 − j), or −1 when it is not allowed,
/// below all the others; a rank is then a sum of sign bits of differences.
/// Nothing branches on the data: values in random order mispredict comparisons half the time
/// (measured: a branch per comparison cost 2–3 ns each).
@inline(__always)
func groupTopKPairwise(_ v: UnsafePointer<Float>, _ allow: UnsafePointer<Float>?, _ m: UnsafeMutablePointer<Float>,
                       group g: Int, keep: Int, scratch c: UnsafeMutablePointer<Int>) {
    for j in 0..<g {
        let ok = Int(allow.map { nonzeroBit($0[j]) } ?? 1)
        c[j] = (Int(orderedKey(v[j])) << 31 | (0x7FFF_FFFF - j)) & (0 &- ok) | (ok &- 1)
    }
    for i in 0..<g {
        let ci = c[i]
        var rank = 0
        for j in 0..<g { rank &-= (ci &- c[j]) >> 63 }         // −1 where c[j] > ci
        // Kept iff rank − keep < 0 and ci ≥ 0: both sign bits.
        m[i] = Float(bitPattern: oneBits & UInt32(truncatingIfNeeded: ((rank &- keep) & ~ci) >> 63))
    }
}

/// One large group by the same exact selection as `topKMasks` (`largest` on its candidates).
func groupTopKSelect(_ v: UnsafePointer<Float>, _ allow: UnsafePointer<Float>?, _ m: UnsafeMutablePointer<Float>,
                     group g: Int, keep: Int, candidates: inout [UInt64]) {
    candidates.removeAll(keepingCapacity: true)
    for j in 0..<g where allow.map({ $0[j] != 0 }) ?? true { candidates.append(candidate(v[j], at: j)) }
    // The candidates hold what the bound said, so the mask may now be written even if it is the bound.
    m.update(repeating: 0, count: g)
    let need = min(keep, candidates.count)
    guard need > 0 else { return }
    let cut = largest(candidates, need)
    for c in candidates where c >= cut { m[Int(~UInt32(truncatingIfNeeded: c))] = 1 }
}

#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
/// Groups of g ∈ {1, 2, 4, 8} on eight lanes (each load holds 8 / g whole groups), for the
/// first n & ~7 entries; returns how many it did. The ranks of `groupTopKPairwise` come from
/// g − 1 lane rotations within each group: rotation d brings every lane the key of the entry d
/// places further round its group, which beats it if larger, or if equal and earlier (the
/// rotation wrapped). Keys are compared in their signed form (orderedKey ^ 2³¹, which AVX2
/// compares), ranks count up in lanes (a true comparison is −1), and nothing branches.
@inline(__always)
func groupTopK8(_ v: UnsafePointer<Float>, _ allow: UnsafePointer<Float>?, _ m: UnsafeMutablePointer<Float>, _ n: Int,
                group g: Int, keep: Int) -> Int {
    var rotate = [__m256i](), wrapped = [__m256i]()
    for d in stride(from: 1, to: g, by: 1) {
        var index = SIMD8<Int32>(), wrap = SIMD8<Int32>()
        for lane in 0..<8 {
            let base = lane - lane % g, at = lane % g + d
            index[lane] = Int32(base + at % g)
            wrap[lane] = at >= g ? -1 : 0
        }
        rotate.append(unsafeBitCast(index, to: __m256i.self))
        wrapped.append(unsafeBitCast(wrap, to: __m256i.self))
    }
    let low31 = _mm256_set1_epi32(0x7FFF_FFFF), one = _mm256_set1_epi32(Int32(bitPattern: oneBits))
    let zero = _mm256_setzero_si256(), all = _mm256_cmpeq_epi32(zero, zero)
    let limit = _mm256_set1_epi32(Int32(keep))
    let end = n & ~7
    var i = 0
    while i < end {
        let x = _mm256_castps_si256(_mm256_loadu_ps(v + i))
        let key = _mm256_xor_si256(x, _mm256_and_si256(_mm256_srai_epi32(x, 31), low31))
        // Allowed lanes: all ones where the bound is not ±0.
        var ok = all
        if let allow {
            ok = _mm256_andnot_si256(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(allow + i)), low31), zero), all)
        }
        var rank = zero
        for d in 0..<(g - 1) {
            let other = _mm256_permutevar8x32_epi32(key, rotate[d])
            var beats = _mm256_or_si256(_mm256_cmpgt_epi32(other, key),
                                        _mm256_and_si256(_mm256_cmpeq_epi32(other, key), wrapped[d]))
            if allow != nil { beats = _mm256_and_si256(beats, _mm256_permutevar8x32_epi32(ok, rotate[d])) }
            rank = _mm256_sub_epi32(rank, beats)
        }
        let kept = _mm256_and_si256(ok, _mm256_cmpgt_epi32(limit, rank))
        _mm256_storeu_ps(m + i, _mm256_castsi256_ps(_mm256_and_si256(kept, one)))
        i += 8
    }
    return end
}
#endif
