// The interpreter: syntax trees are compiled once into a tree of nodes whose variables are
// already resolved to slots (globals in one array, locals in the call's frame), then run by
// asking each node for its value. No strings are built and no dictionaries touched per operation.

/// The source a piece of compiled code came from, for error reports.
final class Unit {
    let file: String
    let source: String
    init(file: String, source: String) { self.file = file; self.source = source }
}

/// A user function compiled for its own frame.
final class CompiledFunction {
    let name: String
    let unit: Unit
    /// Parameter `i` lives in local slot `i`; `defaults[i]` is evaluated in the callee's frame.
    let paramNames: [String]
    var defaults: [ExprNode?] = []
    /// Names of all local slots (parameters first), for messages.
    var localNames: [String] = []
    var body = Block([])
    /// The interpreter whose global slots the code uses.
    let owner: ObjectIdentifier
    init(name: String, unit: Unit, paramNames: [String], owner: Interpreter) {
        self.name = name; self.unit = unit; self.paramNames = paramNames; self.owner = ObjectIdentifier(owner)
    }
}

/// Variable slots in one manually managed buffer: reading a slot retains the value it holds and
/// nothing else (an array would retain its buffer on every access, the bulk of a loop's cost).
/// Slot indices come from the compiler, so they are always in range.
struct Slots {
    private(set) var base: UnsafeMutablePointer<Value?>
    private(set) var count: Int
    private var capacity: Int

    init(count: Int) {
        capacity = Swift.max(count, 4)
        base = .allocate(capacity: capacity)
        base.initialize(repeating: nil, count: count)
        self.count = count
    }

    @inline(__always) subscript(i: Int) -> Value? {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }

    var indices: Range<Int> { 0..<count }

    mutating func append(_ v: Value?) {
        if count == capacity {
            let bigger = UnsafeMutablePointer<Value?>.allocate(capacity: capacity * 2)
            bigger.moveInitialize(from: base, count: count)
            base.deallocate()
            base = bigger
            capacity *= 2
        }
        (base + count).initialize(to: v)
        count += 1
    }

    func free() {
        base.deinitialize(count: count)
        base.deallocate()
    }
}

/// One activation: the top level of a source text, or one call of a user function.
final class Frame {
    /// Strong: frames live only while code runs. (An unowned reference would be retained and
    /// released on every access.)
    let interp: Interpreter
    let unit: Unit
    let locals: Slots
    let code: CompiledFunction?
    // Unchecked: the interpreter never holds two accesses to it at once.
    @exclusivity(unchecked) var returnValue: Value = .nil_

    init(interp: Interpreter, unit: Unit, localCount: Int, code: CompiledFunction?) {
        self.interp = interp; self.unit = unit; self.code = code
        locals = Slots(count: localCount)
    }

    deinit { locals.free() }

    /// A runtime error at `loc` in this frame's file.
    func error(_ loc: SourceLocation, _ message: String) -> ScriptError {
        var e = ScriptError(file: unit.file, location: loc, message: message)
        e.sourceText = unit.source
        return e
    }
}

/// The statements of a block. They are kept alive by `nodes` and run through unretained
/// references, so a loop iteration does not pay an atomic retain/release per statement.
final class Block {
    let nodes: [StmtNode]
    private let refs: UnsafeMutablePointer<Unmanaged<StmtNode>>
    private let count: Int

    init(_ nodes: [StmtNode]) {
        self.nodes = nodes
        count = nodes.count
        refs = .allocate(capacity: Swift.max(count, 1))
        for (i, n) in nodes.enumerated() { (refs + i).initialize(to: Unmanaged.passUnretained(n)) }
    }

    deinit { refs.deallocate() }

    @inline(__always) func run(_ f: Frame) throws -> Flow {
        var i = 0
        while i < count {
            let flow = try refs[i]._withUnsafeGuaranteedRef { try $0.exec(f) }
            if flow != .next { return flow }
            i += 1
        }
        return .next
    }
}

/// What a statement asks its enclosing block to do next.
enum Flow { case next, breakLoop, continueLoop, returned }

/// The runtime state shared by all the code of a session.
final class Interpreter {
    unowned(unsafe) let session: Session
    /// Global variables by slot; nil = never assigned.
    @exclusivity(unchecked) var globals = Slots(count: 0)
    var globalNames: [String] = []
    var globalSlots: [String: Int] = [:]
    /// Every builtin as a function value, by name (the fallback of an unassigned global).
    let builtinValues: [String: Value]
    var callDepth = 0
    /// Functions defined in another session, recompiled for this one's global slots.
    var foreignCode: [ObjectIdentifier: (Function, CompiledFunction)] = [:]

