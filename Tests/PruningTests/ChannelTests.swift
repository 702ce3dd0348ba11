// Channel pruning: hand-checked unit choices for each criterion, group masks on every slice,
// gradual schedules while training, and compaction of the result.
import Testing
import Engine
import NN
@testable import Pruning

private func channelPruner(keep: Double, criterion: String = "l1", oneshot: Bool = true, scope: PruneScope = .layer) throws -> Pruner {
    var config = PrunerConfig(Channel.self, keep: keep)
    try config.set("criterion", criterion)
    config.scope = scope
    if oneshot { config.schedule.kind = .oneshot }
    return try Pruner(config)
}

@Suite struct ChannelTests {
    /// Hidden units of a 4-6-3-2 MLP with row norms set by hand: L1 keeps the largest rows.
    @Test func l1KeepsTheUnitsWithTheLargestRows() throws {
        let net = try Models.mlp([4, 6, 3, 2], rng: RNG(seed: 1))
        let l1 = try #require(net.layers[1] as? Linear)
        let norms: [Float] = [0.1, 3, 0.2, 2, 5, 0.3]   // per row of 4: L1 = 4 × value
        for u in 0..<6 { for j in 0..<4 { l1.weight.data[u * 4 + j] = (j % 2 == 0 ? 1 : -1) * norms[u] } }
        let p = try channelPruner(keep: 0.5)
        try p.pruneOnce(net, data: nil)
        let rows = (0..<6).map { u in (0..<4).allSatisfy { l1.weight.data[u * 4 + $0] == 0 } }
        #expect(rows == [true, false, true, false, false, true])
        // The bias of removed units and the next layer's columns are masked too.
        let bias = try #require(l1.bias)
        #expect([0, 2, 5].allSatisfy { bias.data[$0] == 0 })
        let next = try #require(net.layers[3] as? Linear)
        #expect([0, 2, 5].allSatisfy { c in (0..<3).allSatisfy { next.weight.data[$0 * 6 + c] == 0 } })
        #expect(net.gate(for: "layers.1.bias")?.mask.data[0] == 0)
        // Compaction leaves 3 hidden units there (the 3-unit layer keeps 2 of 3: round(1.5) = 2).
        let c = try Structure.compact(net)
        #expect(c.groups.map(\.after) == [3, 2])
    }

    @Test func batchNormScalesRankTheResNetChannels() throws {
        let rng = RNG(seed: 2)
        let net = try Models.resnet(classes: 3, widths: [8], blocks: 1, rng: rng)
        let groups = try Structure.groups(net)
        let stream = try #require(groups.first { $0.name == "layers.0 + layers.3" })
        // Scales summed over the stem's and the block's batch norms: channels 0..3 small.
        let params = Dictionary(net.namedParameters(), uniquingKeysWith: { a, _ in a })
        for name in stream.scales {
            let g = try #require(params[name])
            for c in 0..<8 { g.data[c] = c < 4 ? 0.01 : 1 }
        }
        let p = try channelPruner(keep: 0.5, criterion: "bn")
        try p.pruneOnce(net, data: nil)
        let dead = try Structure.deadUnits(net, stream)
        #expect(dead == [true, true, true, true, false, false, false, false])
        net.eval()
        let x = try Tensor.randn([2, 1, 28, 28], rng: rng)
        let before = try net(x)
        let small = try Structure.compact(net).model
        let after = try small(x)
        var worst: Float = 0
        for i in 0..<before.count { worst = max(worst, abs(before.data[i] - after.data[i])) }
        #expect(worst <= 1e-5)
        #expect(throws: PruningError.self) { try channelPruner(keep: 0.5, criterion: "bn").pruneOnce(try Models.mlp([4, 6, 2], rng: rng), data: nil) }
    }

    @Test(arguments: ["l1", "taylor", "movement"])
    func gradualPruningWhileTrainingReachesTheTargetAndCompacts(criterion: String) throws {
        let data = try Clusters(dim: 20, perClass: 30)
        let net = try Models.mlp([20, 32, 16, 4], rng: RNG(seed: 3))
        var config = PrunerConfig(Channel.self, keep: 0.25)
        try config.set("criterion", criterion)
        config.schedule = PruneSchedule(.cubic, warmup: 0.1, cooldown: 0.2, every: 2)
        let p = try Pruner(config)
        let opt = try Optimizer(.sgd(momentum: 0.9), parameters: net.namedParameters(), lr: 0.05)
        var train = TrainConfig(epochs: 3, batchSize: 8)
        train.progress = false
        _ = try fit(net, on: data, optimizer: opt, config: train, hooks: [p])
        let c = try Structure.compact(net)
        #expect(c.groups.map(\.after) == [8, 4], "\(criterion)")
        // The compacted model still classifies the clusters (well above chance).
        let (_, acc) = try evaluate(c.model, on: data)
        #expect(acc > 0.5, "\(criterion): accuracy \(acc)")
    }

    @Test func gradientCriteriaNeedDataForOneShot() throws {
        let net = try Models.mlp([4, 6, 2], rng: RNG(seed: 4))
        #expect { try channelPruner(keep: 0.5, criterion: "taylor").pruneOnce(net, data: nil) } throws: { e in
            "\(e)".contains("needs data")
        }
        let data = try Clusters(classes: 2, dim: 4, perClass: 10)
        try channelPruner(keep: 0.5, criterion: "taylor").pruneOnce(net, data: data, batchSize: 5)
        #expect(try Structure.compact(net).groups.map(\.after) == [3])
    }

    @Test func globalScopeSharesTheBudgetAcrossLayers() throws {
        let net = try Models.mlp([10, 20, 20, 3], rng: RNG(seed: 5))
        // Global scope ranks every unit by its score relative to its layer's mean, and keeps
        // half of all 40 hidden units between the two layers.
        let p = try channelPruner(keep: 0.5, scope: .global)
        try p.pruneOnce(net, data: nil)
        let after = try Structure.compact(net).groups.map(\.after)
        #expect(after.reduce(0, +) == 20)
    }
}
