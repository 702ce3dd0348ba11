// Tensors as values of the language: `t.shape`, `t.T`, `t[0, :]`, `t[:, 1:3] = 0`, `a + b`,
// `a @ b`, `-t`, `for row in t`, `len(t)`, `copy(t)`, and lists of numbers turned into tensors.
import Language
import Engine

extension Value {
    /// A tensor as a value of the language.
    public static func tensor(_ t: Tensor) -> Value { .object(t) }
}

extension Tensor: ScriptObject {
    public var scriptTypeName: String { "tensor" }
    public var scriptDisplay: String { displayTensor(self) }
    public var scriptFieldNames: [String] { ["shape", "T", "rank", "count", "grad", "requires_grad"] }

    public func scriptField(_ name: String) throws -> Value? {
        switch name {
        case "shape": return .list(ListRef(shape.map { .number(Double($0)) }))
        case "T": return .tensor(rank < 2 ? self : try transposed())
        case "rank": return .number(Double(rank))
        case "count": return .number(Double(count))
        case "grad": return grad.map { .tensor($0) } ?? .nil_
        case "requires_grad": return .bool(requiresGrad)
        default: return nil
        }
    }

    /// `t.requires_grad = true`, `t.grad = nil`.
    public func scriptSetField(_ name: String, _ value: Value) throws -> Bool {
        switch name {
        case "requires_grad":
            requiresGrad = value.isTruthy
        case "grad":
            switch value {
            case .nil_: grad = nil
            case .object(let g as Tensor) where g.shape == shape: grad = g
            default: throw BuiltinError("grad must be nil or a tensor of shape \(describe(shape: shape))")
            }
        default: return false
        }
        return true
    }

    /// Broadcasting arithmetic, `@` and 0/1 comparison tensors; numbers, bools, lists and ranges
    /// on the other side become tensors.
    public func scriptBinary(_ op: BinaryOperator, _ other: Value, objectOnLeft: Bool) throws -> Value? {
        func operand(_ v: Value) throws -> Tensor {
            switch v {
            case .object(let t as Tensor): return t
            case .number(let x): return Tensor(Float(x))
            case .bool(let b): return Tensor(b ? 1 : 0)
            case .list, .range: return try tensorValue(from: v, what: "the operand of '\(op.rawValue)'", maxWalk: Session.defaultMaxWalk)
            default: throw BuiltinError("cannot apply '\(op.rawValue)' to \(v.typeName) and tensor")
            }
        }
        let o = try operand(other)
        let (x, y) = objectOnLeft ? (self, o) : (o, self)
        switch op {
        case .add: return .tensor(try x + y)
        case .sub: return .tensor(try x - y)
        case .mul: return .tensor(try x * y)
        case .div: return .tensor(try x / y)
        case .pow: return .tensor(y.rank == 0 ? x.pow(y.item) : try x.pow(y))
        case .matmul: return .tensor(try matmulVectors(x, y))
        case .eq: return .tensor(try x.eq(y))
        case .ne: return .tensor(try x.ne(y))
        case .lt: return .tensor(try x.lt(y))
        case .le: return .tensor(try x.le(y))
        case .gt: return .tensor(try x.gt(y))
        case .ge: return .tensor(try x.ge(y))
        case .mod, .and, .or:
            let (a, b) = objectOnLeft ? ("tensor", other.typeName) : (other.typeName, "tensor")
            throw BuiltinError("cannot apply '\(op.rawValue)' to \(a) and \(b)")
        }
    }

    public func scriptNegated() throws -> Value? { .tensor(-self) }

    public func scriptIndex(_ subs: [IndexArgument]) throws -> Value? {
        let sel = try axisSelections(subs)
        var r = self
        var shape: [Int] = []
        for (axis, s) in sel.enumerated() {
            switch s {
            case .one(let i):
                r = try r.indexSelect(axis: axis, [i])
            case .many(let xs):
                r = try r.indexSelect(axis: axis, xs)
                shape.append(xs.count)
            case .range(let lo, let hi):
                if lo != 0 || hi != self.shape[axis] { r = try r.sliced(axis: axis, start: lo, end: hi) }
                shape.append(hi - lo)
            }
        }
        if shape.isEmpty { return .number(Double(r.item)) }
        if shape != r.shape { r = try r.reshaped(shape) }
        return .tensor(r)
    }

