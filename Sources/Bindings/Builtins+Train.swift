// Training builtins: train (optimizers, schedules, clipping, label smoothing, validation),
// evaluate and accuracy.
import Language
import FileIO
import Engine
import NN
import Data
import Pruning

extension EngineArgs {
    static var optimizers: [String] { OptimizerKind.names }
    static let schedules = ["constant", "step", "cosine", "warmup_linear"]

    /// The keywords `train` and `transfer` share, declared once (as `figureParams` is for the
    /// figures); each builtin gives its own defaults and may word a keyword for its setting.
    static func trainingParams(epochs: Double, lr: Double, batch: Double, optimizer: String,
                               notes: [String: String] = [:]) -> [BuiltinParam] {
        let params = [BuiltinParam("epochs", .number(epochs), "passes over the data"),
                      BuiltinParam("lr", .number(lr), "learning rate"),
                      BuiltinParam("batch", .number(batch), "batch size"),
                      BuiltinParam("optimizer", .string(optimizer), orList(optimizers.map(quoted))),
                      BuiltinParam("momentum", .number(0.9), "SGD momentum"),
                      BuiltinParam("weight_decay", .number(0), "L2 penalty (decoupled for adamw)"),
                      BuiltinParam("nesterov", .bool(false), "Nesterov momentum (sgd)"),
                      BuiltinParam("schedule", .string("constant"), "\"constant\", \"step\" (×0.1 at 1/3 and 2/3 of the run), \"cosine\" or \"warmup_linear\""),
                      BuiltinParam("warmup", .number(0), "steps of linear warm-up (schedule=\"warmup_linear\")"),
                      BuiltinParam("clip", .nil_, "clip the global gradient norm to this value"),
                      BuiltinParam("label_smoothing", .number(0), "label smoothing in [0, 1)"),
                      BuiltinParam("seed", .nil_, "seed of the shuffling (nil: drawn from the session's generator)"),
                      BuiltinParam("validation", .nil_, "a dataset evaluated after every epoch"),
                      BuiltinParam("pruner", .nil_, "prune while training (see help(\"pruner\"))"),
                      BuiltinParam("teacher", .nil_, "distil from this model: loss = α·T²·KL + (1 − α)·CE"),
                      BuiltinParam("temperature", .number(2), "distillation temperature T"),
                      BuiltinParam("alpha", .number(0.5), "distillation weight α"),
                      BuiltinParam("adversary", .nil_, "train on adversarial examples: pgd(eps=…) or fgsm(eps=…)"),
                      BuiltinParam("quiet", .bool(false), "no progress line")]
        return params.map { p in notes[p.name].map { BuiltinParam(p.name, p.defaultValue, $0) } ?? p }
    }

    /// The optimizer `train` asks for, over every parameter of `net`, with its schedule
    /// computed from the run's total number of steps.
    static func optimizer(_ args: CallArgs, net: Module, totalSteps: Int) throws -> Optimizer {
        let fn = args.builtin
        let name = try args.choice("optimizer", optimizers)
        let lr = try args.number("lr")
        guard lr.isFinite, lr >= 0 else { throw BuiltinError("\(fn): argument 'lr' must be a number ≥ 0, got \(display(args.value("lr")))") }
        let wd = try args.number("weight_decay")
        guard wd.isFinite, wd >= 0 else { throw BuiltinError("\(fn): argument 'weight_decay' must be a number ≥ 0, got \(display(args.value("weight_decay")))") }
        let nesterov = try args.bool("nesterov")
        let kind: OptimizerKind
        switch name {
        case "sgd":
            let momentum = try args.number("momentum")
            guard momentum.isFinite, momentum >= 0, momentum < 1 else {
                throw BuiltinError("\(fn): argument 'momentum' must be in [0, 1), got \(display(args.value("momentum")))")
            }
            if nesterov && momentum == 0 { throw BuiltinError("\(fn): nesterov=true needs momentum > 0") }
            kind = .sgd(momentum: Float(momentum), nesterov: nesterov)
        case "adam":
            if nesterov { throw BuiltinError("\(fn): nesterov applies to optimizer=\"sgd\" only") }
            kind = .adam()
        default:
            if nesterov { throw BuiltinError("\(fn): nesterov applies to optimizer=\"sgd\" only") }
            kind = .adamw()
        }
        let scheduleName = try args.choice("schedule", schedules)
        let warmup = try args.int("warmup", in: 0...Int.max)
        if warmup > 0 && scheduleName != "warmup_linear" {
            throw BuiltinError("\(fn): argument 'warmup' (steps of linear warm-up) needs schedule=\"warmup_linear\", got schedule=\"\(scheduleName)\"")
        }
        let schedule: LRSchedule
        switch scheduleName {
        case "step": schedule = .step(every: Swift.max(1, (totalSteps + 2) / 3), gamma: 0.1)
        case "cosine": schedule = .cosine(total: Swift.max(totalSteps, 1))
        case "warmup_linear": schedule = .warmupLinear(warmup: warmup, total: Swift.max(totalSteps, warmup, 1))
        default: schedule = .constant
        }
        return try Optimizer(kind, parameters: net.namedParameters(), lr: Float(lr), weightDecay: Float(wd), schedule: schedule)
    }

