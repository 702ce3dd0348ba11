// Values of the prune language. Lists, records and tables are references (as in Python):
// `b = a` shares, `copy(a)` duplicates.
import Engine
import NN
import Data

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

/// A results table: named columns, rows of values (missing cells are nil).
public final class Table {
    public var columns: [String] = []
    public var rows: [[String: Value]] = []
    public init() {}
    /// Appends a row, adding any new columns in the order they first appear.
    public func add(_ row: [(String, Value)]) {
        var r: [String: Value] = [:]
        for (k, v) in row {
            if !columns.contains(k) { columns.append(k) }
            r[k] = v
        }
        rows.append(r)
    }
    deinit {
        var items = rows.flatMap(\.values)
        rows = []
        Value.dismantle(items: &items)
    }
}

/// Extension point for values that later parts of prune add (pruners, figures, …).
public protocol ScriptObject: AnyObject {
    /// The type name shown to users, e.g. "pruner".
    var typeName: String { get }
    /// The concise display of the value.
    var display: String { get }
    /// Field access `obj.name`, or nil when there is no such field.
    func field(_ name: String) -> Value?
    /// Field names, for completion after `.`.
    var fieldNames: [String] { get }
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
    case tensor(Tensor)
    case model(Module)
    case dataset(Dataset)
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
        case .tensor: "tensor"
        case .model: "model"
        case .dataset: "dataset"
        case .table: "table"
        case .function: "function"
        case .object(let o): o.typeName
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
    static func rangeNumbers(_ a: Int, _ b: Int, limit: Int) throws -> [Double] {
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
