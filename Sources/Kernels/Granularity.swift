// Structured selections for pruning masks: the k largest in every group of consecutive entries
// (N:M sparsity), and block scores, block counts and block masks for block pruning.
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

// MARK: Blocks

/// The number of blockRows × blockCols blocks covering a rows × cols matrix (edge blocks partial).
public func blockCount(rows: Int, cols: Int, blockRows: Int, blockCols: Int) -> Int {
    guard rows > 0, cols > 0, blockRows > 0, blockCols > 0 else { return 0 }
    return ((rows + blockRows - 1) / blockRows) * ((cols + blockCols - 1) / blockCols)
}

/// Runs `body(lo, hi)` over ranges of block rows (bands of `blockRows` matrix rows), split by
/// size only, so each band is summed by one task and results never depend on the thread count.
@inline(__always)
func forBands(rows: Int, cols: Int, blockRows: Int, _ body: (Int, Int) -> Void) {
    let bands = (rows + blockRows - 1) / blockRows
    let parts = min(Parallel.taskCount(rows * cols), bands)
    parallelFor(parts) { i in
        let r = Parallel.range(i, of: parts, count: bands)
        if !r.isEmpty { body(r.lowerBound, r.upperBound) }
    }
}

/// The mean of `values` over each blockRows × blockCols block of a rows × cols matrix (edge blocks
/// may be partial: their mean is over the entries they have), row-major over blocks, into `scores`
/// (blockCount(rows:cols:blockRows:blockCols:) floats). Entries where `allowed` is 0 count as absent.
///
/// A mean rather than a sum, so that partial edge blocks compete fairly with full ones. A block
/// with no entries left gets −∞: it has nothing to keep, and sorts below every real score. Each
/// band of blockRows rows is summed column by column into a row of partial sums (a contiguous
/// loop the compiler vectorises), which is then reduced block by block in Double.
public func blockMeans(values: UnsafePointer<Float>, rows: Int, cols: Int, blockRows: Int, blockCols: Int,
                       allowed: UnsafePointer<Float>?, into scores: UnsafeMutablePointer<Float>) {
    guard blockCount(rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols) > 0 else { return }
    let across = (cols + blockCols - 1) / blockCols
    forBands(rows: rows, cols: cols, blockRows: blockRows) { lo, hi in
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: cols)
        let counts = UnsafeMutablePointer<Float>.allocate(capacity: cols)
        defer { sums.deallocate(); counts.deallocate() }
        for band in lo..<hi {
            let top = band * blockRows, bottom = min(rows, top + blockRows)
            sums.update(repeating: 0, count: cols)
            counts.update(repeating: 0, count: cols)
            for r in top..<bottom {
                let row = values + r * cols
                if let allow = allowed.map({ $0 + r * cols }) {
                    for j in 0..<cols {
                        let ok = allow[j] != 0
                        sums[j] += ok ? row[j] : 0
                        counts[j] += ok ? 1 : 0
                    }
                } else {
                    for j in 0..<cols { sums[j] += row[j] }
                }
            }
            for c in 0..<across {
                let left = c * blockCols, right = min(cols, left + blockCols)
                var sum = 0.0, count = 0.0
                for j in left..<right { sum += Double(sums[j]) }
                if allowed != nil {
                    for j in left..<right { count += Double(counts[j]) }
                } else {
                    count = Double((bottom - top) * (right - left))
                }
                scores[band * across + c] = count > 0 ? Float(sum / count) : -.infinity
            }
        }
    }
}

