// How values look at the prompt and in print: concise and deterministic, so golden tests can
// compare them. Numbers follow the session's display options (DisplayOptions.swift: 3, 0.6667,
// 1e-05); big collections are abbreviated.
import FileIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The concise display of a value (strings quoted, as the prompt shows them).
public func display(_ v: Value) -> String {
    var out = DisplayBuffer()
    out.value(v, depth: 0)
    return out.text
}

/// The text `print` and string interpolation use: strings raw, everything else as `display`.
public func displayRaw(_ v: Value) -> String {
    if case .string(let s) = v { return s }
    return display(v)
}

/// A string literal as it would be typed: quoted, with escapes, so that it reads back as the
/// same string (`${` is written `\${`, which the lexer reads as text, not interpolation). The
/// one quoting function: the prompt, help and completion all write strings through it.
public func quoted(_ s: String) -> String {
    var out = "\""
    let scalars = Array(s.unicodeScalars)
    for (i, c) in scalars.enumerated() {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        case "$": out += i + 1 < scalars.count && scalars[i + 1] == "{" ? "\\$" : "$"
        default:
            if c.value < 0x20 { out += "\\u{" + String(c.value, radix: 16) + "}" } else { out.unicodeScalars.append(c) }
        }
    }
    return out + "\""
}

/// Builds a display with limits, so a huge or self-containing value cannot hang the prompt.
struct DisplayBuffer {
    var text = ""
    /// Past this many bytes the rest is elided.
    static let byteLimit = 200_000
    static let maxDepth = 24
    /// Lists longer than this show their head and tail only.
    static let listLimit = 100
    /// Containers on the current path (a list that contains itself prints as `[…]`).
    var path: [ObjectIdentifier] = []

    var full: Bool { text.utf8.count > DisplayBuffer.byteLimit }

    mutating func value(_ v: Value, depth: Int) {
        if full { return }
        switch v {
        case .number(let x): text += formatNumber(x)
        case .string(let s): text += quoted(s)
        case .bool(let b): text += b ? "true" : "false"
        case .nil_: text += "nil"
        case .range(let a, let b): text += "\(a):\(b)"
        case .list(let l):
            let id = ObjectIdentifier(l)
            if path.contains(id) || depth > DisplayBuffer.maxDepth { text += "[…]"; return }
            path.append(id)
            text += "["
            let n = l.items.count
            let (head, tail) = n > DisplayBuffer.listLimit ? (40, 10) : (n, 0)
            for i in 0..<head {
                if i > 0 { text += ", " }
                value(l.items[i], depth: depth + 1)
                if full { break }
            }
            if tail > 0 {
                text += ", … (\(n) items), "
                for i in (n - tail)..<n {
                    if i > n - tail { text += ", " }
                    value(l.items[i], depth: depth + 1)
                }
            }
            text += "]"
            path.removeLast()
        case .record(let r):
            let id = ObjectIdentifier(r)
            if path.contains(id) || depth > DisplayBuffer.maxDepth { text += "{…}"; return }
            path.append(id)
            text += "{"
            for (i, (k, x)) in r.pairs.enumerated() {
                if i > 0 { text += ", " }
                text += isIdentifier(k) ? k : quoted(k)
                text += ": "
                value(x, depth: depth + 1)
                if full { break }
            }
            text += "}"
            path.removeLast()
        // Inside a list or record, multi-line values shrink to one line.
        case .table(let t): text += depth == 0 ? displayTable(t) : "<table, \(t.rows.count) rows × \(t.columns.count) columns>"
        case .function(let f): text += displayFunction(f)
        case .object(let o): text += depth == 0 ? o.scriptDisplay : o.scriptInlineDisplay
        }
        if full && !text.hasSuffix("…") { text += "…" }
    }
}

