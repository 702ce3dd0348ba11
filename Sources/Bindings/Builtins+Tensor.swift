// Tensor builtins: construction (tensor, zeros, ones, randn, rand), inspection (shape,
// sparsity, topk) and reductions (sum, mean, max, min, abs).
import Language
import Engine
import NN
import Pruning
import Data

/// Argument conversions shared by the engine builtins (tensors, models, data, training).
enum EngineArgs {
    /// The largest tensor a builtin will allocate: the engine's limit.
    static let maxElements = TensorSize.maxElements

    /// Checks a shape with the engine's one size check, naming the builtin in the error.
    static func checkedShape(_ dims: [Int], _ fn: String) throws -> [Int] {
        do { try TensorSize.elements(dims) } catch let e as EngineError { throw BuiltinError("\(fn): \(e.message)") }
        return dims
    }

    /// A shape given as one list/range/tensor (`zeros([2, 3])`) or as several numbers
    /// (`zeros(2, 3)`): the positional arguments of the call.
    static func shape(_ args: CallArgs, _ name: String = "shape") throws -> [Int] {
        let fn = args.builtin
        let given: [Value] = args.positional.isEmpty ? [args.value(name)] : args.positional
        var dims: [Int] = []
        if given.count == 1 {
            switch given[0] {
            case .list, .range, .object(is Tensor), .number:
                var one = args
                one.named[name] = given[0]
                dims = try one.ints(name)
            default:
                throw BuiltinError("\(fn): the shape must be a list of whole numbers or several numbers, got \(given[0].typeName)")
            }
        } else {
            for v in given {
                guard case .number(let x) = v, x == x.rounded(), abs(x) < 1e15 else {
                    throw BuiltinError("\(fn): the shape must be a list of whole numbers or several whole numbers, got \(v.typeName == "number" ? display(v) : v.typeName)")
                }
                dims.append(Int(x))
            }
        }
        return try checkedShape(dims, fn)
    }

    /// For a builtin whose shape is given as several numbers (`randn(2, 3)`), the binder puts
    /// the numbers after the first into the following parameters; those parameters get back
    /// their defaults (they can then only be given by keyword). `defaults` lists the parameters
    /// after `shape`, in order.
    static func restoreDefaults(_ args: inout CallArgs, _ defaults: [(String, Value)]) {
        let bound = args.positional.count - args.rest.count
        for (i, (name, value)) in defaults.enumerated() where i + 1 < bound { args.named[name] = value }
    }

    static func model(_ args: CallArgs, _ name: String) throws -> Module {
        if case .object(let m as Module) = args.value(name) { return m }
        throw args.wrong(name, "a model")
    }

    static func dataset(_ args: CallArgs, _ name: String) throws -> Dataset {
        if case .object(let d as Dataset) = args.value(name) { return d }
        throw args.wrong(name, "a dataset")
    }

    /// An optional axis (nil when the argument is nil).
    static func axis(_ args: CallArgs, _ name: String = "axis") throws -> Int? {
        args.has(name) ? try args.int(name) : nil
    }

    /// The numbers of a flat list, a range or a number, or nil for anything else (tensors,
    /// nested lists): reductions over such plain values are computed in Double.
    static func plainNumbers(_ v: Value, _ args: CallArgs) throws -> [Double]? {
        switch v {
        case .number(let x): return [x]
        case .range(let a, let b): return try Value.rangeNumbers(a, b, limit: args.session.maxElements)
        case .list(let l):
            var xs: [Double] = []
            xs.reserveCapacity(l.items.count)
            for item in l.items {
                guard case .number(let x) = item else { return nil }
                xs.append(x)
            }
            return xs
        default: return nil
        }
    }

    /// A scalar tensor as a number, any other tensor as itself.
    static func reduced(_ t: Tensor) -> Value {
        t.rank == 0 ? .number(Double(t.item)) : .tensor(t)
    }

    static func intList(_ xs: [Int]) -> Value { .list(ListRef(xs.map { .number(Double($0)) })) }

    /// Exact zeros and total elements of `t`.
    static func zeroCount(_ t: Tensor) -> (zeros: Int, total: Int) {
        let p = t.data
        var z = 0
        for i in 0..<t.count where p[i] == 0 { z += 1 }
        return (z, t.count)
    }
}

