// The engine builtins (tensors, models, data, training), called through their table entries
// with arguments bound the way the interpreter binds them.
import Testing
import TestSupport
@testable import Language
@testable import Bindings
@testable import Notebooks
import Engine
import NN
import Data
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private let engineTable: [Builtin] = Builtins.tensors + Builtins.models + Builtins.data + Builtins.training

private let fashionAvailable: Bool = {
    let (images, labels) = FashionMNIST.files(.train, directory: FashionMNIST.resolveDirectory())
    return access(images, R_OK) == 0 && access(labels, R_OK) == 0
}()

private struct BindError: Error { var message: String }

/// Binds like Interpreter.callBuiltin (positional in order, keywords by name, defaults), then
/// runs the body.
@discardableResult
/// With `variadicStopsAtKeyword`, positional arguments of a variadic builtin fill parameters
/// only up to the first one given by keyword (`randn(2, 3, std=0.1)`), the rest going to `rest`.
private func call(_ name: String, _ positional: [Value] = [], _ keywords: [(String, Value)] = [],
                  session: Session = testSession(output: { _ in }), variadicStopsAtKeyword: Bool = false) throws -> Value {
    guard let b = engineTable.first(where: { $0.name == name }) else { throw BindError(message: "no builtin \(name)") }
    var named: [String: Value] = [:], rest: [Value] = []
    if positional.count > b.params.count && !b.variadic { throw BindError(message: "too many arguments") }
    let fillable = b.variadic && variadicStopsAtKeyword
        ? (b.params.firstIndex { p in keywords.contains { $0.0 == p.name } } ?? b.params.count) : b.params.count
    for (i, v) in positional.enumerated() {
        if i < fillable { named[b.params[i].name] = v } else { rest.append(v) }
    }
    for (k, v) in keywords {
        guard b.params.contains(where: { $0.name == k }) else { throw BindError(message: "unknown keyword \(k)") }
        guard named[k] == nil else { throw BindError(message: "\(k) given twice") }
        named[k] = v
    }
    for p in b.params where named[p.name] == nil {
        guard let d = p.defaultValue else { throw BindError(message: "missing \(p.name)") }
        named[p.name] = d
    }
    var args = CallArgs(builtin: name, named: named, rest: rest, extra: [], positional: positional, session: session)
    return try b.body(&args)
}

/// The message of the error `body` throws ("" when it does not throw).
private func message(_ body: () throws -> Void) -> String {
    do { try body(); return "" } catch let e as BuiltinError { return e.message } catch let e as EngineError { return e.message } catch { return "\(error)" }
}

private func n(_ x: Double) -> Value { .number(x) }
private func list(_ xs: [Value]) -> Value { .list(ListRef(xs)) }
private func nums(_ xs: [Double]) -> Value { list(xs.map { .number($0) }) }

private func tensorOf(_ v: Value) -> Tensor? { if case .object(let t as Tensor) = v { return t } else { return nil } }
private func numberOf(_ v: Value) -> Double? { if case .number(let x) = v { return x } else { return nil } }
private func modelOf(_ v: Value) -> Module? { if case .object(let m as Module) = v { return m } else { return nil } }
private func datasetOf(_ v: Value) -> Dataset? { if case .object(let d as Dataset) = v { return d } else { return nil } }
private func numbersOf(_ v: Value) -> [Double]? {
    guard case .list(let l) = v else { return nil }
    return l.items.compactMap(numberOf)
}

private func tempPath(_ name: String) -> String { "/tmp/prune-builtins-\(getpid())-\(name).safetensors" }

@Suite("Engine builtins: tensors")
struct BuiltinsEngineTensorTests {
    @Test func everyEntryIsDocumented() {
        for b in engineTable {
            #expect(!b.summary.isEmpty, "\(b.name)")
            #expect(!b.example.isEmpty, "\(b.name)")
            #expect(["tensors", "models", "data", "training"].contains(b.topic), "\(b.name)")
        }
        let names = Set(engineTable.map(\.name))
        for n in ["tensor", "zeros", "ones", "randn", "rand", "shape", "sum", "mean", "abs", "max", "min", "topk", "sparsity",
                  "mlp", "cnn", "lenet5", "resnet", "vit", "summary", "params", "save", "load",
                  "fashion_mnist", "train", "evaluate", "accuracy"] {
            #expect(names.contains(n), "\(n)")
        }
    }

