// Indexing and slicing (`xs[1]`, `r["lr"]`, `rows[1:3]`), assignment into lists and records,
// and what `for` iterates over. Indices are 0-based; negative ones count from the end; `a:b`
// inside brackets is a half-open slice. Objects (tensors, models, datasets) index themselves.

/// Index arithmetic shared by the language's collections and the objects above it.
public enum Indexing {
    /// A whole-number index into a collection of `n` items, negative counting from the end.
    public static func position(_ v: Value, _ n: Int, _ what: String) throws -> Int {
        guard case .number(let x) = v else { throw BuiltinError("\(what) index must be a number, got \(v.typeName)") }
        guard let i = exactInt(x) else { throw BuiltinError("\(what) index must be a whole number, got \(formatNumber(x))") }
        let j = i < 0 ? i + n : i
        guard j >= 0 && j < n else {
            throw BuiltinError("index \(i) is out of range for \(what) of \(n) item\(n == 1 ? "" : "s")")
        }
        return j
    }

    /// The half-open bounds of a slice `a:b` over `n` items, clamped as in Python.
    public static func sliceBounds(_ a: Value?, _ b: Value?, _ n: Int) throws -> (Int, Int) {
        func bound(_ v: Value?, _ dflt: Int) throws -> Int {
            guard let v else { return dflt }
            if case .nil_ = v { return dflt }
            guard case .number(let x) = v, let i = exactInt(x) else {
                throw BuiltinError("slice bounds must be whole numbers, got \(v.typeName == "number" ? display(v) : v.typeName)")
            }
            let j = i < 0 ? i + n : i
            return Swift.min(Swift.max(j, 0), n)
        }
        let lo = try bound(a, 0), hi = try bound(b, n)
        return (lo, Swift.max(lo, hi))
    }

    /// `x` as an exact integer, or nil (not whole, or too large).
    public static func exactInteger(_ x: Double) -> Int? { exactInt(x) }
}

extension Interpreter {
    func position(_ v: Value, _ n: Int, _ what: String, _ loc: SourceLocation, _ f: Frame) throws -> Int {
        try located(loc, f) { try Indexing.position(v, n, what) }
    }

    func sliceBounds(_ a: Value?, _ b: Value?, _ n: Int, _ loc: SourceLocation, _ f: Frame) throws -> (Int, Int) {
        try located(loc, f) { try Indexing.sliceBounds(a, b, n) }
    }

    func index(_ base: Value, _ subs: [IndexArgument], _ loc: SourceLocation, _ f: Frame) throws -> Value {
        if case .object(let o) = base {
            if let v = try located(loc, f, { try o.scriptIndex(subs) }) { return v }
            if subs.contains(where: { if case .slice = $0 { true } else { false } }) { throw f.error(loc, "cannot slice a \(base.typeName)") }
            throw f.error(loc, "cannot index a \(base.typeName)")
        }
        guard subs.count == 1 else {
            throw f.error(loc, "a \(base.typeName) takes one index, got \(subs.count)")
        }
        let sub = subs[0]
        switch (base, sub) {
        case (.list(let l), .at(let v)):
            return l.items[try position(v, l.items.count, "a list", loc, f)]
        case (.list(let l), .slice(let a, let b)):
            let (lo, hi) = try sliceBounds(a, b, l.items.count, loc, f)
            return .list(ListRef(Array(l.items[lo..<hi])))
        case (.string(let s), .at(let v)):
            let chars = Array(s)
            return .string(String(chars[try position(v, chars.count, "a string", loc, f)]))
        case (.string(let s), .slice(let a, let b)):
            let chars = Array(s)
            let (lo, hi) = try sliceBounds(a, b, chars.count, loc, f)
            return .string(String(chars[lo..<hi]))
        case (.range(let a, let b), .at(let v)):
            let n = a <= b ? b - a + 1 : 0
            return .number(Double(a + (try position(v, n, "a range", loc, f))))
        case (.range(let a, let b), .slice(let x, let y)):
            let n = a <= b ? b - a + 1 : 0
            let (lo, hi) = try sliceBounds(x, y, n, loc, f)
            return .range(a + lo, a + hi - 1)
        case (.record(let r), .at(let v)):
            guard case .string(let k) = v else { throw f.error(loc, "a record is indexed by a field name (a string), got \(v.typeName)") }
            guard let x = r[k] else { throw f.error(loc, "no field '\(k)' in the record" + didYouMean(k, r.keys)) }
            return x
        case (.table(let t), .at(let v)):
            if case .string(let c) = v {
                guard t.columns.contains(c) else { throw f.error(loc, "no column '\(c)' in the table" + didYouMean(c, t.columns)) }
                return .list(ListRef(t.rows.map { $0[c] ?? .nil_ }))
            }
            return .record(row(t, try position(v, t.rows.count, "a table", loc, f)))
        default:
            if case .slice = sub { throw f.error(loc, "cannot slice a \(base.typeName)") }
            throw f.error(loc, "cannot index a \(base.typeName)")
        }
    }

    /// Row `i` of a table as a record (missing cells are nil).
    func row(_ t: Table, _ i: Int) -> RecordRef {
        RecordRef(t.columns.map { ($0, t.rows[i][$0] ?? .nil_) })
    }

    func setIndex(_ base: Value, _ subs: [IndexArgument], _ value: Value, _ loc: SourceLocation, _ f: Frame) throws {
        if case .object(let o) = base {
            if try located(loc, f, { try o.scriptSetIndex(subs, value) }) { return }
            throw f.error(loc, "cannot assign into a \(base.typeName) by index")
        }
        guard subs.count == 1 else { throw f.error(loc, "a \(base.typeName) takes one index, got \(subs.count)") }
        switch (base, subs[0]) {
        case (.list(let l), .at(let v)):
            l.items[try position(v, l.items.count, "a list", loc, f)] = value
        case (.list(let l), .slice(let a, let b)):
            let (lo, hi) = try sliceBounds(a, b, l.items.count, loc, f)
            guard case .list(let src) = value else { throw f.error(loc, "a list slice can only be replaced by a list, got \(value.typeName)") }
            l.items.replaceSubrange(lo..<hi, with: src.items)
        case (.record(let r), .at(let v)):
            guard case .string(let k) = v else { throw f.error(loc, "a record is indexed by a field name (a string), got \(v.typeName)") }
            r[k] = value
        case (.string, _):
            throw f.error(loc, "strings cannot be changed in place (build a new one with + or \"${…}\")")
        default:
            throw f.error(loc, "cannot assign into a \(base.typeName) by index")
        }
    }

    // MARK: Iteration

    /// What `for x in seq` visits, for everything but lists and ranges (which the loop walks live).
    func iterationItems(_ seq: Value, _ loc: SourceLocation, _ f: Frame) throws -> [Value] {
        switch seq {
        case .list(let l): return l.items
        case .range(let a, let b):
            do { return try Value.rangeNumbers(a, b, limit: maxElements).map { .number($0) } } catch let e as BuiltinError { throw f.error(loc, e.message) }
        case .record(let r): return r.keys.map { .string($0) }
        case .table(let t): return t.rows.indices.map { .record(row(t, $0)) }
        case .string(let s): return s.map { .string(String($0)) }
        case .object(let o):
            if let items = try located(loc, f, { try o.scriptItems() }) { return items }
            throw f.error(loc, "cannot iterate over a \(seq.typeName)")
        case .number: throw f.error(loc, "cannot iterate over a number (write 0:n-1 or range(n) for a range)")
        default: throw f.error(loc, "cannot iterate over a \(seq.typeName)")
        }
    }
}
