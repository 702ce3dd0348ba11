// The results table: named columns and rows of values, what `table()`, `record` and the
// training history build; written and read as CSV by the bindings.

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

    /// Checks that every cell can be written as CSV (what `record` keeps must be).
    static func checkCells(_ cells: [(String, Value)], what: String) throws {
        for (c, v) in cells {
            switch v {
            case .nil_, .number, .bool, .string: continue
            default: throw BuiltinError("\(what): " + notACell(c, v))
            }
        }
    }

    public static func notACell(_ column: String, _ v: Value) -> String {
        "column '\(column)' holds a \(v.typeName); CSV cells are numbers, text, true/false or nil"
    }
}