extension Builtins {
    static let tensors: [Builtin] = [
        Builtin("tensor", [BuiltinParam("data", nil, "a number, a (nested) list of numbers, a range or a tensor")],
                topic: "tensors", summary: "Makes a tensor from nested lists, ranges or numbers.",
                help: "Nested lists give the dimensions: [[1, 2], [3, 4]] is a 2×2 tensor. A tensor argument is copied.",
                example: "t = tensor([[1, 2], [3, 4]])\nshape(t)") { args in
            if case .object(let t as Tensor) = args.value("data") { return .tensor(t.copy()) }
            return .tensor(try args.session.tensor(from: args.value("data"), what: "tensor: argument 'data'"))
        },

        Builtin("zeros", [BuiltinParam("shape", nil, "a list of dimensions, or the dimensions as numbers")], variadic: true,
                topic: "tensors", summary: "A tensor of zeros.",
                help: "The shape is a list (zeros([2, 3])) or several numbers (zeros(2, 3)).",
                example: "zeros(2, 3)") { args in
            .tensor(try Tensor.zeros(try EngineArgs.shape(args)))
        },

        Builtin("ones", [BuiltinParam("shape", nil, "a list of dimensions, or the dimensions as numbers")], variadic: true,
                topic: "tensors", summary: "A tensor of ones.",
                help: "The shape is a list (ones([2, 3])) or several numbers (ones(2, 3)).",
                example: "ones([2, 3])") { args in
            .tensor(try Tensor.ones(try EngineArgs.shape(args)))
        },

        Builtin("randn", [BuiltinParam("shape", nil, "a list of dimensions, or the dimensions as numbers"),
                          BuiltinParam("std", .number(1), "standard deviation")], variadic: true,
                topic: "tensors", summary: "A tensor of normal random numbers with mean 0.",
                help: "Drawn from the session's random generator, so `seed(n)` makes it reproducible. Give std by keyword: randn(2, 3, std=0.1).",
                example: "randn(2, 3, std=0.1)") { args in
            EngineArgs.restoreDefaults(&args, [("std", .number(1))])
            let std = try args.float("std")
            guard std.isFinite, std >= 0 else { throw BuiltinError("randn: argument 'std' must be ≥ 0, got \(std)") }
            return .tensor(try Tensor.randn(try EngineArgs.shape(args), std: std, rng: args.session.rng))
        },

        Builtin("rand", [BuiltinParam("shape", nil, "a list of dimensions, or the dimensions as numbers"),
                         BuiltinParam("low", .number(0), "lower bound"),
                         BuiltinParam("high", .number(1), "upper bound")], variadic: true,
                topic: "tensors", summary: "A tensor of uniform random numbers in [low, high).",
                help: "Drawn from the session's random generator. Give the bounds by keyword: rand(2, 3, low=-1, high=1).",
                example: "rand(2, 3, low=-1, high=1)") { args in
            EngineArgs.restoreDefaults(&args, [("low", .number(0)), ("high", .number(1))])
            let low = try args.float("low"), high = try args.float("high")
            guard low.isFinite, high.isFinite, low <= high else {
                throw BuiltinError("rand: needs finite bounds with low ≤ high, got low=\(display(args.value("low"))), high=\(display(args.value("high")))")
            }
            return .tensor(try Tensor.uniform(try EngineArgs.shape(args), low: low, high: high, rng: args.session.rng))
        },

        Builtin("shape", [BuiltinParam("t", nil, "a tensor (or a list, or a dataset)")],
                topic: "tensors", summary: "The shape of a tensor, as a list.",
                help: "For a dataset: [samples, ...sample shape].",
                example: "shape(zeros(2, 3))") { args in
            switch args.value("t") {
            case .object(let d as Dataset): return EngineArgs.intList([d.count] + d.sampleShape)
            case .number: return EngineArgs.intList([])
            default: return EngineArgs.intList(try args.tensor("t").shape)
            }
        },

        Builtin("sum", [BuiltinParam("t", nil, "a tensor, a list of numbers or a range"),
                        BuiltinParam("axis", .nil_, "the axis to sum over (nil: everything)")],
                topic: "tensors", summary: "The sum of all elements, or along an axis.",
                help: "Without an axis the result is a number; with one, a tensor with that axis removed.",
                example: "sum(tensor([[1, 2], [3, 4]]), axis=0)") { args in
            let axis = try EngineArgs.axis(args)
            if axis == nil, let xs = try EngineArgs.plainNumbers(args.value("t"), args) { return .number(xs.reduce(0, +)) }
            let t = try args.tensor("t")
            if let axis { return .tensor(try GradMode.noGrad { try t.sum(axes: [axis]) }) }
            return .number(Double(GradMode.noGrad { t.sum() }.item))
        },

        Builtin("mean", [BuiltinParam("t", nil, "a tensor, a list of numbers or a range"),
                         BuiltinParam("axis", .nil_, "the axis to average over (nil: everything)")],
                topic: "tensors", summary: "The mean of all elements, or along an axis.",
                help: "Without an axis the result is a number; with one, a tensor with that axis removed.",
                example: "mean([1, 2, 3, 4])") { args in
            let axis = try EngineArgs.axis(args)
            if axis == nil, let xs = try EngineArgs.plainNumbers(args.value("t"), args) {
                guard !xs.isEmpty else { throw BuiltinError("mean: the list is empty") }
                return .number(xs.reduce(0, +) / Double(xs.count))
            }
            let t = try args.tensor("t")
            if let axis { return .tensor(try GradMode.noGrad { try t.mean(axes: [axis]) }) }
            guard t.count > 0 else { throw BuiltinError("mean: the tensor is empty") }
            return .number(Double(GradMode.noGrad { t.mean() }.item))
        },

        Builtin("abs", [BuiltinParam("t", nil, "a number or a tensor")],
                topic: "tensors", summary: "The absolute value of a number, or of each element of a tensor.",
                example: "abs(tensor([-1, 2, -3]))") { args in
            if case .number(let x) = args.value("t") { return .number(Swift.abs(x)) }
            let t = try args.tensor("t")
            return .tensor(GradMode.noGrad { t.abs() })
        },

        extremum("max", isMax: true),
        extremum("min", isMax: false),

        Builtin("topk", [BuiltinParam("t", nil, "a tensor"),
                         BuiltinParam("k", nil, "how many"),
                         BuiltinParam("indices", .bool(false), "return the flat indices instead of the values")],
                topic: "tensors", summary: "The k largest values of a tensor, largest first.",
                help: "Looks at the tensor flattened. With indices=true returns the flat indices (a list) of those values instead; ties keep the lower index first.",
                example: "topk(tensor([3, 1, 4, 1, 5]), 2)") { args in
            let t = try args.tensor("t")
            let k = try args.int("k")
            guard k >= 0, k <= t.count else {
                throw BuiltinError("topk: argument 'k' must be between 0 and the \(t.count) elements of the tensor, got \(k)")
            }
            let wantIndices = try args.bool("indices")
            let p = t.data
            // Largest first; NaN counts as smallest; equal values keep index order.
            func before(_ i: Int, _ j: Int) -> Bool {
                let a = p[i], b = p[j]
                if a.isNaN || b.isNaN { return a.isNaN == b.isNaN ? i < j : b.isNaN }
                return a != b ? a > b : i < j
            }
            var order = Array(0..<t.count)
            order.sort(by: before)
            let top = Array(order.prefix(k))
            if wantIndices { return EngineArgs.intList(top) }
            return .tensor(try Tensor(shape: [k], data: top.map { p[$0] }))
        },

        Builtin("sparsity", [BuiltinParam("x", nil, "a tensor or a model")],
                topic: "tensors", summary: "The fraction of elements that are exactly zero.",
                help: "For a model: over its prunable weights (the weights of its Linear and Conv2d layers except the classifier, and any other masked parameter), as the total of report(net).",
                example: "sparsity(tensor([0, 1, 0, 2]))") { args in
            switch args.value("x") {
            case .object(let m as Module):
                return .number(Masks.sparsity(m))
            case .object(is Tensor), .list, .range:
                let c = EngineArgs.zeroCount(try args.tensor("x"))
                return .number(c.total > 0 ? Double(c.zeros) / Double(c.total) : 0)
            default:
                throw args.wrong("x", "a tensor or a model")
            }
        },
    ]

