// Masked-weight ops: gradient checks against finite differences, the straight-through score
// gradient by hand, hard-concrete samples and their expected L0, and exact top-k selection.
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif
@testable import Engine
import Kernels

@Suite struct MaskTests {
    @Test func gatedGradCheck() throws {
        let rng = RNG(seed: 1)
        let w = try Tensor.randn([3, 4], rng: rng), s = try Tensor.randn([3, 4], rng: rng)
        let mask = try Tensor(shape: [3, 4], data: [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0])
        // The mask is constant: w ⊙ m is linear in w. The scores' gradient is straight-through
        // (not the true derivative, which is 0), so only w is checked numerically here.
        try gradCheck([w], "gated") { xs in try Tensor.gated(xs[0], mask: mask, scores: s) }
    }

    @Test func straightThroughScoreGradientIsUpstreamTimesWeight() throws {
        // L = Σ c ⊙ (W ⊙ M): ∂L/∂(W⊙M) = c, so ∂L/∂S must be c ⊙ W and ∂L/∂W = c ⊙ M.
        let w = try Tensor(shape: [2, 2], data: [0.5, -2, 3, 0.25]).requiringGrad()
        let s = try Tensor.zeros([2, 2]).requiringGrad()
        let m = try Tensor(shape: [2, 2], data: [1, 0, 0, 1])
        let c = try Tensor(shape: [2, 2], data: [1, 2, -1, 4])
        let loss = try (Tensor.gated(w, mask: m, scores: s) * c).sum()
        try loss.backward()
        #expect(s.grad?.array == [0.5, -4, -3, 1])
        #expect(w.grad?.array == [1, 0, 0, 4])
        // Forward: W ⊙ M.
        #expect(try Tensor.gated(w, mask: m).array == [0.5, 0, 0, 0.25])
    }

    @Test func hardConcreteGradCheck() throws {
        let rng = RNG(seed: 2)
        let w = try Tensor.randn([2, 5], rng: rng)
        // Logits near 0 keep the gate inside (0, 1), where it is differentiable.
        let a = try Tensor.uniform([2, 5], low: -0.5, high: 0.5, rng: rng)
        let u = try Tensor.uniform([2, 5], low: 0.3, high: 0.7, rng: rng)
        try gradCheck([w, a], eps: 1e-3, "hard concrete, training") { xs in
            try Tensor.hardConcreteGated(xs[0], logits: xs[1], noise: u, l: -0.1, r: 1.1, beta: 2.0 / 3.0)
        }
        try gradCheck([w, a], eps: 1e-3, "hard concrete, test") { xs in
            try Tensor.hardConcreteGated(xs[0], logits: xs[1], noise: nil, l: -0.1, r: 1.1, beta: 2.0 / 3.0)
        }
    }

    @Test func hardConcreteSamplesLieInUnitIntervalAndMatchExpectedL0() throws {
        let l: Float = -0.1, r: Float = 1.1, beta: Float = 2.0 / 3.0
        let n = 200_000
        let rng = RNG(seed: 3)
        for logit: Float in [-2, 0, 1, 2.197] {
            let a = try Tensor(shape: [n], repeating: logit)
            let u = try Tensor.empty([n])
            for i in 0..<n { u.data[i] = 1e-4 + (1 - 2e-4) * rng.uniform() }
            let w = try Tensor.ones([n])
            let z = try GradMode.noGrad { try Tensor.hardConcreteGated(w, logits: a, noise: u, l: l, r: r, beta: beta) }
            #expect(z.array.allSatisfy { $0 >= 0 && $0 <= 1 })
            // P(z > 0) = σ(a − β·log(−l/r)): the expected-L0 penalty per gate.
            let expected = 1 / (1 + exp(-(Double(logit) - Double(beta) * log(Double(-l / r)))))
            let observed = Double(z.nonzeroCount) / Double(n)
            #expect(Swift.abs(observed - expected) < 0.005, "logit \(logit): P(z>0) \(observed) vs \(expected)")
        }
        // The test-time gate: min(1, max(0, (r − l)σ(a) + l)).
        let m = Tensor.hardConcreteMask(logits: try Tensor(shape: [3], data: [-10, 0, 10]), l: l, r: r)
        assertClose(m.array, [0, 0.5, 1], atol: 1e-4)
    }

