// Pruning builtins: pruner (a method with its settings), prune (one-shot), and the mask tools
// freeze_mask, report, masks, scores, bake, copy_mask. train(pruner=...) lives with train.
import Language
import Engine
import NN
import Pruning

/// A pruner value: a method and its settings. Every use (train, prune) starts a fresh pruner
/// from these settings, so one value can serve a sweep over seeds.
final class PrunerObject: ScriptObject {
    let config: PrunerConfig
    /// The pruner of the last run that used this value (train, transfer, prune), for history(p).
    var lastRun: Pruner?
    init(_ config: PrunerConfig) { self.config = config }

    var scriptTypeName: String { "pruner" }

    var scriptDisplay: String {
        let m = config.method
        var parts = ["\"\(m.name)\""]
        if !config.layerKeep.isEmpty {
            let pairs = config.layerKeep.map { "\"\($0.pattern)\": \(formatNumber($0.keep))" } + (config.keep.map { ["\"*\": \(formatNumber($0))"] } ?? [])
            parts.append("keep={" + pairs.joined(separator: ", ") + "}")
        } else if let keep = config.keep {
            parts.append("keep=\(formatNumber(keep))")
        }
        for p in m.parameters where p.displayed || config.settings.explicit.contains(p.name) {
            parts.append("\(p.name)=\(config.settings.values[p.name].map { "\($0)" } ?? "nil")")
        }
        if !m.schedules.isEmpty { parts.append("schedule=\"\(config.schedule.kind.rawValue)\"") }
        parts.append("scope=\"\(config.scope.rawValue)\"")
        if config.granularity != .element { parts.append("granularity=\"\(config.granularity)\"") }
        return "pruner(" + parts.joined(separator: ", ") + ")"
    }

    var scriptFieldNames: [String] {
        ["method", "keep", "sparsity", "schedule", "scope", "granularity", "every", "warmup", "cooldown"] + config.method.parameters.map(\.name)
    }

    func scriptField(_ name: String) -> Value? {
        switch name {
        case "method": return .string(config.method.name)
        case "keep": return config.keep.map { .number($0) } ?? .nil_
        case "sparsity": return config.keep.map { .number(1 - $0) } ?? .nil_
        case "schedule": return .string(config.schedule.kind.rawValue)
        case "scope": return .string(config.scope.rawValue)
        case "granularity": return .string(config.granularity.description)
        case "every": return .number(Double(config.schedule.every))
        case "warmup": return .number(config.schedule.warmup)
        case "cooldown": return .number(config.schedule.cooldown)
        default:
            switch config.settings.values[name] {
            case .number(let x)?: return .number(x)
            case .text(let t)?: return .string(t)
            case nil: return nil
            }
        }
    }
}

/// The library's pruning errors with the language's keywords and calls.
extension PruningError: ScriptWorded {
    public var scriptMessage: String {
        switch self {
        case let .needsTarget(method): return "\(method) needs keep= (the fraction of weights kept) or sparsity="
        case let .takesNoTarget(method):
            let knobs = Methods.named(method)?.parameters.filter(\.displayed).map { $0.name + "=" } ?? []
            return "\(method) reaches the sparsity its penalty gives\(knobs.isEmpty ? "" : " (set " + knobs.joined(separator: ", ") + ")"); it takes no keep= or sparsity="
        case let .needsData(method): return "\(method) chooses what to remove from data: pass data= (prune(net, p, data=d))"
        case let .learnsWhileTraining(method): return "\(method) learns its scores while training: use train(net, data, pruner=p)"
        case let .unknownParameter(name, method, known):
            return "unknown keyword '\(name)' for pruner(\"\(method)\")" + PrunerKeywords.hint(name, method: method, known: known)
        case let .missingLayers(method, _, _):
            switch method {
            case "gates": return "gates trains the unit gates that gates(net) inserts; this model has none"
            case "basis": return "basis pruning removes the bases that basis(net) makes; this model has none"
            case "channel_scaling": return "channel_scaling trains the scales that channel_scales(net) inserts; this model has none"
            default: return description
            }
        case let .prunesOnceFromData(method):
            return "\(method) prunes once, from data: use prune(net, p, data) or schedule=\"oneshot\" with data"
        default: return description
        }
    }
}

