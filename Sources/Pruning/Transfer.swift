// Transfer learning: adapt an upstream model to a downstream task with a new classifier head,
// by a linear probe (frozen body, features computed once) or by full fine-tuning (with the
// upstream mask kept fixed, or while pruning). The upstream model is never modified.
import Engine
import FileIO
import NN

/// How the body of the upstream model is adapted.
public enum TransferMode: String, CaseIterable, Sendable {
    /// Linear probe: the body is frozen; only the new head trains, on cached features.
    case linear
    /// Full fine-tuning of every parameter.
    case full
    /// Diff pruning: the body stays as it is plus a sparse learned difference (`DiffPruning`).
    case diff
}

/// Settings of one transfer.
public struct TransferConfig {
    public var mode: TransferMode = .full
    /// Keep the upstream masks fixed during fine-tuning (false: drop them, so pruned weights may regrow).
    public var keepMask = true
    /// A fresh classifier head sized for the task (false: keep the upstream head; the class
    /// counts must match).
    public var newHead = true
    /// Seed of the new head's initialisation.
    public var headSeed: UInt64 = 0
    /// Diff pruning's settings (mode `.diff`).
    public var diff = DiffSettings()
    public init(mode: TransferMode = .full) { self.mode = mode }
}

/// Transfer errors, in the library's words (the language adds its keywords).
public enum TransferError: Error, CustomStringConvertible, Equatable {
    /// Keeping the upstream head needs as many classes downstream.
    case headClasses(upstream: Int, task: Int)
    /// A pruner was given to a linear probe, whose body does not train.
    case probeWithPruner
    /// A pruner was given to diff pruning, which chooses its own entries.
    case diffWithPruner
    /// An adversary was given to a linear probe, which trains on features computed once.
    case probeWithAdversary
    /// Diff pruning was given a model with masks, which its diff would regrow.
    case diffOfMaskedModel

    public var description: String {
        switch self {
        case let .headClasses(upstream, task):
            return "transfer: keeping the upstream head needs the task to have its \(upstream) classes, but it has \(task)"
        case .probeWithPruner:
            return "transfer: a linear probe keeps the body frozen, so a pruner has nothing to prune; fine-tune fully instead"
        case .diffWithPruner:
            return "transfer: diff pruning chooses the entries of its diff itself; it takes no pruner"
        case .probeWithAdversary:
            return "transfer: a linear probe trains its head on features computed once, so it cannot train on adversarial inputs; fine-tune fully instead"
        case .diffOfMaskedModel:
            return "diff pruning needs a model without masks (its diff would regrow pruned weights); transfer without keeping the masks (keepMask false)"
        }
    }
}

public enum Transfer {
    /// The classifier head (`Module.classifier`), which transfer replaces: it must be the last
    /// layer of a Sequential model.
    public static func head(of model: Module) throws -> (index: Int, layer: Linear) {
        guard let seq = model as? Sequential else {
            throw PruningError.invalid("transfer: needs a model whose last layer is its classifier (mlp, cnn, lenet5, resnet, a BERT classifier) or a BERT encoder; a \(model.typeName) is not supported yet")
        }
        guard let head = model.classifier, let last = seq.layers.last, head.layer === last else {
            throw PruningError.invalid("transfer: the model's last layer is \(seq.layers.last?.typeName ?? "missing"), not a Linear classifier head")
        }
        return (seq.layers.count - 1, head.layer)
    }

    /// Adapts a copy of `upstream` to `task` and returns it with its training history.
    /// `makeOptimizer(model, steps)` builds the optimizer over the given model's parameters.
    public static func adapt(_ upstream: Module, to task: BatchSource, config transfer: TransferConfig,
                             pruner: Pruner? = nil, hooks: [TrainingHook] = [],
                             makeOptimizer: (_ model: Module, _ steps: Int) throws -> Optimizer,
                             train: TrainConfig, validation: BatchSource? = nil,
                             shouldStop: @escaping () -> Bool = { Interrupt.requested }) throws -> (model: Module, history: History) {
        let r = try run(upstream, to: task, config: transfer, pruner: pruner, hooks: hooks, makeOptimizer: makeOptimizer,
                        train: train, validation: validation, shouldStop: shouldStop)
        return (r.model, r.history)
    }

