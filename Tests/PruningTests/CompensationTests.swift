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

    @Test func convolutionReadersAreNotSupportedYet() throws {
        let net = try Models.cnn(classes: 3, rng: RNG(seed: 3))
        let first = try #require(try Structure.groups(net).first)
        let data = try Clusters(dim: 784, perClass: 2)
        #expect { try Compensation.remove([0], of: first, in: net, data: data) } throws: { e in
            "\(e)".contains("refits Linear readers only") && "\(e)".contains("layers.3.weight")
        }
    }
}