    /// `t[subs] = value`: a number fills the selection; a tensor (or list) of the selection's
    /// size is copied into it in row-major order.
    public func scriptSetIndex(_ subs: [IndexArgument], _ value: Value) throws -> Bool {
        let sel = try axisSelections(subs)
        let lists = sel.map(\.indices)
        let count = lists.reduce(1) { $0 * $1.count }
        var src: Tensor?
        var fill: Float = 0
        switch value {
        case .number(let x): fill = Float(x)
        case .bool(let b): fill = b ? 1 : 0
        case .object(is Tensor), .list, .range:
            let s = try tensorValue(from: value, what: "the assigned value", maxWalk: Session.defaultMaxWalk)
            if s.count == 1 { fill = s.item } else {
                guard s.count == count else {
                    let selShape = sel.compactMap { s -> Int? in if case .one = s { return nil } else { return s.indices.count } }
                    throw BuiltinError("cannot assign a tensor of shape \(describe(shape: s.shape)) to a selection of shape \(describe(shape: selShape))")
                }
                src = s
            }
        default:
            throw BuiltinError("cannot assign a \(value.typeName) into a tensor")
        }
        if count == 0 { return true }
        let strides = self.strides
        var idx = [Int](repeating: 0, count: lists.count)
        let out = data
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
        return true
    }

    /// A vector's numbers, or a matrix's rows as tensors.
    public func scriptItems() throws -> [Value]? {
        guard rank > 0 else { throw BuiltinError("cannot iterate over a scalar tensor") }
        if rank == 1 { return array.map { .number(Double($0)) } }
        let rest = Array(shape.dropFirst())
        return try (0..<shape[0]).map { .tensor(try indexSelect(axis: 0, [$0]).reshaped(rest)) }
    }

    public func scriptLength() throws -> Int? {
        guard let n = shape.first else { throw BuiltinError("len: a scalar tensor has no length") }
        return n
    }

    public func scriptNumbers() -> [Double]? { array.map(Double.init) }

    /// A copy detached from autodiff (keeping `requires_grad`).
    public func scriptCopied() throws -> ScriptObject? { copy().requiringGrad(requiresGrad) }

    // MARK: Indexing

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

    func axisSelections(_ subs: [IndexArgument]) throws -> [AxisSelection] {
        guard subs.count <= rank else {
            throw BuiltinError("too many indices (\(subs.count)) for a tensor of shape \(describe(shape: shape))")
        }
        var out: [AxisSelection] = []
        for (axis, s) in subs.enumerated() {
            let d = shape[axis]
            switch s {
            case .at(let v):
                switch v {
                case .list, .range, .object(is Tensor):
                    var xs: [Int] = []
                    for x in try tensorValue(from: v, what: "a tensor index", maxWalk: Session.defaultMaxWalk).array {
                        let i = Int(exactly: x) ?? -d - 1
                        let j = i < 0 ? i + d : i
                        guard j >= 0 && j < d else {
                            throw BuiltinError("index \(formatNumber(Double(x))) is out of range for axis \(axis) of size \(d)")
                        }
                        xs.append(j)
                    }
                    out.append(.many(xs))
                default:
                    guard case .number(let x) = v, let i = Indexing.exactInteger(x) else {
                        throw BuiltinError("tensor indices must be whole numbers, slices a:b or lists, got \(v.typeName == "number" ? display(v) : v.typeName)")
                    }
                    let j = i < 0 ? i + d : i
                    guard j >= 0 && j < d else {
                        throw BuiltinError("index \(i) is out of range for axis \(axis) of size \(d) (tensor of shape \(describe(shape: shape)))")
                    }
                    out.append(.one(j))
                }
            case .slice(let a, let b):
                let (lo, hi) = try Indexing.sliceBounds(a, b, d)
                out.append(.range(lo, hi))
            }
        }
        for axis in subs.count..<rank { out.append(.range(0, shape[axis])) }
        return out
    }
}

