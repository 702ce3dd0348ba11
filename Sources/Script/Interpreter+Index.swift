// Indexing and slicing (`xs[1]`, `t[0, :]`, `t[:, 1:3]`, `net["layers.0.weight"]`), assignment
// into lists, records and tensor elements, and what `for` iterates over. Indices are 0-based;
// negative ones count from the end; `a:b` inside brackets is a half-open slice.
import Engine
import NN
import Data

extension Interpreter {
    /// A whole-number index into a collection of `n` items, negative counting from the end.
    func position(_ v: Value, _ n: Int, _ what: String, _ loc: SourceLocation, _ f: Frame) throws -> Int {
        guard case .number(let x) = v else { throw f.error(loc, "\(what) index must be a number, got \(v.typeName)") }
        guard let i = exactInt(x) else { throw f.error(loc, "\(what) index must be a whole number, got \(formatNumber(x))") }
        let j = i < 0 ? i + n : i
        guard j >= 0 && j < n else {
            throw f.error(loc, "index \(i) is out of range for \(what) of \(n) item\(n == 1 ? "" : "s")")
        }
        return j
    }

    /// The half-open bounds of a slice `a:b` over `n` items, clamped as in Python.
    func sliceBounds(_ a: Value?, _ b: Value?, _ n: Int, _ loc: SourceLocation, _ f: Frame) throws -> (Int, Int) {
        func bound(_ v: Value?, _ dflt: Int) throws -> Int {
            guard let v else { return dflt }
            if case .nil_ = v { return dflt }
            guard case .number(let x) = v, let i = exactInt(x) else {
                throw f.error(loc, "slice bounds must be whole numbers, got \(v.typeName == "number" ? display(v) : v.typeName)")
            }
            let j = i < 0 ? i + n : i
            return Swift.min(Swift.max(j, 0), n)
        }
        let lo = try bound(a, 0), hi = try bound(b, n)
        return (lo, Swift.max(lo, hi))
    }