    static let maxCallDepth = 200
    /// How deeply lists and records may nest for equality and copies (a list that contains
    /// itself would otherwise recurse without end).
    static let maxNesting = 5_000
    /// Largest list or string an operation may build (a runaway `xs = xs + xs` stops with an
    /// error instead of exhausting memory). Lowered by the fuzz test.
    var maxElements = 10_000_000
    /// Work allowed to one recursive walk (equality, copy, conversion to a tensor).
    var maxWalk = Session.defaultMaxWalk

    init(session: Session) {
        self.session = session
        var b: [String: Value] = [:]
        for builtin in Builtins.all where b[builtin.name] == nil {
            b[builtin.name] = .function(Function(name: builtin.name, body: .builtin(builtin)))
        }
        builtinValues = b
    }

    deinit { globals.free() }

    /// The slot of global `name`, created on first use.
    func globalSlot(_ name: String) -> Int {
        if let s = globalSlots[name] { return s }
        let s = globals.count
        globals.append(nil)
        globalNames.append(name)
        globalSlots[name] = s
        return s
    }

    /// What `Session.interruptCheck` sets.
    @exclusivity(unchecked) var interruptCheck: () -> Bool = Interruption.requested

    /// Polls for Ctrl-C (or the test's step budget) between loop iterations and calls.
    @inline(__always) func poll(_ loc: SourceLocation, _ f: Frame) throws {
        if interruptCheck() { throw interrupted(loc, f) }
    }

    func interrupted(_ loc: SourceLocation, _ f: Frame) -> ScriptError {
        var e = f.error(loc, "interrupted")
        e.isInterrupt = true
        return e
    }

    /// Runs a block; stops early on break, continue or return.
    @inline(__always) static func run(_ block: Block, _ f: Frame) throws -> Flow { try block.run(f) }

    /// `undefined variable 'nett' (did you mean 'net'?)`
    func undefined(_ name: String, _ loc: SourceLocation, _ f: Frame) -> ScriptError {
        var candidates = globalNames.indices.filter { globals[$0] != nil }.map { globalNames[$0] }
        candidates += builtinValues.keys
        if let code = f.code { candidates += code.localNames.indices.filter { f.locals[$0] != nil }.map { code.localNames[$0] } }
        return f.error(loc, "undefined variable '\(name)'" + didYouMean(name, candidates))
    }
}

// MARK: - Expression nodes

/// A compiled expression.
class ExprNode {
    let loc: SourceLocation
    init(_ loc: SourceLocation) { self.loc = loc }
    func eval(_ f: Frame) throws -> Value { .nil_ }
}

final class ConstNode: ExprNode {
    let value: Value
    init(_ value: Value, _ loc: SourceLocation) { self.value = value; super.init(loc) }
    override func eval(_ f: Frame) throws -> Value { value }
}

/// A string with `${…}` interpolations.
final class InterpolationNode: ExprNode {
    enum Part { case text(String), expr(ExprNode) }
    let parts: [Part]
    init(_ parts: [Part], _ loc: SourceLocation) { self.parts = parts; super.init(loc) }
    override func eval(_ f: Frame) throws -> Value {
        var s = ""
        for p in parts {
            switch p {
            case .text(let t): s += t
            case .expr(let e): s += displayRaw(try e.eval(f))
            }
            if s.utf8.count > f.interp.maxElements { throw f.error(loc, "string too long (more than \(f.interp.maxElements) bytes)") }
        }
        return .string(s)
    }
}

final class ListNode: ExprNode {
    let items: [ExprNode]
    init(_ items: [ExprNode], _ loc: SourceLocation) { self.items = items; super.init(loc) }
    override func eval(_ f: Frame) throws -> Value {
        var out: [Value] = []
        out.reserveCapacity(items.count)
        for e in items { out.append(try e.eval(f)) }
        return .list(ListRef(out))
    }
}

final class RecordNode: ExprNode {
    let keys: [String]
    let values: [ExprNode]
    init(_ keys: [String], _ values: [ExprNode], _ loc: SourceLocation) { self.keys = keys; self.values = values; super.init(loc) }
    override func eval(_ f: Frame) throws -> Value {
        let r = RecordRef()
        for (k, e) in zip(keys, values) { r[k] = try e.eval(f) }
        return .record(r)
    }
}

