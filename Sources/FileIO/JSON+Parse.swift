// JSON+Parse: a strict RFC 8259 parser over bytes. Input may come from anywhere (a downloaded
// checkpoint's header, a cache folder that was edited), so every error names the byte offset,
// nesting is bounded so a hostile file cannot exhaust the stack, strings must be valid UTF-8
// with paired surrogates, and duplicate keys are refused (one would silently shadow another).
// Strings are copied a run at a time, so a long cell output parses in time linear in its size,
// and a caller reading a large file can stop the parse (Ctrl-C).

/// Why a JSON text was refused.
public struct JSONError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Equatable, Sendable {
        /// Not JSON at all.
        case syntax
        /// Valid grammar, but an object names `key` twice; `depth` 0 is the top-level object.
        case duplicateKey(key: String, depth: Int, offset: Int)
        /// The caller's `shouldStop` asked to give up.
        case stopped
    }
    public var kind: Kind
    /// What went wrong and at which byte (`unexpected character 'x' at byte 3`).
    public var reason: String

    public var description: String { kind == .syntax ? "not valid JSON: \(reason)" : reason }
}

extension JSON {
    /// Parses one JSON document (a value with optional whitespace around it). Nesting deeper
    /// than `maxDepth` is an error; `shouldStop`, asked about once a megabyte, abandons the parse
    /// with a `.stopped` error.
    public static func parse(_ bytes: ArraySlice<UInt8>, maxDepth: Int = 512, shouldStop: (() -> Bool)? = nil) throws -> JSON {
        var parser = Parser(bytes, maxDepth: maxDepth, shouldStop: shouldStop)
        return try parser.parseDocument()
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = 512, shouldStop: (() -> Bool)? = nil) throws -> JSON {
        try parse(bytes[...], maxDepth: maxDepth, shouldStop: shouldStop)
    }

    public static func parse(_ text: String, maxDepth: Int = 512, shouldStop: (() -> Bool)? = nil) throws -> JSON {
        try parse(Array(text.utf8), maxDepth: maxDepth, shouldStop: shouldStop)
    }
}

private struct Parser {
    private let bytes: ArraySlice<UInt8>
    private var index: Int
    private let maxDepth: Int
    private let shouldStop: (() -> Bool)?
    /// The index at which `shouldStop` is asked next.
    private var nextCheck: Int

    init(_ bytes: ArraySlice<UInt8>, maxDepth: Int, shouldStop: (() -> Bool)?) {
        self.bytes = bytes
        self.index = bytes.startIndex
        self.maxDepth = maxDepth
        self.shouldStop = shouldStop
        self.nextCheck = bytes.startIndex
    }

    mutating func parseDocument() throws -> JSON {
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard index == bytes.endIndex else { throw fail("unexpected \(describeCurrent()) after the top-level value") }
        return value
    }

    private var offset: Int { index - bytes.startIndex }

    private func fail(_ reason: String) -> JSONError { JSONError(kind: .syntax, reason: "\(reason) at byte \(offset)") }

    private mutating func checkStop() throws {
        guard let shouldStop, index >= nextCheck else { return }
        nextCheck = index + (1 << 20)
        if shouldStop() { throw JSONError(kind: .stopped, reason: "stopped at byte \(offset)") }
    }

    private func describeCurrent() -> String {
        guard index < bytes.endIndex else { return "end of input" }
        let b = bytes[index]
        return (0x21..<0x7F).contains(b) ? "character '\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    private mutating func skipWhitespace() {
        while index < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func parseValue(depth: Int) throws -> JSON {
        guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
        try checkStop()
        guard index < bytes.endIndex else { throw fail("unexpected end of input, expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected \(describeCurrent()), expected a value")
        }
    }

    private mutating func literal(_ word: String) throws {
        for expected in word.utf8 {
            guard index < bytes.endIndex, bytes[index] == expected else { throw fail("invalid literal, expected '\(word)'") }
            index += 1
        }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard index < bytes.endIndex, bytes[index] == byte else { throw fail("unexpected \(describeCurrent()), expected \(what)") }
        index += 1
    }

    private mutating func parseObject(depth: Int) throws -> JSON {
        index += 1
        var members: [(String, JSON)] = []
        var keys = Set<String>()
        skipWhitespace()
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "\"") else {
                throw fail("unexpected \(describeCurrent()), expected a string key")
            }
            let keyOffset = offset
            let key = try parseString()
            guard keys.insert(key).inserted else {
                throw JSONError(kind: .duplicateKey(key: key, depth: depth, offset: keyOffset),
                                reason: "duplicate key '\(key)' at byte \(keyOffset)")
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':'")
            skipWhitespace()
            members.append((key, try parseValue(depth: depth + 1)))
            skipWhitespace()
            if index < bytes.endIndex, bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "}"), "',' or '}'")
            return .object(members)
        }
    }

    private mutating func parseArray(depth: Int) throws -> JSON {
        index += 1
        var items: [JSON] = []
        skipWhitespace()
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            if index < bytes.endIndex, bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "]"), "',' or ']'")
            return .array(items)
        }
    }

    private static func isDigit(_ b: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }

    /// Numbers follow the JSON grammar exactly; integers that fit in `Int` become `.integer`,
    /// anything else keeps its text.
    private mutating func parseNumber() throws -> JSON {
        let start = index
        var isInteger = true
        func digits(_ parser: inout Parser) -> Int {
            var count = 0
            while parser.index < parser.bytes.endIndex, Parser.isDigit(parser.bytes[parser.index]) {
                parser.index += 1
                count += 1
            }
            return count
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.endIndex, Parser.isDigit(bytes[index]) else { throw fail("invalid number, expected a digit") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.endIndex, Parser.isDigit(bytes[index]) { throw fail("invalid number with a leading zero") }
        } else {
            _ = digits(&self)
        }
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard digits(&self) > 0 else { throw fail("invalid number, expected a digit after '.'") }
        }
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.endIndex, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw fail("invalid number, expected a digit in the exponent") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger, let value = Int(text) { return .integer(value) }
        return .number(text)
    }

    /// A string with all escapes decoded, including \uXXXX and surrogate pairs; the result must
    /// be valid UTF-8. The bytes between escapes are copied a run at a time and decoded once at
    /// the end (appending piece by piece after every escape was quadratic: a 40,000-line cell
    /// output took 12 s to read back).
    private mutating func parseString() throws -> String {
        let start = offset
        index += 1
        var out: [UInt8] = []
        while true {
            let run = index
            while index < bytes.endIndex {
                let b = bytes[index]
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 { break }
                index += 1
            }
            out.append(contentsOf: bytes[run..<index])
            try checkStop()
            guard index < bytes.endIndex else { throw JSONError(kind: .syntax, reason: "unterminated string starting at byte \(start)") }
            let b = bytes[index]
            index += 1
            switch b {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw JSONError(kind: .syntax, reason: "string starting at byte \(start) is not valid UTF-8")
                }
                return s
            case UInt8(ascii: "\\"):
                guard index < bytes.endIndex else { throw JSONError(kind: .syntax, reason: "unterminated string starting at byte \(start)") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        // A high surrogate must be followed by an escaped low surrogate.
                        guard index + 1 < bytes.endIndex, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired surrogate in \\u escape")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(code) {
                        throw fail("unpaired surrogate in \\u escape")
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
                    out.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                }
            default:
                throw fail("unescaped control character 0x\(String(b, radix: 16)) in string")
            }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard index < bytes.endIndex else { throw fail("truncated \\u escape") }
            let b = bytes[index]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw fail("invalid hex digit in \\u escape")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }
}