/// The number of entries in each block, row-major over blocks: those where `allowed` is not 0
/// when it is given (the weights a kept block actually keeps), else all (edge blocks are
/// smaller than the rest). These are the sizes `blockKeepCount` adds up.
public func blockSizes(rows: Int, cols: Int, blockRows: Int, blockCols: Int,
                       allowed: UnsafePointer<Float>? = nil) -> [Int] {
    let count = blockCount(rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols)
    guard count > 0 else { return [] }
    let across = (cols + blockCols - 1) / blockCols
    var sizes = [Int](repeating: 0, count: count)
    for r in 0..<rows {
        let band = r / blockRows
        for c in 0..<across {
            let left = c * blockCols, right = min(cols, left + blockCols)
            if let allow = allowed.map({ $0 + r * cols }) {
                var k = 0
                for j in left..<right where allow[j] != 0 { k += 1 }
                sizes[band * across + c] += k
            } else {
                sizes[band * across + c] += right - left
            }
        }
    }
    return sizes
}

/// Expands a 0/1 mask over blocks to the matrix, times `allowed` where given (0 wherever
/// `allowed` is 0, else the block's value). Each band's row of block values is expanded once and
/// then copied, or multiplied by the bound, into each of its rows: contiguous, vectorised loops.
/// `allowed` may be `mask` itself.
public func expandBlockMask(_ blockMask: UnsafePointer<Float>, rows: Int, cols: Int, blockRows: Int, blockCols: Int,
                            allowed: UnsafePointer<Float>?, into mask: UnsafeMutablePointer<Float>) {
    guard blockCount(rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols) > 0 else { return }
    let across = (cols + blockCols - 1) / blockCols
    forBands(rows: rows, cols: cols, blockRows: blockRows) { lo, hi in
        let line = UnsafeMutablePointer<Float>.allocate(capacity: cols)
        defer { line.deallocate() }
        for band in lo..<hi {
            for c in 0..<across {
                let left = c * blockCols, right = min(cols, left + blockCols)
                (line + left).update(repeating: blockMask[band * across + c], count: right - left)
            }
            for r in (band * blockRows)..<min(rows, (band + 1) * blockRows) {
                let out = mask + r * cols
                if let allow = allowed.map({ $0 + r * cols }) {
                    for j in 0..<cols { out[j] = allow[j] != 0 ? line[j] : 0 }
                } else {
                    out.update(from: line, count: cols)
                }
            }
        }
    }
}

/// The blocks in the order `topKMasks` selects them from these scores: larger first, ties to
/// the earlier block (the same `orderedKey` and position as its candidates). So
/// `topKMasks(values: [(scores, count)], allowed: [nil], k: k, …)` keeps exactly the first k.
public func blockOrder(scores: UnsafePointer<Float>, count: Int) -> [Int] {
    var keys = (0..<count).map { candidate(scores[$0], at: $0) }
    keys.sort(by: >)
    return keys.map { Int(~UInt32(truncatingIfNeeded: $0)) }
}

/// How many blocks to keep so that the kept weights are as close as possible to `targetWeights`
/// given each block's size (`blockSizes`; edge blocks are smaller), choosing blocks in the order
/// of `order` (`blockOrder`: the blocks sorted by score, best first). Of two counts equally
/// close, the smaller. The caller keeps the first k blocks of `order`, e.g. with `topKMasks` on
/// the scores (which chooses them in that order).
///
/// Exact: the kept weight count is the prefix sum of sizes along `order`, and the k whose sum
/// lies nearest the target is taken. For 0 ≤ targetWeights ≤ Σ sizes the target lies between the
/// sums before and after some block, so the kept count is within half that block's size of it:
/// within half a block when all blocks are full-size, and never more than half a full block
/// (edge blocks are smaller). A target above Σ sizes keeps every block; one ≤ 0, none.
public func blockKeepCount(sizes: [Int], order: [Int], targetWeights: Int) -> Int {
    var best = 0, bestDistance = abs(targetWeights), kept = 0
    for (k, b) in order.enumerated() {
        kept += sizes[b]
        let distance = abs(kept - targetWeights)
        if distance < bestDistance { best = k + 1; bestDistance = distance }
        // Sums only grow: past the target, they only move away.
        if kept >= targetWeights { break }
    }
    return best
}