/// `lo:hi`, an inclusive range of whole numbers.
final class RangeNode: ExprNode {
    let lo: ExprNode, hi: ExprNode
    init(_ lo: ExprNode, _ hi: ExprNode, _ loc: SourceLocation) { self.lo = lo; self.hi = hi; super.init(loc) }
    override func eval(_ f: Frame) throws -> Value {
        let a = try lo.eval(f), b = try hi.eval(f)
        func bound(_ v: Value, _ which: String) throws -> Int {
            guard case .number(let x) = v else { throw f.error(loc, "range bounds must be numbers, got \(v.typeName) for the \(which) bound") }
            guard let i = exactInt(x) else { throw f.error(loc, "range bounds must be whole numbers, got \(formatNumber(x))") }
            return i
        }
        return .range(try bound(a, "lower"), try bound(b, "upper"))
    }
}

/// A whole number as an Int, or nil when `x` is fractional, not finite or too large (2^53).
@inline(__always) func exactInt(_ x: Double) -> Int? {
    guard x == x.rounded(.towardZero), Swift.abs(x) <= 9_007_199_254_740_992 else { return nil }
    return Int(x)
}

/// A global variable (or, when never assigned, the builtin of that name).
final class GlobalNode: ExprNode {
    let slot: Int
    let name: String
    let builtin: Value?
    init(slot: Int, name: String, builtin: Value?, _ loc: SourceLocation) {
        self.slot = slot; self.name = name; self.builtin = builtin; super.init(loc)
    }
    override func eval(_ f: Frame) throws -> Value {
        if let v = f.interp.globals[slot] { return v }
        if let b = builtin { return b }
        throw f.interp.undefined(name, loc, f)
    }
}

/// A local variable of a function; before its first assignment it reads the global of the
/// same name (so `x = x + 1` in a function starts from the global `x`).
final class LocalNode: ExprNode {
    let slot: Int
    let global: GlobalNode
    init(slot: Int, global: GlobalNode) { self.slot = slot; self.global = global; super.init(global.loc) }
    override func eval(_ f: Frame) throws -> Value {
        if let v = f.locals[slot] { return v }
        return try global.eval(f)
    }
}

final class NegNode: ExprNode {
    let operand: ExprNode
    init(_ operand: ExprNode, _ loc: SourceLocation) { self.operand = operand; super.init(loc) }
    override func eval(_ f: Frame) throws -> Value {
        let v = try operand.eval(f)
        switch v {
        case .number(let x): return .number(-x)
        case .object(let o):
            if let r = try f.interp.located(loc, f, { try o.scriptNegated() }) { return r }
            throw f.error(loc, "cannot negate a \(v.typeName)")
        default: throw f.error(loc, "cannot negate a \(v.typeName)")
        }
    }
}

final class NotNode: ExprNode {
    let operand: ExprNode
    init(_ operand: ExprNode, _ loc: SourceLocation) { self.operand = operand; super.init(loc) }
    override func eval(_ f: Frame) throws -> Value { .bool(!(try operand.eval(f)).isTruthy) }
}

/// `a and b`, `a or b`: short-circuit, and the value is the operand that decided (as in Python).
final class LogicNode: ExprNode {
    let isAnd: Bool
    let lhs: ExprNode, rhs: ExprNode
    init(isAnd: Bool, _ lhs: ExprNode, _ rhs: ExprNode, _ loc: SourceLocation) {
        self.isAnd = isAnd; self.lhs = lhs; self.rhs = rhs; super.init(loc)
    }
    override func eval(_ f: Frame) throws -> Value {
        let a = try lhs.eval(f)
        if a.isTruthy != isAnd { return a }
        return try rhs.eval(f)
    }
}

/// Arithmetic and comparison, with a fast path for two numbers.
final class BinaryNode: ExprNode {
    let op: BinaryOperator
    let lhs: ExprNode, rhs: ExprNode
    init(_ op: BinaryOperator, _ lhs: ExprNode, _ rhs: ExprNode, _ loc: SourceLocation) {
        self.op = op; self.lhs = lhs; self.rhs = rhs; super.init(loc)
    }
    override func eval(_ f: Frame) throws -> Value {
        let a = try lhs.eval(f)
        let b = try rhs.eval(f)
        if case .number(let x) = a, case .number(let y) = b {
            switch op {
            case .add: return .number(x + y)
            case .sub: return .number(x - y)
            case .mul: return .number(x * y)
            case .div: return .number(x / y)
            case .lt: return .bool(x < y)
            case .le: return .bool(x <= y)
            case .gt: return .bool(x > y)
            case .ge: return .bool(x >= y)
            case .eq: return .bool(x == y)
            case .ne: return .bool(x != y)
            default: break
            }
        }
        return try f.interp.binary(op, a, b, loc, f)
    }
}

final class FieldNode: ExprNode {
    let object: ExprNode
    let name: String
    init(_ object: ExprNode, _ name: String, _ loc: SourceLocation) { self.object = object; self.name = name; super.init(loc) }
    override func eval(_ f: Frame) throws -> Value {
        let v = try object.eval(f)
        return try f.interp.field(v, name, loc, f)
    }
}

