// The transfer builtin: linear probe, full fine-tuning, fine-tuning while pruning, diff pruning,
// with the training keywords `train` shares (EngineArgs.trainingParams).
import Language
import Engine
import FileIO
import NN
import Data
import Pruning

extension Builtins {
    static let transferring: [Builtin] = [
        Builtin("transfer", [BuiltinParam("net", nil, "the upstream model (left unchanged)"),
                             BuiltinParam("task", nil, "the downstream dataset"),
                             BuiltinParam("mode", .string("full"), "\"linear\" (probe: frozen body, new head), \"full\" (fine-tune everything) or \"diff\" (diff pruning: learn a sparse difference)"),
                             BuiltinParam("keep", .nil_, "mode=\"diff\": the fraction of shared parameters the diff may change (default 0.005)"),
                             BuiltinParam("structured", .bool(false), "mode=\"diff\": one extra gate per parameter tensor"),
                             BuiltinParam("finetune", .number(1), "mode=\"diff\": epochs of fine-tuning the kept entries after the projection"),
                             BuiltinParam("keep_mask", .bool(true), "keep the upstream masks fixed (false: pruned weights may regrow)"),
                             BuiltinParam("head", .string("new"), "\"new\" (a fresh classifier for the task's classes) or \"keep\"")] + EngineArgs.trainingParams(epochs: 10, lr: 3e-4, batch: 32, optimizer: "adam", notes: [
                                 "epochs": "passes over the task",
                                 "seed": "seed of the new head and of the shuffling",
                                 "pruner": "prune while fine-tuning (mode=\"full\")",
                                 "teacher": "distil from this model (it must predict the task's classes)",
                                 "adversary": "fine-tune on adversarial examples: pgd(eps=…) or fgsm(eps=…)"]),
                topic: "transfer", summary: "Adapts a copy of an upstream model to a new task: linear probe, full fine-tuning, or fine-tuning while pruning.",
                help: "The classifier (the model's last Linear layer) is replaced by a fresh one sized for the task's classes. mode=\"linear\" freezes the body and trains only the head, on features computed once (every batch when the task is augmented). mode=\"full\" fine-tunes every parameter; upstream masks stay fixed unless keep_mask=false; with pruner= the pruner prunes while fine-tuning (within a kept upstream mask). mode=\"diff\" (diff pruning, Guo et al. 2021) keeps the body's weights and learns θ + δ with δ = z ⊙ w under hard-concrete gates z (l = −1.5, r = 1.5, logits from 5, λ = 1.25e-7 on the expected number of open gates), projects δ to its keep·n largest entries and fine-tunes those for finetune= epochs; it returns the diff, not a model: apply_diff(net, d) rebuilds the task model and save(d, path) stores only the diff. The defaults follow the Movement Pruning transfer protocol: Adam, lr 3e-4, batch 32, 10 epochs. Returns the adapted model; the upstream model is not modified.",
                example: "up = mlp([784, 100, 5])\ntask = fashion_mnist(\"train\", classes=5:9, per_class=20)\nprobe = transfer(up, task, mode=\"linear\", epochs=1, quiet=true)\naccuracy(probe, task)") { args in
            let net = try EngineArgs.model(args, "net")
            let task = try EngineArgs.dataset(args, "task")
            var config = TransferConfig()
            let mode = try args.choice("mode", TransferMode.allCases.map(\.rawValue))
            config.mode = TransferMode(rawValue: mode) ?? .full
            if config.mode == .diff {
                if args.has("keep") {
                    let keep = try args.number("keep")
                    guard PrunerConfig.isValidKeep(keep) else {
                        throw BuiltinError("transfer: argument 'keep' must be in (0, 1], got \(display(args.value("keep")))")
                    }
                    config.diff.keep = keep
                }
                config.diff.structured = try args.bool("structured")
                config.diff.finetuneEpochs = try args.int("finetune", in: 0...1_000_000)
            } else {
                let given = args.has("keep") ? "keep" : (try args.bool("structured")) ? "structured" : nil
                if let given {
                    throw BuiltinError("transfer: \(given)= belongs to diff pruning (mode=\"diff\"); to prune while fine-tuning pass pruner=")
                }
            }
            config.keepMask = try args.bool("keep_mask")
            config.newHead = try args.choice("head", ["new", "keep"]) == "new"
            let run = try EngineArgs.trainingRun(args, data: task, student: net)
            config.headSeed = run.config.seed
            let session = args.session
            do {
                let (model, history, diff) = try Transfer.run(net, to: task, config: config, pruner: run.pruner, hooks: run.hooks,
                                                              makeOptimizer: { m, steps in try EngineArgs.optimizer(args, net: m, totalSteps: steps) },
                                                              train: run.config, validation: run.validation,
                                                              shouldStop: { session.interruptCheck() })
                EngineArgs.announceInterrupt(history, args)
                if let diff { return .object(DiffObject(diff)) }
                return .model(model)
            } catch let e as LibraryError { throw BuiltinError(e.scriptText) }
        },

    ]
}