    @Test func topKKeepsExactlyKWithTiesToTheEarliest() {
        var v: [Float] = [3, 1, 2, 2, 2, 0, 5]
        var m = [Float](repeating: -1, count: v.count)
        v.withUnsafeBufferPointer { vp in
            m.withUnsafeMutableBufferPointer { mp in
                topKMasks(values: [(vp.baseAddress!, vp.count)], allowed: [nil], k: 4, masks: [mp.baseAddress!])
            }
        }
        // 5 and 3 are kept; two of the three 2s, the earliest ones.
        #expect(m == [1, 0, 1, 1, 0, 0, 1])
        // Negative values and −0 order correctly; an entry not allowed is never kept.
        v = [-1, -3, 0, -0.0, 2]
        let allowed: [Float] = [1, 1, 1, 1, 0]
        m = [Float](repeating: -1, count: v.count)
        v.withUnsafeBufferPointer { vp in
            allowed.withUnsafeBufferPointer { ap in
                m.withUnsafeMutableBufferPointer { mp in
                    topKMasks(values: [(vp.baseAddress!, vp.count)], allowed: [ap.baseAddress!], k: 2, masks: [mp.baseAddress!])
                }
            }
        }
        #expect(m == [0, 0, 1, 1, 0])
    }

    @Test func globalSelectionUsesOneThresholdAcrossBuffers() {
        // Layer A holds large values, layer B small ones: global top-3 takes all of A.
        let a: [Float] = [10, 9, 8], b: [Float] = [1, 2, 3]
        var ma = [Float](repeating: 0, count: 3), mb = [Float](repeating: 0, count: 3)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                ma.withUnsafeMutableBufferPointer { map in
                    mb.withUnsafeMutableBufferPointer { mbp in
                        topKMasks(values: [(ap.baseAddress!, 3), (bp.baseAddress!, 3)], allowed: [nil, nil], k: 3,
                                  masks: [map.baseAddress!, mbp.baseAddress!])
                    }
                }
            }
        }
        #expect(ma == [1, 1, 1] && mb == [0, 0, 0])
    }

    @Test func topKOnLargeRandomInputMatchesSorting() {
        let rng = RNG(seed: 4)
        let n = 50_000
        // Many duplicates (values on a coarse grid) stress the tie handling.
        let v = (0..<n).map { _ in Float(Int(rng.uniform() * 1000)) / 1000 - 0.5 }
        for k in [0, 1, 17, n / 3, n - 1, n] {
            var m = [Float](repeating: -1, count: n)
            v.withUnsafeBufferPointer { vp in
                m.withUnsafeMutableBufferPointer { mp in
                    topKMasks(values: [(vp.baseAddress!, n)], allowed: [nil], k: k, masks: [mp.baseAddress!])
                }
            }
            // Reference: stable sort by value descending, then index ascending.
            let order = (0..<n).sorted { v[$0] != v[$1] ? v[$0] > v[$1] : $0 < $1 }
            var expected = [Float](repeating: 0, count: n)
            for i in order.prefix(k) { expected[i] = 1 }
            #expect(m == expected, "k = \(k)")
        }
    }

    /// The reference selection: allowed entries ranked by order-preserving key (NaN largest),
    /// ties to the earliest position, across buffers in order.
    private func referenceTopK(_ values: [[Float]], _ allowed: [[Float]?], _ k: Int) -> [[Float]] {
        var entries: [(key: UInt32, b: Int, i: Int)] = []
        for (b, v) in values.enumerated() {
            for (i, x) in v.enumerated() where (allowed[b]?[i] ?? 1) != 0 { entries.append((orderedKey(x), b, i)) }
        }
        entries.sort { $0.key != $1.key ? $0.key > $1.key : ($0.b != $1.b ? $0.b < $1.b : $0.i < $1.i) }
        var masks = values.map { [Float](repeating: 0, count: $0.count) }
        for e in entries.prefix(max(k, 0)) { masks[e.b][e.i] = 1 }
        return masks
    }

    /// Runs `topKMasks` with a hint on Swift arrays (masks are in/out: they may be the bound).
    private func topK(_ values: [[Float]], _ allowed: [[Float]?], _ k: Int, masks: inout [[Float]],
                      hint: inout TopKHint?, boundIsMask: Bool) {
        let n = values.map(\.count)
        let v = values.map { x -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(x.count, 1)); p.initialize(from: x, count: x.count); return p
        }
        let a = allowed.map { x -> UnsafeMutablePointer<Float>? in
            x.map { x in let p = UnsafeMutablePointer<Float>.allocate(capacity: max(x.count, 1)); p.initialize(from: x, count: x.count); return p }
        }
        let m = masks.map { x -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(x.count, 1)); p.initialize(from: x, count: x.count); return p
        }
        defer { for p in v + m { p.deallocate() }; for p in a { p?.deallocate() } }
        let bounds: [UnsafePointer<Float>?] = boundIsMask ? m.map { UnsafePointer($0) } : a.map { $0.map { UnsafePointer($0) } }
        let vp = zip(v, n).map { (UnsafePointer($0), $1) }
        if hint != nil {
            topKMasks(values: vp, allowed: bounds, k: k, masks: m, hint: &hint!)
        } else {
            topKMasks(values: vp, allowed: bounds, k: k, masks: m)
        }
        masks = zip(m, n).map { Array(UnsafeBufferPointer(start: $0, count: $1)) }
    }

    /// Values that drift a little between selections (learned scores from step to step) while
    /// k shrinks (a pruning schedule): the window selection must give exactly the reference
    /// result, with ties, NaNs, bounds that are separate or the mask itself (counted in one
    /// pass, written in a second).
    @Test(arguments: [0, 1, 2])
    func topKWithHintMatchesTheReferenceWhileValuesDrift(boundKind: Int) {
        let rng = RNG(seed: UInt64(10 + boundKind))
        let sizes = [3000, 0, 1700]
        // A coarse grid makes many exact ties.
        var values = sizes.map { n in (0..<n).map { _ in Float(Int((rng.uniform() - 0.5) * 4000)) / 8000 } }
        let bound: [[Float]?] = boundKind == 1 ? sizes.map { n in (0..<n).map { _ in rng.uniform() < 0.25 ? 0 : 1 } } : sizes.map { _ in nil }
        var masks = sizes.map { [Float](repeating: 1, count: $0) }
        var hint: TopKHint? = TopKHint()
        let total = sizes.reduce(0, +)
        var k = total
        for step in 0..<60 {
            for b in values.indices { for i in values[b].indices where rng.uniform() < 0.5 { values[b][i] += Float(Int((rng.uniform() - 0.5) * 8)) / 8000 } }
            if step == 30 { values[0][7] = .nan; values[2][5] = -.infinity; values[2][6] = .infinity }
            k -= Int(rng.uniform() * Float(total / 40))
            let expected = referenceTopK(values, boundKind == 2 ? masks : bound, k)
            topK(values, bound, k, masks: &masks, hint: &hint, boundIsMask: boundKind == 2)
            #expect(masks == expected, "step \(step), k \(k)")
        }
        #expect(hint!.windowed > 30, "the window selection ran \(hint!.windowed) times")
    }

    /// While a schedule lowers k step by step, the window is centred where the threshold should
    /// go, in values rather than keys: the threshold crosses zero (where keys are logarithmic)
    /// halfway, and still few values lie inside the window and few selections start afresh.
    @Test func topKWindowFollowsAFallingKAcrossZero() {
        let rng = RNG(seed: 4)
        let n = 20_000
        var values = [(0..<n).map { _ in Float(rng.uniform()) * 2 - 1 }]
        var masks = [[Float](repeating: 1, count: n)]
        var hint: TopKHint? = TopKHint()
        var inside: [Int] = []
        for step in 0..<40 {
            let k = n * 9 / 10 - step * (n * 8 / 10) / 40     // 0.9 n down to 0.1 n
            if step > 0 { for i in 0..<n { values[0][i] += (Float(rng.uniform()) - 0.5) * 1e-3 } }
            if let w = hint!.window(k: k) {
                inside.append(values[0].count { let key = orderedKey($0); return key >= w.lo && key <= w.hi })
            }
            topK(values, [nil], k, masks: &masks, hint: &hint, boundIsMask: false)
            #expect(masks == referenceTopK(values, [nil], k), "step \(step), k \(k)")
        }
        // Afresh: the first (no threshold), the second (no density), the third (no width yet),
        // and then at most one in ten.
        #expect(hint!.full <= 3 + 37 / 10, "fresh selections: \(hint!.full)")
        #expect(inside.dropFirst(2).allSatisfy { $0 < n / 50 }, "values inside the windows: \(inside)")
    }

    /// One large buffer (split into parts for the pool) and candidates that fill one histogram
    /// bucket: a few thousand values within a few units in the last place, with exact ties.
    @Test func topKWithHintOnLargeBuffersAndCrowdedThresholds() {
        let rng = RNG(seed: 21)
        let n = 140_000
        var values = [(0..<n).map { _ in 1 + Float(Int(rng.uniform() * 40)) * Float(1).ulp }]
        var masks = [[Float](repeating: 1, count: n)]
        var hint: TopKHint? = TopKHint()
        for (step, k) in [n, n / 2, n / 2 - 300, n / 3, n / 3 + 5, 1000, 999].enumerated() {
            if step > 0 { for i in 0..<n where rng.uniform() < 0.1 { values[0][i] += Float(1).ulp } }
            topK(values, [nil], k, masks: &masks, hint: &hint, boundIsMask: false)
            #expect(masks == referenceTopK(values, [nil], k), "k \(k)")
        }
        // All equal: the earliest k.
        let same = [[Float](repeating: 0.25, count: 5000)]
        var m = [[Float](repeating: 0, count: 5000)]
        var none: TopKHint? = nil
        topK(same, [nil], 1234, masks: &m, hint: &none, boundIsMask: false)
        #expect(m[0] == (0..<5000).map { $0 < 1234 ? 1 : 0 })
    }
}


