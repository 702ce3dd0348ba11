// Pruning builtins: pruner (a method with its settings), prune (one-shot), and the mask tools
// freeze_mask, report, masks, scores, bake, copy_mask. train(pruner=...) lives with train.
import Engine
import NN
import Pruning

/// A pruner value: a method and its settings. Every use (train, prune) starts a fresh pruner
/// from these settings, so one value can serve a sweep over seeds.
final class PrunerObject: ScriptObject {
    let config: PrunerConfig
    init(_ config: PrunerConfig) { self.config = config }

    var typeName: String { "pruner" }

    var display: String {
        var parts = ["\"\(config.method.rawValue)\""]
        if let keep = config.keep { parts.append("keep=\(formatNumber(keep))") }
        if config.method.setsOwnSparsity { parts.append("lambda=\(formatNumber(config.lambda))") }
        if config.method == .softMovement { parts.append("threshold=\(formatNumber(config.threshold))") }
        if config.method == .lottery {
            parts.append("rounds=\(config.rounds)"); parts.append("rewind=\(config.rewind)")
        } else {
            parts.append("schedule=\"\(config.schedule.kind.rawValue)\"")
        }
        parts.append("scope=\"\(config.scope.rawValue)\"")
        return "pruner(" + parts.joined(separator: ", ") + ")"
    }

    var fieldNames: [String] { ["method", "keep", "sparsity", "schedule", "scope", "every", "warmup", "cooldown"] }

    func field(_ name: String) -> Value? {
        switch name {
        case "method": .string(config.method.rawValue)
        case "keep": config.keep.map { .number($0) } ?? .nil_
        case "sparsity": config.keep.map { .number(1 - $0) } ?? .nil_
        case "schedule": .string(config.schedule.kind.rawValue)
        case "scope": .string(config.scope.rawValue)
        case "every": .number(Double(config.schedule.every))
        case "warmup": .number(config.schedule.warmup)
        case "cooldown": .number(config.schedule.cooldown)
        default: nil
        }
    }
}

extension EngineArgs {
    static func pruner(_ args: CallArgs, _ name: String) throws -> PrunerConfig {
        if case .object(let o) = args.value(name), let p = o as? PrunerObject { return p.config }
        throw args.wrong(name, "a pruner (see help(\"pruner\"))")
    }

    /// Glob patterns from a string or a list of strings (nil: none).
    static func patterns(_ args: CallArgs, _ name: String) throws -> [String] {
        switch args.value(name) {
        case .nil_: return []
        case .string(let s): return [s]
        case .list(let l):
            return try l.items.map { v in
                guard case .string(let s) = v else { throw args.wrong(name, "a name pattern or a list of them") }
                return s
            }
        default: throw args.wrong(name, "a name pattern or a list of them")
        }
    }

    /// A fraction argument as a Double, checked to be finite.
    static func fraction(_ args: CallArgs, _ name: String) throws -> Double {
        let x = try args.number(name)
        guard x.isFinite else { throw BuiltinError("\(args.builtin): argument '\(name)' must be a finite number") }
        return x
    }

    /// The report of a model as a table, with a total row.
    static func reportTable(_ r: PruningReport) -> Table {
        let table = Table()
        func cell(_ x: Double?) -> Value { x.map { .number(($0 * 10_000).rounded() / 10_000) } ?? .nil_ }
        func count(_ x: Int?) -> Value { x.map { .number(Double($0)) } ?? .nil_ }
        for l in r.layers {
            table.add([("layer", .string(l.name)), ("shape", .string(describe(shape: l.shape))),
                       ("params", count(l.parameters)), ("method", l.method.map { .string($0) } ?? .nil_),
                       ("requested", cell(l.requested)), ("achieved", cell(l.achieved)),
                       ("nonzeros", count(l.nonzeros)), ("flops", count(l.denseFLOPs)), ("sparse_flops", count(l.sparseFLOPs))])
        }
        table.add([("layer", .string("total")), ("shape", .string("")), ("params", count(r.parameters)), ("method", .string("")),
                   ("requested", cell(r.requested)), ("achieved", cell(r.achieved)), ("nonzeros", count(r.nonzeros)),
                   ("flops", count(r.denseFLOPs)), ("sparse_flops", count(r.sparseFLOPs))])
        return table
    }
}