    func index(_ base: Value, _ subs: [Sub], _ loc: SourceLocation, _ f: Frame) throws -> Value {
        if case .tensor(let t) = base { return try tensorIndex(t, subs, loc, f) }
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
        case (.model(let m), .at(let v)):
            return try modelIndex(m, v, loc, f)
        case (.dataset(let d), .at(let v)):
            let i = try position(v, d.count, "a dataset", loc, f)
            do {
                let (x, y) = try d.gather([i])
                return .record(RecordRef([("x", .tensor(try x.reshaped(d.sampleShape))), ("y", .number(Double(y.first ?? 0)))]))
            } catch let e as EngineError { throw f.error(loc, e.message) }
        default:
            if case .slice = sub { throw f.error(loc, "cannot slice a \(base.typeName)") }
            throw f.error(loc, "cannot index a \(base.typeName)")
        }
    }

    /// Row `i` of a table as a record (missing cells are nil).
    func row(_ t: Table, _ i: Int) -> RecordRef {
        RecordRef(t.columns.map { ($0, t.rows[i][$0] ?? .nil_) })
    }

    /// `net["layers.0.weight"]` (a parameter, buffer or sub-module by dotted name), `net[0]` (a layer).
    func modelIndex(_ m: Module, _ v: Value, _ loc: SourceLocation, _ f: Frame) throws -> Value {
        if case .string(let name) = v {
            if let p = m.namedParameters().first(where: { $0.0 == name }) { return .tensor(p.1) }
            if let b = m.namedBuffers().first(where: { $0.0 == name }) { return .tensor(b.1) }
            if let c = m.namedModules().first(where: { $0.0 == name && !name.isEmpty }) { return .model(c.1) }
            let names = m.namedParameters().map(\.0) + m.namedModules().map(\.0).filter { !$0.isEmpty }
            throw f.error(loc, "no parameter or layer '\(name)' in the model" + didYouMean(name, names))
        }
        let layers = layerList(m)
        return .model(layers[try position(v, layers.count, "a model", loc, f)])
    }

    /// The layers of a model, as `net.layers` and `net[i]` see them.
    func layerList(_ m: Module) -> [Module] {
        if let s = m as? Sequential { return s.layers }
        if let l = m as? ModuleList { return l.modules }
        return m.children.map(\.1)
    }

    // MARK: Tensors

    /// Per-axis selection: a single index (the axis disappears), a slice or a list of indices.
    enum AxisSelection {
        case one(Int)
        case many([Int])
        case range(Int, Int)
        var indices: [Int] {
            switch self {
            case .one(let i): return [i]
            case .many(let xs): return xs
            case .range(let a, let b): return Array(a..<b)
            }
        }
    }

    func axisSelections(_ t: Tensor, _ subs: [Sub], _ loc: SourceLocation, _ f: Frame) throws -> [AxisSelection] {
        guard subs.count <= t.rank else {
            throw f.error(loc, "too many indices (\(subs.count)) for a tensor of shape \(describe(shape: t.shape))")
        }
        var out: [AxisSelection] = []
        for (axis, s) in subs.enumerated() {
            let d = t.shape[axis]
            switch s {
            case .at(let v):
                switch v {
                case .list, .range, .tensor:
                    var xs: [Int] = []
                    for x in try tensor(from: v, what: "a tensor index", loc, f).array {
                        let i = Int(exactly: x) ?? -d - 1
                        let j = i < 0 ? i + d : i
                        guard j >= 0 && j < d else {
                            throw f.error(loc, "index \(formatNumber(Double(x))) is out of range for axis \(axis) of size \(d)")
                        }
                        xs.append(j)
                    }
                    out.append(.many(xs))
                default:
                    guard case .number(let x) = v, let i = exactInt(x) else {
                        throw f.error(loc, "tensor indices must be whole numbers, slices a:b or lists, got \(v.typeName == "number" ? display(v) : v.typeName)")
                    }
                    let j = i < 0 ? i + d : i
                    guard j >= 0 && j < d else {
                        throw f.error(loc, "index \(i) is out of range for axis \(axis) of size \(d) (tensor of shape \(describe(shape: t.shape)))")
                    }
                    out.append(.one(j))
                }
            case .slice(let a, let b):
                let (lo, hi) = try sliceBounds(a, b, d, loc, f)
                out.append(.range(lo, hi))
            }
        }
        for axis in subs.count..<t.rank { out.append(.range(0, t.shape[axis])) }
        return out
    }

    func tensorIndex(_ t: Tensor, _ subs: [Sub], _ loc: SourceLocation, _ f: Frame) throws -> Value {
        let sel = try axisSelections(t, subs, loc, f)
        var r = t
        var shape: [Int] = []
        do {
            for (axis, s) in sel.enumerated() {
                switch s {
                case .one(let i):
                    r = try r.indexSelect(axis: axis, [i])
                case .many(let xs):
                    r = try r.indexSelect(axis: axis, xs)
                    shape.append(xs.count)
                case .range(let lo, let hi):
                    if lo != 0 || hi != t.shape[axis] { r = try r.sliced(axis: axis, start: lo, end: hi) }
                    shape.append(hi - lo)
                }
            }
            if shape.isEmpty { return .number(Double(r.item)) }
            if shape != r.shape { r = try r.reshaped(shape) }
        } catch let e as EngineError {
            throw f.error(loc, e.message)
        }
        return .tensor(r)
    }

    /// `t[subs] = value`: a number fills the selection; a tensor (or list) of the selection's
    /// size is copied into it in row-major order.
    func tensorAssign(_ t: Tensor, _ subs: [Sub], _ value: Value, _ loc: SourceLocation, _ f: Frame) throws {
        let sel = try axisSelections(t, subs, loc, f)
        let lists = sel.map(\.indices)
        let count = lists.reduce(1) { $0 * $1.count }
        var src: Tensor?
        var fill: Float = 0
        switch value {
        case .number(let x): fill = Float(x)
        case .bool(let b): fill = b ? 1 : 0
        case .tensor, .list, .range:
            let s = try tensor(from: value, what: "the assigned value", loc, f)
            if s.count == 1 { fill = s.item } else {
                guard s.count == count else {
                    let selShape = sel.compactMap { s -> Int? in if case .one = s { return nil } else { return s.indices.count } }
                    throw f.error(loc, "cannot assign a tensor of shape \(describe(shape: s.shape)) to a selection of shape \(describe(shape: selShape))")
                }
                src = s
            }
        default:
            throw f.error(loc, "cannot assign a \(value.typeName) into a tensor")
        }
        if count == 0 { return }
        let strides = t.strides
        var idx = [Int](repeating: 0, count: lists.count)
        let out = t.data
        // A copy of the source first, in case it shares storage with the target.
        let values: [Float]? = src?.array
        var k = 0
        while true {
            var off = 0
            for a in 0..<lists.count { off += lists[a][idx[a]] * strides[a] }
            out[off] = values?[k] ?? fill
            k += 1
            var a = lists.count - 1
            while a >= 0 {
                idx[a] += 1
                if idx[a] < lists[a].count { break }
                idx[a] = 0
                a -= 1
            }
            if a < 0 { break }
        }
    }

    func setIndex(_ base: Value, _ subs: [Sub], _ value: Value, _ loc: SourceLocation, _ f: Frame) throws {
        if case .tensor(let t) = base { return try tensorAssign(t, subs, value, loc, f) }
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
        case (.model(let m), .at(.string(let name))):
            guard let p = m.namedParameters().first(where: { $0.0 == name }) else {
                throw f.error(loc, "no parameter '\(name)' in the model" + didYouMean(name, m.namedParameters().map(\.0)))
            }
            try tensorAssign(p.1, [], value, loc, f)
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
        case .tensor(let t):
            guard t.rank > 0 else { throw f.error(loc, "cannot iterate over a scalar tensor") }
            if t.rank == 1 { return t.array.map { .number(Double($0)) } }
            do {
                let rest = Array(t.shape.dropFirst())
                return try (0..<t.shape[0]).map { .tensor(try t.indexSelect(axis: 0, [$0]).reshaped(rest)) }
            } catch let e as EngineError { throw f.error(loc, e.message) }
        case .record(let r): return r.keys.map { .string($0) }
        case .table(let t): return t.rows.indices.map { .record(row(t, $0)) }
        case .string(let s): return s.map { .string(String($0)) }
        case .model(let m): return layerList(m).map { .model($0) }
        case .number: throw f.error(loc, "cannot iterate over a number (write 0:n-1 or range(n) for a range)")
        default: throw f.error(loc, "cannot iterate over a \(seq.typeName)")
        }
    }
}
