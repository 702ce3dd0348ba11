// A small JSON value with a deterministic writer and a checked parser, for notebook cache
// entries (the readable half of a stored session; tensors go to safetensors files).

/// A JSON value; objects keep their key order.
import Language
import Bindings
indirect enum NJSON: Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([NJSON])
    case object([(String, NJSON)])

    static func == (a: NJSON, b: NJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    subscript(key: String) -> NJSON? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }
    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var number: Double? { if case .number(let x) = self { return x } else { return nil } }
    var int: Int? { number.flatMap { $0 == $0.rounded() && abs($0) < 9e15 ? Int($0) : nil } }
    var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var array: [NJSON]? { if case .array(let a) = self { return a } else { return nil } }
    var pairs: [(String, NJSON)]? { if case .object(let p) = self { return p } else { return nil } }

    /// Compact text, one line per top-level member for readability.
    var text: String {
        var out = ""
        write(&out, indent: 0)
        return out
    }

    private func write(_ out: inout String, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let x):
            if x.isFinite && x == x.rounded() && abs(x) < 9e15 { out += String(Int64(x)) } else if x.isFinite { out += "\(x)" } else { out += "null" }
        case .string(let s): NJSON.quote(s, into: &out)
        case .array(let items):
            out += "["
            for (i, v) in items.enumerated() { if i > 0 { out += "," }; v.write(&out, indent: indent + 1) }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { out += "," }
                if indent == 0 { out += "\n " }
                NJSON.quote(k, into: &out)
                out += ":"
                v.write(&out, indent: indent + 1)
            }
            if indent == 0 && !pairs.isEmpty { out += "\n" }
            out += "}"
        }
    }

    /// Appends `s` as a JSON string, byte by byte (multi-byte UTF-8 passes through unchanged).
    static func quote(_ s: String, into out: inout String) {
        var bytes: [UInt8] = [UInt8(ascii: "\"")]
        bytes.reserveCapacity(s.utf8.count + 2)
        let hex = Array("0123456789abcdef".utf8)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), b]
            case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: bytes += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// Parses JSON text; nil when it is malformed, or when `shouldStop` (asked every megabyte
    /// or so: Ctrl-C) says to give up.
    static func parse(_ text: String, shouldStop: @escaping () -> Bool = { false }) -> NJSON? {
        var p = Parser(Array(text.utf8), shouldStop: shouldStop)
        guard let v = p.value(depth: 0) else { return nil }
        p.skipSpace()
        return p.pos == p.bytes.count ? v : nil
    }

    private struct Parser {
        let bytes: [UInt8]
        var pos = 0
        let shouldStop: () -> Bool
        /// The position at which `shouldStop` is asked next.
        var nextCheck = 0
        init(_ bytes: [UInt8], shouldStop: @escaping () -> Bool) { self.bytes = bytes; self.shouldStop = shouldStop }

        mutating func stopRequested() -> Bool {
            guard pos >= nextCheck else { return false }
            nextCheck = pos + (1 << 20)
            return shouldStop()
        }

        mutating func skipSpace() {
            while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 { pos += 1 }
        }
        mutating func literal(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else { return false }
            pos += w.count
            return true
        }
        mutating func value(depth: Int) -> NJSON? {
            guard depth < 512, !stopRequested() else { return nil }
            skipSpace()
            guard pos < bytes.count else { return nil }
            switch bytes[pos] {
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "\""): return string().map { .string($0) }
            case UInt8(ascii: "["):
                pos += 1
                var items: [NJSON] = []
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                while true {
                    guard let v = value(depth: depth + 1) else { return nil }
                    items.append(v)
                    skipSpace()
                    guard pos < bytes.count else { return nil }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                    return nil
                }
            case UInt8(ascii: "{"):
                pos += 1
                var pairs: [(String, NJSON)] = []
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(pairs) }
                while true {
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\""), let k = string() else { return nil }
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { return nil }
                    pos += 1
                    guard let v = value(depth: depth + 1) else { return nil }
                    pairs.append((k, v))
                    skipSpace()
                    guard pos < bytes.count else { return nil }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(pairs) }
                    return nil
                }
            default:
                let start = pos
                while pos < bytes.count, let c = Optional(bytes[pos]),
                      (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                    pos += 1
                }
                guard pos > start, let x = Double(String(decoding: bytes[start..<pos], as: UTF8.self)) else { return nil }
                return .number(x)
            }
        }
        mutating func hex4() -> UInt32? {
            guard pos + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16) else { return nil }
            pos += 4
            return v
        }
        /// A string's bytes are gathered in one buffer and decoded once at the end, so the work is
        /// linear in its length (appending to a String piece by piece after every escape was
        /// quadratic: a 40,000-line cell output took 12 s to read back).
        mutating func string() -> String? {
            pos += 1
            var out: [UInt8] = []
            while pos < bytes.count {
                // The run up to the next quote or backslash, copied in one piece.
                let start = pos
                while pos < bytes.count, bytes[pos] != UInt8(ascii: "\""), bytes[pos] != UInt8(ascii: "\\") { pos += 1 }
                out.append(contentsOf: bytes[start..<pos])
                if stopRequested() { return nil }
                guard pos < bytes.count else { return nil }
                let c = bytes[pos]
                pos += 1
                if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                guard pos < bytes.count else { return nil }
                let e = bytes[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: "\""): out.append(e)
                case UInt8(ascii: "u"):
                    guard var v = hex4() else { return nil }
                    if v >= 0xD800 && v < 0xDC00, pos + 6 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                        pos += 2
                        guard let lo = hex4() else { return nil }
                        v = 0x10000 + ((v - 0xD800) << 10) + (lo &- 0xDC00)
                    }
                    out.append(contentsOf: Array(String(Unicode.Scalar(v) ?? "\u{FFFD}").utf8))
                default: return nil
                }
            }
            return nil
        }
    }
}
