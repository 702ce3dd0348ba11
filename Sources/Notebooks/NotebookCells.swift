// Notebook cells: a .prune file split in the jupytext "percent" format. `# %%` starts a code
// cell (a title may follow), `# %% [markdown]` a text cell whose `#` lines are Markdown. A file
// without markers is one code cell. Running a file ignores the markers: they are comments.
import Language
import Bindings
import Engine

/// One cell of a notebook file.
public struct NotebookCell: Equatable, Sendable {
    public enum Kind: Equatable, Sendable { case code, markdown }
    public var kind: Kind
    /// The text after `# %%` (code cells), nil when there is none.
    public var title: String?
    /// Code cells: the code as written. Markdown cells: the Markdown, `#` prefixes removed.
    public var text: String
    /// The file line (1-based) of the cell's first line after its marker.
    public var firstLine: Int
    /// The file line of the `# %%` marker (0 for the text before the first marker).
    public var markerLine: Int

    /// The code padded with blank lines so that running it reports the file's line numbers.
    public var runnableSource: String {
        String(repeating: "\n", count: max(firstLine - 1, 0)) + text
    }

    /// True when the cell holds nothing but blank lines and comments.
    public var isBlank: Bool {
        text.split(separator: "\n").allSatisfy { line in
            let t = line.drop(while: { $0 == " " || $0 == "\t" })
            return t.isEmpty || t.hasPrefix("#")
        }
    }
}

public enum Notebook {
    /// The cells of `source`. Text before the first marker becomes an untitled code cell unless
    /// it is blank; blank trailing lines of every cell are dropped.
    public static func cells(_ source: String) -> [NotebookCell] {
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            line.hasSuffix("\r") ? line.dropLast() : line
        }
        var cells: [NotebookCell] = []
        var current = NotebookCell(kind: .code, title: nil, text: "", firstLine: 1, markerLine: 0)
        var body: [Substring] = []

        func finish() {
            while let last = body.last, last.allSatisfy({ $0 == " " || $0 == "\t" }) { body.removeLast() }
            var cell = current
            if cell.kind == .markdown {
                cell.text = body.map(markdownLine).joined(separator: "\n")
                // Leading blank lines carry nothing in Markdown.
                while cell.text.hasPrefix("\n") { cell.text.removeFirst() }
            } else {
                cell.text = body.joined(separator: "\n")
            }
            if cell.markerLine > 0 || !cell.isBlank { cells.append(cell) }
            body = []
        }

        for (i, line) in lines.enumerated() {
            if let marker = parseMarker(line) {
                finish()
                current = NotebookCell(kind: marker.kind, title: marker.title, text: "", firstLine: i + 2, markerLine: i + 1)
            } else {
                body.append(line)
            }
        }
        finish()
        return cells
    }

    /// `# %%`, `#%%`, `# %% Title`, `# %% [markdown]`, `# %% [md] Title`.
    static func parseMarker(_ line: Substring) -> (kind: NotebookCell.Kind, title: String?)? {
        var rest: Substring
        if line.hasPrefix("# %%") { rest = line.dropFirst(4) } else if line.hasPrefix("#%%") { rest = line.dropFirst(3) } else { return nil }
        // `# %%%` or `# %%x` is an ordinary comment.
        if let c = rest.first, c != " " && c != "\t" { return nil }
        rest = rest.drop(while: { $0 == " " || $0 == "\t" })
        var kind = NotebookCell.Kind.code
        if rest.hasPrefix("[") , let close = rest.firstIndex(of: "]") {
            let tag = rest[rest.index(after: rest.startIndex)..<close].lowercased()
            if tag == "markdown" || tag == "md" { kind = .markdown }
            rest = rest[rest.index(after: close)...].drop(while: { $0 == " " || $0 == "\t" })
        }
        let title = String(rest).trimmingSpaces
        return (kind, title.isEmpty ? nil : title)
    }

    /// A Markdown cell's line without its comment prefix: `# text` → `text`, `#` → ``.
    static func markdownLine(_ line: Substring) -> String {
        var s = line.drop(while: { $0 == " " || $0 == "\t" })
        guard s.hasPrefix("#") else { return String(line) }
        s = s.dropFirst()
        if s.hasPrefix(" ") { s = s.dropFirst() }
        return String(s)
    }
}
