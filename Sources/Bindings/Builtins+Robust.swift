// Robust sources and diff pruning: adversaries (pgd, fgsm) for train(adversary=) and
// transfer(adversary=), robust_accuracy, and diffs (transfer(mode="diff"), apply_diff,
// save/load of a diff).
import Language
import Engine
import NN
import Data
import Pruning

/// An adversary value: the attack `train` and `transfer` train against.
final class AdversaryObject: ScriptObject {
    let attack: PGD
    init(_ attack: PGD) { self.attack = attack }

    var scriptTypeName: String { "adversary" }
    var scriptDisplay: String { attack.description }
    var scriptFieldNames: [String] { ["eps", "norm", "steps", "step_size", "random_start"] }
    func scriptField(_ name: String) -> Value? {
        switch name {
        case "eps": return .number(Double(attack.eps))
        case "norm": return .string(attack.norm.rawValue)
        case "steps": return .number(Double(attack.steps))
        case "step_size": return .number(Double(attack.stepSize))
        case "random_start": return .bool(attack.randomStart)
        default: return nil
        }
    }
}

/// A diff value: a task's sparse difference from its base model.
final class DiffObject: ScriptObject {
    let diff: ModelDiff
    init(_ diff: ModelDiff) { self.diff = diff }

    var scriptTypeName: String { "diff" }
    var scriptDisplay: String {
        "diff: \(diff.nonzeros) non-zeros of \(diff.parameters) shared parameters (\(formatNumber((diff.density * 1e4).rounded() / 100))%)"
            + (diff.replacedCount > 0 ? ", \(diff.replacedCount) values stored whole (new head, buffers)" : "")
    }
    var scriptFieldNames: [String] { ["nonzeros", "parameters", "density", "stored_whole"] }
    func scriptField(_ name: String) -> Value? {
        switch name {
        case "nonzeros": return .number(Double(diff.nonzeros))
        case "parameters": return .number(Double(diff.parameters))
        case "density": return .number(diff.density)
        case "stored_whole": return .number(Double(diff.replacedCount))
        default: return nil
        }
    }
}

extension EngineArgs {
    /// An attack from eps, norm, steps and step_size (nil: `defaultStep`), checked.
    static func attack(_ args: CallArgs, steps: Int, defaultStep: (Float, Int) -> Float, randomStart: Bool) throws -> PGD {
        let eps = try args.number("eps")
        guard eps.isFinite, eps >= 0 else { throw BuiltinError("\(args.builtin): argument 'eps' must be a number ≥ 0, got \(display(args.value("eps")))") }
        let norm = AttackNorm(rawValue: try args.choice("norm", AttackNorm.allCases.map(\.rawValue))) ?? .l2
        var step = defaultStep(Float(eps), steps)
        if args.has("step_size") {
            let s = try args.number("step_size")
            guard s.isFinite, s > 0 else { throw BuiltinError("\(args.builtin): argument 'step_size' must be a number > 0, got \(display(args.value("step_size")))") }
            step = Float(s)
        }
        do { return try PGD(eps: Float(eps), norm: norm, steps: steps, stepSize: step, randomStart: randomStart) } catch let e as PruningError {
            throw BuiltinError(e.message)
        }
    }

    /// The adversary of a train or transfer call, as a training hook on `data`.
    static func adversary(_ args: CallArgs, data: Dataset, seed: UInt64) throws -> TrainingHook? {
        switch args.value("adversary") {
        case .nil_: return nil
        case .object(let o as AdversaryObject): return AdversarialTraining(o.attack, range: data.valueRange, seed: seed ^ 0xAD5E)
        default: throw args.wrong("adversary", "an adversary: pgd(eps=…) or fgsm(eps=…)")
        }
    }

    static func diff(_ args: CallArgs, _ name: String) throws -> ModelDiff {
        if case .object(let o as DiffObject) = args.value(name) { return o.diff }
        throw args.wrong(name, "a diff (from transfer(net, task, mode=\"diff\") or load(path))")
    }
}

