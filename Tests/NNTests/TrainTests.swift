// The training loop on a small synthetic problem: learning, history, determinism, Ctrl-C,
// divergence and evaluation mode. The interrupt test stops through fit's `shouldStop` rather than
// the process-wide Ctrl-C flag, which would stop fits in other tests running beside it.
import Foundation
import Testing
import TestSupport
@testable import NN
import Engine

/// Four Gaussian blobs centred at (±2, ±2) with standard deviation `spread`: a linearly separable
/// 4-class problem (class = quadrant), stored in memory.
struct Blobs: BatchSource {
    let xs: [Float]
    let ys: [Int]
    var count: Int { ys.count }
    var sampleShape: [Int] { [2] }
    var classes: Int { 4 }

    init(count: Int, seed: UInt64, spread: Float = 0.5) {
        let rng = RNG(seed: seed)
        let centres: [(Float, Float)] = [(2, 2), (-2, 2), (-2, -2), (2, -2)]
        var xs = [Float](), ys = [Int]()
        for i in 0..<count {
            let c = (i * 7 + Int(seed)) % 4
            xs += [centres[c].0 + spread * rng.normal(), centres[c].1 + spread * rng.normal()]
            ys.append(c)
        }
        self.xs = xs; self.ys = ys
    }

    func makeBatches(size: Int, shuffle: Bool, rng: RNG) -> AnySequence<(x: Tensor, y: [Int])> {
        let order = shuffle ? rng.permutation(count) : Array(0..<count)
        var batches: [(x: Tensor, y: [Int])] = []
        for start in stride(from: 0, to: count, by: size) {
            let idx = order[start..<min(start + size, count)]
            let x = try! try Tensor(shape: [idx.count, 2], data: idx.flatMap { [xs[2 * $0], xs[2 * $0 + 1]] })
            batches.append((x, idx.map { ys[$0] }))
        }
        return AnySequence(batches)
    }
}

private func makeModel(seed: UInt64 = 3) throws -> Sequential {
    try Models.mlp([2, 16, 4], rng: RNG(seed: seed))
}

private func quietConfig(epochs: Int, batchSize: Int = 32, seed: UInt64 = 11) -> TrainConfig {
    var c = TrainConfig(epochs: epochs, batchSize: batchSize)
    c.seed = seed
    c.progress = false
    return c
}

/// Replaces every batch by its negation and records the labels it saw.
private final class Negate: TrainingHook {
    var seen: [[Int]] = []
    func batch(_ x: Tensor, labels: [Int], step: Int) throws -> Tensor {
        seen.append(labels)
        return x * -1
    }
}

/// x ↦ −x as a layer.
private final class Flip: Module {
    override func forward(_ x: Tensor) throws -> Tensor { x * -1 }
}

@Suite(.serialized) struct TrainTests {
    let train = Blobs(count: 400, seed: 1)
    let valid = Blobs(count: 200, seed: 2)