/// Whether `s` can be written as a bare record key.
func isIdentifier(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, first == "_" || first.properties.isAlphabetic else { return false }
    return s.unicodeScalars.allSatisfy { $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
        && !Lexer.keywords.keys.contains(s)
}

// MARK: - Tables

/// Aligned columns with a rule under the header; numbers right-aligned, each column of numbers
/// in one format (`NumberColumn`), a missing value as "–". A table longer than the `rows`
/// option shows its first and last rows, a row of "…" between them and a line saying how many
/// rows it left out.
public func displayTable(_ t: Table) -> String {
    if t.rows.isEmpty { return "table (no rows)" }
    let view = TableView(t)
    var rows = [view.columns] + view.head
    if view.hidden > 0 { rows.append(view.columns.map { _ in "…" }) }
    rows += view.tail
    var text = alignedColumns(rows, rightAligned: view.numeric, rule: true, indent: "")
    if let footer = view.footer { text += footer + "\n" }
    return String(text.dropLast())
}

/// A table as it is shown, in text and in notebook documents: its cells formatted, and only the
/// first and last rows of a table longer than the `rows` option.
public struct TableView {
    public var columns: [String]
    /// The first rows shown (all of them when nothing is left out).
    public var head: [[String]]
    /// The last rows shown, after the rows left out.
    public var tail: [[String]]
    /// Columns of numbers (and missing values), right-aligned.
    public var numeric: Set<Int>
    /// Rows in the table.
    public var total: Int
    /// Rows left out between head and tail.
    public var hidden: Int { total - head.count - tail.count }

    public init(columns: [String], head: [[String]], tail: [[String]], numeric: Set<Int>, total: Int) {
        self.columns = columns; self.head = head; self.tail = tail; self.numeric = numeric; self.total = total
    }

    public init(_ t: Table, options: DisplayOptions = .current) {
        let n = t.rows.count
        let edge = Swift.max(1, Swift.min(10, options.rows / 2))
        let shown = n > options.rows ? Array(0..<edge) + Array((n - edge)..<n) : Array(0..<n)
        var cells = [[String]](repeating: [], count: shown.count)
        var numeric = Set<Int>()
        for (j, c) in t.columns.enumerated() {
            let values = shown.map { t.rows[$0][c] ?? .nil_ }
            var isNumeric = true
            var numbers: [Double] = []
            for v in values {
                if case .number(let x) = v { numbers.append(x) } else if case .nil_ = v {} else { isNumeric = false }
            }
            if isNumeric { numeric.insert(j) }
            let format = NumberColumn(numbers, digits: options.digits)
            for (i, v) in values.enumerated() {
                switch v {
                case .number(let x): cells[i].append(format.format(x))
                case .nil_: cells[i].append(missingText)
                default: cells[i].append(cell(v))
                }
            }
        }
        let split = n > options.rows ? edge : shown.count
        self.init(columns: t.columns, head: Array(cells[..<split]), tail: Array(cells[split...]), numeric: numeric, total: n)
    }

    /// `[120 rows × 4 columns, 100 not shown]` when rows were left out.
    public var footer: String? {
        hidden > 0 ? "[\(thousands(total)) rows × \(columns.count) column\(columns.count == 1 ? "" : "s"), \(thousands(hidden)) not shown]" : nil
    }
}

/// One table cell: strings raw, long values cut.
func cell(_ v: Value) -> String {
    var s = displayRaw(v)
    if let nl = s.firstIndex(of: "\n") { s = String(s[..<nl]) + " …" }
    if s.count > 40 { s = String(s.prefix(39)) + "…" }
    return s
}

/// Lays out rows of cells in columns separated by two spaces (the first row is the header).
public func alignedColumns(_ rows: [[String]], rightAligned: Set<Int>, rule: Bool, indent: String) -> String {
    guard let header = rows.first else { return "" }
    var widths = header.map(\.count)
    for r in rows { for (j, c) in r.enumerated() where j < widths.count { widths[j] = Swift.max(widths[j], c.count) } }
    func line(_ r: [String]) -> String {
        var parts: [String] = []
        for (j, w) in widths.enumerated() {
            let c = j < r.count ? r[j] : ""
            let pad = String(repeating: " ", count: w - c.count)
            parts.append(rightAligned.contains(j) ? pad + c : (j == widths.count - 1 ? c : c + pad))
        }
        var s = indent + parts.joined(separator: "  ")
        while s.hasSuffix(" ") { s.removeLast() }
        return s + "\n"
    }
    var out = line(header)
    if rule { out += indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
    for r in rows.dropFirst() { out += line(r) }
    return out
}

// MARK: - Functions

/// `<function f(a, b=1)>` or `<builtin train(net, data, epochs=1)>`.
public func displayFunction(_ f: Function) -> String {
    switch f.body {
    case .builtin(let b): return "<builtin \(b.signature)>"
    case .user(let params, _, _): return "<function \(f.name)(\(formatParameters(params)))>"
    }
}

func formatParameters(_ params: [Parameter]) -> String {
    params.map { p in p.defaultValue.map { "\(p.name)=\(formatExpr($0))" } ?? p.name }.joined(separator: ", ")
}

/// Source-like text of an expression (for function signatures).
public func formatExpr(_ e: Expr) -> String {
    switch e.kind {
    case .number(let x): return formatNumber(x)
    case .string(let parts):
        return "\"" + parts.map { p -> String in
            switch p {
            case .text(let t): return String(quoted(t).dropFirst().dropLast())
            case .expr(let x): return "${" + formatExpr(x) + "}"
            }
        }.joined() + "\""
    case .bool(let b): return b ? "true" : "false"
    case .nil_: return "nil"
    case .name(let n): return n
    case .list(let xs): return "[" + xs.map(formatExpr).joined(separator: ", ") + "]"
    case .record(let kv): return "{" + kv.map { "\($0.0): \(formatExpr($0.1))" }.joined(separator: ", ") + "}"
    case .range(let a, let b): return formatExpr(a) + ":" + formatExpr(b)
    case .unary(let op, let x): return op == .neg ? "-" + formatExpr(x) : "not " + formatExpr(x)
    case .binary(let op, let a, let b): return "(" + formatExpr(a) + " \(op.rawValue) " + formatExpr(b) + ")"
    case .call(let f, let args):
        return formatExpr(f) + "(" + args.map { a in (a.name.map { $0 + "=" } ?? "") + formatExpr(a.value) }.joined(separator: ", ") + ")"
    case .field(let x, let n): return formatExpr(x) + "." + n
    case .index(let x, let subs):
        return formatExpr(x) + "[" + subs.map { s -> String in
            switch s {
            case .index(let i): return formatExpr(i)
            case .slice(let a, let b): return (a.map(formatExpr) ?? "") + ":" + (b.map(formatExpr) ?? "")
            }
        }.joined(separator: ", ") + "]"
    }
}
