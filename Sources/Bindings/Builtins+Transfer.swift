// Transfer-learning builtins: more datasets (UCI digits, synthetic tasks), normalisation,
// augmentation, splits, a sample grid; `transfer`; and the results-table tools experiments
// need (group with mean ± sd over seeds, repeat over seeds).
import Language
import Engine
import NN
import Data
import Pruning

extension EngineArgs {
    /// The columns named by a string or a list of strings, each checked against the table.
    static func columnList(_ args: CallArgs, _ name: String, in t: Table) throws -> [String] {
        var names: [String] = []
        switch args.value(name) {
        case .string(let s): names = [s]
        case .list(let l):
            for v in l.items {
                guard case .string(let s) = v else { throw args.wrong(name, "a column name or a list of column names") }
                names.append(s)
            }
        default: throw args.wrong(name, "a column name or a list of column names")
        }
        for n in names where !t.columns.contains(n) {
            throw BuiltinError("\(args.builtin): no column '\(n)' in the table" + didYouMean(n, t.columns))
        }
        return names
    }

    /// Groups rows by the values of `by` (first appearance order) and summarises `y` columns:
    /// mean, sample standard deviation (nil for a single row) and the row count.
    static func grouped(_ t: Table, by: [String], y: [String]) -> Table {
        var order: [[Value]] = [], members: [[Int]] = []
        for (i, row) in t.rows.enumerated() {
            let key = by.map { row[$0] ?? .nil_ }
            if let j = order.firstIndex(where: { sameKey($0, key) }) { members[j].append(i) } else { order.append(key); members.append([i]) }
        }
        let out = Table()
        out.columns = by + y.flatMap { [$0, $0 + "_sd"] } + ["n"]
        for (key, rows) in zip(order, members) {
            var row: [String: Value] = [:]
            for (c, v) in zip(by, key) { row[c] = v }
            for c in y {
                let xs = rows.compactMap { r -> Double? in if case .number(let x) = t.rows[r][c] ?? .nil_ { return x } else { return nil } }
                guard !xs.isEmpty else { continue }
                let mean = xs.reduce(0, +) / Double(xs.count)
                row[c] = .number(mean)
                if xs.count > 1 {
                    let v = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count - 1)
                    row[c + "_sd"] = .number(v.squareRoot())
                }
            }
            row["n"] = .number(Double(rows.count))
            out.rows.append(row)
        }
        return out
    }

    static func sameKey(_ a: [Value], _ b: [Value]) -> Bool {
        zip(a, b).allSatisfy { x, y in
            switch (x, y) {
            case (.number(let p), .number(let q)): return p == q
            case (.string(let p), .string(let q)): return p == q
            case (.bool(let p), .bool(let q)): return p == q
            case (.nil_, .nil_): return true
            default: return display(x) == display(y)
            }
        }
    }
}

