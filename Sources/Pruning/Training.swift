// Training with a pruner: gradual pruning through the training hooks, or a method's own
// training procedure (lottery rounds, SNIP), and distillation.
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
        guard temperature > 0, temperature.isFinite else { throw PruningError.invalid("distillation: temperature must be > 0, got \(temperature)") }
        guard alpha >= 0, alpha <= 1 else { throw PruningError.invalid("distillation: alpha must be in [0, 1], got \(alpha)") }
        self.teacher = teacher; self.temperature = temperature; self.alpha = alpha
    }

    public func loss(_ loss: Tensor, x: Tensor, logits: Tensor, labels: [Int], step: Int) throws -> Tensor {
        let wasTraining = teacher.training
        teacher.eval()
        defer { teacher.train(wasTraining) }
        let target = try GradMode.noGrad { try teacher(x) }
        guard target.shape == logits.shape else {
            throw PruningError.invalid("distillation: the teacher gives \(describe(shape: target.shape)) but the student \(describe(shape: logits.shape)); they must predict the same classes")
        }
        let kd = try Loss.klDivergence(student: logits, teacher: target, temperature: temperature)
        return try kd * alpha + loss * (1 - alpha)
    }
}

/// One training run's arguments, for procedures that train in several parts.
public struct TrainingRun {
    public let model: Module
    public let data: BatchSource
    let makeOptimizer: (_ steps: Int) throws -> Optimizer
    public let config: TrainConfig
    public let validation: BatchSource?
    /// The caller's hooks (distillation, …), run on every part.
    public let hooks: [TrainingHook]
    let shouldStop: () -> Bool

    /// Optimizer steps in one pass of `fit`.
    public var steps: Int { plannedSteps(samples: data.count, config: config) }

    /// One `fit` with a fresh optimizer and the caller's hooks, after `before` and before `after`.
    public func fit(before: [TrainingHook] = [], after: [TrainingHook] = []) throws -> History {
        try NN.fit(model, on: data, optimizer: makeOptimizer(steps), config: config, validation: validation,
                   hooks: before + hooks + after, shouldStop: shouldStop)
    }

    /// Concatenates histories (epochs renumbered).
    public static func append(_ run: History, to history: inout History) {
        let offset = history.epochs.count
        for var e in run.epochs { e.epoch += offset; history.epochs.append(e) }
        history.steps += run.steps
        history.interrupted = run.interrupted
    }
}

/// Training that replaces a single `fit` for a method (lottery rounds, SNIP's pruning first).
public protocol TrainingProcedure: AnyObject {
    func train(_ run: TrainingRun, pruner: Pruner) throws -> History
}

public enum PrunedTraining {
    /// Trains `model` with `pruner` (nil: plain training that still keeps existing masks fixed).
    /// `makeOptimizer` builds a fresh optimizer over the model's parameters for `steps` steps;
    /// a method's training procedure may train several times, each with a new optimizer.
    public static func train(_ model: Module, on data: BatchSource, pruner: Pruner?,
                             makeOptimizer: (_ steps: Int) throws -> Optimizer, config: TrainConfig,
                             validation: BatchSource? = nil, hooks: [TrainingHook] = [],
                             shouldStop: @escaping () -> Bool = { Interrupt.requested }) throws -> History {
        try withoutActuallyEscaping(makeOptimizer) { makeOptimizer in
            let run = TrainingRun(model: model, data: data, makeOptimizer: makeOptimizer, config: config,
                                  validation: validation, hooks: hooks, shouldStop: shouldStop)
            guard let pruner else { return try run.fit() }
            pruner.trainingData = data
            defer { pruner.trainingData = nil }
            if let procedure = pruner.method.procedure { return try procedure.train(run, pruner: pruner) }
            // The pruner's penalty comes after distillation has mixed the losses:
            // α·KD + (1 − α)·CE + λ·R, not ((CE + λ·R)·(1 − α) + α·KD).
            return try run.fit(after: [pruner])
        }
    }
}