extension TransferError: ScriptWorded {
    public var scriptMessage: String {
        switch self {
        case let .headClasses(upstream, task):
            return "head=\"keep\" needs the task to have the upstream's \(upstream) classes, but it has \(task); use head=\"new\""
        case .probeWithPruner:
            return "pruner= prunes the body, which a linear probe (mode=\"linear\") keeps frozen; use mode=\"full\""
        case .diffWithPruner:
            return "mode=\"diff\" chooses the entries of its diff itself (keep= sets how many); it takes no pruner="
        case .probeWithAdversary:
            return "adversary= needs inputs to perturb, but a linear probe (mode=\"linear\") trains on features computed once; use mode=\"full\""
        case .diffOfMaskedModel:
            return "diff pruning needs a model without masks (its diff would regrow pruned weights); transfer with keep_mask=false"
        }
    }
}

/// The keywords `pruner` takes: the shared ones of its parameter list, and each method's own.
enum PrunerKeywords {
    /// The keywords every method takes (the rest are each method's own declarations).
    static let params: [BuiltinParam] = [
        BuiltinParam("method", nil, "one of " + Methods.names.map { "\"\($0)\"" }.joined(separator: ", ")),
        BuiltinParam("keep", .nil_, "fraction of weights kept at the end, in (0, 1], or a record of name patterns to fractions ({\"layers.1.*\": 0.05, \"*\": 0.2}: the first match wins)"),
        BuiltinParam("sparsity", .nil_, "or the fraction removed, 1 − keep"),
        BuiltinParam("schedule", .nil_, "\"oneshot\", \"constant\", \"linear\" or \"cubic\" (default: the method's)"),
        BuiltinParam("scope", .nil_, "\"layer\" (every matrix keeps the same fraction), \"global\" (one threshold) or \"erk\" (Erdős–Rényi-kernel densities); default \"layer\""),
        BuiltinParam("granularity", .string("element"), "\"element\", N:M along the input dimension (\"2:4\", \"1:4\", \"4:8\"; keep is N/M) or blocks of rows x cols (\"1x4\", \"4x4\")"),
        BuiltinParam("every", .nil_, "recompute masks every this many steps (default: the method's, see below; 1 for movement and soft_movement, as their authors)"),
        BuiltinParam("warmup", .number(0.1), "fraction of training before pruning starts"),
        BuiltinParam("cooldown", .number(0.2), "fraction of training at the target at the end"),
        BuiltinParam("include", .nil_, "name patterns of parameters to prune (default: Linear and Conv weights but the classifier)"),
        BuiltinParam("exclude", .nil_, "name patterns to leave alone"),
        BuiltinParam("seed", .nil_, "seed for the method's draws (random masks, L0 noise; nil: from the session)"),
    ]
    static let shared = params.map(\.name)

    /// "(did you mean …?)", or which methods take the keyword.
    static func hint(_ name: String, method: String, known: [String]) -> String {
        let mean = didYouMean(name, shared + known)
        if !mean.isEmpty { return mean }
        let owners = Methods.declaring(name)
        if !owners.isEmpty { return " (it is a parameter of " + owners.map { "\"\($0)\"" }.joined(separator: ", ") + ")" }
        return known.isEmpty ? " (\(method) takes no parameters of its own)" : " (\(method) takes " + known.joined(separator: ", ") + ")"
    }

    /// Checks an extra keyword as the interpreter binds it (nil: accepted).
    static func check(_ keyword: String, _ named: [String: Value]) -> String? {
        guard case .string(let name)? = named["method"], let m = Methods.named(name) else { return nil }
        if m.parameters.contains(where: { $0.name == keyword }) { return nil }
        return "unknown keyword '\(keyword)' for pruner(\"\(name)\")" + hint(keyword, method: name, known: m.parameters.map(\.name))
    }

    /// Completion: the chosen method's parameters, or every method's before one is chosen.
    static func completions(_ callText: String) -> [String] {
        if let q = callText.firstIndex(of: "\""), let e = callText[callText.index(after: q)...].firstIndex(of: "\""),
           let m = Methods.named(String(callText[callText.index(after: q)..<e])) {
            return m.parameters.map(\.name)
        }
        return Array(Set(Methods.all.flatMap { $0.parameters.map(\.name) })).sorted()
    }

    /// help("pruner")'s list of methods and their parameters, from the declarations.
    static let methodsHelp: String = Methods.all.map { m in
        var line = "\(m.name): \(m.summary)."
        if m.target == .own { line += " It reaches its own sparsity (no keep=)." }
        if !m.parameters.isEmpty {
            line += " " + m.parameters.map { p in "\(p.name)=\(p.defaultValue) (\(p.domainDescription)): \(p.help)" }.joined(separator: "; ") + "."
        }
        if m.schedules.isEmpty {
            line += " It takes no schedule."
        } else if m.defaultSchedule != PruneSchedule(.cubic, every: 10) {
            line += " Default schedule \(m.defaultSchedule.kind.rawValue), every \(m.defaultSchedule.every)."
        }
        return line
    }.joined(separator: "\n")
}