    /// What `train` and `transfer` share: the loop settings, validation set, pruner and
    /// distillation hook read from the call's arguments (checked before anything runs).
    static func trainingRun(_ args: CallArgs, data: Dataset, student: Module?) throws
        -> (config: TrainConfig, validation: Dataset?, pruner: Pruner?, hooks: [TrainingHook]) {
        let fn = args.builtin
        let epochs = try args.int("epochs", in: 0...1_000_000)
        let batch = try args.int("batch", in: 1...1_000_000)
        guard data.count > 0 else { throw BuiltinError("\(fn): the dataset is empty") }
        if let student { _ = try optimizer(args, net: student, totalSteps: 1) }     // checks the settings first
        var config = TrainConfig(epochs: epochs, batchSize: batch)
        if args.has("clip") {
            let c = try args.number("clip")
            guard c.isFinite, c > 0 else { throw BuiltinError("\(fn): argument 'clip' must be a number > 0, got \(display(args.value("clip")))") }
            config.clipNorm = Float(c)
        }
        let smoothing = try args.number("label_smoothing")
        guard smoothing >= 0, smoothing < 1 else {
            throw BuiltinError("\(fn): argument 'label_smoothing' must be in [0, 1), got \(display(args.value("label_smoothing")))")
        }
        config.labelSmoothing = Float(smoothing)
        config.seed = args.has("seed") ? try args.seed() : args.session.rng.next()
        config.progress = !(try args.bool("quiet"))
        var validation: Dataset?
        if args.has("validation") { validation = try dataset(args, "validation") }
        var pruner: Pruner?
        if args.has("pruner") { pruner = try startPruner(args, "pruner") }
        var hooks: [TrainingHook] = []
        if args.has("teacher") {
            let teacher = try model(args, "teacher")
            guard teacher !== student else { throw BuiltinError("\(fn): the teacher must be another model (copy(net) before pruning it)") }
            hooks.append(try Distillation(teacher: teacher, temperature: try args.float("temperature"), alpha: try args.float("alpha")))
        }
        // Adversarial examples come first: distillation and penalties see the perturbed batch.
        if let adversary = try adversary(args, data: data, seed: config.seed) { hooks.insert(adversary, at: 0) }
        return (config, validation, pruner, hooks)
    }

    /// Says on the session's output that Ctrl-C stopped a run early.
    static func announceInterrupt(_ history: History, _ args: CallArgs) {
        guard history.interrupted else { return }
        let epochs = (try? args.int("epochs")) ?? history.epochs.count
        args.session.write("interrupted: training stopped in epoch \(history.epochs.count) of \(epochs), after \(history.steps) steps\n")
    }

