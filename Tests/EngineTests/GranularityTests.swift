// Structured selections: N:M group masks against a slow reference and topKMasks, block means
// and masks on a hand-written matrix, the block count nearest a weight target, ERK densities.
import Testing
@testable import Engine
@testable import Kernels

@Suite struct GranularityTests {
    // MARK: Groups

    /// Runs `groupTopKMask` on arrays; with `boundIsMask` the mask starts as `allowed` and is
    /// passed as its own bound.
    private func groupMask(_ v: [Float], rows: Int, rowLength: Int, group: Int, keep: Int, allowed: [Float]? = nil,
                           boundIsMask: Bool = false) -> [Float] {
        var m = boundIsMask ? allowed! : [Float](repeating: -1, count: v.count)
        v.withUnsafeBufferPointer { vp in
            m.withUnsafeMutableBufferPointer { mp in
                if boundIsMask {
                    groupTopKMask(values: vp.baseAddress!, rows: rows, rowLength: rowLength, group: group, keep: keep,
                                  allowed: UnsafePointer(mp.baseAddress!), mask: mp.baseAddress!)
                } else if let allowed {
                    allowed.withUnsafeBufferPointer { ap in
                        groupTopKMask(values: vp.baseAddress!, rows: rows, rowLength: rowLength, group: group, keep: keep,
                                      allowed: ap.baseAddress!, mask: mp.baseAddress!)
                    }
                } else {
                    groupTopKMask(values: vp.baseAddress!, rows: rows, rowLength: rowLength, group: group, keep: keep,
                                  allowed: nil, mask: mp.baseAddress!)
                }
            }
        }
        return m
    }

    /// The slow reference: in each group, the allowed entries sorted by value (as `orderedKey`
    /// orders them), ties to the earliest, and the first `keep` of them.
    private func referenceGroupMask(_ v: [Float], group: Int, keep: Int, allowed: [Float]?) -> [Float] {
        var m = [Float](repeating: 0, count: v.count)
        for start in stride(from: 0, to: v.count, by: group) {
            let members = (start..<start + group).filter { (allowed?[$0] ?? 1) != 0 }
            let sorted = members.sorted { orderedKey(v[$0]) != orderedKey(v[$1]) ? orderedKey(v[$0]) > orderedKey(v[$1]) : $0 < $1 }
            for i in sorted.prefix(max(keep, 0)) { m[i] = 1 }
        }
        return m
    }

