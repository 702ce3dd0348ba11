// Data builtins: Fashion-MNIST with class filters, seeded per-class draws and limits.
import Language
import Engine
import NN
import Data

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
    ]
}