    @Test func tensorFromNestedLists() throws {
        let t = try #require(tensorOf(try call("tensor", [list([nums([1, 2]), nums([3, 4])])])))
        #expect(t.shape == [2, 2])
        #expect(t.array == [1, 2, 3, 4])
        let r = try #require(tensorOf(try call("tensor", [.range(1, 5)])))
        #expect(r.array == [1, 2, 3, 4, 5])
        #expect(!message { try call("tensor", [list([nums([1, 2]), nums([3])])]) }.isEmpty)
    }

    @Test func zerosAndOnesTakeAListOrNumbers() throws {
        let a = try #require(tensorOf(try call("zeros", [nums([2, 3])])))
        let b = try #require(tensorOf(try call("zeros", [n(2), n(3)])))
        #expect(a.shape == [2, 3] && b.shape == [2, 3])
        #expect(a.array.allSatisfy { $0 == 0 })
        let o = try #require(tensorOf(try call("ones", [n(4)])))
        #expect(o.shape == [4] && o.array == [1, 1, 1, 1])
        #expect(message { try call("zeros", [n(-1)]) }.contains("≥ 0"))
        #expect(message { try call("zeros", [n(2.5)]) }.contains("whole"))
        #expect(message { try call("zeros", [.string("a")]) }.contains("shape"))
        #expect(message { try call("ones", [n(1e6), n(1e6)]) }.contains("too large"))
    }

    @Test func randomTensorsAreSeededAndKeepKeywords() throws {
        let s1 = testSession(output: { _ in }, seed: 3), s2 = testSession(output: { _ in }, seed: 3)
        let a = try #require(tensorOf(try call("randn", [n(2), n(3)], session: s1)))
        let b = try #require(tensorOf(try call("randn", [nums([2, 3])], session: s2)))
        #expect(a.shape == [2, 3] && a.array == b.array)
        let z = try #require(tensorOf(try call("randn", [nums([5])], [("std", n(0))])))
        #expect(z.array.allSatisfy { $0 == 0 })
        let u = try #require(tensorOf(try call("rand", [n(1000)], [("low", n(2)), ("high", n(3))])))
        #expect(u.array.allSatisfy { $0 >= 2 && $0 <= 3 })
        // rand(2, 3, 4): every positional number is a dimension, low/high keep their defaults.
        let v = try #require(tensorOf(try call("rand", [n(2), n(3), n(4)])))
        #expect(v.shape == [2, 3, 4] && v.array.allSatisfy { $0 >= 0 && $0 <= 1 })
        // randn(2, 3, std=0) and rand(2, 3, high=5) under a binder that stops at keywords.
        let k = try #require(tensorOf(try call("randn", [n(2), n(3)], [("std", n(0))], variadicStopsAtKeyword: true)))
        #expect(k.shape == [2, 3] && k.array.allSatisfy { $0 == 0 })
        let h = try #require(tensorOf(try call("rand", [n(2), n(3)], [("high", n(5))], variadicStopsAtKeyword: true)))
        #expect(h.shape == [2, 3] && h.array.allSatisfy { $0 >= 0 && $0 <= 5 } && h.array.contains { $0 > 1 })
        #expect(message { try call("rand", [n(2)], [("low", n(3)), ("high", n(1))]) }.contains("low ≤ high"))
        #expect(message { try call("randn", [n(2)], [("std", n(-1))]) }.contains("std"))
    }

