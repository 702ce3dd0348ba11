// Values of the prune language. Lists, records and tables are references (as in Python):
// `b = a` shares, `copy(a)` duplicates. The library's values (tensors, models, datasets,
// pruners, figures) are objects: the language reaches them only through `ScriptObject`.

/// A growable list shared by reference.
public final class ListRef {
    public var items: [Value]
    public init(_ items: [Value]) { self.items = items }
    deinit { Value.dismantle(items: &items) }
}

/// An ordered record `{lr: 0.1, epochs: 3}` shared by reference.
public final class RecordRef {
    public var keys: [String]
    public var values: [String: Value]
    public init(_ pairs: [(String, Value)] = []) {
        keys = []; values = [:]
        for (k, v) in pairs { self[k] = v }
    }
    public subscript(key: String) -> Value? {
        get { values[key] }
        set {
            if let newValue {
                if values[key] == nil { keys.append(key) }
                values[key] = newValue
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }
    public var pairs: [(String, Value)] { keys.compactMap { k in values[k].map { (k, $0) } } }
    deinit {
        var items = Array(values.values)
        values = [:]
        Value.dismantle(items: &items)
    }
}

/// A value that a module above the language adds (tensors, models, datasets, pruners, figures):
/// the language reaches it only through these requirements, as Lua reaches userdata through its
/// metatable. Every requirement but `typeName` and `display` has a default meaning "not
/// supported", which the interpreter reports as an error at the expression. Errors thrown here
/// carry a message only; the interpreter adds the location.
public protocol ScriptObject: AnyObject {
    /// The type name shown to users, e.g. "pruner".
    var scriptTypeName: String { get }
    /// The display at the prompt (may span lines).
    var scriptDisplay: String { get }
    /// The one-line display inside a list or record (default: `display`).
    var scriptInlineDisplay: String { get }
    /// Field access `obj.name`, or nil when there is no such field.
    func scriptField(_ name: String) throws -> Value?
    /// Field names, for completion after `.` and for "did you mean".
    var scriptFieldNames: [String] { get }
    /// `obj.name = value`; false when the field cannot be set.
    func scriptSetField(_ name: String, _ value: Value) throws -> Bool
    /// `obj op other` (`objectOnLeft`) or `other op obj`; nil when the operator does not apply.
    func scriptBinary(_ op: BinaryOperator, _ other: Value, objectOnLeft: Bool) throws -> Value?
    /// `-obj`; nil when it does not apply.
    func scriptNegated() throws -> Value?
    /// `obj(args...)`; nil when the object cannot be called.
    func scriptCall(_ positional: [Value], _ keywords: [(String, Value)]) throws -> Value?
    /// `obj[subs]`; nil when the object cannot be indexed.
    func scriptIndex(_ subs: [IndexArgument]) throws -> Value?
    /// `obj[subs] = value`; false when the object cannot be assigned into.
    func scriptSetIndex(_ subs: [IndexArgument], _ value: Value) throws -> Bool
    /// What `for x in obj` visits; nil when the object cannot be iterated.
    func scriptItems() throws -> [Value]?
    /// What `len(obj)` returns; nil when it has no length.
    func scriptLength() throws -> Int?
    /// The object's numbers in order, where a list of numbers is asked for (a tensor's elements);
    /// nil when it has none.
    func scriptNumbers() -> [Double]?
    /// `copy(obj)`: an independent copy; nil when the object is shared as it is.
    func scriptCopied() throws -> ScriptObject?
    /// Is the object equal to `other`? Identity by default.
    func scriptIsEqual(to other: ScriptObject) -> Bool
}

public extension ScriptObject {
    var scriptInlineDisplay: String { scriptDisplay }
    func scriptField(_ name: String) throws -> Value? { nil }
    var scriptFieldNames: [String] { [] }
    func scriptSetField(_ name: String, _ value: Value) throws -> Bool { false }
    func scriptBinary(_ op: BinaryOperator, _ other: Value, objectOnLeft: Bool) throws -> Value? { nil }
    func scriptNegated() throws -> Value? { nil }
    func scriptCall(_ positional: [Value], _ keywords: [(String, Value)]) throws -> Value? { nil }
    func scriptIndex(_ subs: [IndexArgument]) throws -> Value? { nil }
    func scriptSetIndex(_ subs: [IndexArgument], _ value: Value) throws -> Bool { false }
    func scriptItems() throws -> [Value]? { nil }
    func scriptLength() throws -> Int? { nil }
    func scriptCopied() throws -> ScriptObject? { nil }
    func scriptNumbers() -> [Double]? { nil }
    func scriptIsEqual(to other: ScriptObject) -> Bool { self === other }
}

/// One index inside brackets, evaluated: `x[i]` or `x[a:b]` (either bound may be absent).
public enum IndexArgument {
    case at(Value)
    case slice(Value?, Value?)
}

/// A callable: a user-defined function or a builtin.
public final class Function {
    public enum Body {
        case user(params: [Parameter], body: [Stmt], file: String)
        case builtin(Builtin)
    }
    public let name: String
    public let body: Body
    /// The interpreter's compiled form of a user function (set when `def` is compiled).
    var code: CompiledFunction?
    public init(name: String, body: Body) { self.name = name; self.body = body }
}

/// A value in the language.
public enum Value {
    case number(Double)
    case string(String)
    case bool(Bool)
    case nil_
    case list(ListRef)
    case record(RecordRef)
    /// Inclusive integer range `lo:hi`.
    case range(Int, Int)
    case table(Table)
    case function(Function)
    case object(ScriptObject)

    /// The type name used in messages: "number", "string", "list", ….
    public var typeName: String {
        switch self {
        case .number: "number"
        case .string: "string"
        case .bool: "bool"
        case .nil_: "nil"
        case .list: "list"
        case .record: "record"
        case .range: "range"
        case .table: "table"
        case .function: "function"
        case .object(let o): o.scriptTypeName
        }
    }

    /// Truthiness for `if`/`while`/`and`/`or`: false and nil are false; everything else is true
    /// except the number 0.
    public var isTruthy: Bool {
        switch self {
        case .bool(let b): b
        case .nil_: false
        case .number(let x): x != 0
        default: true
        }
    }
}

extension Value {
    /// The numbers of the range `a:b`, refusing more than `limit`: a range is two numbers, and
    /// `sum(0:10^12)` would otherwise expand it into terabytes. Every expansion goes through here.
    public static func rangeNumbers(_ a: Int, _ b: Int, limit: Int) throws -> [Double] {
        guard a <= b else { return [] }
        let n = b - a + 1  // range bounds are at most 2^53: no overflow
        guard n <= limit else {
            throw BuiltinError("the range \(a):\(b) has \(n) numbers, more than the \(limit) that may be expanded")
        }
        return (a...b).map(Double.init)
    }
}

extension Value {
    /// Frees the lists, records and tables among `items` without recursion. Freeing a list
    /// frees its items, so a list nested 40,000 deep (`x = [x]` in a loop) would otherwise
    /// recurse 40,000 times and overflow the stack. Containers that nothing else holds are
    /// emptied into a work list first, so each one dies with no children left.
    static func dismantle(items: inout [Value]) {
        guard items.contains(where: { if case .list = $0 { true } else if case .record = $0 { true } else if case .table = $0 { true } else { false } }) else { return }
        var work = items
        items = []
        while var v = work.popLast() {
            // The references are taken out of `v` before it is cleared, so that each is the
            // only one this loop holds when its uniqueness is checked (a `switch` on `v` would
            // keep a copy alive).
            var list: ListRef?, record: RecordRef?, table: Table?
            if case .list(let l) = v { list = l } else if case .record(let r) = v { record = r } else if case .table(let t) = v { table = t }
            v = .nil_
            if isKnownUniquelyReferenced(&list), let l = list { work.append(contentsOf: l.items); l.items = [] }
            if isKnownUniquelyReferenced(&record), let r = record { work.append(contentsOf: r.values.values); r.values = [:]; r.keys = [] }
            if isKnownUniquelyReferenced(&table), let t = table { work.append(contentsOf: t.rows.flatMap(\.values)); t.rows = [] }
        }
    }
}