    @Test(arguments: [(2, 4), (1, 4), (4, 8), (1, 2), (3, 6), (5, 12), (10, 40), (40, 160)])
    func nmMasksKeepTheNLargestOfEveryGroup(keep: Int, group: Int) {
        // 2:4, 1:4, 4:8 and 1:2 are ranked on eight lanes; 3:6, 5:12 and 10:40 pairwise; 40:160
        // by selection.
        // 7 rows of 5 groups: for groups of 4 that is 35 groups, so the last one goes through the
        // scalar tail after the eight-lane loop.
        let rng = RNG(seed: UInt64(100 * keep + group))
        let rows = 7, rowLength = 5 * group, n = rows * rowLength
        let v = (0..<n).map { _ in rng.normal() }
        let m = groupMask(v, rows: rows, rowLength: rowLength, group: group, keep: keep)
        #expect(m == referenceGroupMask(v, group: group, keep: keep, allowed: nil), "\(keep):\(group)")
        for start in stride(from: 0, to: n, by: group) {
            let kept = (start..<start + group).filter { m[$0] == 1 }
            #expect(kept.count == keep && m[start..<start + group].allSatisfy { $0 == 0 || $0 == 1 })
            // Every kept entry is at least every dropped one.
            let dropped = (start..<start + group).filter { m[$0] == 0 }
            #expect(kept.map { v[$0] }.min()! > dropped.map { v[$0] }.max()!)
        }
        // A random bound (about a third forbidden); the mask may be its own bound.
        let allowed = (0..<n).map { _ in rng.uniform() < 0.35 ? Float(0) : 1 }
        let bounded = groupMask(v, rows: rows, rowLength: rowLength, group: group, keep: keep, allowed: allowed)
        #expect(bounded == referenceGroupMask(v, group: group, keep: keep, allowed: allowed), "\(keep):\(group) bounded")
        #expect(zip(bounded, allowed).allSatisfy { $0.1 != 0 || $0.0 == 0 })
        #expect(groupMask(v, rows: rows, rowLength: rowLength, group: group, keep: keep, allowed: allowed,
                          boundIsMask: true) == bounded)
    }

    @Test func gradualScheduleFromDenseToNM() {
        // keep = group keeps everything, keep = 0 nothing; out-of-range keeps are clamped.
        let rng = RNG(seed: 7)
        let v = (0..<64).map { _ in rng.normal() }
        for keep in -1...9 {
            let m = groupMask(v, rows: 4, rowLength: 16, group: 8, keep: keep)
            #expect(m == referenceGroupMask(v, group: 8, keep: min(max(keep, 0), 8), allowed: nil), "keep \(keep)")
            #expect(m.filter { $0 == 1 }.count == 8 * min(max(keep, 0), 8))
        }
    }

    @Test func largeNMMaskSplitIntoTasksMatchesTheReference() {
        // 262 144 entries: split into parts by size; each part's groups are its own.
        let rng = RNG(seed: 8)
        let rows = 64, rowLength = 4096
        let v = (0..<rows * rowLength).map { _ in Float(Int(rng.uniform() * 50)) }
        let allowed = (0..<rows * rowLength).map { _ in rng.uniform() < 0.2 ? Float(0) : 1 }
        for (keep, group) in [(2, 4), (4, 8), (3, 16)] {
            let m = Parallel.withThreads(2) {
                groupMask(v, rows: rows, rowLength: rowLength, group: group, keep: keep, allowed: allowed)
            }
            let expected = referenceGroupMask(v, group: group, keep: keep, allowed: allowed)
            let wrong = m.indices.filter { m[$0] != expected[$0] }
            #expect(wrong.isEmpty, "\(keep):\(group): \(wrong.count) entries differ, the first at \(wrong.first ?? -1)")
        }
    }

    @Test func groupTiesGoToTheEarliest() {
        let v: [Float] = [5, 5, 5, 5,  1, 3, 3, 2,  7, 7, 0, 7,  -1, -1, -2, -1,  0, -0.0, 0, -0.0]
        #expect(groupMask(v, rows: 1, rowLength: 20, group: 4, keep: 2)
                == [1, 1, 0, 0,  0, 1, 1, 0,  1, 1, 0, 0,  1, 1, 0, 0,  1, 0, 1, 0])
        // The same on the pairwise path (groups of 5): ties to the earliest, −0 below +0.
        let w: [Float] = [2, 2, 2, 2, 2,  1, 4, 1, 4, 1,  -0.0, 0, -0.0, 0, 1]
        #expect(groupMask(w, rows: 3, rowLength: 5, group: 5, keep: 3)
                == [1, 1, 1, 0, 0,  1, 1, 0, 1, 0,  0, 1, 0, 1, 1])
        // Against topKMasks on each group alone, with many ties (values on a grid of four).
        let rng = RNG(seed: 9)
        for (keep, group) in [(2, 4), (4, 8), (2, 6), (7, 48), (50, 192)] {
            let n = 24 * group
            let x = (0..<n).map { _ in Float(Int(rng.uniform() * 4)) }
            let m = groupMask(x, rows: 4, rowLength: 6 * group, group: group, keep: keep)
            var expected = [Float](repeating: -1, count: n)
            x.withUnsafeBufferPointer { xp in
                expected.withUnsafeMutableBufferPointer { ep in
                    for start in stride(from: 0, to: n, by: group) {
                        topKMasks(values: [(xp.baseAddress! + start, group)], allowed: [nil], k: keep,
                                  masks: [ep.baseAddress! + start])
                    }
                }
            }
            #expect(m == expected, "\(keep):\(group)")
        }
    }

    @Test func forbiddenEntriesAreNeverKept() {
        // 2:4 by hand: the largest (4) is forbidden, so the group keeps 3 and 2; a group with
        // one entry allowed keeps only it; a group with none keeps nothing.
        let v: [Float] = [4, 3, 2, 1,  9, 8, 7, 6,  1, 2, 3, 4,  5, 6, 7, 8]
        let a: [Float] = [0, 1, 1, 1,  0, 0, 0, 1,  0, 0, 0, 0,  1, 1, 1, 1]
        let expected: [Float] = [0, 1, 1, 0,  0, 0, 0, 1,  0, 0, 0, 0,  0, 0, 1, 1]
        #expect(groupMask(v, rows: 2, rowLength: 8, group: 4, keep: 2, allowed: a) == expected)
        #expect(groupMask(v, rows: 2, rowLength: 8, group: 4, keep: 2, allowed: a, boundIsMask: true) == expected)
        // A bound of −0.0 forbids too; and the pairwise path (groups of 6) by hand.
        var b = a
        b[1] = -0.0
        #expect(groupMask(v, rows: 4, rowLength: 4, group: 4, keep: 2, allowed: b) == [0, 0, 1, 1] + expected[4...])
        let six: [Float] = [6, 5, 4, 3, 2, 1], sixAllowed: [Float] = [0, 1, 0, 1, 1, 0]
        #expect(groupMask(six, rows: 1, rowLength: 6, group: 6, keep: 2, allowed: sixAllowed) == [0, 1, 0, 1, 0, 0])
    }

    // MARK: Blocks

    /// A 5 × 6 matrix in 2 × 4 blocks: three bands (rows 0–1, 2–3, 4) by two block columns
    /// (columns 0–3, 4–5), so the blocks hold 8, 4, 8, 4, 4 and 2 entries.
    private let matrix: [Float] = [
         1, 2, 3, 4,   5,  6,
         5, 6, 7, 8,   7,  8,
        -1, 0, 1, 0,   2,  2,
         0, 0, 0, 8,   4, -2,
         1, 1, 1, 5,   9,  3,
    ]
    /// Forbids 1 and 2 in the first row, the whole block at band 1, columns 4–5, and the 9.
    private let matrixAllowed: [Float] = [
        0, 0, 1, 1,   1, 1,
        1, 1, 1, 1,   1, 1,
        1, 1, 1, 1,   0, 0,
        1, 1, 1, 1,   0, 0,
        1, 1, 1, 1,   0, 1,
    ]

    private func means(_ v: [Float], rows: Int, cols: Int, blockRows: Int, blockCols: Int, allowed: [Float]?) -> [Float] {
        var s = [Float](repeating: .nan, count: blockCount(rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols))
        v.withUnsafeBufferPointer { vp in
            s.withUnsafeMutableBufferPointer { sp in
                if let allowed {
                    allowed.withUnsafeBufferPointer { ap in
                        blockMeans(values: vp.baseAddress!, rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols,
                                   allowed: ap.baseAddress!, into: sp.baseAddress!)
                    }
                } else {
                    blockMeans(values: vp.baseAddress!, rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols,
                               allowed: nil, into: sp.baseAddress!)
                }
            }
        }
        return s
    }

    private func expand(_ b: [Float], rows: Int, cols: Int, blockRows: Int, blockCols: Int, allowed: [Float]?,
                        boundIsMask: Bool = false) -> [Float] {
        var m = boundIsMask ? allowed! : [Float](repeating: -1, count: rows * cols)
        b.withUnsafeBufferPointer { bp in
            m.withUnsafeMutableBufferPointer { mp in
                if boundIsMask {
                    expandBlockMask(bp.baseAddress!, rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols,
                                    allowed: UnsafePointer(mp.baseAddress!), into: mp.baseAddress!)
                } else if let allowed {
                    allowed.withUnsafeBufferPointer { ap in
                        expandBlockMask(bp.baseAddress!, rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols,
                                        allowed: ap.baseAddress!, into: mp.baseAddress!)
                    }
                } else {
                    expandBlockMask(bp.baseAddress!, rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols,
                                    allowed: nil, into: mp.baseAddress!)
                }
            }
        }
        return m
    }

    @Test func blockMeansOverPartialEdgeBlocks() {
        #expect(blockCount(rows: 5, cols: 6, blockRows: 2, blockCols: 4) == 6)
        #expect(blockCount(rows: 4, cols: 8, blockRows: 2, blockCols: 4) == 4)
        #expect(blockCount(rows: 0, cols: 8, blockRows: 2, blockCols: 4) == 0)
        #expect(blockSizes(rows: 5, cols: 6, blockRows: 2, blockCols: 4) == [8, 4, 8, 4, 4, 2])
        // 36/8, 26/4; 8/8, 6/4; 8/4, 12/2.
        #expect(means(matrix, rows: 5, cols: 6, blockRows: 2, blockCols: 4, allowed: nil) == [4.5, 6.5, 1, 1.5, 2, 6])
        // Forbidden entries are absent: 33/6 over the first block, 3/1 for the last; the block
        // with nothing allowed scores −∞.
        #expect(means(matrix, rows: 5, cols: 6, blockRows: 2, blockCols: 4, allowed: matrixAllowed)
                == [5.5, 6.5, 1, -.infinity, 2, 3])
        matrixAllowed.withUnsafeBufferPointer { ap in
            #expect(blockSizes(rows: 5, cols: 6, blockRows: 2, blockCols: 4, allowed: ap.baseAddress!) == [6, 4, 8, 0, 4, 1])
        }
        // 1 × 4 blocks: row by row. 3 × 3 blocks: 2 × 2 of them, the lower ones of 2 rows (24/9, 42/9, 3/6, 27/6).
        #expect(means(matrix, rows: 5, cols: 6, blockRows: 1, blockCols: 4, allowed: nil)
                == [2.5, 5.5, 6.5, 7.5, 0, 2, 2, 1, 2, 6])
        let thirds: [Double] = [24.0 / 9, 42.0 / 9, 3.0 / 6, 27.0 / 6]
        #expect(means(matrix, rows: 5, cols: 6, blockRows: 3, blockCols: 3, allowed: nil) == thirds.map { Float($0) })
    }

    @Test func blockMasksExpandToTheMatrix() {
        let b: [Float] = [1, 0,  0, 1,  1, 0]
        let expected: [Float] = [
            1, 1, 1, 1,  0, 0,
            1, 1, 1, 1,  0, 0,
            0, 0, 0, 0,  1, 1,
            0, 0, 0, 0,  1, 1,
            1, 1, 1, 1,  0, 0,
        ]
        #expect(expand(b, rows: 5, cols: 6, blockRows: 2, blockCols: 4, allowed: nil) == expected)
        let bounded: [Float] = [
            0, 0, 1, 1,  0, 0,
            1, 1, 1, 1,  0, 0,
            0, 0, 0, 0,  0, 0,
            0, 0, 0, 0,  0, 0,
            1, 1, 1, 1,  0, 0,
        ]
        #expect(expand(b, rows: 5, cols: 6, blockRows: 2, blockCols: 4, allowed: matrixAllowed) == bounded)
        #expect(expand(b, rows: 5, cols: 6, blockRows: 2, blockCols: 4, allowed: matrixAllowed, boundIsMask: true) == bounded)
    }

    @Test func blockKeepCountByHand() {
        // Sizes 4, 4, 2 taken in the order 2, 0, 1: kept sums 0, 2, 6, 10.
        #expect(blockKeepCount(sizes: [4, 4, 2], order: [2, 0, 1], targetWeights: 5) == 2)   // 6 is 1 away
        #expect(blockKeepCount(sizes: [4, 4, 2], order: [2, 0, 1], targetWeights: 4) == 1)   // 2 or 6: the fewer
        #expect(blockKeepCount(sizes: [4, 4, 2], order: [2, 0, 1], targetWeights: 1) == 0)   // 0 or 2: the fewer
        #expect(blockKeepCount(sizes: [4, 4, 2], order: [2, 0, 1], targetWeights: 0) == 0)
        #expect(blockKeepCount(sizes: [4, 4, 2], order: [2, 0, 1], targetWeights: -3) == 0)
        #expect(blockKeepCount(sizes: [4, 4, 2], order: [2, 0, 1], targetWeights: 9) == 3)
        #expect(blockKeepCount(sizes: [4, 4, 2], order: [2, 0, 1], targetWeights: 50) == 3)
        // Empty blocks add nothing: the count stops before them.
        #expect(blockKeepCount(sizes: [4, 0, 4], order: [0, 1, 2], targetWeights: 4) == 1)
        #expect(blockKeepCount(sizes: [], order: [], targetWeights: 4) == 0)
        // blockOrder: larger scores first, ties to the earlier block.
        let scores: [Float] = [1, 3, 2, 3, -.infinity, 2]
        #expect(scores.withUnsafeBufferPointer { blockOrder(scores: $0.baseAddress!, count: 6) } == [1, 3, 2, 5, 0, 4])
    }

    @Test(arguments: [(1, 4), (4, 4)])
    func blockSelectionKeepsWithinHalfABlockOfTheTarget(blockRows: Int, blockCols: Int) {
        // Magnitude block pruning end to end: mean |w| per block, the count nearest the target,
        // topKMasks on the block scores, expansion. Full-size blocks (16 × 32) must land within
        // half a block; with edge blocks (10 × 30) and with a bound, the count must still be the
        // nearest any number of blocks can reach, hence within half the largest block.
        let rng = RNG(seed: UInt64(blockRows))
        for (rows, cols, bounded) in [(16, 32, false), (10, 30, false), (10, 30, true)] {
            let n = rows * cols
            let w = (0..<n).map { _ in abs(rng.normal()) }
            let allowed: [Float]? = bounded ? (0..<n).map { _ in rng.uniform() < 0.3 ? 0 : 1 } : nil
            let count = blockCount(rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols)
            let scores = means(w, rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols, allowed: allowed)
            let sizes = allowed.map { a in a.withUnsafeBufferPointer {
                blockSizes(rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols, allowed: $0.baseAddress!) } }
                ?? blockSizes(rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols)
            let available = allowed.map { $0.filter { $0 != 0 }.count } ?? n
            #expect(sizes.reduce(0, +) == available)
            let order = scores.withUnsafeBufferPointer { blockOrder(scores: $0.baseAddress!, count: count) }
            /// The weights kept when topKMasks keeps k blocks, and that it keeps the first k of `order`.
            func kept(_ k: Int) -> Int {
                var b = [Float](repeating: -1, count: count)
                scores.withUnsafeBufferPointer { sp in
                    b.withUnsafeMutableBufferPointer { bp in
                        topKMasks(values: [(sp.baseAddress!, count)], allowed: [nil], k: k, masks: [bp.baseAddress!])
                    }
                }
                #expect(Set(order.prefix(k)) == Set(b.indices.filter { b[$0] == 1 }))
                return expand(b, rows: rows, cols: cols, blockRows: blockRows, blockCols: blockCols, allowed: allowed)
                    .filter { $0 != 0 }.count
            }
            let reachable = (0...count).map(kept)
            for keep in stride(from: 0.0, through: 1.0, by: 0.05) {
                let target = Int((keep * Double(available)).rounded())
                let k = blockKeepCount(sizes: sizes, order: order, targetWeights: target)
                let distance = abs(reachable[k] - target)
                #expect(distance == reachable.map { abs($0 - target) }.min()!, "\(rows)×\(cols) keep \(keep)")
                #expect(2 * distance <= blockRows * blockCols, "\(rows)×\(cols) keep \(keep): \(reachable[k]) for \(target)")
            }
        }
    }

    // MARK: ERK

    private func close(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-12 }
    }

    @Test func erkDensitiesByHand() {
        // Linear [4, 8]: 32 weights, (4+8)/32 = 0.375. Linear [2, 4]: 8 weights, 6/8 = 0.75.
        // Conv [4, 2, 3, 3]: 72 weights, (4+2+3+3)/72 = 1/6. Σ raw·n = 12 + 6 + 12 = 30; 112 weights.
        let shapes = [[4, 8], [2, 4], [4, 2, 3, 3]]
        let n = [32.0, 8, 72]
        func kept(_ d: [Double]) -> Double { zip(d, n).reduce(0) { $0 + $1.0 * $1.1 } }
        // keep 1/4: 28 weights, scale 28/30: 0.35, 0.7, 7/45, proportional to the raw densities.
        let quarter = erkDensities(shapes: shapes, keep: 0.25)
        #expect(close(quarter, [0.35, 0.7, 7.0 / 45]))
        #expect(abs(kept(quarter) - 28) < 1e-9)
        // keep 1/2: 56 weights, scale 56/30 would give the small Linear 1.4: it is kept dense, and
        // the other two share 48 weights over Σ raw·n = 24: scale 2, so 0.75 and 1/3.
        let half = erkDensities(shapes: shapes, keep: 0.5)
        #expect(close(half, [0.75, 1, 1.0 / 3]))
        #expect(abs(kept(half) - 56) < 1e-9)
        // keep 0.7: 78.4 weights; capping [2, 4] rescales [4, 8] to 70.4/24 · 0.375 = 1.1, so it is
        // capped too, and the conv keeps 38.4 of its 72: 8/15.
        let most = erkDensities(shapes: shapes, keep: 0.7)
        #expect(close(most, [1, 1, 8.0 / 15]))
        #expect(abs(kept(most) - 78.4) < 1e-9)
    }

    @Test func erkEdgeCases() {
        let shapes = [[4, 8], [2, 4], [4, 2, 3, 3]]
        #expect(erkDensities(shapes: shapes, keep: 1) == [1, 1, 1])
        #expect(erkDensities(shapes: shapes, keep: 3) == [1, 1, 1])
        #expect(erkDensities(shapes: shapes, keep: .nan) == [1, 1, 1])
        #expect(erkDensities(shapes: shapes, keep: 0) == [0, 0, 0])
        #expect(erkDensities(shapes: shapes, keep: -1) == [0, 0, 0])
        #expect(erkDensities(shapes: [], keep: 0.5) == [])
        // A tiny keep: all positive, proportional, summing to the target.
        let tiny = erkDensities(shapes: shapes, keep: 1e-9)
        #expect(tiny.allSatisfy { $0 > 0 && $0 < 1 })
        #expect(abs((32 * tiny[0] + 8 * tiny[1] + 72 * tiny[2]) / (112e-9) - 1) < 1e-9)
        #expect(abs(tiny[1] / tiny[0] - 2) < 1e-9)
        // No weights (a zero or negative dim): density 1, and the rest share the whole budget.
        #expect(close(erkDensities(shapes: [[0, 5], [4, 8], [3, -1]], keep: 0.5), [1, 0.5, 1]))
        #expect(erkDensities(shapes: [[0, 5]], keep: 0.5) == [1])
        #expect(erkDensities(shapes: [[0, 5], [4, 8]], keep: 0) == [1, 0])
        // A scalar counts as [1]; a single layer keeps exactly `keep`.
        #expect(erkDensities(shapes: [[]], keep: 0.25) == [0.25])
        #expect(abs(erkDensities(shapes: [[300, 784]], keep: 0.1)[0] - 0.1) < 1e-15)
        // Huge shapes stay finite.
        let huge = erkDensities(shapes: [[1 << 40, 1 << 40], [10, 10]], keep: 0.5)
        #expect(huge.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 } && huge[1] == 1)
    }
}
