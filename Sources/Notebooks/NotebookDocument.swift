// Rendered notebooks: a NotebookResult as a self-contained HTML page (inline CSS, highlighted
// code, output, figures, errors, times) or as Markdown. Figures are PNG files in a folder
// beside the document (`out_files/`), linked relatively, or embedded in the HTML as data URLs.
import FileIO
import Language
import Bindings
import Engine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum NotebookDocument {
    public enum Format: Sendable { case html, markdown }

    /// The format a document path asks for (.html, .htm, .md, .markdown), nil otherwise.
    public static func format(forPath path: String) -> Format? {
        let lower = path.lowercased()
        if lower.hasSuffix(".html") || lower.hasSuffix(".htm") { return .html }
        if lower.hasSuffix(".md") || lower.hasSuffix(".markdown") { return .markdown }
        return nil
    }

    /// Writes the document (atomically) and its figures. `embed` puts figures inside the HTML.
    /// The document is written aside first, so a document that cannot be written (read-only,
    /// a directory in its place, a full disk) fails before any figure is written; it is renamed
    /// into place after its figures, and only then are an earlier render's extra figures removed.
    public static func write(_ result: NotebookResult, to path: String, format: Format, embed: Bool, version: String) throws {
        let (dir, base) = split(path)
        let stem = base.contains(".") ? String(base[..<(base.lastIndex(of: ".") ?? base.endIndex)]) : base
        let folder = stem + "_files"
        let inline = embed && format == .html
        var refs: [[String]] = []
        var figures: [(name: String, png: [UInt8])] = []
        for outcome in result.cells {
            var r: [String] = []
            for (k, png) in outcome.figures.enumerated() {
                if inline {
                    r.append("data:image/png;base64," + base64(png))
                } else {
                    let name = "cell-\(outcome.number)-\(k + 1).png"
                    figures.append((name, png))
                    r.append(folder + "/" + name)
                }
            }
            refs.append(r)
        }
        let text = format == .html ? html(result, images: refs, version: version) : markdown(result, images: refs, version: version)
        let document = try WholeFile.prepare(Array(text.utf8), for: path)
        let folderExisted = FS.isDirectory(dir + "/" + folder)
        var added: [String] = []
        do {
            if !figures.isEmpty { try FS.makeDirectories(dir + "/" + folder) }
            for f in figures {
                let target = dir + "/" + folder + "/" + f.name
                if !FS.exists(target) { added.append(target) }
                try WholeFile.write(f.png, to: target)
            }
            try document.commit()
        } catch {
            document.discard()
            for a in added { FS.removeTree(a) }
            if !folderExisted { _ = rmdir(dir + "/" + folder) }
            throw error
        }
        // Figures of an earlier render that this one no longer has.
        let written = Set(figures.map(\.name))
        for name in FS.list(dir + "/" + folder) where !inline && name.hasPrefix("cell-") && name.hasSuffix(".png") && !written.contains(name) {
            FS.removeTree(dir + "/" + folder + "/" + name)
        }
    }

    private static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    static func fileName(_ path: String) -> String { split(path).1 }

    /// "prune 0.1.0 · 4 code cells · cells took 12 s" (the same whether cells ran or came
    /// from the cache, so a committed document only changes when its content does).
    static func summary(_ r: NotebookResult, version: String) -> String {
        let code = r.cells.filter { $0.cell.kind == .code }
        var parts = ["prune \(version)", "\(code.count) code cell\(code.count == 1 ? "" : "s")"]
        if r.interrupted { parts.append("interrupted") } else if r.failed { parts.append("stopped at an error") }
        let total = code.reduce(0) { $0 + $1.seconds }
        parts.append("cells took " + formatSeconds(total))
        return parts.joined(separator: " · ")
    }

    /// `In [3]`: a code cell's number among the code cells, as Jupyter numbers them.
    static func inLabel(_ o: CellOutcome) -> String { "In [\(o.codeNumber ?? o.number)]" }

    static func cellLabel(_ o: CellOutcome) -> String {
        switch o.status {
        case .cached: return formatSeconds(o.seconds) + " (cached)"
        case .notRun: return "not run"
        case .failed: return formatSeconds(o.seconds) + " · error"
        default: return formatSeconds(o.seconds)
        }
    }

    // MARK: HTML

    static func html(_ r: NotebookResult, images: [[String]], version: String) -> String {
        let name = fileName(r.file)
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="prune \(Markdown.escape(version))">
            <title>\(Markdown.escape(name))</title>
            <style>
            \(css)
            </style>
            </head>
            <body>
            <main>
            <header><h1 class="file">\(Markdown.escape(name))</h1>
            <p class="meta">\(Markdown.escape(summary(r, version: version)))</p></header>

            """
        for (o, imgs) in zip(r.cells, images) {
            if o.cell.kind == .markdown {
                out += "<section class=\"cell text\" id=\"cell-\(o.number)\">\n" + Markdown.html(o.cell.text) + "</section>\n"
                continue
            }
            let status = o.status.rawValue.replacingSpaces
            out += "<section class=\"cell code \(status)\" id=\"cell-\(o.number)\">\n"
            out += "<div class=\"head\"><span class=\"in\">\(inLabel(o))</span>"
            if let t = o.cell.title { out += " <span class=\"title\">\(Markdown.escape(t))</span>" }
            out += " <span class=\"time\">\(Markdown.escape(cellLabel(o)))</span></div>\n"
            out += "<pre class=\"source\"><code>" + Highlight.html(o.cell.text) + "</code></pre>\n"
            for part in OutputPart.parts(o.output, tables: o.tables) {
                switch part {
                case .text(let t): out += "<pre class=\"output\">" + Markdown.escape(t) + "</pre>\n"
                case .table(let v): out += htmlTable(v)
                }
            }
            for (k, src) in imgs.enumerated() {
                out += "<figure><img src=\"\(Markdown.escape(src))\" alt=\"figure \(k + 1) of cell \(o.number)\"></figure>\n"
            }
            if let e = o.error { out += "<pre class=\"error\">" + Markdown.escape(e) + "</pre>\n" }
            out += "</section>\n"
        }
        out += "</main>\n</body>\n</html>\n"
        return out
    }

    static let css = """
        :root { --fg: #1d1f21; --muted: #6a737d; --line: #e1e4e8; --code-bg: #f6f8fa; --err: #b31d28; --err-bg: #ffeef0; }
        * { box-sizing: border-box; }
        body { margin: 0; color: var(--fg); background: #fff; font: 16px/1.55 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
        main { max-width: 900px; margin: 0 auto; padding: 24px 20px 64px; }
        header { border-bottom: 1px solid var(--line); margin-bottom: 16px; }
        h1.file { font-size: 1.5em; margin: 0 0 4px; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
        .meta { color: var(--muted); font-size: 0.9em; margin: 0 0 12px; }
        .cell { margin: 18px 0; }
        .cell.text h1, .cell.text h2, .cell.text h3 { margin: 0.6em 0 0.3em; line-height: 1.25; }
        .cell.text p { margin: 0.5em 0; }
        .cell.code { border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
        .head { display: flex; gap: 10px; align-items: baseline; padding: 4px 10px; background: #fafbfc; border-bottom: 1px solid var(--line); font-size: 0.85em; color: var(--muted); }
        .head .title { color: var(--fg); font-weight: 600; }
        .head .time { margin-left: auto; }
        pre { margin: 0; padding: 10px 12px; overflow-x: auto; font: 13.5px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; white-space: pre; }
        pre.source { background: var(--code-bg); }
        pre.output { border-top: 1px solid var(--line); background: #fff; }
        pre.error { border-top: 1px solid var(--line); background: var(--err-bg); color: var(--err); }
        pre.md-code { background: var(--code-bg); border-radius: 6px; }
        code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 0.92em; }
        .cell.text code { background: var(--code-bg); padding: 1px 4px; border-radius: 4px; }
        figure { margin: 0; padding: 10px; border-top: 1px solid var(--line); text-align: center; }
        figure img { max-width: 100%; height: auto; }
        .head .in { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
        div.table { border-top: 1px solid var(--line); padding: 8px 12px; overflow-x: auto; }
        div.table table { border-collapse: collapse; font: 13.5px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
        div.table th, div.table td { padding: 2px 10px; text-align: left; white-space: nowrap; border-bottom: 1px solid var(--line); }
        div.table th { font-weight: 600; border-bottom: 2px solid var(--line); }
        div.table .r { text-align: right; font-variant-numeric: tabular-nums; }
        div.table tr.gap td { color: var(--muted); }
        .table-foot { margin: 4px 0 0; font-size: 0.85em; color: var(--muted); }
        .cell.failed { border-color: var(--err); }
        .cell.not-run { opacity: 0.6; }
        blockquote { margin: 0.5em 0; padding: 0 1em; color: var(--muted); border-left: 3px solid var(--line); }
        .kw { color: #a626a4; font-weight: 600; } .bi { color: #4078f2; } .def { color: #c18401; font-weight: 600; }
        .str { color: #50a14f; } .num { color: #986801; } .com { color: #8a8f98; font-style: italic; }
        """

    // MARK: Markdown

    static func markdown(_ r: NotebookResult, images: [[String]], version: String) -> String {
        var out = "<!-- rendered by prune render from \(fileName(r.file)): \(summary(r, version: version)) -->\n\n"
        for (o, imgs) in zip(r.cells, images) {
            if o.cell.kind == .markdown {
                out += o.cell.text + "\n\n"
                continue
            }
            out += "**\(inLabel(o))" + (o.cell.title.map { " " + markdownText($0) } ?? "") + "** · " + cellLabel(o) + "\n\n"
            out += fenced(o.cell.text, info: "prune")
            for part in OutputPart.parts(o.output, tables: o.tables) {
                switch part {
                case .text(let t): out += fenced(t, info: "text")
                case .table(let v): out += markdownTable(v)
                }
            }
            for (k, src) in imgs.enumerated() { out += "![figure \(k + 1) of cell \(o.number)](\(src))\n\n" }
            if let e = o.error { out += "**Error:**\n\n" + fenced(e.hasSuffix("\n") ? String(e.dropLast()) : e, info: "text") }
        }
        return out
    }

    /// Plain text inside a Markdown line: HTML-escaped (Markdown passes HTML through) and with
    /// the characters that start emphasis, code or links escaped.
    static func markdownText(_ s: String) -> String {
        var out = ""
        for c in Markdown.escape(s) {
            if "\\`*_[]~|".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// A fenced block whose fence is longer than any backtick run inside.
    static func fenced(_ text: String, info: String) -> String {
        var longest = 0, run = 0
        for c in text { if c == "`" { run += 1; longest = max(longest, run) } else { run = 0 } }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        return fence + info + "\n" + text + "\n" + fence + "\n\n"
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < bytes.count {
            let n = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            out += [table[n >> 18 & 63], table[n >> 12 & 63], table[n >> 6 & 63], table[n & 63]]
            i += 3
        }
        if i < bytes.count {
            let rest = bytes.count - i
            let n = Int(bytes[i]) << 16 | (rest == 2 ? Int(bytes[i + 1]) << 8 : 0)
            out += [table[n >> 18 & 63], table[n >> 12 & 63]]
            out += rest == 2 ? [table[n >> 6 & 63], UInt8(ascii: "=")] : [UInt8(ascii: "="), UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    var replacingSpaces: String { String(map { $0 == " " ? "-" : $0 }) }
}
