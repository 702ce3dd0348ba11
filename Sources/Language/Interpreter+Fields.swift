// Fields: `r.lr`, `results.acc`, `results.rows`, an object's fields (`t.shape`, `net.layers`),
// and the names completion offers after a dot.

/// Field access on values, shared by the interpreter and completion.
enum Fields {
    static let table = ["columns", "rows", "count"]

    /// The names `v.` can be followed by.
    static func names(of v: Value) -> [String] {
        switch v {
        case .record(let r): return r.keys
        case .table(let t): return table + t.columns
        case .object(let o): return o.scriptFieldNames
        default: return []
        }
    }

    /// `v.name`, or nil when `v` has no such field. Throws only when computing it fails.
    static func get(_ v: Value, _ name: String) throws -> Value? {
        switch v {
        case .record(let r): return r[name]
        case .table(let t):
            switch name {
            case "columns": return .list(ListRef(t.columns.map { .string($0) }))
            case "count": return .number(Double(t.rows.count))
            case "rows": return .list(ListRef(t.rows.map { r in .record(RecordRef(t.columns.map { ($0, r[$0] ?? .nil_) })) }))
            default:
                guard t.columns.contains(name) else { return nil }
                return .list(ListRef(t.rows.map { $0[name] ?? .nil_ }))
            }
        case .object(let o): return try o.scriptField(name)
        default: return nil
        }
    }
}

extension Interpreter {
    func fieldIfPresent(_ v: Value, _ name: String, _ loc: SourceLocation, _ f: Frame) throws -> Value? {
        try located(loc, f) { try Fields.get(v, name) }
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

    /// `obj.name = value`: records gain or change a field; objects decide which of theirs can be set.
    func setField(_ obj: Value, _ name: String, _ value: Value, _ loc: SourceLocation, _ f: Frame) throws {
        switch obj {
        case .record(let r): r[name] = value
        case .object(let o):
            if try located(loc, f, { try o.scriptSetField(name, value) }) { return }
            fallthrough
        default:
            throw f.error(loc, "cannot set field '\(name)' of a \(obj.typeName)" + (obj.typeName == "record" ? "" : " (only records have settable fields)"))
        }
    }
}
