// Transfer on real data: an MLP pretrained on Fashion-MNIST adapts to UCI digits (upscaled to
// 28×28) by a linear probe and by full fine-tuning; short runs.
import Testing
import Data
import Engine
import NN
import Pruning

@Suite struct TransferTrainingTests {
    @Test(.enabled(if: Digits.installed)) func fashionToDigits() throws {
        let up = try Models.mlp([784, 256, 64, 10], rng: RNG(seed: 0))
        let fashion = try FashionMNIST.load(.train).subset(indices: Array(0..<6000))
        var pre = TrainConfig(epochs: 1, batchSize: 64)
        pre.progress = false
        try fit(up, on: fashion, optimizer: Optimizer(.sgd(momentum: 0.9), parameters: up.namedParameters(), lr: 0.05), config: pre)
        let (train, test) = try Digits.load().split(fraction: 0.8, seed: 0)
        var config = TrainConfig(epochs: 5, batchSize: 32)
        config.progress = false
        func adam(_ m: Module, _ steps: Int) throws -> Optimizer { try Optimizer(.adam(), parameters: m.namedParameters(), lr: 1e-3) }
        // The probe trains on cached features: longer and faster costs little.
        var probeConfig = config
        probeConfig.epochs = 30
        func probeAdam(_ m: Module, _ steps: Int) throws -> Optimizer { try Optimizer(.adam(), parameters: m.namedParameters(), lr: 1e-2) }
        let (probe, _) = try Transfer.adapt(up, to: train, config: TransferConfig(mode: .linear), makeOptimizer: probeAdam, train: probeConfig)
        let (full, _) = try Transfer.adapt(up, to: train, config: TransferConfig(mode: .full), makeOptimizer: adam, train: config)
        let probeAcc = try evaluate(probe, on: test).accuracy, fullAcc = try evaluate(full, on: test).accuracy
        #expect(probeAcc > 0.7, "linear probe on digits: \(probeAcc)")
        #expect(fullAcc > 0.9, "full fine-tuning on digits: \(fullAcc)")
    }
}
