// The ready models train on real Fashion-MNIST subsets (short runs; full-length numbers are in
// the README, from scripts/bench and `prune --demo`).
import Testing
import Data
import Engine
import NN

/// Trains `model` on the first `trainCount` training images and returns test accuracy on the
/// first `testCount` test images.
func trainAndTest(_ model: Module, trainCount: Int, testCount: Int = 2000, epochs: Int = 1,
                  optimizer: OptimizerKind = .sgd(momentum: 0.9), lr: Float = 0.05, seed: UInt64 = 0) throws -> (History, Double) {
    let train = try FashionMNIST.load(.train).subset(indices: Array(0..<trainCount))
    let test = try FashionMNIST.load(.test).subset(indices: Array(0..<testCount))
    let opt = try Optimizer(optimizer, parameters: model.namedParameters(), lr: lr)
    var config = TrainConfig(epochs: epochs, batchSize: 128)
    config.seed = seed
    config.progress = false
    let history = try fit(model, on: train, optimizer: opt, config: config)
    return (history, try evaluate(model, on: test).accuracy)
}

@Suite struct FashionMNISTTraining {
    @Test func mlpLearns() throws {
        let (history, acc) = try trainAndTest(try Models.mlp([784, 300, 100, 10], rng: RNG(seed: 0)), trainCount: 12000, epochs: 2)
        #expect(history.epochs.count == 2)
        #expect(history.epochs[1].loss < history.epochs[0].loss)
        #expect(acc > 0.80, "MLP test accuracy \(acc) after 2 epochs on 12k images")
    }

    @Test func cnnLearns() throws {
        let (_, acc) = try trainAndTest(try Models.cnn(rng: RNG(seed: 0)), trainCount: 12000, lr: 0.05)
        #expect(acc > 0.72, "CNN test accuracy \(acc) after 1 epoch on 12k images")
    }

    @Test func lenetLearns() throws {
        let (_, acc) = try trainAndTest(try Models.lenet5(rng: RNG(seed: 0)), trainCount: 12000, epochs: 2, lr: 0.05)
        #expect(acc > 0.70, "LeNet-5 test accuracy \(acc) after 2 epochs on 12k images")
    }

    @Test func resnetLearns() throws {
        // Enough steps for batch norm's running statistics to track the weights (eval mode uses them).
        let (history, acc) = try trainAndTest(try Models.resnet(rng: RNG(seed: 0)), trainCount: 4000, testCount: 1000, epochs: 2,
                                              optimizer: .adam(), lr: 2e-3)
        #expect(history.epochs[1].loss < history.epochs[0].loss)
        #expect(acc > 0.45, "ResNet test accuracy \(acc) after 2 epochs on 4k images")
    }

    @Test func vitLearns() throws {
        let (history, acc) = try trainAndTest(try Models.vit(rng: RNG(seed: 0)), trainCount: 6000, testCount: 1000, epochs: 2,
                                              optimizer: .adamw(), lr: 2e-3)
        #expect(history.epochs[1].loss < history.epochs[0].loss)
        #expect(acc > 0.65, "ViT test accuracy \(acc) after 2 epochs on 6k images")
    }

    /// Same seed and thread count → the same numbers, bit for bit.
    @Test func trainingIsDeterministic() throws {
        func run() throws -> ([Float], Double) {
            let model = try Models.mlp([784, 64, 10], rng: RNG(seed: 3))
            let (history, acc) = try trainAndTest(model, trainCount: 2000, testCount: 500, seed: 7)
            return (model.parameters.flatMap(\.array), history.epochs[0].loss + acc)
        }
        let (a, la) = try run(), (b, lb) = try run()
        #expect(a == b)
        #expect(la == lb)
    }
}
