// The training and evaluation loops, with per-epoch history, progress on stderr and
// cooperative Ctrl-C.
import FileIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine

/// Anything that yields labelled batches: datasets conform to this in the Data module.
public protocol BatchSource {
    /// Number of samples.
    var count: Int { get }
    /// The shape of one sample, e.g. [1, 28, 28].
    var sampleShape: [Int] { get }
    /// Number of classes.
    var classes: Int { get }
    /// Batches of (inputs [B, ...], labels), shuffled with `rng` when asked.
    func makeBatches(size: Int, shuffle: Bool, rng: RNG) -> AnySequence<(x: Tensor, y: [Int])>
    /// Whether shuffled (training) batches are randomly transformed, so that the same sample
    /// differs between epochs (features cannot then be computed once).
    var augments: Bool { get }
    /// The values a sample may take, per channel (nil: unbounded); adversarial examples stay in it.
    var valueRange: ValueRange? { get }
}

extension BatchSource {
    public var augments: Bool { false }
    public var valueRange: ValueRange? { nil }
}

/// The valid values of a sample's entries, one interval per channel (the first sample
/// dimension), in the data's current units: normalising x ↦ (x − m)/s moves [0, 1] to
/// [−m/s, (1 − m)/s].
public struct ValueRange: Sendable, Equatable {
    public var lower: [Float], upper: [Float]
    public init(lower: [Float], upper: [Float]) { self.lower = lower; self.upper = upper }
    /// [0, 1] on every one of `channels` channels: images as loaded.
    public init(unit channels: Int) { self.init(lower: [Float](repeating: 0, count: channels), upper: [Float](repeating: 1, count: channels)) }
}

/// What happened in one epoch.
public struct EpochRecord: Sendable {
    public var epoch: Int
    public var loss: Double
    public var accuracy: Double
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    public var seconds: Double
    public var samplesPerSecond: Double
    /// What the hooks report at the end of the epoch (a pruner's sparsity, …), in order.
    public var extras: [(String, Double)] = []
}

/// The per-epoch record of a training run.
public struct History: Sendable {
    public var epochs: [EpochRecord] = []
    /// True when Ctrl-C stopped the run early (after a complete step).
    public var interrupted = false
    public var steps = 0
    public init() {}
}

/// Settings for `fit`.
public struct TrainConfig: Sendable {
    public var epochs: Int = 1
    public var batchSize: Int = 128
    public var shuffle = true
    public var seed: UInt64 = 0
    public var labelSmoothing: Float = 0
    /// Clip the global gradient norm to this value before each step.
    public var clipNorm: Float? = nil
    /// Stop after this many samples (for quick runs and benchmarks); nil = full epochs.
    public var maxSamplesPerEpoch: Int? = nil
    /// Show a progress line on stderr (only when stderr is a terminal).
    public var progress = true
    public init(epochs: Int = 1, batchSize: Int = 128) { self.epochs = epochs; self.batchSize = batchSize }
}

/// Code that takes part in training: pruners (masks on a schedule, learned scores, penalties),
/// distillation, and anything that changes the batch. `fit` calls each hook in order at these
/// points of every step.
public protocol TrainingHook: AnyObject {
    /// Before the first step; `totalSteps` is the planned length of the run.
    func begin(model: Module, optimizer: Optimizer, totalSteps: Int) throws
    /// The inputs the step trains on, given the batch (adversarial examples replace them).
    func batch(_ x: Tensor, labels: [Int], step: Int) throws -> Tensor
    /// The loss to minimise, given the task loss (add a penalty, mix in a teacher's).
    func loss(_ loss: Tensor, x: Tensor, logits: Tensor, labels: [Int], step: Int) throws -> Tensor
    /// After backward, before the optimizer step (gradients are available).
    func afterBackward(step: Int) throws
    /// After the optimizer step; `step` counts from 1.
    func afterStep(step: Int) throws
    /// After the last step, also when the run was interrupted.
    func end() throws
    /// A short note for the progress line ("sparsity 0.420", "L2 PGD ×4 cost"), or nil; asked
    /// at every redraw.
    var progressNote: String? { get }
    /// Values for the per-epoch history, asked at the end of every epoch.
    func epochValues() -> [(String, Double)]
}

extension TrainingHook {
    public func begin(model: Module, optimizer: Optimizer, totalSteps: Int) throws {}
    public func batch(_ x: Tensor, labels: [Int], step: Int) throws -> Tensor { x }
    public func loss(_ loss: Tensor, x: Tensor, logits: Tensor, labels: [Int], step: Int) throws -> Tensor { loss }
    public func afterBackward(step: Int) throws {}
    public func afterStep(step: Int) throws {}
    public func end() throws {}
    public var progressNote: String? { nil }
    public func epochValues() -> [(String, Double)] { [] }
}

