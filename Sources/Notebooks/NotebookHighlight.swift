// Syntax highlighting of prune code for rendered notebooks: a small scanner (comments,
// strings, numbers, keywords, builtin names) that wraps tokens in <span class=…>; the page's
// CSS colours them. Unlike the lexer it never fails: any text comes out escaped.

import Language
import Bindings
enum Highlight {
    /// The HTML of `code`, escaped, with spans: kw (keywords), bi (builtins), str, num, com,
    /// def (the name a `def` defines).
    static func html(_ code: String) -> String {
        let chars = Array(code.unicodeScalars)
        var out = ""
        var i = 0
        var afterDef = false
        func span(_ cls: String, _ text: String) { out += "<span class=\"\(cls)\">" + Markdown.escape(text) + "</span>" }
        func text(_ a: Int, _ b: Int) -> String { String(String.UnicodeScalarView(chars[a..<b])) }
        func isIdentStart(_ c: Unicode.Scalar) -> Bool { c == "_" || c.properties.isAlphabetic }
        func isIdent(_ c: Unicode.Scalar) -> Bool { isIdentStart(c) || ("0"..."9").contains(c) }
        while i < chars.count {
            let c = chars[i]
            if c == "#" {
                var j = i
                while j < chars.count, chars[j] != "\n" { j += 1 }
                span("com", text(i, j)); i = j; continue
            }
            if c == "\"" {
                var j = i + 1
                var depth = 0
                while j < chars.count {
                    if chars[j] == "\\" { j += 2; continue }
                    if chars[j] == "$", j + 1 < chars.count, chars[j + 1] == "{" { depth += 1; j += 2; continue }
                    if chars[j] == "}", depth > 0 { depth -= 1; j += 1; continue }
                    if chars[j] == "\"" && depth == 0 { j += 1; break }
                    if chars[j] == "\n" && depth == 0 { break }
                    j += 1
                }
                j = min(j, chars.count)
                span("str", text(i, j)); i = j; continue
            }
            if ("0"..."9").contains(c) || (c == "." && i + 1 < chars.count && ("0"..."9").contains(chars[i + 1])) {
                var j = i
                while j < chars.count, ("0"..."9").contains(chars[j]) || chars[j] == "." || chars[j] == "_" { j += 1 }
                if j < chars.count, chars[j] == "e" || chars[j] == "E" {
                    var k = j + 1
                    if k < chars.count, chars[k] == "+" || chars[k] == "-" { k += 1 }
                    if k < chars.count, ("0"..."9").contains(chars[k]) {
                        j = k
                        while j < chars.count, ("0"..."9").contains(chars[j]) { j += 1 }
                    }
                }
                span("num", text(i, j)); i = j; continue
            }
            if isIdentStart(c) {
                var j = i
                while j < chars.count, isIdent(chars[j]) { j += 1 }
                let word = text(i, j)
                var k = j
                while k < chars.count, chars[k] == " " { k += 1 }
                let called = k < chars.count && chars[k] == "("
                if afterDef {
                    span("def", word); afterDef = false
                } else if Lexer.keywords[word] != nil {
                    span("kw", word); afterDef = word == "def"
                } else if called, Builtins.named(word) != nil {
                    span("bi", word)
                } else {
                    out += Markdown.escape(word)
                }
                i = j; continue
            }
            out += Markdown.escape(String(c))
            i += 1
        }
        return out
    }
}
