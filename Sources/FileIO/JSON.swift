// JSON: the one JSON value type and its writer, shared by the safetensors header (Engine), model
// folders' config.json (NN) and the notebook cache's entries and stored state (Notebooks). The
// parser is in JSON+Parse.swift.
//
// Objects keep their members in order (and the parser rejects duplicate keys), so output is
// deterministic and nothing read is silently dropped. A number that is not an integer keeps the
// text it was read with, so a value read and written again is byte-for-byte what was read: the
// notebook cache seals an entry with a hash of its text and checks it after reading it back.
// Strings are escaped as serde_json escapes them, so a safetensors header is byte-for-byte the
// one the reference implementation writes.

/// A JSON value.
///
///     let v = JSON.object([("name", .string("fc")), ("shape", .array([.integer(2), .integer(3)])), ("lr", .double(0.1))])
///     v.text                           // {\n "name":"fc",\n "shape":[2,3],\n "lr":0.1\n}
///     try JSON.parse(v.text) == v      // true
public enum JSON: Equatable, Sendable {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    /// An integer that fits in `Int`.
    case integer(Int)
    /// Any other number, kept as written (`1.5`, `1e3`, `2.0`, an integer too large for `Int`).
    case number(String)
    case bool(Bool)
    case null

    /// A number from a `Double`: an integral value below 9e15 as an integer, any other finite
    /// value in Swift's shortest form that reads back as the same `Double`, and a non-finite one
    /// (which JSON cannot hold) as null.
    public static func double(_ x: Double) -> JSON {
        guard x.isFinite else { return .null }
        if x == x.rounded() && abs(x) < 9e15 { return .integer(Int(x)) }
        return .number("\(x)")
    }

    /// The name of the value's type, for error messages.
    public var kind: String {
        switch self {
        case .object: "object"
        case .array: "array"
        case .string: "string"
        case .integer: "integer"
        case .number: "non-integer (or out-of-range) number"
        case .bool: "boolean"
        case .null: "null"
        }
    }

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.array(x), .array(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.integer(x), .integer(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.bool(x), .bool(y)): x == y
        case (.null, .null): true
        default: false
        }
    }

    // MARK: - Reading a value

    /// The member `key` of an object (nil for a missing key or a non-object).
    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var array: [JSON]? { if case .array(let a) = self { a } else { nil } }
    /// An object's members, in order.
    public var pairs: [(String, JSON)]? { if case .object(let p) = self { p } else { nil } }

    /// Any number, as a `Double`.
    public var number: Double? {
        switch self {
        case .integer(let v): Double(v)
        case .number(let text): Double(text)
        default: nil
        }
    }

    /// An integer, or a number written otherwise whose value is integral and below 9e15 (`1e3`).
    public var int: Int? {
        switch self {
        case .integer(let v): v
        case .number: number.flatMap { $0 == $0.rounded() && abs($0) < 9e15 ? Int($0) : nil }
        default: nil
        }
    }

    // MARK: - Writing

    /// Appends compact JSON (no spaces), escaping strings the way serde_json does.
    public func write(to out: inout [UInt8]) { write(to: &out, linePerMember: false) }

    /// The value as text: compact, except that a top-level object puts each member on a line of
    /// its own (cache entries stay readable and diff well).
    public var text: String {
        var out: [UInt8] = []
        write(to: &out, linePerMember: true)
        return String(decoding: out, as: UTF8.self)
    }

    private func write(to out: inout [UInt8], linePerMember: Bool) {
        switch self {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if linePerMember { out.append(contentsOf: [0x0A, UInt8(ascii: " ")]) }
                JSON.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                value.write(to: &out, linePerMember: false)
            }
            if linePerMember && !members.isEmpty { out.append(0x0A) }
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out, linePerMember: false)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let s): JSON.writeString(s, to: &out)
        case .integer(let v): out.append(contentsOf: String(v).utf8)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .bool(let v): out.append(contentsOf: (v ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        }
    }

    /// Quotes and escapes `s`: `"`, `\` and control characters; all else is raw UTF-8.
    static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                        hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