extension Builtins {
    static let transferring: [Builtin] = [
        Builtin("digits", [BuiltinParam("size", .number(28), "side of the resampled images (8 keeps the original grid)"),
                           BuiltinParam("path", .nil_, "digits.csv.gz to read (default: python3-sklearn's copy, or $PRUNE_DIGITS)")],
                topic: "data", summary: "UCI handwritten digits (1797 images, 10 classes), upscaled from 8×8 to 28×28.",
                help: "Reads the digits.csv.gz that Debian's python3-sklearn installs. Intensities 0…16 are scaled to [0, 1] and resampled bilinearly, so models built for Fashion-MNIST take them unchanged. Use split(ds, 0.8) for a test set.",
                example: "d = digits()\nshape(d)") { args in
            let size = try args.int("size", in: 1...1024)
            let path = try args.optionalString("path")
            do { return .dataset(try Digits.load(path: path, size: size)) } catch let e as EngineError { throw BuiltinError("digits: " + e.message) }
        },
        Builtin("synthetic", [BuiltinParam("classes", .number(5), "number of classes"),
                              BuiltinParam("per_class", .number(100), "samples per class"),
                              BuiltinParam("shape", .list(ListRef([.number(1), .number(28), .number(28)])), "shape of one sample"),
                              BuiltinParam("noise", .number(1), "standard deviation of the noise around each class prototype"),
                              BuiltinParam("seed", .number(0), "the task (its prototypes)"),
                              BuiltinParam("sample_seed", .nil_, "another draw of samples from the same task (e.g. a test set)")],
                topic: "data", summary: "A synthetic classification task: smooth random class prototypes plus Gaussian noise.",
                help: "The same seed gives the same task; sample_seed draws fresh samples of it. Useful for tests and for trying a pipeline without real data.",
                example: "task = synthetic(classes=3, per_class=50)\ntest = synthetic(classes=3, per_class=50, sample_seed=1)\nshape(task)") { args in
            let shape = try EngineArgs.shape(args)
            do {
                return .dataset(try Synthetic.task(classes: try args.int("classes", in: 1...10_000),
                                                   perClass: try args.int("per_class", in: 0...1_000_000),
                                                   shape: shape, noise: try args.float("noise"), seed: try args.seed(),
                                                   sampleSeed: args.has("sample_seed") ? try args.seed("sample_seed") : nil))
            } catch let e as EngineError { throw BuiltinError(e.message) }
        },
        Builtin("normalize", [BuiltinParam("data", nil, "a dataset"),
                              BuiltinParam("mean", .nil_, "per-channel means (a number or a list; default: the dataset's own)"),
                              BuiltinParam("std", .nil_, "per-channel standard deviations (default: the dataset's own)"),
                              BuiltinParam("like", .nil_, "use this dataset's statistics (e.g. normalise a test set like its training set)")],
                topic: "data", summary: "(x − mean) / std per channel; returns a new dataset.",
                example: "train = fashion_mnist(\"train\", limit=1000)\ntest = fashion_mnist(\"test\", limit=100)\nn_test = normalize(test, like=train)") { args in
            let d = try EngineArgs.dataset(args, "data")
            var stats = args.has("like") ? try EngineArgs.dataset(args, "like").channelStatistics() : d.channelStatistics()
            let channels = d.sampleShape.first ?? 1
            func values(_ name: String) throws -> [Float]? {
                guard args.has(name) else { return nil }
                let xs = try args.numbers(name).map(Float.init)
                return xs.count == 1 ? [Float](repeating: xs[0], count: channels) : xs
            }
            if let m = try values("mean") { stats.mean = m }
            if let s = try values("std") { stats.std = s }
            do { return .dataset(try d.normalized(mean: stats.mean, std: stats.std)) } catch let e as EngineError { throw BuiltinError("normalize: " + e.message) }
        },
        Builtin("augment", [BuiltinParam("data", nil, "a dataset of images [C, H, W]"),
                            BuiltinParam("shift", .number(2), "random shift of up to this many pixels (zero-filled)"),
                            BuiltinParam("flip", .bool(false), "random horizontal flips")],
                topic: "data", summary: "The dataset with random shifts and flips applied to its training batches.",
                help: "Augmentation applies when train draws shuffled batches; evaluation sees the images unchanged. The images are shared, not copied. A linear probe (transfer mode=\"linear\") on an augmented task runs the frozen body on every batch instead of caching features.",
                example: "train = augment(fashion_mnist(\"train\", limit=1000), shift=2)") { args in
            let d = try EngineArgs.dataset(args, "data")
            let a = Augmentation(shift: try args.int("shift", in: 0...1024), flip: try args.bool("flip"))
            do { return .dataset(try d.augmented(a)) } catch let e as EngineError { throw BuiltinError(e.message) }
        },
        Builtin("split", [BuiltinParam("data", nil, "a dataset"),
                          BuiltinParam("fraction", .number(0.8), "share of every class that goes to the first part"),
                          BuiltinParam("seed", .number(0), "seed of the draw")],
                topic: "data", summary: "A stratified split into two datasets: [first, rest], e.g. training and validation.",
                example: "parts = split(fashion_mnist(\"train\", limit=1000), 0.9)\nfit_set = parts[0]; val_set = parts[1]") { args in
            let d = try EngineArgs.dataset(args, "data")
            let f = try args.number("fraction")
            guard f.isFinite, f >= 0, f <= 1 else { throw BuiltinError("split: argument 'fraction' must be in [0, 1], got \(display(args.value("fraction")))") }
            let (a, b) = try d.split(fraction: f, seed: try args.seed())
            return .list(ListRef([.dataset(a), .dataset(b)]))
        },
        Builtin("show", EngineArgs.figureParams([BuiltinParam("data", nil, "a dataset of images"),
                                                 BuiltinParam("n", .number(16), "how many samples"),
                                                 BuiltinParam("cols", .nil_, "images per row")]),
                topic: "data", summary: "A grid of a dataset's samples, taken round-robin over its classes, with their class names.",
                example: "show(fashion_mnist(\"test\", classes=5:9, per_class=4), n=10)") { args in
            let d = try EngineArgs.dataset(args, "data")
            let n = try args.int("n", in: 1...400)
            var byClass = [[Int]](repeating: [], count: d.classes)
            for (i, y) in d.labels.enumerated() { byClass[y].append(i) }
            var picked: [Int] = [], round = 0
            while picked.count < Swift.min(n, d.count) {
                for c in byClass.indices where round < byClass[c].count && picked.count < n { picked.append(byClass[c][round]) }
                round += 1
            }
            let sample = try d.subset(indices: picked, name: d.name)
            guard let images = Builtins.named("images") else { throw BuiltinError("show: the images builtin is missing") }
            var keywords: [(String, Value)] = [("n", .number(Double(picked.count)))]
            for k in ["cols", "title", "file", "width", "height"] where args.has(k) { keywords.append((k, args.value(k))) }
            return try args.session.call(.function(Function(name: "images", body: .builtin(images))), [.dataset(sample)], keywords: keywords)
        },

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
            } catch let e as EngineError { throw BuiltinError(e.message) }
        },

        Builtin("group", [BuiltinParam("t", nil, "a table"),
                          BuiltinParam("by", nil, "the column (or list of columns) to group by"),
                          BuiltinParam("y", .nil_, "the columns to summarise (default: every numeric column except by and seed)")],
                topic: "tables", summary: "Rows grouped by columns, with the mean, the standard deviation and the count of each group.",
                help: "For each summarised column c the result has c (the mean over the group's rows), c_sd (the sample standard deviation, nil for one row) and n (rows in the group). Groups keep the order of their first row.",
                example: "t = table()\nfor s in 0:2\n  add(t, method=\"magnitude\", seed=s, acc=0.8 + s / 100)\nend\ngroup(t, by=\"method\")") { args in
            let t = try EngineArgs.table(args, "t")
            let by = try EngineArgs.columnList(args, "by", in: t)
            var y: [String]
            if args.has("y") {
                y = try EngineArgs.columnList(args, "y", in: t)
            } else {
                y = t.columns.filter { c in
                    !by.contains(c) && c != "seed" && c != "n" && t.rows.contains { if case .number = $0[c] ?? .nil_ { return true } else { return false } }
                        && t.rows.allSatisfy { r in switch r[c] ?? .nil_ { case .number, .nil_: return true; default: return false } }
                }
            }
            if let clash = y.first(where: { by.contains($0) }) { throw BuiltinError("group: column '\(clash)' is both grouped by and summarised") }
            return .table(EngineArgs.grouped(t, by: by, y: y))
        },
        Builtin("round", [BuiltinParam("x", nil, "a number"), BuiltinParam("digits", .number(0), "digits after the decimal point")],
                topic: "core", summary: "x rounded to a number of decimal digits (halves away from zero).",
                example: "round(0.91666, 3)") { args in
            let x = try args.number("x")
            let d = try args.int("digits", in: 0...15)
            var p = 1.0
            for _ in 0..<d { p *= 10 }
            return .number((x * p).rounded() / p)
        },
        Builtin("where", [BuiltinParam("t", nil, "a table")], extraKeywords: true,
                topic: "tables", summary: "The rows of a table whose columns equal the given values: where(t, method=\"movement\", distil=false).",
                help: "A new table with the same columns; the rows are shared values, not copies. A list value matches any of its items: where(t, keep=[0.1, 0.03]).",
                example: "t = table(); add(t, m=\"a\", acc=1); add(t, m=\"b\", acc=2)\nwhere(t, m=\"b\")") { args in
            let t = try EngineArgs.table(args, "t")
            for (k, _) in args.extra where !t.columns.contains(k) {
                throw BuiltinError("where: no column '\(k)' in the table" + didYouMean(k, t.columns))
            }
            let out = Table()
            out.columns = t.columns
            out.rows = t.rows.filter { row in
                args.extra.allSatisfy { k, v in
                    let cell = row[k] ?? .nil_
                    if case .list(let l) = v { return l.items.contains { EngineArgs.sameKey([cell], [$0]) } }
                    return EngineArgs.sameKey([cell], [v])
                }
            }
            return .table(out)
        },
        Builtin("repeat", [BuiltinParam("f", nil, "a function of the seed returning a record (one row), a list of records or a table"),
                           BuiltinParam("seeds", .number(3), "run f for seeds 0, 1, …, seeds − 1")],
                topic: "tables", summary: "Runs f(seed) for every seed and collects what it returns into one table, with a seed column.",
                example: "def run(seed)\n  return {acc: 0.8 + seed / 100}\nend\nrepeat(run, seeds=3)") { args in
            let f = args.value("f")
            guard case .function = f else { throw args.wrong("f", "a function") }
            let n = try args.int("seeds", in: 1...100_000)
            let out = Table()
            for s in 0..<n {
                let seedValue = Value.number(Double(s))
                func addRecord(_ r: RecordRef) { out.add([("seed", seedValue)] + r.pairs.filter { $0.0 != "seed" }) }
                switch try args.session.call(f, [seedValue]) {
                case .record(let r): addRecord(r)
                case .list(let l):
                    for item in l.items {
                        guard case .record(let r) = item else { throw BuiltinError("repeat: f returned a list holding a \(item.typeName); return records") }
                        addRecord(r)
                    }
                case .table(let t):
                    for row in t.rows { out.add([("seed", seedValue)] + t.columns.compactMap { c in c == "seed" ? nil : row[c].map { (c, $0) } }) }
                case .nil_: continue
                case let v: throw BuiltinError("repeat: f returned a \(v.typeName); return a record (one row), a list of records or a table")
                }
            }
            return .table(out)
        },
    ]
}