    /// The per-epoch table of a training run.
    static func historyTable(_ history: History, validation: Bool) -> Table {
        let table = Table()
        for e in history.epochs {
            var row: [(String, Value)] = [("epoch", .number(Double(e.epoch))), ("loss", .number(e.loss)), ("acc", .number(e.accuracy))]
            if validation {
                row.append(("val_loss", e.validationLoss.map { .number($0) } ?? .nil_))
                row.append(("val_acc", e.validationAccuracy.map { .number($0) } ?? .nil_))
            }
            row += e.extras.map { ($0.0, .number($0.1)) }
            row.append(("seconds", .number(e.seconds)))
            row.append(("samples_per_s", .number(e.samplesPerSecond.rounded())))
            table.add(row)
        }
        if table.rows.isEmpty {
            table.columns = ["epoch", "loss", "acc"] + (validation ? ["val_loss", "val_acc"] : []) + ["seconds", "samples_per_s"]
        }
        return table
    }
}

extension Builtins {
    static let training: [Builtin] = [
        Builtin("train", [BuiltinParam("net", nil, "the model to train (updated in place)"),
                          BuiltinParam("data", nil, "the training dataset")] + EngineArgs.trainingParams(epochs: 1, lr: 0.05, batch: 128, optimizer: "sgd"),
                topic: "training", summary: "Trains a model with cross-entropy; returns a table with one row per epoch.",
                help: "Columns: epoch, loss, acc (on the training batches), val_loss and val_acc (with validation=), seconds, samples_per_s. A progress line shows on a terminal. Ctrl-C stops after the current step: the table then holds the partial run. With adversary=pgd(...) every batch is replaced by its adversarial examples (Madry et al.), at (steps + 1)× the cost. The learning-rate schedules are computed from the run's total number of steps. With pruner=, masks follow the pruner's schedule and are fixed at the end (pruned weights exactly 0); a model that already has masks keeps them fixed in any training. A lottery pruner trains rounds+1 times (the table has every round's epochs).",
                example: "net = mlp([784, 100, 10])\nhistory = train(net, fashion_mnist(\"train\", limit=2000), epochs=1, lr=0.05)") { args in
            let net = try EngineArgs.model(args, "net")
            let data = try EngineArgs.dataset(args, "data")
            let run = try EngineArgs.trainingRun(args, data: data, student: net)
            let session = args.session
            let history = try PrunedTraining.train(net, on: data, pruner: run.pruner,
                                                   makeOptimizer: { steps in try EngineArgs.optimizer(args, net: net, totalSteps: steps) },
                                                   config: run.config, validation: run.validation, hooks: run.hooks,
                                                   shouldStop: { session.interruptCheck() })
            EngineArgs.announceInterrupt(history, args)
            return .table(EngineArgs.historyTable(history, validation: run.validation != nil))
        },

        Builtin("evaluate", [BuiltinParam("net", nil, "a model"),
                             BuiltinParam("data", nil, "a dataset"),
                             BuiltinParam("batch", .number(500), "batch size")],
                topic: "training", summary: "Mean cross-entropy loss and accuracy of a model on a dataset: {loss, acc}.",
                help: "Runs in evaluation mode (no dropout, batch norm with running statistics) without recording gradients.",
                example: "net = mlp([784, 10])\nevaluate(net, fashion_mnist(\"test\", limit=500))") { args in
            let net = try EngineArgs.model(args, "net")
            let data = try EngineArgs.dataset(args, "data")
            let batch = try args.int("batch", in: 1...1_000_000)
            guard data.count > 0 else { throw BuiltinError("evaluate: the dataset is empty") }
            let r = try evaluate(net, on: data, batchSize: batch)
            return .record(RecordRef([("loss", .number(r.loss)), ("acc", .number(r.accuracy))]))
        },

        Builtin("accuracy", [BuiltinParam("net", nil, "a model"),
                             BuiltinParam("data", nil, "a dataset")],
                topic: "training", summary: "The fraction of a dataset a model classifies correctly.",
                help: "Runs in evaluation mode without recording gradients.",
                example: "net = mlp([784, 10])\naccuracy(net, fashion_mnist(\"test\", limit=500))") { args in
            let net = try EngineArgs.model(args, "net")
            let data = try EngineArgs.dataset(args, "data")
            guard data.count > 0 else { throw BuiltinError("accuracy: the dataset is empty") }
            return .number(try evaluate(net, on: data).accuracy)
        },
    ]
}
