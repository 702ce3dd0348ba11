// Channel scaling: inserted scales reproduce the model, only scales and the classifier train,
// the L1 penalty and thresholding remove channels for good, and compact drops them.
import Testing
import Engine
import NN
@testable import Pruning

@Suite struct ChannelScalingTests {
    @Test func scalesStartAsTheIdentityAndFreezeTheRest() throws {
        let rng = RNG(seed: 1)
        let net = try Models.cnn(classes: 4, rng: rng)
        net.eval()
        let scaled = try ChannelScale.insert(net)
        scaled.eval()
        #expect(scaled.layers.filter { $0 is ChannelScale }.count == 3)
        let x = try Tensor.randn([2, 1, 28, 28], rng: rng)
        let a = try net(x), b = try scaled(x)
        for i in 0..<a.count { #expect(a.data[i] == b.data[i]) }
        let trainable = scaled.namedParameters().filter { $0.1.requiresGrad }.map(\.0)
        #expect(trainable == ["layers.1.scale", "layers.5.scale", "layers.10.scale", "layers.12.weight", "layers.12.bias"])
    }

    @Test func thresholdingRemovesChannelsForGoodAndCompacts() throws {
        let data = try Clusters(dim: 20, perClass: 30)
        let upstream = try Models.mlp([20, 32, 4], rng: RNG(seed: 2))
        let opt0 = try Optimizer(.sgd(momentum: 0.9), parameters: upstream.namedParameters(), lr: 0.05)
        var quiet = TrainConfig(epochs: 2, batchSize: 8)
        quiet.progress = false
        _ = try fit(upstream, on: data, optimizer: opt0, config: quiet)
        let before = upstream.layers[1].parameters.map { $0.copy() }

        let net = try ChannelScale.insert(upstream)
        var config = PrunerConfig(ChannelScaling.self, keep: nil)
        try config.set("lambda", 0.05)
        try config.set("threshold", 0.2)
        config.schedule = PruneSchedule(.constant, every: 5)
        let p = try Pruner(config)
        let opt = try Optimizer(.sgd(momentum: 0.9), parameters: net.namedParameters(), lr: 0.05)
        var train = TrainConfig(epochs: 6, batchSize: 8)
        train.progress = false
        _ = try fit(net, on: data, optimizer: opt, config: train, hooks: [p])
        // The pretrained weights never changed.
        for (a, b) in zip(before, net.layers[1].parameters) { #expect(a.array == b.array) }
        let scale = try #require(net.layers[2] as? ChannelScale)
        let gate = try #require(net.gate(for: "layers.2.scale"))
        let removed = (0..<32).filter { gate.mask.data[$0] == 0 }
        #expect(!removed.isEmpty && removed.count < 32, "removed \(removed.count)")
        #expect(removed.allSatisfy { scale.scale.data[$0] == 0 })
        let c = try Structure.compact(net)
        #expect(c.groups.first?.after == 32 - removed.count)
        let (_, acc) = try evaluate(c.model, on: data), (_, full) = try evaluate(net, on: data)
        #expect(acc == full)
    }

    @Test func aModelWithoutScalesIsAnError() throws {
        let net = try Models.mlp([4, 6, 2], rng: RNG(seed: 3))
        let p = try Pruner(PrunerConfig(ChannelScaling.self, keep: nil))
        #expect { try p.attach(to: net) } throws: { e in "\(e)".contains("ChannelScale.insert") }
    }
}
