// Masked-weight ops: gradient checks against finite differences, the straight-through score
// gradient by hand, hard-concrete samples and their expected L0, and exact top-k selection.
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Engine
import Kernels

@Suite struct MaskTests {
    @Test func gatedGradCheck() throws {
        let rng = RNG(seed: 1)
        let w = Tensor.randn([3, 4], rng: rng), s = Tensor.randn([3, 4], rng: rng)
        let mask = try Tensor(shape: [3, 4], data: [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0])
        // The mask is constant: w ⊙ m is linear in w. The scores' gradient is straight-through
        // (not the true derivative, which is 0), so only w is checked numerically here.
        try gradCheck([w], "gated") { xs in try Tensor.gated(xs[0], mask: mask, scores: s) }
    }

    @Test func straightThroughScoreGradientIsUpstreamTimesWeight() throws {
        // L = Σ c ⊙ (W ⊙ M): ∂L/∂(W⊙M) = c, so ∂L/∂S must be c ⊙ W and ∂L/∂W = c ⊙ M.
        let w = try Tensor(shape: [2, 2], data: [0.5, -2, 3, 0.25]).requiringGrad()
        let s = Tensor.zeros([2, 2]).requiringGrad()
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
        let w = Tensor.randn([2, 5], rng: rng)
        // Logits near 0 keep the gate inside (0, 1), where it is differentiable.
        let a = Tensor.uniform([2, 5], low: -0.5, high: 0.5, rng: rng)
        let u = Tensor.uniform([2, 5], low: 0.3, high: 0.7, rng: rng)
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
            let a = Tensor(shape: [n], repeating: logit)
            let u = Tensor.empty([n])
            for i in 0..<n { u.data[i] = 1e-4 + (1 - 2e-4) * rng.uniform() }
            let w = Tensor.ones([n])
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
}
