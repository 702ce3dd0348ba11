// Data builtins: Fashion-MNIST with class filters, seeded per-class draws and limits; UCI digits
// and synthetic tasks; normalisation, augmentation, splits and a grid of samples (show).
import Language
import Engine
import FileIO
import NN
import Data
import Plot

extension EngineArgs {
    /// Class indices from a list/range of numbers or of class names (case-insensitive).
    static func classList(_ args: CallArgs, _ name: String, names: [String]) throws -> [Int] {
        let fn = args.builtin
        var picked: [Int] = []
        if case .list(let l) = args.value(name), l.items.contains(where: { if case .string = $0 { return true } else { return false } }) {
            for item in l.items {
                switch item {
                case .string(let s):
                    guard let i = names.firstIndex(where: { $0.lowercased() == s.lowercased() }) else {
                        throw BuiltinError("\(fn): argument '\(name)' names an unknown class \"\(s)\"; the classes are " + names.map { "\"\($0)\"" }.joined(separator: ", "))
                    }
                    picked.append(i)
                case .number:
                    var one = args
                    one.named[name] = item
                    picked.append(try one.int(name))
                default:
                    throw args.wrong(name, "a list of class numbers or names")
                }
            }
        } else {
            switch args.value(name) {
            case .list, .range, .number: picked = try args.ints(name)
            default: throw args.wrong(name, "a list or range of classes")
            }
        }
        guard !picked.isEmpty else { throw BuiltinError("\(fn): argument '\(name)' is empty; give at least one class") }
        if let bad = picked.first(where: { $0 < 0 || $0 >= names.count }) {
            throw BuiltinError("\(fn): argument '\(name)' holds class \(bad), outside 0:\(names.count - 1)")
        }
        var seen = Set<Int>()
        for c in picked where !seen.insert(c).inserted {
            throw BuiltinError("\(fn): argument '\(name)' lists class \(c) twice")
        }
        return picked
    }

    /// The `classes=`, `per_class=`/`seed=` and `limit=` arguments of a dataset builtin, applied
    /// in that order (class filter relabelled, seeded per-class draw, first N). `source` names
    /// the data in errors ("the train split", a file).
    static func select(_ args: CallArgs, from data: Dataset, source: String) throws -> Dataset {
        var d = data
        if args.has("classes") {
            let keep = try classList(args, "classes", names: d.classNames)
            d = try d.filtered(classes: keep)
        }
        if args.has("per_class") {
            let n = try args.int("per_class", in: 0...Int.max)
            let counts = d.classCounts()
            if let c = counts.indices.first(where: { counts[$0] < n }) {
                throw BuiltinError("\(args.builtin): argument 'per_class' asks for \(n) samples of every class, but class \(c) (\(d.classNames[c])) has only \(counts[c]) in \(source)")
            }
            d = try d.perClass(n, seed: try args.seed())
        } else {
            _ = try args.seed()
        }
        if args.has("limit") {
            let n = try args.int("limit", in: 0...Int.max)
            if n < d.count { d = try d.subset(indices: Array(0..<n), name: "\(d.name)[:\(n)]") }
        }
        return d
    }
}

extension Builtins {
    static let data: [Builtin] = [
        Builtin("fashion_mnist", [BuiltinParam("split", .string("train"), "\"train\" (60000 images) or \"test\" (10000)"),
                                  BuiltinParam("classes", .nil_, "keep only these classes (a list or range), relabelled 0, 1, … in this order"),
                                  BuiltinParam("per_class", .nil_, "draw this many samples of every class (seeded)"),
                                  BuiltinParam("seed", .number(0), "the seed of the per-class draw"),
                                  BuiltinParam("limit", .nil_, "keep only the first N samples")],
                topic: "data", summary: "Fashion-MNIST: 28×28 grey images of clothing in 10 classes.",
                help: "Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot (names work too: classes=[\"Sandal\", \"Sneaker\"]). The filters apply in order: classes, then per_class, then limit. Pixels are scaled to [0, 1].",
                example: "shoes = fashion_mnist(\"train\", classes=[5, 7, 9], per_class=100)\nshape(shoes)") { args in
            let split = try args.choice("split", FashionMNIST.Split.allCases.map(\.rawValue))
            guard let which = FashionMNIST.Split(rawValue: split) else { throw BuiltinError("fashion_mnist: unknown split \(split)") }
            return .dataset(try EngineArgs.select(args, from: try FashionMNIST.load(which), source: "the \(split) split"))
        },
        Builtin("digits", [BuiltinParam("size", .number(28), "side of the resampled images (8 keeps the original grid)"),
                           BuiltinParam("path", .nil_, "digits.csv.gz to read (default: python3-sklearn's copy, or $PRUNE_DIGITS)")],
                topic: "data", summary: "UCI handwritten digits (1797 images, 10 classes), upscaled from 8×8 to 28×28.",
                help: "Reads the digits.csv.gz that Debian's python3-sklearn installs. Intensities 0…16 are scaled to [0, 1] and resampled bilinearly, so models built for Fashion-MNIST take them unchanged. Use split(ds, 0.8) for a test set.",
                example: "d = digits()\nshape(d)") { args in
            let size = try args.int("size", in: 1...1024)
            let path = try args.optionalString("path")
            do { return .dataset(try Digits.load(path: path, size: size)) } catch let e as LibraryError { throw BuiltinError("digits: " + e.scriptText) }
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
            } catch let e as LibraryError { throw BuiltinError(e.scriptText) }
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
            do { return .dataset(try d.normalized(mean: stats.mean, std: stats.std)) } catch let e as LibraryError { throw BuiltinError("normalize: " + e.scriptText) }
        },
        Builtin("augment", [BuiltinParam("data", nil, "a dataset of images [C, H, W]"),
                            BuiltinParam("shift", .number(2), "random shift of up to this many pixels (zero-filled)"),
                            BuiltinParam("flip", .bool(false), "random horizontal flips")],
                topic: "data", summary: "The dataset with random shifts and flips applied to its training batches.",
                help: "Augmentation applies when train draws shuffled batches; evaluation sees the images unchanged. The images are shared, not copied. A linear probe (transfer mode=\"linear\") on an augmented task runs the frozen body on every batch instead of caching features.",
                example: "train = augment(fashion_mnist(\"train\", limit=1000), shift=2)") { args in
            let d = try EngineArgs.dataset(args, "data")
            let a = Augmentation(shift: try args.int("shift", in: 0...1024), flip: try args.bool("flip"))
            do { return .dataset(try d.augmented(a)) } catch let e as LibraryError { throw BuiltinError(e.scriptText) }
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
    ]
}