/// `@` with NumPy's treatment of vectors: [k]@[k] is a dot product, [m,k]@[k] a matrix-vector
/// product, [k]@[k,n] a vector-matrix product.
func matmulVectors(_ x: Tensor, _ y: Tensor) throws -> Tensor {
    guard x.rank >= 1, y.rank >= 1 else {
        throw BuiltinError("'@' needs tensors with at least one dimension, got \(describe(shape: x.shape)) and \(describe(shape: y.shape))")
    }
    let a = x.rank == 1 ? try x.reshaped([1, x.shape[0]]) : x
    let b = y.rank == 1 ? try y.reshaped([y.shape[0], 1]) : y
    var out = try a.matmul(b)
    if y.rank == 1 { out = try out.reshaped(Array(out.shape.dropLast())) }
    if x.rank == 1 {
        var s = out.shape
        s.remove(at: s.count - (y.rank == 1 ? 1 : 2))
        out = try out.reshaped(s)
    }
    return out
}

/// Nested lists, ranges, numbers (and tensors of one shape) as one tensor; `what` names the value
/// in the error (`tensor: argument 'data' must be a rectangular list of numbers …`). `maxWalk`
/// bounds the work on huge or self-containing lists.
func tensorValue(from v: Value, what: String, maxWalk: Int) throws -> Tensor {
    if case .object(let t as Tensor) = v { return t }
    var data: [Float] = []
    var budget = maxWalk
    func fail(_ why: String) -> Error { BuiltinError("\(what) \(why)") }
    func walk(_ v: Value, _ depth: Int) throws -> [Int] {
        budget -= 1
        if budget < 0 || depth > 32 { throw fail("is too large or too deeply nested") }
        switch v {
        case .number(let x): data.append(Float(x)); return []
        case .bool(let b): data.append(b ? 1 : 0); return []
        case .object(let t as Tensor):
            data.append(contentsOf: t.array)
            budget -= t.count
            return t.shape
        case .range(let a, let b):
            let n = a <= b ? b - a + 1 : 0
            if n > budget { throw fail("is too large") }
            if n > 0 { for i in a...b { data.append(Float(i)) } }
            return [n]
        case .list(let l):
            var inner: [Int]?
            for item in l.items {
                let s = try walk(item, depth + 1)
                if let inner, inner != s {
                    throw fail("must be a rectangular list of numbers: found items of shapes \(describe(shape: inner)) and \(describe(shape: s))")
                }
                inner = s
            }
            return [l.items.count] + (inner ?? [])
        default:
            throw fail("must be a number, a list of numbers or a tensor, got \(depth == 0 ? v.typeName : "a list containing a \(v.typeName)")")
        }
    }
    let shape = try walk(v, 0)
    do { return try Tensor(shape: shape, data: data) } catch let e as EngineError { throw fail(e.message) }
}

extension Session {
    /// Nested lists, ranges and numbers (or a tensor) as a tensor; `what` names the value in
    /// the error (`tensor: argument 'data' must be a rectangular list of numbers …`).
    public func tensor(from value: Value, what: String) throws -> Tensor {
        try tensorValue(from: value, what: what, maxWalk: maxWalk)
    }
}

extension CallArgs {
    /// Argument `name` as a tensor: a tensor, a number (a scalar), or nested lists and ranges.
    public func tensor(_ name: String) throws -> Tensor {
        switch value(name) {
        case .object(let t as Tensor): return t
        case .number(let x): return Tensor(Float(x))
        case .list, .range: return try session.tensor(from: value(name), what: "\(builtin): argument '\(name)'")
        default: throw wrong(name, "a tensor")
        }
    }
}

// MARK: - Display

/// `tensor [2, 3] float32 [[1, 2, 3], [4, 5, 6]]`, with `…` past a few values per axis.
public func displayTensor(_ t: Tensor) -> String {
    var s = "tensor \(describe(shape: t.shape)) float32"
    if t.requiresGrad { s += " (grad)" }
    s += " "
    if t.rank == 0 { return s + formatNumber(Double(t.item)) }
    let edge = t.rank <= 2 ? 3 : (t.rank <= 4 ? 2 : 1)
    let strides = t.strides
    func walk(_ axis: Int, _ offset: Int) -> String {
        let n = t.shape[axis]
        var idx: [Int?] = []
        if n > 2 * edge + 1 {
            idx = (0..<edge).map { $0 } + [nil] + ((n - edge)..<n).map { $0 }
        } else {
            idx = (0..<n).map { $0 }
        }
        let parts = idx.map { i -> String in
            guard let i else { return "…" }
            let o = offset + i * strides[axis]
            return axis == t.rank - 1 ? formatNumber(Double(t.data[o])) : walk(axis + 1, o)
        }
        return "[" + parts.joined(separator: ", ") + "]"
    }
    return s + walk(0, 0)
}