/// The number of optimizer steps `fit` takes with this data and configuration.
public func plannedSteps(samples: Int, config: TrainConfig) -> Int {
    let perEpoch = min(config.maxSamplesPerEpoch ?? samples, samples)
    let batches = (perEpoch + config.batchSize - 1) / max(config.batchSize, 1)
    return batches * max(config.epochs, 0)
}

/// Accuracy of logits [B, C] against labels: the number correct.
public func correctCount(_ logits: Tensor, _ labels: [Int]) -> Int {
    let c = logits.shape.last ?? 1
    var correct = 0
    for (r, y) in labels.enumerated() {
        let row = logits.data + r * c
        var best = 0
        for j in 1..<max(c, 1) where row[j] > row[best] { best = j }
        if best == y { correct += 1 }
    }
    return correct
}

/// Trains `model` on `data` with cross-entropy (or `lossFn` when given, which receives the
/// logits and labels). Calls `afterStep` after every optimizer step (pruners hook in there).
/// Stops after the current step when `shouldStop` says so (by default: Ctrl-C was pressed).
@discardableResult
public func fit(_ model: Module, on data: BatchSource, optimizer: Optimizer, config: TrainConfig,
                validation: BatchSource? = nil,
                lossFn: ((Tensor, [Int]) throws -> Tensor)? = nil,
                hooks: [TrainingHook] = [],
                afterStep: ((Int) throws -> Void)? = nil,
                shouldStop: () -> Bool = { Interrupt.requested }) throws -> History {
    guard config.epochs >= 0, config.batchSize > 0 else {
        throw NNError("train: epochs must be ≥ 0 and batch size > 0 (got \(config.epochs), \(config.batchSize))")
    }
    guard data.count > 0 else { throw NNError("train: the dataset is empty") }
    let rng = RNG(seed: config.seed)
    let progress = ProgressLine(enabled: config.progress && isatty(2) != 0, epochs: config.epochs)
    var history = History()
    model.train()
    defer { model.eval() }
    optimizer.bindMasks(model)
    optimizer.clipsGradients = config.clipNorm != nil
    let totalSteps = plannedSteps(samples: data.count, config: config)
    for h in hooks { try h.begin(model: model, optimizer: optimizer, totalSteps: totalSteps) }
    // Hooks end even when a step throws, so that masks are left consistent.
    var ended = false
    defer { if !ended { for h in hooks { try? h.end() } } }
    let perEpoch = min(config.maxSamplesPerEpoch ?? data.count, data.count)
    for epoch in 1...max(config.epochs, 1) where config.epochs > 0 {
        let start = monotonicSeconds()
        var seen = 0, correct = 0
        var lossSum = 0.0
        for (batch, y) in data.makeBatches(size: config.batchSize, shuffle: config.shuffle, rng: rng) {
            if seen >= perEpoch { break }
            var x = batch
            for h in hooks { x = try h.batch(x, labels: y, step: history.steps + 1) }
            let logits = try model(x)
            if lossFn == nil && history.steps == 0 { try checkOutputs(logits, classes: data.classes) }
            let taskLoss = try lossFn?(logits, y) ?? logits.crossEntropy(labels: y, smoothing: config.labelSmoothing)
            var loss = taskLoss
            for h in hooks { loss = try h.loss(loss, x: x, logits: logits, labels: y, step: history.steps + 1) }
            guard loss.item.isFinite else {
                throw NNError("train: the loss became \(loss.item) at epoch \(epoch), step \(history.steps + 1); try a smaller learning rate")
            }
            optimizer.zeroGrad()
            try loss.backward()
            for h in hooks { try h.afterBackward(step: history.steps + 1) }
            if let c = config.clipNorm { clipGradNorm(optimizer.params, maxNorm: c) }
            GradMode.noGrad { optimizer.step() }
            history.steps += 1
            for h in hooks { try h.afterStep(step: history.steps) }
            try afterStep?(history.steps)
            lossSum += Double(taskLoss.item) * Double(y.count)
            correct += correctCount(logits, y)
            seen += y.count
            progress.update(epoch: epoch, done: seen, total: perEpoch,
                            loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                            elapsed: monotonicSeconds() - start, note: { hooks.compactMap(\.progressNote).joined(separator: ", ") })
            if shouldStop() { history.interrupted = true; break }
        }
        let seconds = monotonicSeconds() - start
        var record = EpochRecord(epoch: epoch, loss: lossSum / Double(max(seen, 1)), accuracy: Double(correct) / Double(max(seen, 1)),
                                 seconds: seconds, samplesPerSecond: Double(seen) / max(seconds, 1e-9))
        record.extras = hooks.flatMap { $0.epochValues() }
        if let validation, !history.interrupted {
            let v = try evaluate(model, on: validation)
            record.validationLoss = v.loss; record.validationAccuracy = v.accuracy
            model.train()
        }
        progress.finish()
        history.epochs.append(record)
        if history.interrupted { break }
    }
    ended = true
    for h in hooks { try h.end() }
    return history
}

