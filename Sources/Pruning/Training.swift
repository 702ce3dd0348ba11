// Training with a pruner: gradual pruning through the training hooks, one-shot pruning before
// training, iterative magnitude pruning with rewinding (lottery tickets), and distillation.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import NN

/// Distillation (Hinton et al.; as in Movement Pruning): loss = α·T²·KL(teacher_T ‖ student_T)
/// + (1 − α)·task loss. Composes with any pruner.
public final class Distillation: TrainingHook {
    public let teacher: Module
    public let temperature: Float, alpha: Float

    public init(teacher: Module, temperature: Float = 2, alpha: Float = 0.5) throws {
        guard temperature > 0, temperature.isFinite else { throw EngineError("distillation: temperature must be > 0, got \(temperature)") }
        guard alpha >= 0, alpha <= 1 else { throw EngineError("distillation: alpha must be in [0, 1], got \(alpha)") }
        self.teacher = teacher; self.temperature = temperature; self.alpha = alpha
    }

    public func loss(_ loss: Tensor, x: Tensor, logits: Tensor, labels: [Int], step: Int) throws -> Tensor {
        let wasTraining = teacher.training
        teacher.eval()
        defer { teacher.train(wasTraining) }
        let target = try GradMode.noGrad { try teacher(x) }
        guard target.shape == logits.shape else {
            throw EngineError("distillation: the teacher gives \(describe(shape: target.shape)) but the student \(describe(shape: logits.shape)); they must predict the same classes")
        }
        let kd = try Loss.klDivergence(student: logits, teacher: target, temperature: temperature)
        return try kd * alpha + loss * (1 - alpha)
    }
}

public enum PrunedTraining {
    /// Trains `model` with `pruner` (nil: plain training that still keeps existing masks fixed).
    /// `makeOptimizer` builds a fresh optimizer over the model's parameters for `steps` steps;
    /// lottery tickets train several rounds, each with a new optimizer.
    public static func train(_ model: Module, on data: BatchSource, pruner: Pruner?,
                             makeOptimizer: (_ steps: Int) throws -> Optimizer, config: TrainConfig,
                             validation: BatchSource? = nil, hooks: [TrainingHook] = [],
                             shouldStop: @escaping () -> Bool = { Interrupt.requested }) throws -> History {
        let steps = plannedSteps(samples: data.count, config: config)
        guard let pruner else {
            return try fit(model, on: data, optimizer: makeOptimizer(steps), config: config, validation: validation,
                           hooks: hooks, shouldStop: shouldStop)
        }
        switch pruner.method {
        case .lottery:
            return try lottery(model, on: data, pruner: pruner, makeOptimizer: makeOptimizer, config: config,
                               validation: validation, hooks: hooks, shouldStop: shouldStop)
        case .snip:
            try pruner.pruneOnce(model, data: data, batchSize: config.batchSize)
            return try fit(model, on: data, optimizer: makeOptimizer(steps), config: config, validation: validation,
                           hooks: hooks, shouldStop: shouldStop)
        default:
            // The pruner's penalty comes after distillation has mixed the losses:
            // α·KD + (1 − α)·CE + λ·R, not ((CE + λ·R)·(1 − α) + α·KD).
            return try fit(model, on: data, optimizer: makeOptimizer(steps), config: config, validation: validation,
                           hooks: hooks + [pruner], shouldStop: shouldStop)
        }
    }

    /// Iterative magnitude pruning with rewinding (Frankle & Carbin): train, prune to
    /// keep^(r/rounds), rewind the surviving weights to their values at step `rewind` (0: the
    /// initialisation), repeat; then train the final ticket. Histories are concatenated.
    static func lottery(_ model: Module, on data: BatchSource, pruner: Pruner,
                        makeOptimizer: (Int) throws -> Optimizer, config: TrainConfig, validation: BatchSource?,
                        hooks: [TrainingHook], shouldStop: @escaping () -> Bool) throws -> History {
        try pruner.attach(to: model)
        let steps = plannedSteps(samples: data.count, config: config)
        let recorder = RewindPoint(model: model, step: pruner.config.rewind)
        var history = History()
        let rounds = pruner.config.rounds, target = pruner.config.keep ?? 1
        for round in 0...rounds {
            let run = try fit(model, on: data, optimizer: makeOptimizer(steps), config: config, validation: validation,
                              hooks: (round == 0 ? [recorder] : []) + hooks, shouldStop: shouldStop)
            append(run, to: &history)
            if run.interrupted || round == rounds { break }
            let keep = Swift.max(target, exp(log(target) * Double(round + 1) / Double(rounds)))
            try pruner.pruneOnce(model, data: nil, keepOverride: keep)
            guard let snapshot = recorder.snapshot else {
                throw EngineError("lottery: the rewind step \(pruner.config.rewind) is past the end of a round (\(steps) steps)")
            }
            for (name, t) in model.namedParameters() + model.namedBuffers() { if let s = snapshot[name] { try t.assign(s) } }
            model.applyMasks()
        }
        return history
    }

    static func append(_ run: History, to history: inout History) {
        let offset = history.epochs.count
        for var e in run.epochs { e.epoch += offset; history.epochs.append(e) }
        history.steps += run.steps
        history.interrupted = run.interrupted
    }
}

/// Records the model's weights at one step of training (the lottery ticket's rewind point).
final class RewindPoint: TrainingHook {
    let model: Module
    let step: Int
    var snapshot: [String: Tensor]?
    init(model: Module, step: Int) {
        self.model = model; self.step = step
        if step == 0 { take() }
    }
    func take() {
        var s: [String: Tensor] = [:]
        for (name, t) in model.namedParameters() + model.namedBuffers() { s[name] = t.copy() }
        snapshot = s
    }
    func afterStep(step: Int) throws { if step == self.step { take() } }
}
