// Unit groups and compaction: the tracer's groups on the MLP, the CNN and the ResNet (residual
// channels tied across blocks, batch norm in the groups), compact's smaller model equal to the
// zeroed one, and clear errors for structures the tracer does not follow.
import Testing
import Engine
import NN
@testable import Pruning

/// Zeroes every producing slice of the given units of `group` (what a structured mask does).
private func removeUnits(_ model: Module, _ group: UnitGroup, _ units: [Int]) {
    let params = Dictionary(model.namedParameters(), uniquingKeysWith: { a, _ in a })
    for s in group.producers {
        guard let t = params[s.name] else { continue }
        let row = t.count / group.units
        for u in units { for i in (u * row)..<((u + 1) * row) { t.data[i] = 0 } }
    }
}

private func maxRelativeDifference(_ a: Tensor, _ b: Tensor) -> Float {
    var worst: Float = 0, scale: Float = 0
    for i in 0..<a.count { scale = max(scale, abs(a.data[i])) }
    for i in 0..<a.count { worst = max(worst, abs(a.data[i] - b.data[i])) }
    return worst / max(scale, 1e-12)
}

/// Runs a few batches in training mode so batch norm's running statistics are not trivial.
private func warmBatchNorm(_ model: Module, shape: [Int], rng: RNG) throws {
    model.train()
    for _ in 0..<3 { _ = try model(try Tensor.randn(shape, rng: rng)) }
    model.eval()
}

@Suite struct StructureTests {
    @Test func mlpGroupsAreTheHiddenLayersWithTheirReaders() throws {
        let net = try Models.mlp([20, 16, 12, 5], rng: RNG(seed: 1))
        let g = try Structure.groups(net)
        #expect(g.map(\.name) == ["layers.1", "layers.3"])
        #expect(g[0].units == 16 && g[1].units == 12)
        #expect(g[0].producers == [UnitSlice("layers.1.weight", axis: 0), UnitSlice("layers.1.bias", axis: 0)])
        #expect(g[0].consumers == [UnitSlice("layers.3.weight", axis: 1)])
        #expect(g[1].consumers == [UnitSlice("layers.5.weight", axis: 1)])
    }

    @Test func cnnFlattenSpansTheSpatialPositions() throws {
        let net = try Models.cnn(classes: 5, rng: RNG(seed: 2))
        let g = try Structure.groups(net)
        #expect(g.map(\.name) == ["layers.0", "layers.3", "layers.7"])
        #expect(g[1].consumers == [UnitSlice("layers.7.weight", axis: 1, span: 49)])
    }

    @Test func compactedMLPEqualsTheZeroedOne() throws {
        let rng = RNG(seed: 3)
        let net = try Models.mlp([20, 16, 12, 5], rng: rng)
        let g = try Structure.groups(net)
        removeUnits(net, g[0], [0, 3, 4, 9, 15])
        removeUnits(net, g[1], [1, 2])
        let x = try Tensor.randn([7, 20], rng: rng)
        let before = try net(x)
        let c = try Structure.compact(net)
        #expect(c.groups.map(\.after) == [11, 10])
        guard let small = c.model as? Sequential, let l1 = small.layers[1] as? Linear, let l3 = small.layers[3] as? Linear,
              let l5 = small.layers[5] as? Linear else { Issue.record("not an MLP"); return }
        #expect(l1.outFeatures == 11 && l3.inFeatures == 11 && l3.outFeatures == 10 && l5.inFeatures == 10 && l5.outFeatures == 5)
        #expect(c.model.parameterCount < net.parameterCount)
        #expect(maxRelativeDifference(before, try c.model(x)) <= 1e-5)
    }

    @Test func compactedCNNEqualsTheZeroedOneAndKeepsElementMasks() throws {
        let rng = RNG(seed: 4)
        let net = try Models.cnn(classes: 5, rng: rng)
        let g = try Structure.groups(net)
        removeUnits(net, g[0], Array(stride(from: 0, to: 32, by: 3)))
        removeUnits(net, g[1], Array(stride(from: 1, to: 64, by: 2)))
        removeUnits(net, g[2], Array(0..<100))
        // An element mask inside kept units survives compaction.
        let fc = try #require((net.layers[7] as? Linear))
        let mask = try Tensor.ones(fc.weight.shape)
        for i in stride(from: 0, to: mask.count, by: 5) { mask.data[i] = 0 }
        try net.setGate(WeightGate(mask: mask, method: "magnitude"), for: "layers.7.weight")
        fc.weight.maskInPlace(by: mask)
        net.eval()
        let x = try Tensor.randn([3, 1, 28, 28], rng: rng)
        let before = try net(x)
        let c = try Structure.compact(net)
        #expect(c.groups.map(\.after) == [21, 32, 28])
        #expect(maxRelativeDifference(before, try c.model(x)) <= 1e-5)
        let small = try #require(c.model as? Sequential)
        #expect((small.layers[7] as? Linear)?.inFeatures == 32 * 49)
        let gate = try #require(c.model.namedGates().first { $0.0 == "layers.7.weight" }?.1)
        #expect(gate.mask.shape == [28, 32 * 49])
        #expect(gate.sparsity > 0.15 && gate.sparsity < 0.25)
    }