    /// max/min: over plain numbers (max(3, 5), max([1, 2])) or over a tensor, optionally along an axis.
    private static func extremum(_ name: String, isMax: Bool) -> Builtin {
        Builtin(name, [BuiltinParam("t", nil, "a tensor, a list of numbers, or several numbers"),
                       BuiltinParam("axis", .nil_, "the axis to reduce (nil: everything)")], variadic: true,
                topic: "tensors", summary: "The \(isMax ? "largest" : "smallest") element of a tensor or list, or of several numbers.",
                help: "\(name)(3, 5) and \(name)([3, 5]) give a number; \(name)(t) gives a number; \(name)(t, axis=0) gives a tensor with that axis removed.",
                example: "\(name)(tensor([[1, 5], [3, 2]]), axis=1)") { args in
            let pick: (Double, Double) -> Double = isMax ? { Swift.max($0, $1) } : { Swift.min($0, $1) }
            // Several plain numbers: max(3, 5, 7).
            if case .number = args.value("t"), args.positional.count >= 2 || !args.rest.isEmpty {
                var xs: [Double] = []
                for v in args.positional {
                    guard case .number(let x) = v else {
                        throw BuiltinError("\(name): with several arguments all must be numbers, got \(v.typeName)")
                    }
                    xs.append(x)
                }
                guard let first = xs.first else { throw BuiltinError("\(name): needs at least one value") }
                return .number(xs.dropFirst().reduce(first, pick))
            }
            guard args.rest.isEmpty else {
                throw BuiltinError("\(name): takes a tensor and an axis, or several numbers; got \(args.positional.count) arguments")
            }
            let axis = try EngineArgs.axis(args)
            if axis == nil, let xs = try EngineArgs.plainNumbers(args.value("t"), args) {
                guard let first = xs.first else { throw BuiltinError("\(name): the list is empty") }
                return .number(xs.dropFirst().reduce(first, pick))
            }
            let t = try args.tensor("t")
            guard t.count > 0 else { throw BuiltinError("\(name): the tensor is empty") }
            let r = try GradMode.noGrad { isMax ? try t.max(axis: axis) : try t.min(axis: axis) }
            return EngineArgs.reduced(r)
        }
    }
}
