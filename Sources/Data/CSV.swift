// CSV (RFC 4180) records: the one CSV reader, shared by results tables (the language's `load`)
// and text datasets (`text_csv`, the Debian package snapshot). Errors name the file and line.
import Engine

public enum CSV {
    /// One field: its text, and whether it was quoted (a quoted field is always text).
    public struct Field: Equatable, Sendable {
        public var text: String
        public var quoted: Bool
    }

    /// One record and the line it starts on (1-based).
    public struct Record: Sendable {
        public var line: Int
        public var fields: [Field]
    }

    /// The records of CSV text: fields split at commas, records at newlines (LF, CRLF or CR),
    /// quoted fields may hold commas, newlines and doubled quotes. Blank lines are skipped and a
    /// leading byte-order mark is ignored. `file` names the text in errors.
    public static func records(_ text: String, file: String) throws -> [Record] {
        var records: [Record] = []
        var fields: [Field] = []
        var field = "", quoted = false, inQuotes = false, afterQuote = false
        var line = 1, recordLine = 1
        var chars = Array(text.unicodeScalars)[...]
        // A byte-order mark (spreadsheets write one) is not part of the first column's name.
        if chars.first == "\u{FEFF}" { chars = chars.dropFirst() }
        func endField() { fields.append(Field(text: field, quoted: quoted)); field = ""; quoted = false; afterQuote = false }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0].text.isEmpty && !fields[0].quoted) { records.append(Record(line: recordLine, fields: fields)) }
            fields = []
        }
        while let c = chars.popFirst() {
            if inQuotes {
                if c == "\"" {
                    if chars.first == "\"" { chars.removeFirst(); field.unicodeScalars.append("\"") } else { inQuotes = false; afterQuote = true }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"":
                guard field.isEmpty, !afterQuote else {
                    throw DataError("\(file):\(line): a quote inside an unquoted field; quote the whole field and double inner quotes")
                }
                inQuotes = true; quoted = true
            case ",": endField()
            case "\r": if chars.first != "\n" { endRecord(); line += 1; recordLine = line }
            case "\n": endRecord(); line += 1; recordLine = line
            default:
                guard !afterQuote else { throw DataError("\(file):\(line): text after a closing quote") }
                field.unicodeScalars.append(c)
            }
        }
        if inQuotes { throw DataError("\(file):\(recordLine): a quoted field is not closed") }
        if !field.isEmpty || quoted || !fields.isEmpty { endRecord() }
        return records
    }

    /// The header's column names, checked: present, non-empty and distinct.
    public static func header(_ records: [Record], file: String) throws -> [String] {
        guard let header = records.first else { throw DataError("\(file): empty file; a CSV table needs a header row") }
        let names = header.fields.map(\.text)
        var seen = Set<String>()
        for (i, n) in names.enumerated() {
            guard !n.isEmpty else { throw DataError("\(file):\(header.line): column \(i + 1) has no name") }
            guard seen.insert(n).inserted else { throw DataError("\(file):\(header.line): column '\(n)' appears twice") }
        }
        return names
    }

    /// Checks that a data record has as many fields as the header.
    public static func checkWidth(_ record: Record, columns: Int, file: String) throws {
        guard record.fields.count == columns else {
            throw DataError("\(file):\(record.line): \(record.fields.count) fields, but the header has \(columns)")
        }
    }
}