    @Test func shapeAndReductions() throws {
        let t = try #require(tensorOf(try call("tensor", [list([nums([1, -5]), nums([3, 2])])])))
        #expect(numbersOf(try call("shape", [.tensor(t)])) == [2, 2])
        #expect(numberOf(try call("sum", [.tensor(t)])) == 1)
        #expect(tensorOf(try call("sum", [.tensor(t)], [("axis", n(0))]))?.array == [4, -3])
        #expect(numberOf(try call("mean", [.tensor(t)])) == 0.25)
        #expect(tensorOf(try call("mean", [.tensor(t), n(1)]))?.array == [-2, 2.5])
        #expect(numberOf(try call("sum", [nums([0.1, 0.2])])) == 0.1 + 0.2)
        #expect(numberOf(try call("mean", [.range(1, 4)])) == 2.5)
        #expect(numberOf(try call("max", [.tensor(t)])) == 3)
        #expect(numberOf(try call("min", [.tensor(t)])) == -5)
        #expect(tensorOf(try call("max", [.tensor(t)], [("axis", n(1))]))?.array == [1, 3])
        #expect(tensorOf(try call("min", [.tensor(t), n(0)]))?.array == [1, -5])
        #expect(numberOf(try call("max", [n(3), n(5)])) == 5)
        #expect(numberOf(try call("min", [n(3), n(5), n(-1)])) == -1)
        #expect(numberOf(try call("max", [nums([1, 2])])) == 2)
        #expect(numberOf(try call("abs", [n(-2)])) == 2)
        #expect(tensorOf(try call("abs", [.tensor(t)]))?.array == [1, 5, 3, 2])
        #expect(message { try call("max", [nums([])]) }.contains("empty"))
        #expect(message { try call("max", [n(1), .string("a")]) }.contains("numbers"))
        #expect(message { try call("sum", [.tensor(t)], [("axis", n(2))]) }.contains("axis"))
        #expect(message { try call("mean", [.string("x")]) }.contains("tensor"))
    }

    @Test func topkValuesAndIndices() throws {
        let t = try #require(tensorOf(try call("tensor", [list([nums([3, 1, 4]), nums([1, 5, 9])])])))
        #expect(tensorOf(try call("topk", [.tensor(t), n(3)]))?.array == [9, 5, 4])
        #expect(numbersOf(try call("topk", [.tensor(t), n(2)], [("indices", .bool(true))])) == [5, 4])
        #expect(numbersOf(try call("topk", [.tensor(t), n(6), .bool(true)])) == [5, 4, 2, 0, 1, 3])
        #expect(tensorOf(try call("topk", [.tensor(t), n(0)]))?.shape == [0])
        #expect(message { try call("topk", [.tensor(t), n(7)]) }.contains("'k'"))
        #expect(message { try call("topk", [.tensor(t), n(-1)]) }.contains("'k'"))
    }

    @Test func sparsityOfTensorsAndModels() throws {
        let t = try #require(tensorOf(try call("tensor", [nums([0, 1, 0, 2])])))
        #expect(numberOf(try call("sparsity", [.tensor(t)])) == 0.5)
        #expect(numberOf(try call("sparsity", [nums([0, 0, 0, 1])])) == 0.75)
        let net = try call("mlp", [nums([4, 3, 3, 2])])
        #expect(numberOf(try call("sparsity", [net])) == 0)
        let m = try #require(modelOf(net))
        // Zero the first layer's weight (12 of the 12 + 9 prunable weights); biases and the
        // classifier do not count.
        let w = try #require(m.namedParameters().first { $0.0 == "layers.1.weight" }?.1)
        w.fill(0)
        #expect(numberOf(try call("sparsity", [net])) == 12.0 / 21.0)
        #expect(message { try call("sparsity", [.string("x")]) }.contains("tensor or a model"))
    }
}

@Suite("Engine builtins: models")
struct BuiltinsEngineModelTests {
    @Test func mlpParameterCountAndErrors() throws {
        let net = try call("mlp", [nums([784, 300, 100, 10])])
        #expect(numberOf(try call("params", [net])) == 266_610)
        let tanh = try #require(modelOf(try call("mlp", [nums([4, 3, 2])], [("activation", .string("tanh"))])))
        #expect(tanh.namedModules().contains { $0.1.typeName.lowercased().contains("tanh") })
        let bad = message { try call("mlp", [nums([784, 10])], [("activation", .string("relux"))]) }
        #expect(bad.contains("relux") && bad.contains("\"relu\"") && bad.contains("\"gelu\""))
        #expect(message { try call("mlp", [nums([784])]) }.contains("two widths"))
        #expect(message { try call("mlp", [nums([784, 0, 10])]) }.contains("widths"))
        #expect(message { try call("mlp", [.string("x")]) }.contains("'widths'"))
    }