    @Test func resnetTiesResidualChannelsAndIncludesBatchNorm() throws {
        let rng = RNG(seed: 5)
        let net = try Models.resnet(classes: 4, widths: [8, 12], blocks: 2, rng: rng)
        let g = try Structure.groups(net)
        // Stem + both stage-1 blocks write the first stream; the stage-2 downsampling block starts
        // the second, which its identity block adds into; every block has its inner group.
        let stream1 = try #require(g.first { $0.name == "layers.0 + layers.3 + layers.4" })
        #expect(stream1.units == 8)
        #expect(stream1.producers.map(\.name).contains("layers.3.bn2.weight"))
        #expect(stream1.producers.map(\.name).contains("layers.1.bias"))
        #expect(stream1.consumers.map(\.name) == ["layers.3.conv1.weight", "layers.4.conv1.weight", "layers.5.conv1.weight",
                                                  "layers.5.shortcut.layers.0.weight"])
        let stream2 = try #require(g.first { $0.name == "layers.5 + layers.6" })
        #expect(stream2.consumers.map(\.name) == ["layers.6.conv1.weight", "layers.8.weight"])
        #expect(stream2.scales == ["layers.5.bn2.weight", "layers.5.shortcut.layers.1.weight", "layers.6.bn2.weight"])
        #expect(g.filter { $0.name.hasSuffix(".conv1") }.count == 4)

        try warmBatchNorm(net, shape: [4, 1, 28, 28], rng: rng)
        removeUnits(net, stream1, [1, 5])
        removeUnits(net, stream2, [0, 4, 7, 11])
        for inner in g where inner.name.hasSuffix(".conv1") { removeUnits(net, inner, [2, 3]) }
        let x = try Tensor.randn([2, 1, 28, 28], rng: rng)
        let before = try net(x)
        let c = try Structure.compact(net)
        #expect(maxRelativeDifference(before, try c.model(x)) <= 1e-5)
        let small = try #require(c.model as? Sequential)
        let b5 = try #require(small.layers[5] as? BasicBlock)
        #expect(b5.conv1.inChannels == 6 && b5.conv1.outChannels == 10 && b5.conv2.outChannels == 8)
        #expect((small.layers[8] as? Linear)?.inFeatures == 8)
        // A unit that is only partly zero is kept: removing one producer is not enough.
        removeUnits(net, UnitGroup(name: "x", units: 8, producers: [UnitSlice("layers.3.bn2.weight", axis: 0)], consumers: [],
                                   buffers: [], scales: []), [0])
        #expect(try Structure.compact(net).groups.first { $0.name == stream1.name }?.after == 6)
    }

    @Test func unsupportedStructuresNameTheLayer() throws {
        let rng = RNG(seed: 6)
        #expect { _ = try Structure.groups(try Models.vit(rng: rng)) } throws: { e in
            "\(e)".contains("Sequential models") && "\(e)".contains("ViT")
        }
        let sig = Sequential([Flatten(), try Linear(4, 3, rng: rng), Sigmoid(), try Linear(3, 2, rng: rng)])
        #expect { _ = try Structure.groups(sig) } throws: { e in "\(e)".contains("layers.2 (Sigmoid)") }
        let res = Sequential([try Linear(4, 4, rng: rng), Residual(try Linear(4, 4, rng: rng)), try Linear(4, 2, rng: rng)])
        #expect { _ = try Structure.compact(res) } throws: { e in "\(e)".contains("does not understand layers.1 (Residual)") }
    }
}

@Suite struct BasisStructureTests {
    /// Double pruning's pieces: bases with α = 0 and whole output channels of the basis pair
    /// are removed by compact, which folds them away with the same outputs.
    @Test func compactFoldsPrunedBasesAndChannels() throws {
        let rng = RNG(seed: 7)
        let net = try BasisLayer.rewrite(try Models.cnn(classes: 5, rng: rng))
        let groups = try Structure.groups(net)
        #expect(groups.map(\.name) == ["layers.0.basis", "layers.0", "layers.3.basis", "layers.3", "layers.7.basis", "layers.7"])
        net.eval()
        for (path, dead) in [("layers.0", [0, 4, 8]), ("layers.3", Array(0..<40)), ("layers.7", Array(0..<60))] {
            let pair = try #require(net.module(at: path) as? BasisLayer)
            for j in dead where j < pair.bases { pair.alpha.data[j] = 0 }
        }
        let x = try Tensor.randn([2, 1, 28, 28], rng: rng)
        let before = try net(x)
        let c = try Structure.compact(net)
        #expect(c.groups.first { $0.name == "layers.0.basis" }?.after == 6)
        #expect(c.groups.first { $0.name == "layers.3.basis" }?.after == 24)
        #expect(c.groups.first { $0.name == "layers.7.basis" }?.after == 68)
        var worst: Float = 0, scale: Float = 0
        let after = try c.model(x)
        for i in 0..<before.count { scale = max(scale, abs(before.data[i])); worst = max(worst, abs(before.data[i] - after.data[i])) }
        #expect(worst / scale <= 1e-5)
        #expect(c.model.parameterCount < net.parameterCount)
    }
}
