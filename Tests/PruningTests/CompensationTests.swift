// Compensation-aware pruning: the closed-form refit on a hand-made case with a known answer,
// and on a trained MLP, less reconstruction error than plain removal.
import Testing
import Engine
import NN
@testable import Pruning

@Suite struct CompensationTests {
    /// Input 2 is exactly x0 + 2·x1: removing it, the least-squares answer moves its weight onto
    /// the others, W' = [w0 + w2, w1 + 2·w2, 0], and reconstructs the outputs exactly.
    @Test func aRedundantInputIsFoldedIntoTheOthers() throws {
        let rng = RNG(seed: 1)
        let n = 50
        let x = try Tensor.empty([n, 3])
        for i in 0..<n {
            let a = rng.normal(), b = rng.normal()
            x.data[i * 3] = a; x.data[i * 3 + 1] = b; x.data[i * 3 + 2] = a + 2 * b
        }
        let w = try Tensor.empty([2, 3])
        let values: [Float] = [0.5, -1, 2, 1.5, 0.25, -0.75]
        for i in 0..<6 { w.data[i] = values[i] }
        let fitted = try Compensation.refit(weight: w, inputs: x, kept: [0, 1], mu: 0)
        let expected: [Float] = [0.5 + 2, -1 + 4, 0, 1.5 - 0.75, 0.25 - 1.5, 0]
        for i in 0..<6 { #expect(abs(fitted.data[i] - expected[i]) < 1e-3, "entry \(i): \(fitted.data[i]) vs \(expected[i])") }
        #expect(try Compensation.reconstructionError(x: x, original: w, fitted: fitted) < 1e-6)
        // Plain removal (drop the column) leaves a large error.
        let plain = w.copy(); plain.data[2] = 0; plain.data[5] = 0
        #expect(try Compensation.reconstructionError(x: x, original: w, fitted: plain) > 0.3)
    }

    @Test func compensationBeatsPlainRemovalOnATrainedMLP() throws {
        let data = try Clusters(dim: 20, perClass: 40)
        let trained = try Models.mlp([20, 24, 4], rng: RNG(seed: 2))
        let opt = try Optimizer(.sgd(momentum: 0.9), parameters: trained.namedParameters(), lr: 0.05)
        var config = TrainConfig(epochs: 3, batchSize: 16)
        config.progress = false
        _ = try fit(trained, on: data, optimizer: opt, config: config)
        let group = try #require(try Structure.groups(trained).first)
        let removed = Array(0..<12)
        // Plain removal: the reader's error from zeroing the units.
        let plainNet = try #require(try trained.clone() as? Sequential)
        let x = try Compensation.inputs(of: 3, in: plainNet, data: data, batches: 4)
        let reader = try #require(plainNet.layers[3] as? Linear)
        let plain = reader.weight.copy()
        for o in 0..<plain.shape[0] { for u in removed { plain.data[o * 24 + u] = 0 } }
        let plainError = try Compensation.reconstructionError(x: x, original: reader.weight, fitted: plain)
        // Compensated removal.
        let net = try #require(try trained.clone() as? Sequential)
        let error = try Compensation.remove(removed, of: group, in: net, data: data, batches: 4)
        #expect(error < plainError * 0.5, "compensated \(error), plain \(plainError)")
        #expect(try Structure.compact(net).groups.first?.after == 12)
        // Accuracy after compensation is no worse than after plain removal.
        for u in removed { for j in 0..<20 { (plainNet.layers[1] as? Linear)?.weight.data[u * 20 + j] = 0 }; (plainNet.layers[1] as? Linear)?.bias?.data[u] = 0 }
        let (_, plainAcc) = try evaluate(plainNet, on: data), (_, acc) = try evaluate(net, on: data)
        #expect(acc >= plainAcc - 0.02, "compensated \(acc), plain \(plainAcc)")
    }

    /// A convolution reader: the Gram matrix of its im2col patches reproduces the weight when
    /// every input is kept, and removing channels with compensation beats plain removal.
    @Test func convolutionReadersAreRefittedFromTheirPatches() throws {
        let rng = RNG(seed: 3)
        let net = try Models.cnn(classes: 3, rng: rng)
        let first = try #require(try Structure.groups(net).first)
        let data = Samples(x: try Tensor.uniform([24, 784], rng: rng), y: (0..<24).map { $0 % 3 }, classes: 3)
        let reshaped = ReshapedSamples(data, shape: [1, 28, 28])
        let reader = try #require(net.layers[3] as? Conv2d)
        let g = try Compensation.gram(of: 3, in: net, data: reshaped, batches: 2, batchSize: 12)
        let d = reader.inChannels * reader.kernel * reader.kernel
        #expect(g.shape == [d, d])
        // (Channels that ReLU leaves dead have zero columns: the refit may move their weights,
        // never the outputs.)
        let same = try Compensation.refit(weight: reader.weight, gram: g, kept: Array(0..<d), mu: 1e-6)
        #expect(try Compensation.reconstructionError(gram: g, original: reader.weight, fitted: same) < 1e-4)
        // The Gram matrix is that of the explicit patches: the error of zeroing one filter's first
        // tap equals ‖patches·Δᵀ‖² computed directly from the layer's outputs.
        let x = try Compensation.inputs(of: 3, in: net, data: reshaped, batches: 2, batchSize: 12)
        let one = reader.weight.copy()
        for o in 0..<reader.outChannels { one.data[o * d] = 0 }
        let viaGram = try Compensation.reconstructionError(gram: g, original: reader.weight, fitted: one)
        let conv = try Conv2d(reader.inChannels, reader.outChannels, kernel: reader.kernel, stride: reader.stride, padding: reader.padding, bias: false, rng: rng)
        try conv.weight.assign(reader.weight)
        let images = try x.reshaped([24, reader.inChannels, 14, 14])
        let full = try conv(images)
        try conv.weight.assign(one)
        let cut = try conv(images)
        var num: Double = 0, den: Double = 0
        for i in 0..<full.count { let e = Double(full.data[i] - cut.data[i]); num += e * e; den += Double(full.data[i] * full.data[i]) }
        #expect(abs(viaGram - num / den) < 1e-3 * max(viaGram, 1e-6), "gram \(viaGram), direct \(num / den)")
        // The Gram route gives the same error as the explicit one on the patches.
        let removed = Array(0..<first.units / 2)
        let plain = reader.weight.copy()
        let k2 = reader.kernel * reader.kernel
        for o in 0..<reader.outChannels { for u in removed { for j in 0..<k2 { plain.data[o * d + u * k2 + j] = 0 } } }
        let plainError = try Compensation.reconstructionError(gram: g, original: reader.weight, fitted: plain)
        let compensated = try #require(try net.clone() as? Sequential)
        let error = try Compensation.remove(removed, of: first, in: compensated, data: reshaped, batches: 2)
        #expect(error < plainError * 0.8, "compensated \(error), plain \(plainError)")
    }

    /// Units 0 and 1 are independent, unit 2 = unit 0 + 2·unit 1 (positive inputs, non-negative
    /// weights: ReLU is the identity), unit 3 is independent with the smallest row. L1 would
    /// drop unit 3; CaP drops one of the redundant three, and its refit reproduces the outputs.
    @Test func capRemovesARedundantUnitAndReconstructs() throws {
        let rng = RNG(seed: 8)
        let net = try Models.mlp([3, 4, 2], rng: rng)
        let hidden = try #require(net.layers[1] as? Linear), reader = try #require(net.layers[3] as? Linear)
        let rows: [[Float]] = [[1, 0, 0], [0, 1, 0], [1, 2, 0], [0, 0, 0.1]]
        for (u, r) in rows.enumerated() { for j in 0..<3 { hidden.weight.data[u * 3 + j] = r[j] }; hidden.bias?.data[u] = 0 }
        let x = try Tensor.uniform([64, 3], low: 0.5, high: 2, rng: rng)
        let data = Samples(x: x, y: (0..<64).map { $0 % 2 }, classes: 2)
        net.eval()
        let before = try net(x)
        var config = PrunerConfig(CaP.self, keep: 0.75)
        try config.set("mu", 1e-6)
        try Pruner(config).pruneOnce(net, data: data, batchSize: 32)
        let dead = try Structure.deadUnits(net, try #require(try Structure.groups(net).first))
        #expect(dead.filter { $0 }.count == 1)
        #expect(dead[3] == false, "CaP removed the independent unit: \(dead)")
        let after = try net(x)
        var worst: Float = 0
        for i in 0..<before.count { worst = max(worst, abs(before.data[i] - after.data[i])) }
        #expect(worst < 1e-2, "outputs moved by \(worst)")
        _ = reader
    }

    /// The binary search: a generous step keeps the floor, a tiny one keeps every unit that
    /// costs accuracy; errors for one-shot use without data.
    @Test func capStepSearchesPerLayerRatios() throws {
        let data = try Clusters(dim: 20, perClass: 40)
        let trained = try Models.mlp([20, 24, 4], rng: RNG(seed: 2))
        _ = try fit(trained, on: data, optimizer: try sgd(trained), config: quiet(3, batch: 16))
        func kept(step: Double) throws -> (Int, Double, Double) {
            let net = try #require(try trained.clone() as? Sequential)
            let (_, before) = try evaluate(net, on: data)
            var config = PrunerConfig(CaP.self, keep: 0.1)
            try config.set("step", step)
            try config.set("batches", 100)
            try Pruner(config).pruneOnce(net, data: data, batchSize: 160)
            let (_, after) = try evaluate(net, on: data)
            return (try Structure.deadUnits(net, try #require(try Structure.groups(net).first)).filter { !$0 }.count, before, after)
        }
        let (generous, _, _) = try kept(step: 1)
        #expect(generous == 2)   // round(0.1 × 24)
        let (strict, before, after) = try kept(step: 0.001)
        #expect(strict > generous)
        #expect(before - after <= 0.001 + 1e-9, "accuracy \(before) → \(after)")
        #expect { try Pruner(PrunerConfig(CaP.self, keep: 0.5)).pruneOnce(try Models.mlp([4, 3, 2], rng: RNG(seed: 1)), data: nil) } throws: { e in
            "\(e)".contains("cap") && "\(e)".contains("data")
        }
    }
}
