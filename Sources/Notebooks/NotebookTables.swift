// Tables in notebook documents: a table a cell shows is kept with its place in the cell's output,
// stored so in the cell cache, and drawn as an HTML table (a Markdown table in .md documents)
// instead of its aligned text; the rest of the output stays preformatted text.
import Language
import FileIO

extension OutputTable {
    var json: JSON {
        .object([
            ("start", .integer(start)), ("length", .integer(length)),
            ("columns", .array(view.columns.map { .string($0) })),
            ("head", .array(view.head.map { .array($0.map { .string($0) }) })),
            ("tail", .array(view.tail.map { .array($0.map { .string($0) }) })),
            ("numeric", .array(view.numeric.sorted().map { .integer($0) })),
            ("total", .integer(view.total)),
        ])
    }

    /// The tables stored with a cache entry; those that do not fit the entry's output (in order,
    /// inside it, every row as wide as the header) are left out, so their text shows as text.
    static func decode(_ j: JSON?, output: String) -> [OutputTable] {
        var out: [OutputTable] = []
        var end = 0
        let size = output.utf8.count
        for t in j?.array ?? [] {
            guard let start = t["start"]?.int, let length = t["length"]?.int, start >= end, length > 0, start <= size - length,
                  let columns = t["columns"]?.array?.compactMap(\.string),
                  let head = rows(t["head"], width: columns.count), let tail = rows(t["tail"], width: columns.count),
                  let total = t["total"]?.int, total >= head.count + tail.count else { continue }
            let numeric = Set((t["numeric"]?.array ?? []).compactMap(\.int).filter { columns.indices.contains($0) })
            out.append(OutputTable(start: start, length: length,
                                   view: TableView(columns: columns, head: head, tail: tail, numeric: numeric, total: total)))
            end = start + length
        }
        return out
    }

    private static func rows(_ j: JSON?, width: Int) -> [[String]]? {
        guard let a = j?.array else { return nil }
        var rows: [[String]] = []
        for r in a {
            guard let cells = r.array?.compactMap(\.string), cells.count == width else { return nil }
            rows.append(cells)
        }
        return rows
    }
}

/// A cell's output cut into text and tables, in order.
enum OutputPart {
    case text(String)
    case table(TableView)

    static func parts(_ output: String, tables: [OutputTable]) -> [OutputPart] {
        let bytes = Array(output.utf8)
        var parts: [OutputPart] = []
        var at = 0
        func text(_ from: Int, _ to: Int) {
            let s = String(decoding: bytes[from..<to], as: UTF8.self)
            if !s.allSatisfy(\.isNewline) { parts.append(.text(s.hasSuffix("\n") ? String(s.dropLast()) : s)) }
        }
        for t in tables where t.start >= at && t.start + t.length <= bytes.count {
            text(at, t.start)
            parts.append(.table(t.view))
            at = t.start + t.length
        }
        text(at, bytes.count)
        return parts
    }
}

extension NotebookDocument {
    /// A table as HTML: a header row, the rows shown, a row of "…" where rows were left out,
    /// and a line saying how many.
    static func htmlTable(_ v: TableView) -> String {
        func row(_ cells: [String], tag: String) -> String {
            "<tr>" + cells.enumerated().map { j, c in
                "<\(tag)\(v.numeric.contains(j) ? " class=\"r\"" : "")>\(Markdown.escape(c))</\(tag)>"
            }.joined() + "</tr>\n"
        }
        var out = "<div class=\"table\"><table>\n<thead>\n" + row(v.columns, tag: "th") + "</thead>\n<tbody>\n"
        for r in v.head { out += row(r, tag: "td") }
        if v.hidden > 0 { out += "<tr class=\"gap\">" + v.columns.indices.map { j in "<td\(v.numeric.contains(j) ? " class=\"r\"" : "")>…</td>" }.joined() + "</tr>\n" }
        for r in v.tail { out += row(r, tag: "td") }
        out += "</tbody>\n</table>\n"
        if let f = v.footer { out += "<p class=\"table-foot\">\(Markdown.escape(f))</p>\n" }
        return out + "</div>\n"
    }

    /// A table as a Markdown (GFM) table, numbers right-aligned, then the line saying how many
    /// rows were left out.
    static func markdownTable(_ v: TableView) -> String {
        func cell(_ s: String) -> String { markdownText(s).isEmpty ? " " : markdownText(s) }
        func row(_ cells: [String]) -> String { "| " + cells.map(cell).joined(separator: " | ") + " |\n" }
        var out = row(v.columns)
        out += "|" + v.columns.indices.map { v.numeric.contains($0) ? " ---: " : " --- " }.joined(separator: "|") + "|\n"
        for r in v.head { out += row(r) }
        if v.hidden > 0 { out += row(v.columns.map { _ in "…" }) }
        for r in v.tail { out += row(r) }
        if let f = v.footer { out += "\n" + markdownText(f) + "\n" }
        return out + "\n"
    }
}
