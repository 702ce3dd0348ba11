// Models as values of the language: `net(x)`, `net.layers`, `net.params`, `net[0]`,
// `net["layers.0.weight"]`, `net.fc1.weight = t`, `for layer in net`, `len(net)`, `copy(net)`,
// and the layer table the prompt shows.
import Language
import FileIO
import Engine
import FileIO
import NN

extension Value {
    /// A model (or layer) as a value of the language.
    public static func model(_ m: Module) -> Value { .object(m) }
}

extension Module: ScriptObject {
    public var scriptTypeName: String { "model" }
    public var scriptDisplay: String { displayModel(self) }
    public var scriptInlineDisplay: String { "<model \(typeName), \(thousands(parameterCount)) parameters>" }

    public var scriptFieldNames: [String] {
        // A Sequential's children are named "layers" too: each name once.
        var seen = Set<String>()
        return (["params", "layers", "type", "names"] + localParameters.map(\.0) + localBuffers.map(\.0) + children.map(\.0))
            .filter { seen.insert($0).inserted }
    }

    public func scriptField(_ name: String) throws -> Value? {
        switch name {
        case "params": return .number(Double(parameterCount))
        case "layers": return .list(ListRef(layerList.map { .model($0) }))
        case "type": return .string(typeName)
        case "names": return .list(ListRef(namedParameters().map { .string($0.0) }))
        default: break
        }
        if let p = localParameters.first(where: { $0.0 == name }) { return .tensor(p.1) }
        if let b = localBuffers.first(where: { $0.0 == name }) { return .tensor(b.1) }
        if let c = children.first(where: { $0.0 == name }) {
            if let l = c.1 as? ModuleList { return .list(ListRef(l.modules.map { .model($0) })) }
            return .model(c.1)
        }
        return nil
    }

    /// A layer's weight or buffer, `layer.weight = t`: copied in place, so optimizers, masks and
    /// other references see it.
    public func scriptSetField(_ name: String, _ value: Value) throws -> Bool {
        guard let target = (localParameters + localBuffers).first(where: { $0.0 == name })?.1 else { return false }
        let source: Tensor
        switch value {
        case .object(let t as Tensor): source = t
        case .number(let x): source = try Tensor(shape: target.shape, repeating: Float(x))
        default: throw BuiltinError("\(name) of \(typeName) must be set to a tensor of shape \(describe(shape: target.shape)), got a \(value.typeName)")
        }
        guard source.shape == target.shape else {
            throw BuiltinError("\(name) of \(typeName) has shape \(describe(shape: target.shape)); cannot set it to a tensor of shape \(describe(shape: source.shape))")
        }
        try target.assign(source)
        return true
    }

    /// `net(x)`: the model's forward pass on a batch, in the model's current mode (evaluation
    /// after `train`), as PyTorch's `module(x)`.
    public func scriptCall(_ positional: [Value], _ keywords: [(String, Value)]) throws -> Value? {
        guard positional.count == 1, keywords.isEmpty else {
            throw BuiltinError("a model is called with one tensor, a batch of inputs: net(x)")
        }
        let x: Tensor
        switch positional[0] {
        case .object(let t as Tensor): x = t
        case .list, .range: x = try tensorValue(from: positional[0], what: "the input of a model", maxWalk: Session.defaultMaxWalk)
        default: throw BuiltinError("a model is called with one tensor, a batch of inputs; got a \(positional[0].typeName)")
        }
        return .tensor(try self(x))
    }

    /// `net["layers.0.weight"]` (a parameter, buffer or sub-module by dotted name), `net[0]` (a layer).
    public func scriptIndex(_ subs: [IndexArgument]) throws -> Value? {
        guard subs.count == 1 else { throw BuiltinError("a model takes one index, got \(subs.count)") }
        guard case .at(let v) = subs[0] else { return nil }
        if case .string(let name) = v {
            if let p = namedParameters().first(where: { $0.0 == name }) { return .tensor(p.1) }
            if let b = namedBuffers().first(where: { $0.0 == name }) { return .tensor(b.1) }
            if let c = namedModules().first(where: { $0.0 == name && !name.isEmpty }) { return .model(c.1) }
            let names = namedParameters().map(\.0) + namedModules().map(\.0).filter { !$0.isEmpty }
            throw BuiltinError("no parameter or layer '\(name)' in the model" + didYouMean(name, names))
        }
        let layers = layerList
        return .model(layers[try Indexing.position(v, layers.count, "a model")])
    }

    /// `net["fc1.weight"] = t`: assigns into the parameter in place.
    public func scriptSetIndex(_ subs: [IndexArgument], _ value: Value) throws -> Bool {
        guard subs.count == 1 else { throw BuiltinError("a model takes one index, got \(subs.count)") }
        guard case .at(.string(let name)) = subs[0] else { return false }
        guard let p = namedParameters().first(where: { $0.0 == name }) else {
            throw BuiltinError("no parameter '\(name)' in the model" + didYouMean(name, namedParameters().map(\.0)))
        }
        return try p.1.scriptSetIndex([], value)
    }

    public func scriptItems() throws -> [Value]? { layerList.map { .model($0) } }
    public func scriptLength() throws -> Int? { layerList.count }

    /// A structurally identical model with copied parameters, buffers and masks.
    public func scriptCopied() throws -> ScriptObject? {
        do { return try clone() } catch let e as LibraryError { throw BuiltinError("copy: " + e.scriptText) }
    }

    /// The layers of a model, as `net.layers`, `net[i]` and `for layer in net` see them.
    var layerList: [Module] {
        if let s = self as? Sequential { return s.layers }
        if let l = self as? ModuleList { return l.modules }
        return children.map(\.1)
    }
}

/// The model's layer table: every leaf layer (and every container with its own parameters)
/// with its type, parameter shapes and parameter count.
public func displayModel(_ m: Module) -> String {
    if m.children.isEmpty {
        let shapes = m.localParameters.map { "\($0.0) \(describe(shape: $0.1.shape))" }.joined(separator: ", ")
        return "model \(m.typeName): \(thousands(m.parameterCount)) parameters" + (shapes.isEmpty ? "" : " (\(shapes))")
    }
    let rows = modelLayerRows(m)
    let n = rows.count - 1
    var out = "model \(m.typeName): \(n) layer\(n == 1 ? "" : "s"), \(thousands(m.parameterCount)) parameters\n"
    out += alignedColumns(rows, rightAligned: [3], rule: true, indent: "  ")
    return String(out.dropLast())
}

/// The rows of a layer table (the prompt's model display, `summary`): a header, then one row per
/// leaf layer and per container with its own parameters: dotted name, type, parameter shapes
/// ("–" when it has none) and count.
func modelLayerRows(_ m: Module) -> [[String]] {
    var rows: [[String]] = [["layer", "type", "parameters", "count"]]
    for (name, mod) in m.namedModules() where mod.children.isEmpty || !mod.localParameters.isEmpty {
        let params = mod.localParameters
        let shapes = params.map { "\($0.0) \(describe(shape: $0.1.shape))" }.joined(separator: ", ")
        let count = params.reduce(0) { $0 + $1.1.count }
        rows.append([name.isEmpty ? "(model)" : name, mod.typeName, shapes.isEmpty ? missingText : shapes, thousands(count)])
    }
    return rows
}