    /// The batch hook point: the model trains on what the hook returns. Negated inputs with the
    /// labels unchanged swap the quadrants, so the model learns the mirrored problem.
    @Test func batchHooksReplaceTheInputs() throws {
        let model = try makeModel()
        let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.05)
        let hook = Negate()
        let h = try fit(model, on: train, optimizer: opt, config: quietConfig(epochs: 5), hooks: [hook])
        #expect(hook.seen.count == h.steps && hook.seen.first?.count == 32)
        let mirrored = try evaluate(model, on: valid).accuracy
        let wrong = Sequential([Flip(), model])
        #expect(try evaluate(wrong, on: valid).accuracy > 0.95, "it learned the negated problem")
        #expect(mirrored < 0.1, "plain inputs now land in the opposite quadrant (\(mirrored))")
    }

    @Test func fitLearnsTheBlobs() throws {
        let model = try makeModel()
        let before = try evaluate(model, on: valid)
        let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.05)
        let history = try fit(model, on: train, optimizer: opt, config: quietConfig(epochs: 4), validation: valid)

        #expect(history.epochs.count == 4)
        #expect(!history.interrupted)
        #expect(history.steps == 4 * 13, "400 samples in batches of 32 is 13 steps an epoch")
        #expect(opt.stepCount == history.steps)
        for (i, r) in history.epochs.enumerated() {
            #expect(r.epoch == i + 1)
            #expect(r.loss.isFinite && r.loss > 0)
            #expect(r.accuracy >= 0 && r.accuracy <= 1)
            #expect(r.validationLoss.map { $0.isFinite && $0 > 0 } == true)
            #expect(r.validationAccuracy.map { $0 >= 0 && $0 <= 1 } == true)
            #expect(r.seconds >= 0 && r.seconds < 30)
            #expect(r.samplesPerSecond > 0)
        }
        let first = history.epochs.first!, last = history.epochs.last!
        #expect(last.loss < first.loss, "training loss falls: \(history.epochs.map(\.loss))")
        #expect(last.loss < 0.2)
        #expect(last.accuracy > 0.95)
        #expect(last.validationAccuracy! > 0.95)
        #expect(last.validationLoss! < before.loss / 3)

        let after = try evaluate(model, on: valid)
        #expect(after.accuracy > 0.95)
        #expect(Swift.abs(after.loss - last.validationLoss!) < 1e-9, "the last record holds the final validation")
    }

    @Test func fitWithAdamClippingAndSmoothing() throws {
        let model = try makeModel(seed: 4)
        let opt = try Optimizer(.adamw(), parameters: model.namedParameters(), lr: 0.01, weightDecay: 0.01,
                                schedule: .cosine(total: 3 * 13))
        var config = quietConfig(epochs: 3)
        config.clipNorm = 1
        config.labelSmoothing = 0.1
        let history = try fit(model, on: train, optimizer: opt, config: config)
        #expect(history.epochs.count == 3)
        #expect(history.epochs.allSatisfy { $0.validationLoss == nil && $0.validationAccuracy == nil })
        #expect(history.epochs.last!.accuracy > 0.9)
        #expect(history.epochs.last!.loss < history.epochs.first!.loss)
    }

    @Test func fitWithACustomLossAndMaxSamples() throws {
        let model = try makeModel(seed: 5)
        let opt = try Optimizer(.sgd(), parameters: model.namedParameters(), lr: 0.1)
        var config = quietConfig(epochs: 2)
        config.maxSamplesPerEpoch = 100
        var calls = 0
        var steps: [Int] = []
        let history = try fit(model, on: train, optimizer: opt, config: config,
                              lossFn: { logits, labels in calls += 1; return try Loss.crossEntropy(logits, labels) * 2 },
                              afterStep: { steps.append($0) })
        // Batches are taken until at least 100 samples are seen: 4 batches of 32.
        #expect(history.steps == 8)
        #expect(calls == 8)
        #expect(steps == Array(1...8))
    }

    @Test func sameSeedGivesBitIdenticalRuns() throws {
        func once(seed: UInt64) throws -> (params: [String: [Float]], history: History) {
            let model = try Models.mlp([2, 8, 4], rng: RNG(seed: 9))
            let drop = Sequential([model, Dropout(0.2, rng: RNG(seed: 10))])  // exercises the dropout stream too
            let opt = try Optimizer(.adam(), parameters: drop.namedParameters(), lr: 0.01)
            let h = try fit(drop, on: train, optimizer: opt, config: quietConfig(epochs: 2, seed: seed), validation: valid)
            return (snapshot(drop), h)
        }
        let a = try once(seed: 21), b = try once(seed: 21)
        #expect(a.params.keys.sorted() == b.params.keys.sorted())
        for (name, values) in a.params { #expect(bits(values) == bits(b.params[name]!), "\(name) differs between runs") }
        #expect(a.history.steps == b.history.steps)
        #expect(a.history.epochs.map(\.loss.bitPattern) == b.history.epochs.map(\.loss.bitPattern))
        #expect(a.history.epochs.map(\.accuracy) == b.history.epochs.map(\.accuracy))
        #expect(a.history.epochs.map { $0.validationLoss?.bitPattern } == b.history.epochs.map { $0.validationLoss?.bitPattern })

        // A different shuffling seed gives a different run.
        let c = try once(seed: 22)
        #expect(a.params.contains { bits($0.value) != bits(c.params[$0.key]!) })
    }

    @Test func interruptStopsAfterTheCurrentStep() throws {
        let model = try makeModel(seed: 6)
        let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.05)
        var seenSteps: [Int] = []
        var stop = false
        let history = try fit(model, on: train, optimizer: opt, config: quietConfig(epochs: 5), validation: valid,
                              afterStep: { step in
                                  seenSteps.append(step)
                                  if step == 3 { stop = true }
                              }, shouldStop: { stop })
        #expect(history.interrupted)
        #expect(history.steps == 3, "the step in progress completes, no further step starts")
        #expect(seenSteps == [1, 2, 3])
        #expect(opt.stepCount == 3)
        #expect(history.epochs.count == 1, "the partial epoch is recorded and no further epoch starts")
        let record = history.epochs[0]
        #expect(record.loss.isFinite)
        #expect(record.validationLoss == nil, "no validation pass after an interrupt")
        // The model is consistent and usable: it evaluates and can train on.
        #expect(model.namedParameters().allSatisfy { $0.1.array.allSatisfy(\.isFinite) })
        let ev = try evaluate(model, on: valid)
        #expect(ev.loss.isFinite)
        let resumed = try fit(model, on: train, optimizer: opt, config: quietConfig(epochs: 1))
        #expect(!resumed.interrupted)
        #expect(resumed.steps == 13)
    }

    @Test func divergenceThrowsAClearError() throws {
        let model = try Models.mlp([2, 16, 16, 4], rng: RNG(seed: 7))
        let opt = try Optimizer(.sgd(), parameters: model.namedParameters(), lr: 1e30)
        var config = quietConfig(epochs: 5)
        config.shuffle = false
        let message = expectError(["train", "loss became", "learning rate"]) {
            _ = try fit(model, on: train, optimizer: opt, config: config)
        }
        #expect(message?.contains("nan") == true || message?.contains("inf") == true, "\(message ?? "")")
        #expect(message?.contains("epoch 1") == true, "\(message ?? "")")
    }

    @Test func fitRejectsBadConfigurations() throws {
        let model = try makeModel()
        let opt = try Optimizer(.sgd(), parameters: model.namedParameters(), lr: 0.1)
        expectError(["batch size", "0"]) { _ = try fit(model, on: train, optimizer: opt, config: quietConfig(epochs: 1, batchSize: 0)) }
        expectError(["epochs"]) { _ = try fit(model, on: train, optimizer: opt, config: quietConfig(epochs: -1)) }
        expectError(["empty"]) { _ = try fit(model, on: Blobs(count: 0, seed: 1), optimizer: opt, config: quietConfig(epochs: 1)) }
        let none = try fit(model, on: train, optimizer: opt, config: quietConfig(epochs: 0))
        #expect(none.epochs.isEmpty && none.steps == 0)
    }

    @Test func evaluateRestoresTheTrainingMode() throws {
        let rng = RNG(seed: 8)
        let model = Sequential([try Linear(2, 8, rng: rng), try BatchNorm(8), ReLU(), Dropout(0.5, rng: rng), try Linear(8, 4, rng: rng)])
        let stats = model.namedBuffers().map { $0.1.array }

        model.train()
        let a = try evaluate(model, on: valid)
        #expect(model.training)
        #expect(model.namedModules().allSatisfy { $0.1.training }, "children are back in training mode")
        #expect(model.namedBuffers().map { $0.1.array } == stats, "evaluation does not touch batch-norm statistics")

        model.eval()
        let b = try evaluate(model, on: valid)
        #expect(!model.training)
        #expect(model.namedModules().allSatisfy { !$0.1.training })
        #expect(a.loss == b.loss && a.accuracy == b.accuracy, "evaluation is deterministic whatever the mode before")
        #expect(model.parameters.allSatisfy { $0.grad == nil }, "evaluation records nothing")

        // The batch size does not change the result beyond rounding.
        let c = try evaluate(model, on: valid, batchSize: 7)
        #expect(Swift.abs(c.loss - a.loss) < 1e-5 && c.accuracy == a.accuracy)
    }

    @Test func correctCountPicksTheArgmax() throws {
        let logits = try Tensor(shape: [3, 3], data: [0.1, 0.9, 0, 2, 1, 0, -1, -2, -0.5])
        #expect(correctCount(logits, [1, 0, 2]) == 3)
        #expect(correctCount(logits, [0, 0, 0]) == 1)
    }

    @Test func fmtFormatsFixedPoint() {
        #expect(fmt(3.14159, 2) == "3.14")
        #expect(fmt(-0.5, 3) == "-0.500")
        #expect(fmt(2, 0) == "2")
        #expect(fmt(0.05, 1) == "0.1")
        #expect(fmt(-0.0001, 2) == "0.00")
        #expect(fmt(1.999, 2) == "2.00")
    }
}