    /// `adapt`, also returning the diff that mode `.diff` learns (nil for the other modes).
    public static func run(_ upstream: Module, to task: BatchSource, config transfer: TransferConfig,
                           pruner: Pruner? = nil, hooks: [TrainingHook] = [],
                           makeOptimizer: (_ model: Module, _ steps: Int) throws -> Optimizer,
                           train: TrainConfig, validation: BatchSource? = nil,
                           shouldStop: @escaping () -> Bool = { Interrupt.requested }) throws -> (model: Module, history: History, diff: ModelDiff?) {
        if let encoder = upstream as? BertModel {
            // An encoder without a head: transfer puts a classifier on it (the head is new anyway).
            let classifier = try Models.bertClassifier(encoder, classes: Swift.max(task.classes, 1), rng: RNG(seed: transfer.headSeed),
                                                       dropoutRNG: RNG(seed: transfer.headSeed))
            return try run(classifier, to: task, config: transfer, pruner: pruner, hooks: hooks, makeOptimizer: makeOptimizer,
                           train: train, validation: validation, shouldStop: shouldStop)
        }
        let (index, oldHead) = try head(of: upstream)
        guard task.count > 0 else { throw PruningError.invalid("transfer: the task has no samples") }
        guard let model = try upstream.clone() as? Sequential else {
            throw PruningError.invalid("transfer: copying a \(upstream.typeName) did not give a Sequential model")
        }
        let body = Sequential(Array(model.layers.prefix(index)))
        // The body must accept the task's samples: one forward pass says so, or why not.
        let features = try featureSize(body, sampleShape: task.sampleShape)
        guard features == oldHead.inFeatures else {
            throw PruningError.invalid("transfer: the body gives \(features) features for samples of shape \(describe(shape: task.sampleShape)), but the head takes \(oldHead.inFeatures)")
        }
        if transfer.newHead {
            let head = try Linear(oldHead.inFeatures, task.classes, bias: oldHead.bias != nil, rng: RNG(seed: transfer.headSeed))
            try model.replace(at: index, with: head)
        } else {
            guard oldHead.outFeatures == task.classes else {
                throw TransferError.headClasses(upstream: oldHead.outFeatures, task: task.classes)
            }
        }
        if !transfer.keepMask {
            for (name, _) in model.namedGates() { try model.setGate(nil, for: name) }
        } else {
            for (_, gate) in model.namedGates() { gate.frozen = true }
        }
        let steps = plannedSteps(samples: task.count, config: train)
        switch transfer.mode {
        case .linear:
            guard pruner == nil else { throw TransferError.probeWithPruner }
            guard !hooks.contains(where: { $0 is AdversarialTraining }) else { throw TransferError.probeWithAdversary }
            guard let head = model.layers.last else { throw PruningError.invalid("transfer: the model has no layers") }
            let probe = Sequential([head])
            let history: History
            if task.augments {
                // Augmented samples differ every epoch: run the frozen body on every batch.
                let frozen = Sequential([FrozenBody(body), head])
                history = try fit(frozen, on: task, optimizer: makeOptimizer(probe, steps), config: train,
                                  validation: validation, hooks: hooks, shouldStop: shouldStop)
            } else {
                let cached = try FeatureSet.extract(body, from: task)
                let cachedValidation = try validation.map { try FeatureSet.extract(body, from: $0) }
                history = try fit(probe, on: cached, optimizer: makeOptimizer(probe, steps), config: train,
                                  validation: cachedValidation, hooks: hooks, shouldStop: shouldStop)
            }
            model.eval()
            return (model, history, nil)
        case .diff:
            guard pruner == nil else { throw TransferError.diffWithPruner }
            let r = try DiffPruning.train(model, upstream: upstream, newHead: transfer.newHead ? index : nil, on: task,
                                          settings: transfer.diff, makeOptimizer: makeOptimizer, train: train,
                                          validation: validation, hooks: hooks, shouldStop: shouldStop)
            return (r.model, r.history, r.diff)
        case .full:
            let history = try PrunedTraining.train(model, on: task, pruner: pruner,
                                                   makeOptimizer: { try makeOptimizer(model, $0) }, config: train,
                                                   validation: validation, hooks: hooks, shouldStop: shouldStop)
            model.eval()
            return (model, history, nil)
        }
    }

