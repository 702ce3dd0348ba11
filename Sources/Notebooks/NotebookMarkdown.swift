// A small Markdown-to-HTML converter for notebook text cells: headings, paragraphs, emphasis,
// code spans and blocks, bullet and numbered lists, block quotes, rules and links. Everything
// is HTML-escaped first, so a text cell can never inject markup.
import Language
import Bindings
import Engine

enum Markdown {
    /// The HTML of a Markdown text.
    static func html(_ text: String) -> String {
        var out = ""
        var paragraph: [String] = []
        var list: (ordered: Bool, items: [String])?
        var quote: [String] = []
        var code: [String]?

        func flushParagraph() {
            if !paragraph.isEmpty { out += "<p>" + inline(paragraph.joined(separator: "\n")) + "</p>\n" }
            paragraph = []
        }
        func flushList() {
            if let l = list {
                let tag = l.ordered ? "ol" : "ul"
                out += "<\(tag)>\n" + l.items.map { "<li>" + inline($0) + "</li>\n" }.joined() + "</\(tag)>\n"
            }
            list = nil
        }
        func flushQuote() {
            if !quote.isEmpty { out += "<blockquote>" + html(quote.joined(separator: "\n")) + "</blockquote>\n" }
            quote = []
        }
        func flushAll() { flushParagraph(); flushList(); flushQuote() }

        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let trimmed = line.trimmingSpaces
            if var c = code {
                if trimmed.hasPrefix("```") {
                    out += "<pre class=\"md-code\"><code>" + escape(c.joined(separator: "\n")) + "</code></pre>\n"
                    code = nil
                } else {
                    c.append(line)
                    code = c
                }
                continue
            }
            if trimmed.hasPrefix("```") { flushAll(); code = []; continue }
            if trimmed.isEmpty { flushAll(); continue }
            if trimmed.hasPrefix(">") {
                flushParagraph(); flushList()
                var q = trimmed.dropFirst()
                if q.hasPrefix(" ") { q = q.dropFirst() }
                quote.append(String(q))
                continue
            }
            flushQuote()
            if let (level, title) = heading(trimmed) {
                flushAll()
                out += "<h\(level)>" + inline(title) + "</h\(level)>\n"
                continue
            }
            if trimmed.count >= 3, Set(trimmed.filter { $0 != " " }).count == 1, let c = trimmed.first, "-*_".contains(c),
               trimmed.filter({ $0 == c }).count >= 3 {
                flushAll()
                out += "<hr>\n"
                continue
            }
            if let item = listItem(trimmed) {
                flushParagraph()
                if let l = list, l.ordered != item.ordered { flushList() }
                if list == nil { list = (item.ordered, []) }
                list?.items.append(item.text)
                continue
            }
            if list != nil, line.hasPrefix("  "), var l = list, !l.items.isEmpty {
                // An indented line continues the previous item.
                l.items[l.items.count - 1] += "\n" + trimmed
                list = l
                continue
            }
            flushList()
            paragraph.append(trimmed)
        }
        if let c = code { out += "<pre class=\"md-code\"><code>" + escape(c.joined(separator: "\n")) + "</code></pre>\n" }
        flushAll()
        return out
    }

    private static func heading(_ line: String) -> (Int, String)? {
        let hashes = line.prefix(while: { $0 == "#" }).count
        guard hashes >= 1, hashes <= 6 else { return nil }
        let rest = line.dropFirst(hashes)
        guard rest.isEmpty || rest.hasPrefix(" ") else { return nil }
        return (hashes, String(rest).trimmingSpaces)
    }

    private static func listItem(_ line: String) -> (ordered: Bool, text: String)? {
        if line.hasPrefix("- ") || line.hasPrefix("* ") || line.hasPrefix("+ ") { return (false, String(line.dropFirst(2))) }
        let digits = line.prefix(while: { $0.isNumber })
        if !digits.isEmpty, digits.count <= 9 {
            let rest = line.dropFirst(digits.count)
            if rest.hasPrefix(". ") || rest.hasPrefix(") ") { return (true, String(rest.dropFirst(2))) }
        }
        return nil
    }

    /// HTML-escapes text for element content and attribute values (byte by byte: a cell's
    /// output can be megabytes).
    static func escape(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "&"): out += Array("&amp;".utf8)
            case UInt8(ascii: "<"): out += Array("&lt;".utf8)
            case UInt8(ascii: ">"): out += Array("&gt;".utf8)
            case UInt8(ascii: "\""): out += Array("&quot;".utf8)
            case UInt8(ascii: "'"): out += Array("&#39;".utf8)
            default: out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Inline markup: `code`, **strong**, *em* / _em_, [text](url), <https://autolinks>.
    static func inline(_ s: String) -> String {
        let chars = Array(s)
        var out = ""
        var i = 0
        func find(_ needle: [Character], from: Int) -> Int? {
            guard needle.count > 0, from + needle.count <= chars.count else { return nil }
            var j = from
            while j + needle.count <= chars.count {
                if Array(chars[j..<j + needle.count]) == needle { return j }
                j += 1
            }
            return nil
        }
        while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count, "\\`*_[]()#+-.!<>".contains(chars[i + 1]) {
                out += escape(String(chars[i + 1])); i += 2; continue
            }
            if c == "`", let end = find(["`"], from: i + 1) {
                out += "<code>" + escape(String(chars[(i + 1)..<end])) + "</code>"
                i = end + 1; continue
            }
            if (c == "*" || c == "_"), i + 1 < chars.count, chars[i + 1] == c, let end = find([c, c], from: i + 2), end > i + 2 {
                out += "<strong>" + inline(String(chars[(i + 2)..<end])) + "</strong>"
                i = end + 2; continue
            }
            if (c == "*" || c == "_"), i + 1 < chars.count, chars[i + 1] != " ", let end = find([c], from: i + 1), end > i + 1,
               c == "*" || i == 0 || !(chars[i - 1].isLetter || chars[i - 1].isNumber) {
                out += "<em>" + inline(String(chars[(i + 1)..<end])) + "</em>"
                i = end + 1; continue
            }
            // A link; an image (`![alt](src)`) is shown as a link to its source, through the same filter.
            if c == "[", let close = find(["]", "("], from: i + 1), let end = find([")"], from: close + 2) {
                let label = String(chars[(i + 1)..<close]), url = String(chars[(close + 2)..<end])
                out += "<a href=\"" + escape(safeURL(url)) + "\">" + inline(label) + "</a>"
                i = end + 1; continue
            }
            if c == "<", let end = find([">"], from: i + 1) {
                let url = String(chars[(i + 1)..<end])
                if url.hasPrefix("http://") || url.hasPrefix("https://") {
                    out += "<a href=\"" + escape(safeURL(url)) + "\">" + escape(url) + "</a>"
                    i = end + 1; continue
                }
            }
            out += escape(String(c))
            i += 1
        }
        return out
    }

    /// The link target to write for `url`: http, https, mailto and relative URLs (`page.html`,
    /// `#part`, `/abs`, `//host/x`) pass; anything else becomes "#". Browsers drop tabs and
    /// newlines inside a URL and control characters and spaces around it, and ignore the case
    /// of a scheme (`java<TAB>script:`, `\u{1}javascript:`, `JaVaScRiPt:` all run), so they go
    /// before the scheme is read; a character reference in the scheme's place
    /// (`&#106;avascript:`) is refused rather than decoded.
    static func safeURL(_ url: String) -> String {
        // Control characters go everywhere, spaces at the ends; a space inside is encoded.
        let kept = String(String.UnicodeScalarView(url.unicodeScalars.filter { $0.value > 0x20 && $0.value != 0x7F || $0 == " " }))
        let cleaned = kept.trimmingSpaces.split(separator: " ", omittingEmptySubsequences: false).joined(separator: "%20")
        // A character reference before the path (`&#106;avascript:`, `javascript&colon;`) could
        // spell a scheme once decoded: refused rather than decoded.
        let beforePath = Array(cleaned.prefix { $0 != "/" && $0 != "?" })
        for (i, c) in beforePath.enumerated() where c == "&" {
            let name = beforePath[(i + 1)...].prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "#") }
            if !name.isEmpty, i + 1 + name.count < beforePath.count, beforePath[i + 1 + name.count] == ";" { return "#" }
            if name.first == "#" { return "#" }
        }
        // The scheme, if any, is what comes before a ':' that precedes every '/', '?' and '#'.
        let head = cleaned.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let colon = head.firstIndex(of: ":") {
            let scheme = head[..<colon].lowercased()
            return ["http", "https", "mailto"].contains(scheme) ? cleaned : "#"
        }
        return cleaned
    }
}