extension EngineArgs {
    /// pruner(...)'s arguments as a checked configuration.
    static func makePruner(_ args: CallArgs) throws -> Value {
        let fn = "pruner"
        let name = try args.string("method")
        guard let method = Methods.named(name) else {
            let hint = closest(name, Methods.names).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw BuiltinError("\(fn): unknown method \"\(name)\"\(hint); choose one of " + Methods.names.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        var config = PrunerConfig(method, keep: nil)
        if args.has("keep") && args.has("sparsity") { throw BuiltinError("\(fn): give keep= or sparsity=, not both") }
        if case .record(let r) = args.value("keep") {
            for key in r.keys {
                guard case .number(let k)? = r[key] else { throw BuiltinError("\(fn): keep's value for \"\(key)\" must be a number") }
                guard PrunerConfig.isValidKeep(k) else { throw BuiltinError("\(fn): keep must be in (0, 1], got \(formatNumber(k)) for \"\(key)\"") }
                if key == "*" { config.keep = k } else { config.layerKeep.append((key, k)) }
            }
            guard !r.keys.isEmpty else { throw BuiltinError("\(fn): keep={} names no layers") }
        } else if args.has("keep") {
            let k = try args.fraction("keep")
            guard PrunerConfig.isValidKeep(k) else { throw BuiltinError("\(fn): keep must be in (0, 1], got \(formatNumber(k))") }
            config.keep = k
        }
        if args.has("sparsity") {
            let s = try args.fraction("sparsity")
            guard s >= 0, s < 1 else { throw BuiltinError("\(fn): sparsity must be in [0, 1), got \(formatNumber(s))") }
            config.keep = 1 - s
        }
        if args.has("schedule") {
            let s = try args.choice("schedule", PruneSchedule.Kind.allCases.map(\.rawValue))
            config.schedule.kind = PruneSchedule.Kind(rawValue: s) ?? .cubic
        }
        if args.has("scope") {
            config.scope = PruneScope(rawValue: try args.choice("scope", PruneScope.allCases.map(\.rawValue))) ?? .layer
        }
        let g = try args.string("granularity")
        guard let granularity = Granularity(parsing: g) else {
            throw BuiltinError("\(fn): granularity must be \"element\", N:M such as \"2:4\" (1 ≤ N ≤ M) or blocks such as \"1x4\", got \"\(g)\"")
        }
        config.granularity = granularity
        // N:M keeps the same fraction of every group: a method's global or ERK default gives way.
        if case .nm = granularity, !args.has("scope") { config.scope = .layer }
        if args.has("every") { config.schedule.every = try args.int("every", in: 1...1_000_000) }
        config.schedule.warmup = try args.fraction("warmup")
        config.schedule.cooldown = try args.fraction("cooldown")
        config.include = try EngineArgs.patterns(args, "include")
        config.exclude = try EngineArgs.patterns(args, "exclude")
        for (key, value) in args.extra {
            let v: ParameterValue
            switch value {
            case .number(let x): v = .number(x)
            case .bool(let b): v = .number(b ? 1 : 0)
            case .string(let s): v = .text(s)
            default: throw BuiltinError("\(fn): argument '\(key)' must be a number or a string, got \(value.typeName)")
            }
            do { try config.settings.set(key, v, method: name) } catch let e as PruningError { throw BuiltinError("\(fn): \(e.scriptMessage)") }
        }
        config.seed = args.has("seed") ? try args.seed() : args.session.rng.next()
        do { try config.validate() } catch let e as PruningError { throw BuiltinError("\(fn): \(e.scriptMessage)") }
        return .object(PrunerObject(config))
    }

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

    /// The report of a model as a table, with a total row.
    static func reportTable(_ r: PruningReport) -> Table {
        let table = Table()
        func cell(_ x: Double?) -> Value { x.map { .number(($0 * 10_000).rounded() / 10_000) } ?? .nil_ }
        func count(_ x: Int?) -> Value { x.map { .number(Double($0)) } ?? .nil_ }
        for l in r.layers {
            table.add([("layer", .string(l.name)), ("shape", .string(describe(shape: l.shape))),
                       ("params", count(l.parameters)), ("method", l.method.map { .string($0) } ?? .nil_),
                       ("keep_asked", cell(l.requested.map { 1 - $0 })), ("kept", cell(1 - l.achieved)), ("sparsity", cell(l.achieved)),
                       ("nonzeros", count(l.nonzeros)), ("flops", count(l.denseFLOPs)), ("sparse_flops", count(l.sparseFLOPs))])
        }
        table.add([("layer", .string("total")), ("shape", .string("")), ("params", count(r.parameters)), ("method", .string("")),
                   ("keep_asked", cell(r.requested.map { 1 - $0 })), ("kept", cell(1 - r.achieved)), ("sparsity", cell(r.achieved)),
                   ("nonzeros", count(r.nonzeros)),
                   ("flops", count(r.denseFLOPs)), ("sparse_flops", count(r.sparseFLOPs))])
        return table
    }
}

extension Builtins {
    static let pruning: [Builtin] = [
        {
            var b = Builtin("pruner", PrunerKeywords.params,
                    extraKeywords: true,
                    topic: "pruning", summary: "A pruning method with its settings, for train(..., pruner=p) or prune(net, p).",
                    help: "The cubic schedule (Zhu & Gupta) keeps everything during warm-up, prunes fast then slowly, and holds the target during cool-down. Masks stay fixed after training: pruned weights are exactly 0. Each method takes its own keywords besides these:\n" + PrunerKeywords.methodsHelp,
                    example: "p = pruner(\"movement\", keep=0.1, schedule=\"cubic\")\np.keep") { args in
                try EngineArgs.makePruner(args)
            }
            b.checkKeyword = PrunerKeywords.check
            b.moreKeywords = PrunerKeywords.completions
            return b
        }(),

        Builtin("prune", [BuiltinParam("net", nil, "the model to prune (in place)"),
                          BuiltinParam("p", nil, "a pruner"),
                          BuiltinParam("data", .nil_, "batches for taylor and snip"),
                          BuiltinParam("batch", .number(128), "batch size for taylor and snip")],
                topic: "pruning", summary: "Prunes a model once to the pruner's target: the masks stay fixed afterwards.",
                help: "Works with magnitude, random, taylor, snip, channel, basis and cap (taylor, snip, cap, and channel or basis ranked from gradients, need data=). Methods that learn scores (movement, soft_movement, l0) prune while training: train(net, data, pruner=p). Returns the sparsity reached over the pruned weights.",
                example: "net = mlp([784, 300, 10])\nprune(net, pruner(\"magnitude\", keep=0.2))\nsparsity(net)") { args in
            let net = try EngineArgs.model(args, "net")
            var data: BatchSource?
            if args.has("data") { data = try EngineArgs.dataset(args, "data") }
            let batch = try args.int("batch", in: 1...1_000_000)
            let pruner = try EngineArgs.startPruner(args, "p")
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
                topic: "pruning", summary: "Per prunable layer: shape, parameters, method, the fraction kept as asked and as reached, sparsity, non-zeros, FLOPs.",
                help: "keep_asked is the pruner's keep= for the layer (empty for methods that reach their own sparsity); kept is the fraction of weights that are non-zero; sparsity is 1 − kept. Rows are the Linear and Conv weights (not the classifier) and every masked parameter, then a total. FLOPs are per sample (2 × multiply-adds), dense and counting only non-zero weights; a convolution's are known once the model has run.",
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

        Builtin("compact", [BuiltinParam("net", nil, "a model whose pruned units are zero (Sequential: mlp, cnn, lenet5, resnet)"),
                            BuiltinParam("data", .nil_, "a dataset to measure parameters, FLOPs and latency on, before and after"),
                            BuiltinParam("quiet", .bool(false), "print nothing (no table, no line of units kept)")],
                topic: "pruning", summary: "The physically smaller model: neurons and channels whose weights are all zero are removed.",
                help: """
                    A unit is removed when every slice that produces it is zero: its weight row, its bias and its \
                    batch-norm scale and shift (in a ResNet, in every block that adds into the same channels); \
                    the next layers' inputs that read it go too. The new model computes the same outputs, keeps \
                    the layer names and the masks inside the kept units, and saves and loads like any model. \
                    With data, prints parameters, FLOPs and the median latency at batch 1 and 128 before and after.
                    """,
                example: "net = mlp([784, 100, 10])\nnet.layers[1].weight[0:49, :] = 0; net.layers[1].bias[0:49] = 0\nsmall = compact(net)") { args in
            let net = try EngineArgs.model(args, "net")
            let compaction = try Structure.compact(net)
            let quiet = try args.bool("quiet")
            if args.has("data") && !quiet {
                let data = try EngineArgs.dataset(args, "data")
                var batch: Tensor?
                for b in data.makeBatches(size: 128, shuffle: false, rng: RNG(seed: 0)) { batch = b.x; break }
                guard let x = batch else { throw BuiltinError("compact: the dataset is empty") }
                let before = try CompactionCost.measure(net, batch: x), after = try CompactionCost.measure(compaction.model, batch: x)
                let t = Table()
                func ms(_ c: CompactionCost, _ n: Int) -> Value { c.latency.first { $0.batch == n }.map { .number(($0.seconds * 1e5).rounded() / 100) } ?? .nil_ }
                for (what, c) in [("before", before), ("after", after)] {
                    t.add([("model", .string(what)), ("parameters", .number(Double(c.parameters))), ("MFLOPs", .number((Double(c.flops) / 1e4).rounded() / 100)),
                           ("ms_batch1", ms(c, 1)), ("ms_batch128", ms(c, 128))])
                }
                args.session.write(display(.table(t)) + "\n")
            }
            let units = compaction.groups.map { "\($0.name) \($0.before)→\($0.after)" }.joined(separator: ", ")
            if !quiet { args.session.write("compact: units \(units)\n") }
            return .model(compaction.model)
        },

        Builtin("basis", [BuiltinParam("net", nil, "a Sequential model (mlp, cnn, lenet5)")],
                topic: "pruning", summary: "Basis scaling: each Linear and Conv2d layer (not the classifier) as its SVD pair, exactly equal before training.",
                help: """
                    Wong, Kashyap & Moradi 2021. A layer's weight, as a matrix of filters, is U·Σ·Vᵀ; the layer \
                    becomes one whose filters are the orthonormal bases u_j (frozen) followed by a scaling with \
                    coefficients α_j·σ_j·V[o, j] (α trainable, starting at 1; σ and V frozen). Only α and the \
                    classifier train (every other parameter is frozen); pruner("basis", keep=) removes the bases \
                    with the smallest |α·∂L/∂α| (lambda= adds an L1 penalty on α), and compact(net) folds the \
                    pruned bases away.
                    """,
                example: "net = cnn()\nb = basis(net)\nb") { args in
            .model(try BasisPruning.prepared(try EngineArgs.model(args, "net")))
        },

        Builtin("channel_scales", [BuiltinParam("net", nil, "a Sequential model (mlp, cnn, lenet5)")],
                topic: "pruning", summary: "A copy with a trainable scale after each Linear and Conv2d layer (not the classifier); only the scales and the classifier train.",
                help: """
                    Channel scaling (Wong & Moradi 2021): the scales start at 1, so the copy computes what the \
                    model did. Train it with pruner("channel_scaling", lambda=, threshold=): an L1 penalty pulls \
                    scales down and channels whose |scale| falls below the threshold are removed for good; \
                    compact(net) then drops them.
                    """,
                example: "net = cnn(classes=5)\ns = channel_scales(net)\ns") { args in
            .model(try ChannelScaling.prepared(try EngineArgs.model(args, "net")))
        },

        Builtin("gates", [BuiltinParam("net", nil, "a Sequential model (mlp, cnn, lenet5)")],
                topic: "pruning", summary: "A copy with a stochastic gate on every unit (not the classifier's); only the gates and the classifier train.",
                help: """
                    Architecture pruning by subset selection (Colombo & Gao 2021): train the copy with \
                    pruner("gates", lambda=) on the upstream data; the gates learn which units to keep under a \
                    complexity prior while the weights stay frozen, and architecture(net) extracts the chosen \
                    sub-network, re-initialised, to train downstream.
                    """,
                example: "net = cnn(classes=5)\ng = gates(net)\ng") { args in
            .model(try Gates.prepared(try EngineArgs.model(args, "net")))
        },

        Builtin("architecture", [BuiltinParam("net", nil, "a model trained with pruner(\"gates\")"),
                                 BuiltinParam("seed", .number(0), "seed of the fresh initialisation")],
                topic: "pruning", summary: "The sub-network the gates chose: open units only, no gate layers, freshly initialised.",
                example: "g = gates(mlp([20, 10, 3]))\na = architecture(g)") { args in
            let seed = try args.int("seed", in: 0...Int(Int32.max))
            return .model(try Structure.architecture(try EngineArgs.model(args, "net"), seed: UInt64(seed)))
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
