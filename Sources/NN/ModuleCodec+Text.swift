// A module spec as one line of text, for a checkpoint's metadata ("architecture"), so that
// `load(path)` can rebuild the model a file came from:
//     Sequential(Flatten(), Linear(bias=1, in=64, out=10))
// The text is data: it is parsed, never run, and every kind and value is checked by `build`.
import Engine

extension ModuleSpec {
    /// `Kind(key=value, ..., child, ...)` with keys in sorted order, texts quoted.
    public var text: String {
        var items = numbers.keys.sorted().map { k -> String in
            let x = numbers[k] ?? 0
            return "\(k)=" + (x == x.rounded() && Swift.abs(x) < 1e15 ? String(Int64(x)) : "\(x)")
        }
        items += texts.keys.sorted().map { "\($0)=\"\(texts[$0] ?? "")\"" }
        items += children.map(\.text)
        return "\(kind)(" + items.joined(separator: ", ") + ")"
    }

    /// Parses `text` as written by `text`; throws a message naming the position on anything else.
    public init(text: String) throws {
        var p = SpecParser(chars: Array(text.unicodeScalars))
        self = try p.spec(depth: 0)
        p.skipSpaces()
        guard p.at == p.chars.count else { throw p.fail("unexpected text after the architecture") }
    }
}

private struct SpecParser {
    let chars: [Unicode.Scalar]
    var at = 0

    func fail(_ what: String) -> NNError { NNError("architecture text: \(what) at character \(at + 1)") }

    mutating func skipSpaces() { while at < chars.count, chars[at] == " " { at += 1 } }

    mutating func name() throws -> String {
        skipSpaces()
        var s = ""
        while at < chars.count, chars[at].properties.isAlphabetic || ("0"..."9").contains(chars[at]) || chars[at] == "_" {
            s.unicodeScalars.append(chars[at]); at += 1
        }
        guard !s.isEmpty else { throw fail("expected a name") }
        return s
    }

    mutating func expect(_ c: Unicode.Scalar) throws {
        skipSpaces()
        guard at < chars.count, chars[at] == c else { throw fail("expected '\(c)'") }
        at += 1
    }

    mutating func spec(depth: Int) throws -> ModuleSpec {
        guard depth < 64 else { throw fail("nested too deeply") }
        var s = ModuleSpec(kind: try name())
        try expect("(")
        skipSpaces()
        if at < chars.count, chars[at] == ")" { at += 1; return s }
        while true {
            let start = at
            let word = try name()
            skipSpaces()
            if at < chars.count, chars[at] == "=" {
                at += 1
                skipSpaces()
                if at < chars.count, chars[at] == "\"" {
                    at += 1
                    var text = ""
                    while at < chars.count, chars[at] != "\"" { text.unicodeScalars.append(chars[at]); at += 1 }
                    try expect("\"")
                    s.texts[word] = text
                } else {
                    var number = ""
                    while at < chars.count, "0123456789+-.eE".unicodeScalars.contains(chars[at]) { number.unicodeScalars.append(chars[at]); at += 1 }
                    guard let x = Double(number), x.isFinite else { throw fail("expected a number for '\(word)'") }
                    s.numbers[word] = x
                }
            } else {
                at = start
                s.children.append(try spec(depth: depth + 1))
            }
            skipSpaces()
            guard at < chars.count else { throw fail("unexpected end") }
            if chars[at] == ")" { at += 1; return s }
            try expect(",")
        }
    }
}