    @Test func readyModelsRunOnImages() throws {
        let x = try Tensor.zeros([2, 1, 28, 28])
        for (name, kw) in [("cnn", [(String, Value)]()), ("lenet5", [("classes", n(3))]),
                           ("resnet", [("widths", nums([4, 8])), ("blocks", n(1))]),
                           ("vit", [("dim", n(16)), ("depth", n(1)), ("heads", n(2))])] {
            let m = try #require(modelOf(try call(name, [], kw)), "\(name)")
            m.eval()
            let y = try m(x)
            #expect(y.shape == [2, name == "lenet5" ? 3 : 10], "\(name)")
            #expect((numberOf(try call("params", [.model(m)])) ?? 0) > 0)
        }
        #expect(message { try call("vit", [], [("dim", n(10)), ("heads", n(3))]) }.contains("divide"))
        #expect(message { try call("vit", [], [("patch", n(5))]) }.contains("patch"))
        #expect(message { try call("cnn", [n(0)]) }.contains("'classes'"))
        #expect(message { try call("resnet", [], [("widths", nums([]))]) }.contains("'widths'"))
        #expect(message { try call("resnet", [], [("blocks", n(0))]) }.contains("'blocks'"))
    }

    @Test func summaryPrintsTheLayerTable() throws {
        var out = ""
        let s = testSession(output: { out += $0 })
        let net = try call("mlp", [nums([784, 300, 100, 10])], session: s)
        #expect(try call("summary", [net], session: s).typeName == "nil")
        #expect(out.contains("layers.1") && out.contains("Linear(784 → 300)") && out.contains("weight [300, 784]"))
        #expect(out.contains("total: 266,610 parameters"))
        #expect(message { try call("summary", [n(1)]) }.contains("a model"))
    }

