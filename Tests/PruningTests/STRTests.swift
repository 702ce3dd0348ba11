// STR: the soft-threshold forward by hand, its gradients against finite differences, the
// fixed mask it leaves, and sparsity that follows from the weight decay on the thresholds.
#if canImport(Glibc)
import Glibc
#endif
import Testing
import Engine
import NN
@testable import Pruning

@Suite struct STRTests {
    /// A gate on `w` with threshold σ(s) = tau.
    func gate(_ w: Tensor, tau: Double) throws -> WeightGate {
        let s = try Tensor(shape: [1], repeating: Float(log(tau / (1 - tau)))).requiringGrad()
        return WeightGate(mask: try Tensor.ones(w.shape), scores: s, method: "str", transform: SoftThresholdGate())
    }

    @Test func forwardShrinksByTheThresholdByHand() throws {
        let w = try Tensor(shape: [2, 2], data: [0.5, -0.2, 0.05, -0.9])
        let out = try gate(w, tau: 0.1).apply(w, training: true)
        for (a, b) in zip(out.array, [Float(0.4), -0.1, 0, -0.8]) { #expect(Swift.abs(a - b) < 1e-6, "\(out.array)") }
    }

    /// L = Σ c ⊙ W_eff: autodiff's ∂L/∂W and ∂L/∂s against central differences (entries kept
    /// away from the kink at |W| = σ(s)).
    @Test func gradientsMatchFiniteDifferences() throws {
        let rng = RNG(seed: 3)
        let w = try Tensor.randn([3, 5], rng: rng).requiringGrad()
        for i in 0..<w.count where Swift.abs(Swift.abs(w.data[i]) - 0.3) < 0.05 { w.data[i] += 0.2 }
        let g = try gate(w, tau: 0.3)
        let c = try Tensor.randn([3, 5], rng: rng)
        func loss() throws -> Double { Double(try (g.apply(w, training: true) * c).sum().item) }
        let l = try (g.apply(w, training: true) * c).sum()
        try l.backward()
        guard let s = g.scores, let gw = w.grad, let gs = s.grad else { Issue.record("no gradients"); return }
        let eps: Float = 1e-3
        for i in 0..<w.count {
            let x = w.data[i]
            w.data[i] = x + eps; let up = try loss()
            w.data[i] = x - eps; let down = try loss()
            w.data[i] = x
            #expect(Swift.abs(Double(gw.data[i]) - (up - down) / Double(2 * eps)) < 2e-3, "∂L/∂W[\(i)]")
        }
        let x = s.data[0]
        s.data[0] = x + eps; let up = try loss()
        s.data[0] = x - eps; let down = try loss()
        s.data[0] = x
        #expect(Swift.abs(Double(gs.data[0]) - (up - down) / Double(2 * eps)) < 2e-3, "∂L/∂s: \(gs.data[0]) vs \((up - down) / Double(2 * eps))")
        #expect(gs.data[0] != 0)
    }

    @Test func fixingKeepsTheOutputsAndLeavesAMask() throws {
        let w = try Tensor(shape: [4], data: [0.5, -0.2, 0.05, -0.9])
        let g = try gate(w, tau: 0.1)
        let before = try g.apply(w, training: false).array
        g.makeFixed(w)
        #expect(g.isFixed && g.mask.array == [1, 1, 0, 1])
        for (a, b) in zip(w.array, before) { #expect(Swift.abs(a - b) < 1e-6) }
        #expect(w.data[2].bitPattern == 0)
    }

    /// Stronger weight decay on s gives higher thresholds, hence more sparsity; with λ = 0 only
    /// the starting threshold σ(−3) ≈ 0.047 prunes (about a fifth of these weights).
    @Test func sparsityFollowsTheDecay() throws {
        let data = try Clusters(perClass: 40)
        var reached: [Double] = []
        for lambda in [0.0, 0.02, 0.1] {
            let net = try model()
            var c = PrunerConfig(STR.self, keep: nil)
            try c.set("lambda", lambda)
            try c.set("init", -3)
            try c.set("score_lr", 1)
            let p = try Pruner(c)
            try fit(net, on: data, optimizer: try sgd(net), config: quiet(3, batch: 16), hooks: [p])
            #expect(net.namedGates().allSatisfy { $0.1.isFixed })
            reached.append(Masks.sparsity(net))
        }
        #expect(reached[0] < 0.3 && reached[1] > reached[0] + 0.05 && reached[2] > reached[1] + 0.05, "\(reached)")
    }
}
