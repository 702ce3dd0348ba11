// Operators on values: number arithmetic, string and list concatenation, comparisons, equality;
// objects (tensors) supply their own through `ScriptObject.binary`.
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
        if case .object(let o) = a, let r = try located(loc, f, { try o.scriptBinary(op, b, objectOnLeft: true) }) { return r }
        if case .object(let o) = b, let r = try located(loc, f, { try o.scriptBinary(op, a, objectOnLeft: false) }) { return r }
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
        case (.table(let x), .table(let y)): return x === y
        case (.function(let x), .function(let y)): return x === y
        case (.object(let x), .object(let y)): return x.scriptIsEqual(to: y)
        default: return false
        }
    }

}
