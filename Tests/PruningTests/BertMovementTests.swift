// Movement pruning on a BERT encoder, where every pruned matrix sees rank-3 inputs
// [batch, tokens, features]: the scores' straight-through gradient against a hand computation,
// and the fused step against the unfused kernels on the encoder's 12 matrices (issue 21).
import Testing
import Engine
import NN
import Kernels
@testable import Pruning

@Suite struct BertMovementTests {
    /// y = x·(W ⊙ M)ᵀ on x [2, 2, 3] (two sequences of two tokens), loss Σ c ⊙ y. By hand:
    /// ∂L/∂(W ⊙ M)[o, i] = Σ over the four tokens of c[token, o]·x[token, i], and the scores
    /// receive that times W[o, i], pruned entries included.
    @Test func scoreGradientOfRankThreeInputsByHand() throws {
        let w = try Tensor(shape: [2, 3], data: [1, -2, 3, 0.5, 4, -1]).requiringGrad()
        let mask = try Tensor(shape: [2, 3], data: [1, 0, 1, 1, 1, 0])
        let scores = try Tensor(shape: [2, 3], data: [0, 0, 0, 0, 0, 0]).requiringGrad()
        let x = try Tensor(shape: [2, 2, 3], data: [1, 2, 0, -1, 0, 1, 2, 1, 1, 0, -2, 3])
        let c = try Tensor(shape: [2, 2, 2], data: [1, 0, 2, -1, 0, 3, 1, 1])
        let y = try Tensor.linear(x, weight: try Tensor.gated(w, mask: mask, scores: scores), bias: nil)
        #expect(y.shape == [2, 2, 2])
        // Forward by hand: W ⊙ M = [[1, 0, 3], [0.5, 4, 0]].
        #expect(y.array == [1, 8.5, 2, -0.5, 5, 5, 9, -8])
        try (y * c).sum().backward()
        // Σ_tokens c[t, o]·x[t, i]: o = 0: 1·[1,2,0] + 2·[-1,0,1] + 0·[2,1,1] + 1·[0,-2,3] = [-1, 0, 5];
        // o = 1: 0·[1,2,0] − 1·[-1,0,1] + 3·[2,1,1] + 1·[0,-2,3] = [7, 1, 5].
        let g: [Float] = [-1, 0, 5, 7, 1, 5]
        #expect(scores.grad?.array == zip(g, w.array).map { $0 * $1 })
        #expect(w.grad?.array == zip(g, mask.array).map { $0 * $1 })
    }

    /// Fine-tuning a small BERT classifier while movement prunes its encoder: the fused pass gives
    /// what the unfused kernels give, bit for bit (weights, scores, masks, optimizer moments).
    @Test func fusedEqualsUnfusedOnABertEncoder() throws {
        func run(fused: Bool) throws -> (tensors: [String: [UInt32]], fusedSteps: Int, steps: Int) {
            let net = try Models.bertClassifier(try BertPruningTests.encoder(), classes: 2, rng: RNG(seed: 0), dropoutRNG: RNG(seed: 0))
            let opt = try Optimizer(.adamw(), parameters: net.namedParameters(), lr: 3e-3, weightDecay: 0.01)
            let p = try Pruner(PrunerConfig(Movement.self, keep: 0.3))
            p.fusesUpdates = fused
            var fusedSteps = 0, steps = 0
            try fit(net, on: try BertPruningTests.task(), optimizer: opt, config: quiet(3, batch: 8), hooks: [p],
                    afterStep: { _ in steps += 1; if p.fusedRun != nil { fusedSteps += 1 } })
            var tensors: [String: [UInt32]] = [:]
            for (name, t) in net.namedParameters() { tensors[name] = t.array.map(\.bitPattern) }
            for (t, g) in zip(p.targets, p.gates) {
                tensors[t.name + ".mask"] = g.mask.array.map(\.bitPattern)
                tensors[t.name + ".scores"] = g.scores?.array.map(\.bitPattern)
            }
            return (tensors, fusedSteps, steps)
        }
        let fused = try run(fused: true), plain = try run(fused: false)
        #expect(fused.fusedSteps == fused.steps && fused.steps > 0, "the fused path ran every step")
        #expect(plain.fusedSteps == 0)
        #expect(fused.tensors.keys.sorted() == plain.tensors.keys.sorted())
        for (name, x) in fused.tensors {
            let y = plain.tensors[name] ?? []
            #expect(x == y, "\(name) differs in \(zip(x, y).filter { $0 != $1 }.count) of \(x.count) entries")
        }
    }
}
