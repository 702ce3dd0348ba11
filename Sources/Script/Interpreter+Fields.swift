// Fields: `r.lr`, `t.shape`, `t.T`, `net.params`, `net.layers`, `data.classes`, `results.acc`,
// and the names completion offers after a dot.
import Engine
import NN
import Data

/// Field access on values, shared by the interpreter and completion.
enum Fields {
    static let tensor = ["shape", "T", "rank", "count", "grad", "requires_grad"]
    static let model = ["params", "layers", "type", "names"]
    static let dataset = ["name", "count", "classes", "shape", "images", "labels", "class_names"]
    static let table = ["columns", "rows", "count"]

    /// The names `v.` can be followed by.
    static func names(of v: Value) -> [String] {
        switch v {
        case .record(let r): return r.keys
        case .tensor: return tensor
        case .model(let m):
            return model + m.localParameters.map(\.0) + m.localBuffers.map(\.0) + m.children.map(\.0)
        case .dataset: return dataset
        case .table(let t): return table + t.columns
        case .object(let o): return o.fieldNames
        default: return []
        }
    }

    /// `v.name`, or nil when `v` has no such field. Throws only when computing it fails.
    static func get(_ v: Value, _ name: String) throws -> Value? {
        switch v {
        case .record(let r): return r[name]
        case .tensor(let t):
            switch name {
            case "shape": return .list(ListRef(t.shape.map { .number(Double($0)) }))
            case "T": return .tensor(t.rank < 2 ? t : try t.transposed())
            case "rank": return .number(Double(t.rank))
            case "count": return .number(Double(t.count))
            case "grad": return t.grad.map { .tensor($0) } ?? .nil_
            case "requires_grad": return .bool(t.requiresGrad)
            default: return nil
            }
        case .model(let m):
            switch name {
            case "params": return .number(Double(m.parameterCount))
            case "layers":
                let layers: [Module]
                if let s = m as? Sequential { layers = s.layers } else if let l = m as? ModuleList { layers = l.modules } else { layers = m.children.map(\.1) }
                return .list(ListRef(layers.map { .model($0) }))
            case "type": return .string(m.typeName)
            case "names": return .list(ListRef(m.namedParameters().map { .string($0.0) }))
            default: break
            }
            if let p = m.localParameters.first(where: { $0.0 == name }) { return .tensor(p.1) }
            if let b = m.localBuffers.first(where: { $0.0 == name }) { return .tensor(b.1) }
            if let c = m.children.first(where: { $0.0 == name }) {
                if let l = c.1 as? ModuleList { return .list(ListRef(l.modules.map { .model($0) })) }
                return .model(c.1)
            }
            return nil
        case .dataset(let d):
            switch name {
            case "name": return .string(d.name)
            case "count": return .number(Double(d.count))
            case "classes": return .number(Double(d.classes))
            case "shape": return .list(ListRef(d.sampleShape.map { .number(Double($0)) }))
            case "images": return .tensor(d.images)
            case "labels": return .list(ListRef(d.labels.map { .number(Double($0)) }))
            case "class_names": return .list(ListRef(d.classNames.map { .string($0) }))
            default: return nil
            }
        case .table(let t):
            switch name {
            case "columns": return .list(ListRef(t.columns.map { .string($0) }))
            case "count": return .number(Double(t.rows.count))
            case "rows": return .list(ListRef(t.rows.map { r in .record(RecordRef(t.columns.map { ($0, r[$0] ?? .nil_) })) }))
            default:
                guard t.columns.contains(name) else { return nil }
                return .list(ListRef(t.rows.map { $0[name] ?? .nil_ }))
            }
        case .object(let o): return o.field(name)
        default: return nil
        }
    }
}

extension Interpreter {
    func fieldIfPresent(_ v: Value, _ name: String, _ loc: SourceLocation, _ f: Frame) throws -> Value? {
        do { return try Fields.get(v, name) } catch let e as EngineError { throw f.error(loc, e.message) }
    }

    func field(_ v: Value, _ name: String, _ loc: SourceLocation, _ f: Frame) throws -> Value {
        if let x = try fieldIfPresent(v, name, loc, f) { return x }
        throw noField(v, name, loc, f)
    }

    /// `no field 'shap' in a tensor (did you mean 'shape'?)`
    func noField(_ v: Value, _ name: String, _ loc: SourceLocation, _ f: Frame) -> ScriptError {
        let names = Fields.names(of: v)
        var hint = didYouMean(name, names)
        if hint.isEmpty, !names.isEmpty, names.count <= 12 { hint = " (fields: \(names.joined(separator: ", ")))" }
        return f.error(loc, "no field '\(name)' in a \(v.typeName)" + hint)
    }

    /// `obj.name = value`: records gain or change a field; tensors accept `requires_grad` and `grad`.
    func setField(_ obj: Value, _ name: String, _ value: Value, _ loc: SourceLocation, _ f: Frame) throws {
        switch obj {
        case .record(let r): r[name] = value
        case .tensor(let t) where name == "requires_grad":
            t.requiresGrad = value.isTruthy
        case .tensor(let t) where name == "grad":
            switch value {
            case .nil_: t.grad = nil
            case .tensor(let g) where g.shape == t.shape: t.grad = g
            default: throw f.error(loc, "grad must be nil or a tensor of shape \(describe(shape: t.shape))")
            }
        case .model(let m) where m.localParameters.contains(where: { $0.0 == name }) || m.localBuffers.contains(where: { $0.0 == name }):
            // A layer's weight: copied in place, so optimizers, masks and other references see it.
            guard let target = (m.localParameters + m.localBuffers).first(where: { $0.0 == name })?.1 else { return }
            let source: Tensor
            switch value {
            case .tensor(let t): source = t
            case .number(let x): source = try Tensor(shape: target.shape, repeating: Float(x))
            default: throw f.error(loc, "\(name) of \(m.typeName) must be set to a tensor of shape \(describe(shape: target.shape)), got a \(value.typeName)")
            }
            guard source.shape == target.shape else {
                throw f.error(loc, "\(name) of \(m.typeName) has shape \(describe(shape: target.shape)); cannot set it to a tensor of shape \(describe(shape: source.shape))")
            }
            do { try target.assign(source) } catch let e as EngineError { throw f.error(loc, e.message) }
        default:
            throw f.error(loc, "cannot set field '\(name)' of a \(obj.typeName)" + (obj.typeName == "record" ? "" : " (only records have settable fields)"))
        }
    }
}
