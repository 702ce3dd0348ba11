// Results tables as CSV (RFC 4180): numbers, text, booleans and empty cells (nil) round-trip.
// Text that would read back as something else (a number, true/false, empty) is quoted, and
// quoted fields always read back as text.
import FileIO
import Language
import Engine
import Data

extension Table {
    /// The table as CSV text with a header row. Cells must be numbers, strings, booleans or nil.
    public func csv() throws -> String {
        var out = columns.map { Table.field($0, alwaysQuote: false) }.joined(separator: ",") + "\n"
        for (r, row) in rows.enumerated() {
            var fields: [String] = []
            for c in columns {
                switch row[c] ?? .nil_ {
                case .nil_: fields.append("")
                case .number(let x): fields.append(Table.number(x))
                case .bool(let b): fields.append(b ? "true" : "false")
                case .string(let s): fields.append(Table.field(s, alwaysQuote: Table.readsAsValue(s)))
                case let v: throw BuiltinError("save: row \(r), " + Table.notACell(c, v))
                }
            }
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }


    /// Shortest text that reads back as the same double (whole numbers without ".0").
    package static func number(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        if x == x.rounded(), Swift.abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    /// Whether unquoted text would read back as a number, a boolean or nil.
    static func readsAsValue(_ s: String) -> Bool {
        s.isEmpty || s == "true" || s == "false" || Table.parseNumber(Substring(s)) != nil
    }

    static func field(_ s: String, alwaysQuote: Bool) -> String {
        let special = s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            || s.first == " " || s.last == " "
        guard alwaysQuote || special else { return s }
        return "\"" + s.replacingAll("\"", with: "\"\"") + "\""
    }

    static func parseNumber(_ s: Substring) -> Double? {
        switch s {
        case "nan", "NaN": return .nan
        case "inf", "Inf": return .infinity
        case "-inf", "-Inf": return -.infinity
        default: break
        }
        guard let first = s.first, first.isNumber || first == "-" || first == "+" || first == "." else { return nil }
        return Double(s)
    }

    /// Reads CSV text (the first row is the header). `file` names it in errors, with the line.
    public static func parseCSV(_ text: String, file: String) throws -> Table {
        let records: [CSV.Record], names: [String]
        do {
            records = try CSV.records(text, file: file)
            names = try CSV.header(records, file: file)
        } catch let e as DataError { throw BuiltinError(e.scriptText) }
        let table = Table()
        table.columns = names
        for record in records.dropFirst() {
            do { try CSV.checkWidth(record, columns: names.count, file: file) } catch let e as DataError { throw BuiltinError(e.scriptText) }
            var row: [String: Value] = [:]
            for (name, f) in zip(names, record.fields) {
                if f.quoted { row[name] = .string(f.text); continue }
                let t = f.text.trimmingSpaces
                if t.isEmpty { continue }
                if t == "true" { row[name] = .bool(true) } else if t == "false" { row[name] = .bool(false) }
                else if let x = parseNumber(Substring(t)) { row[name] = .number(x) } else { row[name] = .string(f.text) }
            }
            table.rows.append(row)
        }
        return table
    }

    /// Writes the table to `path` as CSV (atomically).
    public func save(csv path: String) throws {
        let text = try csv()
        do { try WholeFile.write(text, to: path) } catch let e as FileError { throw BuiltinError("save: " + e.message) }
    }

    /// Reads a CSV file into a table.
    public static func load(csv path: String) throws -> Table {
        let bytes: [UInt8]
        do {
            try InputFile.check(path)
            bytes = try WholeFile.readAll(path)
        } catch let e as LibraryError { throw BuiltinError("load: " + e.scriptText) }
        InputFiles.read(path)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw BuiltinError("load: \(path) is not UTF-8 text") }
        return try parseCSV(text, file: path)
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