extension Builtins {
    static let pruning: [Builtin] = [
        Builtin("pruner", [BuiltinParam("method", nil, "\"random\", \"magnitude\", \"movement\", \"soft_movement\", \"l0\", \"taylor\", \"snip\" or \"lottery\""),
                           BuiltinParam("keep", .nil_, "fraction of weights kept at the end, in (0, 1]"),
                           BuiltinParam("sparsity", .nil_, "or the fraction removed, 1 − keep"),
                           BuiltinParam("schedule", .nil_, "\"oneshot\", \"constant\", \"linear\" or \"cubic\" (default: cubic; oneshot for snip)"),
                           BuiltinParam("scope", .string("layer"), "\"layer\" (each matrix keeps its share) or \"global\" (one threshold)"),
                           BuiltinParam("every", .nil_, "recompute masks every this many steps (default 1 for movement and soft_movement, as their authors, else 10)"),
                           BuiltinParam("warmup", .number(0.1), "fraction of training before pruning starts"),
                           BuiltinParam("cooldown", .number(0.2), "fraction of training at the target at the end"),
                           BuiltinParam("include", .nil_, "name patterns of parameters to prune (default: Linear and Conv weights but the classifier)"),
                           BuiltinParam("exclude", .nil_, "name patterns to leave alone"),
                           BuiltinParam("score_lr", .nil_, "learning rate of the scores (default 1e-2; 0.1 for l0)"),
                           BuiltinParam("score_optimizer", .string("adam"), "\"adam\" or \"sgd\" for the scores"),
                           BuiltinParam("threshold", .number(0.1), "soft_movement: final threshold τ on sigmoid(scores)"),
                           BuiltinParam("lambda", .nil_, "penalty weight: soft_movement's final λ (400), l0's λ (1)"),
                           BuiltinParam("init", .nil_, "initial score (default 0; 2.197 for l0 logits)"),
                           BuiltinParam("batches", .nil_, "batches of data for snip (4) and one-shot taylor (16)"),
                           BuiltinParam("rounds", .number(3), "lottery: rounds of train, prune, rewind"),
                           BuiltinParam("rewind", .number(0), "lottery: the step whose weights survivors rewind to (0: initialisation)"),
                           BuiltinParam("seed", .nil_, "seed for random masks and L0 noise (nil: from the session)")],
                topic: "pruning", summary: "A pruning method with its settings, for train(..., pruner=p) or prune(net, p).",
                help: "magnitude keeps the largest |w|; movement learns scores S (straight-through top-k, Adam lr 1e-2); soft_movement thresholds sigmoid(S) with a penalty and reaches its own sparsity (set lambda=); l0 learns hard-concrete gates (set lambda=); taylor ranks by Σ|w·∂L/∂w| over batches; snip ranks |w·∂L/∂w| at initialisation; random ranks at random; lottery prunes by magnitude between rounds of training and rewinds the survivors. The cubic schedule (Zhu & Gupta) keeps everything during warm-up, prunes fast then slowly, and holds the target during cool-down. Masks stay fixed after training: pruned weights are exactly 0.",
                example: "p = pruner(\"movement\", keep=0.1, schedule=\"cubic\")\np.keep") { args in
            let fn = "pruner"
            let name = try args.string("method")
            guard let method = PruneMethod(rawValue: name) else {
                throw BuiltinError("\(fn): unknown method \"\(name)\"; choose one of " + PruneMethod.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
            }
            var keep: Double?
            if args.has("keep") && args.has("sparsity") { throw BuiltinError("\(fn): give keep= or sparsity=, not both") }
            if args.has("keep") {
                keep = try EngineArgs.fraction(args, "keep")
                guard let k = keep, k > 0, k <= 1 else { throw BuiltinError("\(fn): keep must be in (0, 1], got \(formatNumber(keep ?? 0))") }
            }
            if args.has("sparsity") {
                let s = try EngineArgs.fraction(args, "sparsity")
                guard s >= 0, s < 1 else { throw BuiltinError("\(fn): sparsity must be in [0, 1), got \(formatNumber(s))") }
                keep = 1 - s
            }
            var config = PrunerConfig(method, keep: keep)
            if args.has("schedule") {
                let s = try EngineArgs.choice(args, "schedule", PruneSchedule.Kind.allCases.map(\.rawValue))
                config.schedule.kind = PruneSchedule.Kind(rawValue: s) ?? .cubic
            }
            config.scope = PruneScope(rawValue: try EngineArgs.choice(args, "scope", PruneScope.allCases.map(\.rawValue))) ?? .layer
            if args.has("every") { config.schedule.every = try EngineArgs.int(args, "every", in: 1...1_000_000) }
            config.schedule.warmup = try EngineArgs.fraction(args, "warmup")
            config.schedule.cooldown = try EngineArgs.fraction(args, "cooldown")
            config.include = try EngineArgs.patterns(args, "include")
            config.exclude = try EngineArgs.patterns(args, "exclude")
            if args.has("score_lr") { config.scoreLR = try args.float("score_lr") }
            switch try EngineArgs.choice(args, "score_optimizer", ["adam", "sgd"]) {
            case "sgd": config.scoreOptimizer = .sgd()
            default: config.scoreOptimizer = .adam()
            }
            config.threshold = try EngineArgs.fraction(args, "threshold")
            if args.has("lambda") { config.lambda = try EngineArgs.fraction(args, "lambda") }
            if args.has("init") { config.scoreInit = Float(try EngineArgs.fraction(args, "init")) }
            if args.has("batches") { config.batches = try EngineArgs.int(args, "batches", in: 1...1_000_000) }
            config.rounds = try EngineArgs.int(args, "rounds", in: 1...100)
            config.rewind = try EngineArgs.int(args, "rewind", in: 0...Int.max)
            config.seed = args.has("seed") ? try EngineArgs.seed(args) : args.session.rng.next()
            do { try config.validate() } catch let e as EngineError { throw BuiltinError("\(fn): \(e.message)") }
            return .object(PrunerObject(config))
        },

        Builtin("prune", [BuiltinParam("net", nil, "the model to prune (in place)"),
                          BuiltinParam("p", nil, "a pruner"),
                          BuiltinParam("data", .nil_, "batches for taylor and snip"),
                          BuiltinParam("batch", .number(128), "batch size for taylor and snip")],
                topic: "pruning", summary: "Prunes a model once to the pruner's target: the masks stay fixed afterwards.",
                help: "Works with magnitude, random, taylor and snip (the last two need data=). Methods that learn scores (movement, soft_movement, l0) prune while training: train(net, data, pruner=p). Returns the sparsity reached over the pruned weights.",
                example: "net = mlp([784, 300, 10])\nprune(net, pruner(\"magnitude\", keep=0.2))\nsparsity(net)") { args in
            let net = try EngineArgs.model(args, "net")
            let config = try EngineArgs.pruner(args, "p")
            var data: BatchSource?
            if args.has("data") { data = try EngineArgs.dataset(args, "data") }
            let batch = try EngineArgs.int(args, "batch", in: 1...1_000_000)
            let pruner = try Pruner(config)
            try pruner.pruneOnce(net, data: data, batchSize: batch)
            let pruned = Set(pruner.targets.map(\.name))
            let layers = Masks.report(net).layers.filter { pruned.contains($0.name) }
            let n = layers.reduce(0) { $0 + $1.parameters }, nz = layers.reduce(0) { $0 + $1.nonzeros }
            return .number(n > 0 ? 1 - Double(nz) / Double(n) : 0)
        },

        Builtin("freeze_mask", [BuiltinParam("net", nil, "a model with masks")],
                topic: "pruning", summary: "Fixes a model's masks: later training keeps pruned weights at exactly 0, later pruners only remove more.",
                help: "Learned masks (movement, soft_movement, l0) become fixed 0/1 masks; L0 gates fold their value into the weights. Returns the number of masks.",
                example: "net = mlp([784, 100, 10])\nprune(net, pruner(\"magnitude\", keep=0.5))\nfreeze_mask(net)") { args in
            .number(Double(try Masks.freeze(try EngineArgs.model(args, "net"))))
        },

        Builtin("report", [BuiltinParam("net", nil, "a model")],
                topic: "pruning", summary: "Per prunable layer: shape, parameters, method, requested and achieved sparsity, non-zeros, FLOPs.",
                help: "Rows are the Linear and Conv weights (not the classifier) and every masked parameter, then a total. FLOPs are per sample (2 × multiply-adds), dense and counting only non-zero weights; a convolution's are known once the model has run.",
                example: "net = mlp([784, 100, 10])\nprune(net, pruner(\"magnitude\", keep=0.3))\nreport(net)") { args in
            .table(EngineArgs.reportTable(Masks.report(try EngineArgs.model(args, "net"))))
        },

        Builtin("masks", [BuiltinParam("net", nil, "a model")],
                topic: "pruning", summary: "The model's masks, as a record from parameter name to 0/1 tensor.",
                example: "net = mlp([784, 100, 10])\nprune(net, pruner(\"magnitude\", keep=0.5))\nkeys(masks(net))") { args in
            let net = try EngineArgs.model(args, "net")
            return .record(RecordRef(net.namedGates().map { ($0.0, .tensor($0.1.mask)) }))
        },

        Builtin("scores", [BuiltinParam("net", nil, "a model")],
                topic: "pruning", summary: "The learned scores behind the masks (movement, soft_movement, l0), by parameter name.",
                example: "net = mlp([784, 100, 10])\nkeys(scores(net))") { args in
            let net = try EngineArgs.model(args, "net")
            return .record(RecordRef(net.namedGates().compactMap { n, g in g.scores.map { (n, .tensor($0)) } }))
        },

        Builtin("bake", [BuiltinParam("net", nil, "a model with masks")],
                topic: "pruning", summary: "Makes the zeros permanent and drops the masks (and scores).",
                help: "Afterwards the model is an ordinary dense model whose pruned weights are 0; training it again can revive them. Returns the number of masks removed.",
                example: "net = mlp([784, 100, 10])\nprune(net, pruner(\"magnitude\", keep=0.5))\nbake(net)") { args in
            .number(Double(try Masks.bake(try EngineArgs.model(args, "net"))))
        },

        Builtin("copy_mask", [BuiltinParam("from", nil, "the model whose masks are copied"),
                              BuiltinParam("to", nil, "the model that receives them (same parameter names and shapes)")],
                topic: "pruning", summary: "Copies masks to another model, fixed: an upstream mask carried downstream.",
                help: "Each masked parameter of `from` must exist in `to` with the same shape. The target's weights are zeroed where the mask is 0. Returns the number of masks copied.",
                example: "a = mlp([784, 100, 10]); b = mlp([784, 100, 10])\nprune(a, pruner(\"magnitude\", keep=0.5))\ncopy_mask(a, b)") { args in
            .number(Double(try Masks.copy(from: try EngineArgs.model(args, "from"), to: try EngineArgs.model(args, "to"))))
        },
    ]
}