/// One compiled subscript.
enum SubscriptNode {
    case index(ExprNode)
    case slice(ExprNode?, ExprNode?)
}

final class IndexNode: ExprNode {
    let object: ExprNode
    let subs: [SubscriptNode]
    init(_ object: ExprNode, _ subs: [SubscriptNode], _ loc: SourceLocation) { self.object = object; self.subs = subs; super.init(loc) }

    func evalSubs(_ f: Frame) throws -> [IndexArgument] {
        try subs.map { s in
            switch s {
            case .index(let e): return .at(try e.eval(f))
            case .slice(let a, let b): return .slice(try a?.eval(f), try b?.eval(f))
            }
        }
    }

    override func eval(_ f: Frame) throws -> Value {
        let base = try object.eval(f)
        // Fast path: xs[i] on a list.
        if subs.count == 1, case .index(let e) = subs[0], case .list(let l) = base {
            let i = try e.eval(f)
            if case .number(let x) = i, let k = exactInt(x) {
                let n = l.items.count
                let j = k < 0 ? k + n : k
                if j >= 0 && j < n { return l.items[j] }
            }
            return try f.interp.index(base, [.at(i)], loc, f)
        }
        return try f.interp.index(base, try evalSubs(f), loc, f)
    }
}

/// An argument of a compiled call.
struct ArgNode {
    let name: String?
    let value: ExprNode
    let loc: SourceLocation
}

final class CallNode: ExprNode {
    let callee: ExprNode
    let args: [ArgNode]
    let hasKeywords: Bool
    init(_ callee: ExprNode, _ args: [ArgNode], _ loc: SourceLocation) {
        self.callee = callee; self.args = args; hasKeywords = args.contains { $0.name != nil }; super.init(loc)
    }

    func evalArgs(_ f: Frame, prepending: Value? = nil) throws -> ([Value], [(String, Value)]) {
        var positional: [Value] = []
        positional.reserveCapacity(args.count + 1)
        if let p = prepending { positional.append(p) }
        var keywords: [(String, Value)] = []
        for a in args {
            let v = try a.value.eval(f)
            if let n = a.name { keywords.append((n, v)) } else { positional.append(v) }
        }
        return (positional, keywords)
    }

    override func eval(_ f: Frame) throws -> Value {
        let fn = try callee.eval(f)
        if case .function(let function) = fn, case .builtin(let b) = function.body, b.name == "time" {
            return try f.interp.timeSpecialForm(self, f)
        }
        let (positional, keywords) = try evalArgs(f)
        return try f.interp.call(fn, positional, keywords, loc, f, site: self)
    }

    /// Where keyword argument `name` is written (for errors about it).
    func location(ofKeyword name: String) -> SourceLocation? { args.first { $0.name == name }?.loc }

    /// Where the argument bound to parameter `name` of `b` is written: its keyword, or the
    /// positional argument in that parameter's place. `prepended` values (a method call's
    /// object) come before the written ones.
    func location(ofArgument name: String, of b: Builtin, prepended: Int) -> SourceLocation? {
        if let k = location(ofKeyword: name) { return k }
        guard let i = b.params.firstIndex(where: { $0.name == name }), i >= prepended else { return nil }
        let written = args.filter { $0.name == nil }
        return i - prepended < written.count ? written[i - prepended].loc : nil
    }
}

/// `obj.name(args)`: calls the field when the value has one, or else the function `name` in
/// scope (a builtin or the user's) with `obj` as its first argument: `t.sum()` is `sum(t)`.
final class MethodCallNode: ExprNode {
    let object: ExprNode
    let name: String
    let call: CallNode
    /// The variable `name`, resolved where the call is written.
    let function: ExprNode
    init(_ object: ExprNode, _ name: String, _ call: CallNode, function: ExprNode) {
        self.object = object; self.name = name; self.call = call; self.function = function; super.init(call.loc)
    }
    override func eval(_ f: Frame) throws -> Value {
        let obj = try object.eval(f)
        if let fieldValue = try f.interp.fieldIfPresent(obj, name, loc, f) {
            let (positional, keywords) = try call.evalArgs(f)
            return try f.interp.call(fieldValue, positional, keywords, loc, f, site: call)
        }
        if let fn = try? function.eval(f), case .function = fn {
            let (positional, keywords) = try call.evalArgs(f, prepending: obj)
            return try f.interp.call(fn, positional, keywords, loc, f, site: call)
        }
        throw f.interp.noField(obj, name, loc, f)
    }
}