/// The pruner log's one-pass mask statistics equal a plain count, on lengths with and without
/// a tail, masks holding −0.0 (dropped) and NaN (kept, as `x != 0`), and scores with ±∞.
@Test func maskStatisticsEqualPlainCounts() {
    let rng = RNG(seed: 11)
    for n in [0, 1, 7, 8, 9, 16, 37, 1000] {
        var m = (0..<n).map { _ in rng.uniform() < 0.4 ? Float(1) : 0 }
        var p = (0..<n).map { _ in rng.uniform() < 0.5 ? Float(1) : 0 }
        let s = (0..<n).map { _ in rng.uniform() * 4 - 2 }
        if n > 3 { m[1] = -0.0; m[2] = .nan; p[3] = -0.0 }
        let kept = m.filter { $0 != 0 }.count
        let changed = zip(m, p).filter { ($0 != 0) != ($1 != 0) }.count
        let low = zip(m, s).filter { $0.0 != 0 }.map(\.1).min() ?? .infinity
        let stats = maskStatistics(m, previous: p, scores: s, n)
        #expect(stats.kept == kept && stats.changed == changed && stats.smallestKeptScore == low, "n \(n)")
        #expect(countNonzero(m, n) == kept)
        let alone = maskStatistics(m, previous: nil, scores: nil, n)
        #expect(alone.kept == kept && alone.changed == 0 && alone.smallestKeptScore == .infinity)
    }
}