/// Mean cross-entropy and accuracy on `data`, in evaluation mode and without recording; masked
/// layers compute with their kept weights where that is faster (`SparseInference`).
public func evaluate(_ model: Module, on data: BatchSource, batchSize: Int = 500) throws -> (loss: Double, accuracy: Double) {
    let wasTraining = model.training
    model.eval()
    model.applyMasks()
    defer { model.train(wasTraining) }
    var lossSum = 0.0, correct = 0, seen = 0
    try GradMode.noGrad {
        try SparseInference.with(model) {
            for (x, y) in data.makeBatches(size: batchSize, shuffle: false, rng: RNG(seed: 0)) {
                let logits = try model(x)
                if seen == 0 { try checkOutputs(logits, classes: data.classes) }
                lossSum += Double(try logits.crossEntropy(labels: y).item) * Double(y.count)
                correct += correctCount(logits, y)
                seen += y.count
            }
        }
    }
    return (lossSum / Double(max(seen, 1)), Double(correct) / Double(max(seen, 1)))
}

/// A classifier gives one score per class: [batch, classes]. Anything else would make accuracy
/// silently meaningless (argmax over the wrong set of classes), so it is an error.
func checkOutputs(_ logits: Tensor, classes: Int) throws {
    guard logits.rank == 2, logits.shape[1] == classes else {
        let got = logits.rank == 2 ? "\(logits.shape[1]) output\(logits.shape[1] == 1 ? "" : "s") per sample" : "outputs of shape \(describe(shape: logits.shape))"
        throw NNError("the model gives \(got) but the data has \(classes) classes; give the model a last layer with \(classes) outputs")
    }
}

/// A single self-overwriting status line on stderr, redrawn at most ten times a second: the
/// epoch's bar, loss and accuracy, speed, the time an epoch takes and the time left for the
/// whole run (every epoch, validation included, at the run's pace so far).
final class ProgressLine {
    let enabled: Bool
    let epochs: Int
    var lastDraw = 0.0
    var drawn = false
    let runStart = monotonicSeconds()
    init(enabled: Bool, epochs: Int) { self.enabled = enabled; self.epochs = epochs }

    func update(epoch: Int, done: Int, total: Int, loss: Double, accuracy: Double, elapsed: Double,
                note: () -> String = { "" }) {
        guard enabled else { return }
        let now = monotonicSeconds()
        guard now - lastDraw >= 0.1 || done >= total else { return }
        lastDraw = now
        let rate = Double(done) / max(elapsed, 1e-9)
        let epochLeft = Double(total - done) / max(rate, 1e-9)
        let width = 24, filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        // The cost of an epoch (elapsed plus what remains) shows what an adversary or a method adds.
        let n = note()
        let line = "epoch \(epoch)/\(epochs) \(bar) \(thousands(done))/\(thousands(total))  loss \(fmt(loss, 4))  acc \(fmt(accuracy, 3))  \(thousands(Int(rate))) samples/s  "
            + "\(duration(elapsed + epochLeft))/epoch  ETA \(duration(ProgressLine.runLeft(epoch: epoch, of: epochs, done: done, total: total, runElapsed: now - runStart)))"
            + (n.isEmpty ? "" : "  (\(n))")
        fputs("\r\u{1B}[K" + line, stderr)
        drawn = true
    }

    /// Seconds left in the whole run, at its pace so far: `done` of `total` samples into epoch
    /// `epoch` of `epochs`, `runElapsed` seconds since it started (earlier epochs' validation
    /// included, so the estimate counts it for the epochs to come).
    static func runLeft(epoch: Int, of epochs: Int, done: Int, total: Int, runElapsed: Double) -> Double {
        let runDone = Double(max(epoch - 1, 0) * total + done)
        let runTotal = Double(max(epochs, epoch) * total)
        guard runDone > 0 else { return 0 }
        return (runTotal - runDone) * runElapsed / runDone
    }

    func finish() {
        if drawn { fputs("\r\u{1B}[K", stderr); drawn = false }
    }
}

/// Fixed-point formatting without Foundation.
public func fmt(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return String(x) }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (abs(x) * p).rounded()
    let whole = Int(r / p), frac = Int(r.truncatingRemainder(dividingBy: p))
    var fs = String(frac)
    while fs.count < digits { fs = "0" + fs }
    return (x < 0 && r != 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + fs : "")
}
