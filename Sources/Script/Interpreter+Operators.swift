// Operators on values: number arithmetic, string and list concatenation, comparisons, equality,
// and tensor arithmetic through the engine (broadcasting, `@`, 0/1 comparison tensors).
import Engine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Interpreter {
    /// The general case of a binary operator (two numbers are handled by the node itself).
    func binary(_ op: BinaryOperator, _ a: Value, _ b: Value, _ loc: SourceLocation, _ f: Frame) throws -> Value {
        if case .number(let x) = a, case .number(let y) = b {
            switch op {
            case .add: return .number(x + y)
            case .sub: return .number(x - y)
            case .mul: return .number(x * y)
            case .div: return .number(x / y)
            case .pow: return .number(pow(x, y))
            case .mod: return .number(y == 0 ? .nan : x - y * (x / y).rounded(.down))
            case .lt: return .bool(x < y)
            case .le: return .bool(x <= y)
            case .gt: return .bool(x > y)
            case .ge: return .bool(x >= y)
            case .eq: return .bool(x == y)
            case .ne: return .bool(x != y)
            case .matmul: throw f.error(loc, "'@' multiplies matrices: both sides must be tensors, got number and number")
            case .and, .or: break
            }
        }
        let tensorInvolved: Bool
        if case .tensor = a { tensorInvolved = true } else if case .tensor = b { tensorInvolved = true } else { tensorInvolved = false }
        if tensorInvolved { return try tensorBinary(op, a, b, loc, f) }
        switch op {
        case .eq, .ne:
            var budget = maxWalk
            let same = try equal(a, b, &budget, loc, f)
            return .bool(op == .eq ? same : !same)
        case .lt, .le, .gt, .ge:
            let c: Int
            switch (a, b) {
            case (.string(let x), .string(let y)): c = x < y ? -1 : (x == y ? 0 : 1)
            case (.bool(let x), .bool(let y)): c = x == y ? 0 : (!x ? -1 : 1)
            default: throw mismatch(op, a, b, loc, f)
            }
            switch op {
            case .lt: return .bool(c < 0)
            case .le: return .bool(c <= 0)
            case .gt: return .bool(c > 0)
            default: return .bool(c >= 0)
            }
        case .add:
            switch (a, b) {
            case (.string(let x), .string(let y)):
                guard x.utf8.count + y.utf8.count <= maxElements else { throw f.error(loc, "string too long (more than \(maxElements) bytes)") }
                return .string(x + y)
            case (.list(let x), .list(let y)):
                guard x.items.count + y.items.count <= maxElements else { throw f.error(loc, "list too long (more than \(maxElements) items)") }
                return .list(ListRef(x.items + y.items))
            case (.string, _), (_, .string):
                throw f.error(loc, "cannot apply '+' to \(a.typeName) and \(b.typeName) (write \"…${x}…\" to put a value in a string)")
            default: throw mismatch(op, a, b, loc, f)
            }
        default:
            throw mismatch(op, a, b, loc, f)
        }
    }

    func mismatch(_ op: BinaryOperator, _ a: Value, _ b: Value, _ loc: SourceLocation, _ f: Frame) -> ScriptError {
        f.error(loc, "cannot apply '\(op.rawValue)' to \(a.typeName) and \(b.typeName)")
    }

    /// A tensor operand: tensors as they are, numbers and bools as scalars, lists and ranges converted.
    func tensorOperand(_ v: Value, _ op: BinaryOperator, _ other: Value, _ loc: SourceLocation, _ f: Frame) throws -> Tensor {
        switch v {
        case .tensor(let t): return t
        case .number(let x): return Tensor(Float(x))
        case .bool(let b): return Tensor(b ? 1 : 0)
        case .list, .range: return try tensor(from: v, what: "the operand of '\(op.rawValue)'", loc, f)
        default: throw f.error(loc, "cannot apply '\(op.rawValue)' to \(v.typeName) and tensor")
        }
    }

    func tensorBinary(_ op: BinaryOperator, _ a: Value, _ b: Value, _ loc: SourceLocation, _ f: Frame) throws -> Value {
        let x = try tensorOperand(a, op, b, loc, f)
        let y = try tensorOperand(b, op, a, loc, f)
        do {
            switch op {
            case .add: return .tensor(try x + y)
            case .sub: return .tensor(try x - y)
            case .mul: return .tensor(try x * y)
            case .div: return .tensor(try x / y)
            case .pow: return .tensor(y.rank == 0 ? x.pow(y.item) : try x.pow(y))
            case .matmul: return .tensor(try matmul(x, y))
            case .eq: return .tensor(try x.eq(y))
            case .ne: return .tensor(try x.ne(y))
            case .lt: return .tensor(try x.lt(y))
            case .le: return .tensor(try x.le(y))
            case .gt: return .tensor(try x.gt(y))
            case .ge: return .tensor(try x.ge(y))
            case .mod, .and, .or: throw mismatch(op, a, b, loc, f)
            }
        } catch let e as EngineError {
            throw f.error(loc, e.message)
        }
    }

    /// `@` with NumPy's treatment of vectors: [k]@[k] is a dot product, [m,k]@[k] a matrix-vector
    /// product, [k]@[k,n] a vector-matrix product.
    func matmul(_ x: Tensor, _ y: Tensor) throws -> Tensor {
        guard x.rank >= 1, y.rank >= 1 else {
            throw EngineError("'@' needs tensors with at least one dimension, got \(describe(shape: x.shape)) and \(describe(shape: y.shape))")
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

    /// Structural equality (lists, records element by element); tensors, models and other objects
    /// by identity. `budget` bounds the work on huge or self-containing values.
    func equal(_ a: Value, _ b: Value, _ budget: inout Int, _ loc: SourceLocation, _ f: Frame, depth: Int = 0) throws -> Bool {
        budget -= 1
        if budget < 0 || depth > Interpreter.maxNesting { throw f.error(loc, "values too large or too deeply nested to compare") }
        switch (a, b) {
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.nil_, .nil_): return true
        case (.range(let a1, let b1), .range(let a2, let b2)): return a1 == a2 && b1 == b2
        case (.list(let x), .list(let y)):
            if x === y { return true }
            guard x.items.count == y.items.count else { return false }
            for (p, q) in zip(x.items, y.items) where !(try equal(p, q, &budget, loc, f, depth: depth + 1)) { return false }
            return true
        case (.record(let x), .record(let y)):
            if x === y { return true }
            guard Set(x.keys) == Set(y.keys) else { return false }
            for k in x.keys {
                guard let p = x[k], let q = y[k], try equal(p, q, &budget, loc, f, depth: depth + 1) else { return false }
            }
            return true
        case (.tensor(let x), .tensor(let y)): return x === y
        case (.model(let x), .model(let y)): return x === y
        case (.dataset(let x), .dataset(let y)): return x === y
        case (.table(let x), .table(let y)): return x === y
        case (.function(let x), .function(let y)): return x === y
        case (.object(let x), .object(let y)): return x === y
        default: return false
        }
    }

    /// Nested lists, ranges, numbers (and tensors of one shape) as one tensor.
    func tensor(from v: Value, what: String, _ loc: SourceLocation?, _ f: Frame?) throws -> Tensor {
        var shape: [Int]?
        var data: [Float] = []
        var budget = maxWalk
        func fail(_ why: String) -> Error {
            if let loc, let f { return f.error(loc, "\(what) \(why)") }
            return BuiltinError("\(what) \(why)")
        }
        func walk(_ v: Value, _ depth: Int, _ prefix: [Int]) throws -> [Int] {
            budget -= 1
            if budget < 0 || depth > 32 { throw fail("is too large or too deeply nested") }
            switch v {
            case .number(let x): data.append(Float(x)); return []
            case .bool(let b): data.append(b ? 1 : 0); return []
            case .tensor(let t):
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
                    let s = try walk(item, depth + 1, prefix)
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
        if case .tensor(let t) = v { return t }
        shape = try walk(v, 0, [])
        let s = shape ?? []
        do { return try Tensor(shape: s, data: data) } catch let e as EngineError { throw fail(e.message) }
    }
}
