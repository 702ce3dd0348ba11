// Structured selections: N:M group masks against a slow reference and topKMasks.
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
}
