// Basis pruning: a hand-made case where only one basis ever sees the data, the L1 penalty on α,
// gradual pruning while α trains, and the error on a model without bases.
import Testing
import Engine
import NN
@testable import Pruning

/// Samples whose only non-zero input coordinate is `axis` (both signs), two classes by sign.
private func alongAxis(_ axis: Int, dim: Int = 4, count: Int = 16) throws -> Samples {
    let x = try Tensor.zeros([count, dim])
    var labels: [Int] = []
    for s in 0..<count {
        let v: Float = (s % 2 == 0 ? 1 : -1) * Float(1 + s % 5)
        x.data[s * dim + axis] = v
        labels.append(v > 0 ? 1 : 0)
    }
    return Samples(x: x, y: labels, classes: 2)
}

private func basisPruner(keep: Double, lambda: Double = 0, oneshot: Bool = true) throws -> Pruner {
    var config = PrunerConfig(BasisPruning.self, keep: keep)
    try config.set("lambda", lambda)
    if oneshot { config.schedule.kind = .oneshot }
    return try Pruner(config)
}

@Suite struct BasisPruningTests {
    /// W = diag(3, 2, 1) on inputs 0, 1, 2: the bases are those axes, ordered by σ. Data that
    /// lies along input 1 gives ∂L/∂α_j = 0 for the other bases, so keeping one of three keeps
    /// basis 1 (σ = 2) and removes bases 0 and 2.
    @Test func keepsTheBasisTheDataUses() throws {
        let rng = RNG(seed: 4)
        let mlp = try Models.mlp([4, 3, 2], rng: rng)
        let first = try #require(mlp.layers[1] as? Linear)
        for i in 0..<first.weight.count { first.weight.data[i] = 0 }
        for (o, s) in [Float(3), 2, 1].enumerated() { first.weight.data[o * 4 + o] = s }
        let net = try BasisLayer.rewrite(mlp)
        let pair = try #require(net.layers[1] as? BasisLayer)
        let p = try basisPruner(keep: 1.0 / 3)
        try p.pruneOnce(net, data: try alongAxis(1), batchSize: 4)
        let gate = try #require(net.gate(for: "layers.1.alpha"))
        #expect((0..<3).map { gate.mask.data[$0] } == [0, 1, 0])
        #expect(pair.alpha.data[0] == 0 && pair.alpha.data[2] == 0 && pair.alpha.data[1] == 1)
        // compact folds the two removed bases away.
        let c = try Structure.compact(net)
        #expect(c.groups.first { $0.name == "layers.1.basis" }?.after == 1)
    }

    /// The penalty adds λ·Σ|α| to the loss: every α starts at 1, so λ times the number of bases.
    @Test func l1PenaltyOnAlpha() throws {
        let net = try BasisLayer.rewrite(try Models.mlp([4, 3, 3, 2], rng: RNG(seed: 5)))
        let p = try basisPruner(keep: 0.5, lambda: 0.25, oneshot: false)
        try p.attach(to: net)
        let bases = net.namedModules().compactMap { ($0.1 as? BasisLayer)?.bases }.reduce(0, +)
        #expect(bases == 6)
        let base = try Tensor.zeros([1])
        let total = try p.method.loss(base, pruner: p, step: 0)
        #expect(abs(total.data[0] - 0.25 * 6) < 1e-6)
    }

    /// Gradual pruning while α and the classifier train reaches the target per layer.
    @Test func gradualBasisPruningWhileTraining() throws {
        let data = try Clusters(dim: 12, perClass: 20)
        let net = try BasisLayer.rewrite(try Models.mlp([12, 10, 8, 4], rng: RNG(seed: 6)))
        var config = PrunerConfig(BasisPruning.self, keep: 0.5)
        config.schedule = PruneSchedule(.cubic, warmup: 0.1, cooldown: 0.2, every: 2)
        let p = try Pruner(config)
        let opt = try Optimizer(.adam(), parameters: net.namedParameters(), lr: 0.01)
        var train = TrainConfig(epochs: 3, batchSize: 8)
        train.progress = false
        _ = try fit(net, on: data, optimizer: opt, config: train, hooks: [p])
        let c = try Structure.compact(net)
        #expect(c.groups.filter { $0.name.hasSuffix(".basis") }.map(\.after) == [5, 4])
        // A model without bases is refused, naming what makes them.
        #expect { try basisPruner(keep: 0.5).pruneOnce(try Models.mlp([4, 3, 2], rng: RNG(seed: 1)), data: try alongAxis(0)) } throws: { e in
            "\(e)".contains("BasisLayer.rewrite")
        }
    }
}