extension Builtins {
    static let robust: [Builtin] = [
        Builtin("pgd", [BuiltinParam("eps", nil, "the radius ε of the ball around each input, in the data's (normalised) units"),
                        BuiltinParam("norm", .string("l2"), "\"l2\" or \"linf\""),
                        BuiltinParam("steps", .number(3), "gradient steps"),
                        BuiltinParam("step_size", .nil_, "α (default 2ε/3, Salman et al.'s training attack)"),
                        BuiltinParam("random_start", .bool(true), "start from a random point of the ball")],
                topic: "training", summary: "A projected-gradient-descent adversary for train(adversary=) and transfer(adversary=).",
                help: "Each step moves the input by α along the sign of the loss gradient (linf) or along the normalised gradient (l2), then projects back onto the ε-ball and into the data's valid range (e.g. [0, 1] before normalisation, carried through normalize). Each sample keeps the highest-loss point seen. The model is attacked in evaluation mode. Training with steps=k costs about k + 1 forward-backward passes per batch; the progress line shows the cost per epoch. ε = 0 trains normally.",
                example: "net = mlp([784, 10])\ndata = fashion_mnist(\"train\", limit=256)\ntrain(net, data, adversary=pgd(eps=0.5, norm=\"l2\", steps=3), quiet=true)") { args in
            let steps = try args.int("steps", in: 1...10_000)
            return .object(AdversaryObject(try EngineArgs.attack(args, steps: steps, defaultStep: { eps, _ in 2 * eps / 3 },
                                                                 randomStart: try args.bool("random_start"))))
        },
        Builtin("fgsm", [BuiltinParam("eps", nil, "the size ε of the perturbation"),
                         BuiltinParam("norm", .string("linf"), "\"linf\" (the fast gradient sign method) or \"l2\"")],
                topic: "training", summary: "The fast gradient sign method: one step of size ε from the clean input (PGD with steps=1, no random start).",
                example: "fgsm(eps=0.1)") { args in
            .object(AdversaryObject(try EngineArgs.attack(args, steps: 1, defaultStep: { eps, _ in eps }, randomStart: false)))
        },
        Builtin("robust_accuracy", [BuiltinParam("net", nil, "a model"),
                                    BuiltinParam("data", nil, "a dataset"),
                                    BuiltinParam("eps", nil, "the attack's radius ε (0: clean accuracy)"),
                                    BuiltinParam("norm", .string("l2"), "\"l2\" or \"linf\""),
                                    BuiltinParam("steps", .number(10), "PGD steps"),
                                    BuiltinParam("step_size", .nil_, "α (default 2.5ε/steps, Madry et al.'s evaluation rule)"),
                                    BuiltinParam("seed", .number(0), "seed of the random starts"),
                                    BuiltinParam("batch", .number(500), "batch size")],
                topic: "training", summary: "The fraction of a dataset a model still classifies correctly under a PGD attack of radius ε.",
                help: "Inputs stay within ε of the clean ones (in the chosen norm) and inside the data's valid range. The attack starts at a random point of the ball and keeps each sample's highest-loss point. The same seed gives the same number.",
                example: "net = mlp([784, 10])\ntest = fashion_mnist(\"test\", limit=100)\nrobust_accuracy(net, test, eps=0.5, steps=3)") { args in
            let net = try EngineArgs.model(args, "net")
            let data = try EngineArgs.dataset(args, "data")
            guard data.count > 0 else { throw BuiltinError("robust_accuracy: the dataset is empty") }
            let steps = try args.int("steps", in: 1...10_000)
            let attack = try EngineArgs.attack(args, steps: steps, defaultStep: { eps, k in 2.5 * eps / Float(k) }, randomStart: true)
            let batch = try args.int("batch", in: 1...1_000_000)
            return .number(try robustAccuracy(net, on: data, attack: attack, seed: try args.seed(), batchSize: batch))
        },
        Builtin("apply_diff", [BuiltinParam("base", nil, "the base model the diff was made from (left unchanged)"),
                               BuiltinParam("diff", nil, "a diff")],
                topic: "transfer", summary: "The task model a diff describes: a copy of its base with the diff added (and its new head).",
                help: "The result equals, bit for bit, the model transfer(mode=\"diff\") fine-tuned. The base must be the very model the diff was made from (its parameters are checked); many tasks' diffs share one base.",
                example: "up = mlp([784, 32, 5])\ntask = fashion_mnist(\"train\", classes=5:9, per_class=10)\nd = transfer(up, task, mode=\"diff\", keep=0.01, epochs=1, quiet=true)\nm = apply_diff(up, d)\naccuracy(m, task)") { args in
            let base = try EngineArgs.model(args, "base")
            let diff = try EngineArgs.diff(args, "diff")
            return .model(try diff.apply(to: base))
        },
    ]
}