    /// The number of features `body` gives for one sample, or a clear error when it cannot
    /// take samples of that shape.
    static func featureSize(_ body: Module, sampleShape: [Int]) throws -> Int {
        let wasTraining = body.training
        body.eval()
        defer { body.train(wasTraining) }
        do {
            let out = try GradMode.noGrad { try body(try Tensor.zeros([1] + sampleShape)) }
            return out.count
        } catch let e as LibraryError {
            throw PruningError.invalid("transfer: the model does not take the task's samples of shape \(describe(shape: sampleShape)): \(e.message)")
        }
    }
}

/// A body whose parameters do not train: evaluation mode, no autodiff recording.
final class FrozenBody: Module {
    let body: Module
    init(_ body: Module) { self.body = body }
    override func forward(_ x: Tensor) throws -> Tensor {
        body.eval()
        return try GradMode.noGrad { try body(x) }
    }
    // No children: the frozen parameters are not the optimizer's, and masks are not re-applied.
    override var typeName: String { "Frozen(\(body.typeName))" }
}

/// Features of a whole dataset, computed once by a frozen body, as a batch source.
public final class FeatureSet: BatchSource {
    public let features: Tensor
    public let labels: [Int]
    public let classes: Int
    public var count: Int { labels.count }
    public var sampleShape: [Int] { Array(features.shape.dropFirst()) }

    init(features: Tensor, labels: [Int], classes: Int) {
        self.features = features; self.labels = labels; self.classes = classes
    }

    /// Runs `body` (evaluation mode, no gradients) over `data` in batches of 500.
    public static func extract(_ body: Module, from data: BatchSource) throws -> FeatureSet {
        let wasTraining = body.training
        body.eval()
        defer { body.train(wasTraining) }
        var rows: [Tensor] = [], labels: [Int] = []
        try GradMode.noGrad {
            for (x, y) in data.makeBatches(size: 500, shuffle: false, rng: RNG(seed: 0)) {
                rows.append(try body(x).flattened(from: 1))
                labels += y
            }
        }
        let width = rows.first?.shape.last ?? 0
        let all = try Tensor.empty([labels.count, width])
        var offset = 0
        for r in rows {
            (all.data + offset).update(from: r.data, count: r.count)
            offset += r.count
        }
        return FeatureSet(features: all, labels: labels, classes: data.classes)
    }

    public func makeBatches(size: Int, shuffle: Bool, rng: RNG) -> AnySequence<(x: Tensor, y: [Int])> {
        let n = count, width = features.shape.last ?? 0, size = Swift.max(size, 1)
        let order = shuffle ? rng.permutation(n) : Array(0..<n)
        return AnySequence(sequence(state: 0) { (position: inout Int) -> (x: Tensor, y: [Int])? in
            guard position < n else { return nil }
            let stop = Swift.min(position + size, n)
            let x = Tensor.empty(rows: stop - position, of: self.features)
            var y: [Int] = []
            for (row, i) in order[position..<stop].enumerated() {
                (x.data + row * width).update(from: self.features.data + i * width, count: width)
                y.append(self.labels[i])
            }
            position = stop
            return (x, y)
        })
    }
}