    @Test func saveAndLoadRoundTrip() throws {
        let path = tempPath("model")
        defer { unlink(path) }
        let s = testSession(output: { _ in }, seed: 1)
        let a = try call("mlp", [nums([8, 4, 3])], session: s)
        let b = try call("mlp", [nums([8, 4, 3])], session: s)
        let ma = try #require(modelOf(a)), mb = try #require(modelOf(b))
        #expect(ma.parameters[1].array != mb.parameters[1].array)
        try call("save", [a, .string(path)])
        let back = try call("load", [.string(path)], [("into", b)])
        #expect(modelOf(back) === mb)
        for (p, q) in zip(ma.parameters, mb.parameters) { #expect(p.array == q.array) }
        // A bare load rebuilds the model from the architecture in the file.
        let rebuilt = try #require(modelOf(try call("load", [.string(path)])))
        #expect(rebuilt !== ma && rebuilt.namedParameters().map(\.0) == ma.namedParameters().map(\.0))
        for (p, q) in zip(ma.parameters, rebuilt.parameters) { #expect(p.array == q.array) }
        // A file of tensors without an architecture gives a record of name → tensor.
        let tensors = path + ".tensors.safetensors"
        defer { unlink(tensors) }
        try call("save", [.record(RecordRef([("w", .tensor(ma.parameters[0]))])), .string(tensors)])
        guard case .record(let r) = try call("load", [.string(tensors)]) else { Issue.record("not a record"); return }
        #expect(r.keys == ["w"])
        // Loading into a model of another shape fails and says which tensor.
        let c = try call("mlp", [nums([8, 5, 3])])
        #expect(message { try call("load", [.string(path)], [("into", c)]) }.contains("layers.1.weight"))
        #expect(!message { try call("load", [.string("/nonexistent/x.safetensors")]) }.isEmpty)
    }

    @Test func saveTensorsRecordsAndTables() throws {
        let path = tempPath("tensor")
        defer { unlink(path) }
        let t = try call("tensor", [nums([1, 2, 3])])
        try call("save", [t, .string(path)])
        guard case .record(let r) = try call("load", [.string(path)]), let v = r["tensor"] else { Issue.record("no tensor"); return }
        #expect(tensorOf(v)?.array == [1, 2, 3])
        try call("save", [.record(RecordRef([("a", t)])), .string(path)])
        guard case .record(let r2) = try call("load", [.string(path)]) else { Issue.record("not a record"); return }
        #expect(r2.keys == ["a"])
        #expect(message { try call("save", [.table(Table()), .string(path)]) }.contains("CSV"))
        #expect(message { try call("save", [.record(RecordRef([("a", n(1))])), .string(path)]) }.contains("'a'"))
        #expect(message { try call("load", [.string(path)], [("into", n(3))]) }.contains("'into'"))
    }
}

@Suite("Engine builtins: data and training", .enabled(if: fashionAvailable, "Fashion-MNIST is not installed"))
struct BuiltinsEngineDataTests {
    @Test func fashionMNISTFilters() throws {
        let shoes = try #require(datasetOf(try call("fashion_mnist", [], [("classes", nums([5, 7, 9])), ("per_class", n(10))])))
        #expect(shoes.count == 30 && shoes.classes == 3)
        #expect(shoes.classCounts() == [10, 10, 10])
        #expect(shoes.classNames == ["Sandal", "Sneaker", "Ankle boot"])
        let same = try #require(datasetOf(try call("fashion_mnist", [], [("classes", nums([5, 7, 9])), ("per_class", n(10))])))
        #expect(same.labels == shoes.labels && same.images.array == shoes.images.array)
        let byName = try #require(datasetOf(try call("fashion_mnist", [.string("test")], [("classes", list([.string("bag"), .string("Trouser")]))])))
        #expect(byName.classes == 2 && byName.count == 2000 && byName.classNames == ["Bag", "Trouser"])
        let range = try #require(datasetOf(try call("fashion_mnist", [.string("test")], [("classes", .range(0, 1)), ("limit", n(50))])))
        #expect(range.count == 50 && range.classes == 2)
        let first = try #require(datasetOf(try call("fashion_mnist", [], [("limit", n(100))])))
        #expect(first.count == 100 && first.classes == 10)
        #expect(numbersOf(try call("shape", [.dataset(first)])) == [100, 1, 28, 28])
        #expect(message { try call("fashion_mnist", [.string("validation")]) }.contains("\"test\""))
        #expect(message { try call("fashion_mnist", [], [("classes", nums([3, 10]))]) }.contains("'classes'"))
        #expect(message { try call("fashion_mnist", [], [("classes", nums([3, 3]))]) }.contains("twice"))
        #expect(message { try call("fashion_mnist", [], [("classes", list([.string("Boot")]))]) }.contains("Ankle boot"))
        #expect(message { try call("fashion_mnist", [.string("test")], [("per_class", n(1001))]) }.contains("'per_class'"))
        #expect(message { try call("fashion_mnist", [], [("limit", n(-1))]) }.contains("'limit'"))
        #expect(message { try call("fashion_mnist", [], [("seed", n(-1))]) }.contains("'seed'"))
    }

    @Test func trainEvaluateAccuracy() throws {
        let s = testSession(output: { _ in }, seed: 0)
        let data = try call("fashion_mnist", [.string("train")], [("limit", n(2000))], session: s)
        let net = try call("mlp", [nums([784, 100, 10])], session: s)
        let result = try call("train", [net, data], [("epochs", n(1)), ("quiet", .bool(true))], session: s)
        guard case .table(let table) = result else { Issue.record("train did not return a table"); return }
        #expect(table.rows.count == 1)
        #expect(table.columns == ["epoch", "loss", "acc", "seconds", "samples_per_s"])
        let acc = try #require(table.rows.first.flatMap { $0["acc"] }.flatMap(numberOf))
        #expect(acc > 0.3 && acc <= 1)
        let test = try call("fashion_mnist", [.string("test")], [("limit", n(500))], session: s)
        let a = try #require(numberOf(try call("accuracy", [net, test], session: s)))
        #expect(a > 0.3 && a <= 1)
        guard case .record(let r) = try call("evaluate", [net, test], session: s) else { Issue.record("not a record"); return }
        #expect(r.keys == ["loss", "acc"])
        #expect(r["acc"].flatMap(numberOf) == a)
    }

    @Test func trainOptionsAndValidation() throws {
        let s = testSession(output: { _ in }, seed: 0)
        let data = try call("fashion_mnist", [], [("limit", n(256))], session: s)
        let val = try call("fashion_mnist", [.string("test")], [("limit", n(100))], session: s)
        let net = try call("mlp", [nums([784, 16, 10])], session: s)
        let r = try call("train", [net, data], [("epochs", n(2)), ("batch", n(64)), ("optimizer", .string("adamw")),
                                                ("lr", n(0.001)), ("weight_decay", n(0.01)), ("schedule", .string("warmup_linear")),
                                                ("warmup", n(2)), ("clip", n(1)), ("label_smoothing", n(0.1)), ("seed", n(4)),
                                                ("validation", val), ("quiet", .bool(true))], session: s)
        guard case .table(let t) = r else { Issue.record("not a table"); return }
        #expect(t.rows.count == 2)
        #expect(t.columns == ["epoch", "loss", "acc", "val_loss", "val_acc", "seconds", "samples_per_s"])
        #expect(t.rows.allSatisfy { $0["val_acc"].flatMap(numberOf) != nil })
        for sched in ["step", "cosine", "constant"] {
            _ = try call("train", [net, data], [("schedule", .string(sched)), ("optimizer", .string("adam")), ("quiet", .bool(true))], session: s)
        }
        _ = try call("train", [net, data], [("nesterov", .bool(true)), ("quiet", .bool(true))], session: s)
    }

    @Test func trainErrors() throws {
        let data = try call("fashion_mnist", [], [("limit", n(64))])
        let net = try call("mlp", [nums([784, 10])])
        let bad = message { try call("train", [net, data], [("optimizer", .string("adamm"))]) }
        #expect(bad.contains("adamm") && bad.contains("\"sgd\"") && bad.contains("\"adam\"") && bad.contains("\"adamw\""))
        #expect(message { try call("train", [net, data], [("schedule", .string("linear"))]) }.contains("\"cosine\""))
        #expect(message { try call("train", [net, data], [("warmup", n(10))]) }.contains("warmup_linear"))
        #expect(message { try call("train", [net, data], [("batch", n(0))]) }.contains("'batch'"))
        #expect(message { try call("train", [net, data], [("lr", n(-1))]) }.contains("'lr'"))
        #expect(message { try call("train", [net, data], [("clip", n(0))]) }.contains("'clip'"))
        #expect(message { try call("train", [net, data], [("label_smoothing", n(1))]) }.contains("'label_smoothing'"))
        #expect(message { try call("train", [net, data], [("momentum", n(0)), ("nesterov", .bool(true))]) }.contains("momentum"))
        #expect(message { try call("train", [data, net]) }.contains("'net'"))
        #expect(message { try call("train", [net, data], [("validation", n(1))]) }.contains("'validation'"))
        // A model whose input width does not match the data: the engine error names the layer.
        let wrong = try call("mlp", [nums([100, 10])])
        #expect(message { try call("train", [wrong, data], [("quiet", .bool(true))]) }.contains("Linear"))
        #expect(message { try call("accuracy", [net, n(1)]) }.contains("a dataset"))
    }

    @Test func interruptedTrainingReturnsThePartialRun() throws {
        var out = ""
        let s = testSession(output: { out += $0 }, seed: 0)
        let data = try call("fashion_mnist", [], [("limit", n(512))], session: s)
        let net = try call("mlp", [nums([784, 10])], session: s)
        s.interruptCheck = { true }
        let r = try call("train", [net, data], [("epochs", n(3)), ("batch", n(64)), ("quiet", .bool(true))], session: s)
        guard case .table(let t) = r else { Issue.record("not a table"); return }
        #expect(t.rows.count == 1)
        #expect(out.contains("interrupted: training stopped in epoch 1 of 3, after 1 steps"))
        let samples = try #require(t.rows.first.flatMap { $0["samples_per_s"] }.flatMap(numberOf))
        #expect(samples > 0)
    }
}
