// Safetensors: reading and writing the safetensors checkpoint format (F32 tensors, and I32 ones
// for the indices of sparse checkpoints).
//
// The format (https://github.com/huggingface/safetensors) is an 8-byte little-endian header
// length N, N bytes of UTF-8 JSON describing each tensor's dtype, shape and byte range, then the
// raw little-endian data. It is the common currency for weights, so files written here must load
// in the reference library and vice versa. Every field of a loaded file is checked before memory
// is allocated or bytes are copied, because a checkpoint may be truncated or come from anywhere.
// The JSON is handled by a small parser of our own so that output is byte-for-byte deterministic
// and matches what the reference implementation writes.
import FileIO

/// Saves and loads named float32 tensors in the safetensors format.
///
///     try Safetensors.save([("fc.weight", w), ("fc.bias", b)], metadata: ["epoch": "3"], to: "m.safetensors")
///     let (tensors, metadata) = try Safetensors.load("m.safetensors")
public enum Safetensors {
    /// A tensor of 32-bit integers (dtype I32): the indices of a sparse checkpoint.
    public struct Int32Tensor: Equatable, Sendable {
        public var shape: [Int]
        public var values: [Int32]
        public init(shape: [Int], values: [Int32]) { self.shape = shape; self.values = values }
    }

    /// Writes `tensors` (data laid out in the order given, offsets contiguous), then `integers`
    /// as I32, and `metadata` to `path`, atomically. Names must be unique and must not be
    /// `__metadata__`.
    public static func save(_ tensors: [(name: String, tensor: Tensor)], integers: [(name: String, tensor: Int32Tensor)] = [],
                            metadata: [String: String] = [:], to path: String) throws {
        let bytes = try serialize(tensors, integers: integers, metadata: metadata, path: path)
        try WholeFile.write(bytes, to: path)
    }

    /// Reads every tensor and the metadata from `path`. Tensors come back in the order of their
    /// data in the file (the order they were saved in). Throws an `EngineError` naming the file
    /// for anything malformed.
    public static func load(_ path: String) throws -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        let (tensors, _, metadata) = try load(path, integers: false)
        return (tensors, metadata)
    }

    /// As `load`, also accepting I32 tensors (with `integers`; otherwise they are an error),
    /// returned apart from the float ones.
    public static func load(_ path: String, integers: Bool) throws
        -> (tensors: [(name: String, tensor: Tensor)], integers: [(name: String, tensor: Int32Tensor)], metadata: [String: String]) {
        let (tensors, ints, _, metadata) = try load(path, integers: integers, others: false)
        return (tensors, ints, metadata)
    }

    /// A tensor of a dtype prune does not compute with (I64 position ids, F16 weights, …):
    /// listed by a foreign file's load, its bytes checked but not read.
    public struct Skipped: Equatable, Sendable {
        public var name: String, dtype: String, shape: [Int]
    }

    /// As `load`, for files written elsewhere (Hugging Face models): F32 tensors are read, and
    /// tensors of the other standard dtypes are listed in `skipped` instead of refused, so the
    /// caller decides whether it needs them.
    public static func loadForeign(_ path: String) throws
        -> (tensors: [(name: String, tensor: Tensor)], skipped: [Skipped], metadata: [String: String]) {
        let (tensors, _, skipped, metadata) = try load(path, integers: false, others: true)
        return (tensors, skipped, metadata)
    }

    private static func load(_ path: String, integers: Bool, others: Bool) throws
        -> (tensors: [(name: String, tensor: Tensor)], integers: [(name: String, tensor: Int32Tensor)], skipped: [Skipped], metadata: [String: String]) {
        let bytes = try WholeFile.readAll(path)
        InputFiles.read(path)
        do {
            return try parse(bytes, integers: integers, others: others)
        } catch let error as FormatError {
            throw EngineError("'\(path)' is not a valid safetensors file: \(error.reason)")
        }
    }

    // MARK: - Writing

    /// The reserved header key for string metadata.
    static let metadataKey = "__metadata__"

    /// The complete file contents for `tensors` and `metadata`.
    static func serialize(_ tensors: [(name: String, tensor: Tensor)], integers: [(name: String, tensor: Int32Tensor)] = [],
                          metadata: [String: String], path: String) throws -> [UInt8] {
        var seen = Set<String>()
        var entries: [(String, JSON)] = []
        var offset = 0
        for (name, shape, count, dtype) in tensors.map({ ($0.name, $0.tensor.shape, $0.tensor.count, "F32") })
            + integers.map({ ($0.name, $0.tensor.shape, $0.tensor.values.count, "I32") }) {
            guard name != metadataKey else {
                throw EngineError("cannot save '\(path)': '\(metadataKey)' is reserved and cannot name a tensor")
            }
            guard seen.insert(name).inserted else {
                throw EngineError("cannot save '\(path)': duplicate tensor name '\(name)'")
            }
            guard shape.reduce(1, *) == count, shape.allSatisfy({ $0 >= 0 }) else {
                throw EngineError("cannot save '\(path)': tensor '\(name)' has shape \(describe(shape: shape)) but \(count) elements")
            }
            let size = count * 4
            entries.append((name, .object([
                ("dtype", .string(dtype)),
                ("shape", .array(shape.map { .integer($0) })),
                ("data_offsets", .array([.integer(offset), .integer(offset + size)])),
            ])))
            offset += size
        }
        // Metadata first, then tensors in data order: the layout the reference library writes,
        // so identical inputs give identical files. Metadata keys are sorted for determinism.
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { ($0, JSON.string(metadata[$0] ?? "")) }
            entries.insert((metadataKey, .object(pairs)), at: 0)
        }
        var header: [UInt8] = []
        JSON.object(entries).write(to: &header)
        // Padding to a multiple of 8 keeps the data section 8-byte aligned for memory mapping.
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))

        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + header.count + offset)
        let n = UInt64(header.count)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
        bytes.append(contentsOf: header)
        for (_, tensor) in tensors {
            #if _endian(big)
            for i in 0..<tensor.count {
                withUnsafeBytes(of: tensor.data[i].bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            }
            #else
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * MemoryLayout<Float>.size))
            #endif
        }
        for (_, tensor) in integers {
            for v in tensor.values { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        }
        return bytes
    }

    // MARK: - Reading

    /// Why a file is malformed; `load` prefixes the file name.
    struct FormatError: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// One tensor's header entry, validated except for its relation to the others.
    private struct Entry {
        var name: String
        var integer: Bool
        /// A dtype other than F32 and I32, listed but not read (`loadForeign`).
        var skippedDType: String?
        var shape: [Int]
        var begin: Int
        var end: Int
        var headerIndex: Int
    }

    /// Decodes a whole file held in memory.
    static func parse(_ bytes: [UInt8]) throws -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        let (tensors, _, metadata) = try parse(bytes, integers: false)
        return (tensors, metadata)
    }

    /// Decodes a whole file held in memory, with I32 tensors where `integers` allows them.
    static func parse(_ bytes: [UInt8], integers allowIntegers: Bool) throws
        -> (tensors: [(name: String, tensor: Tensor)], integers: [(name: String, tensor: Int32Tensor)], metadata: [String: String]) {
        let (tensors, ints, _, metadata) = try parse(bytes, integers: allowIntegers, others: false)
        return (tensors, ints, metadata)
    }

    /// Decodes a whole file; with `others`, tensors of other standard dtypes are listed, not read.
    static func parse(_ bytes: [UInt8], integers allowIntegers: Bool, others: Bool) throws
        -> (tensors: [(name: String, tensor: Tensor)], integers: [(name: String, tensor: Int32Tensor)], skipped: [Skipped], metadata: [String: String]) {
        guard bytes.count >= 8 else {
            throw FormatError("file is too short (\(bytes.count) bytes) to hold the 8-byte header length")
        }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        let available = bytes.count - 8
        guard n <= UInt64(available) else {
            throw FormatError("header length \(n) is larger than the \(available) bytes that follow it")
        }
        let headerEnd = 8 + Int(n)
        let root: JSON
        do {
            var parser = JSONParser(bytes[8..<headerEnd])
            root = try parser.parseDocument()
        } catch let error as JSONParser.Failure {
            throw FormatError(error.isDuplicateKey ? "header has a \(error.reason)" : "header is not valid JSON: \(error.reason)")
        }
        guard case .object(let members) = root else {
            throw FormatError("header is a JSON \(root.kind), not an object")
        }

        let dataLength = bytes.count - headerEnd
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (index, (name, value)) in members.enumerated() {
            if name == metadataKey {
                guard case .object(let pairs) = value else {
                    throw FormatError("'\(metadataKey)' is a JSON \(value.kind), expected an object of strings")
                }
                for (key, item) in pairs {
                    guard case .string(let text) = item else {
                        throw FormatError("metadata value for '\(key)' is a JSON \(item.kind), expected a string")
                    }
                    metadata[key] = text
                }
            } else {
                entries.append(try entry(name, value, index: index, dataLength: dataLength, integers: allowIntegers, others: others))
            }
        }

        // Data ranges must tile the data section exactly, as the reference loader requires:
        // an overlap would alias two tensors, and a gap or tail means a damaged or foreign file.
        let ordered = entries.sorted { ($0.begin, $0.end, $0.headerIndex) < ($1.begin, $1.end, $1.headerIndex) }
        var position = 0
        var previous: Entry?
        for e in ordered {
            if e.begin < position, let p = previous {
                throw FormatError("data of tensor '\(e.name)' [\(e.begin), \(e.end)] overlaps tensor '\(p.name)' [\(p.begin), \(p.end)]")
            }
            if e.begin > position {
                throw FormatError("\(e.begin - position) bytes before tensor '\(e.name)' (offset \(position)) belong to no tensor")
            }
            position = e.end
            previous = e
        }
        if position != dataLength {
            throw FormatError("the last \(dataLength - position) bytes of the \(dataLength)-byte data section belong to no tensor")
        }

        var tensors: [(name: String, tensor: Tensor)] = []
        var integers: [(name: String, tensor: Int32Tensor)] = []
        var skipped: [Skipped] = []
        tensors.reserveCapacity(ordered.count)
        try bytes.withUnsafeBytes { raw in
            for e in ordered {
                if let dtype = e.skippedDType {
                    skipped.append(Skipped(name: e.name, dtype: dtype, shape: e.shape))
                    continue
                }
                if e.integer {
                    let start = headerEnd + e.begin
                    let values = (0..<((e.end - e.begin) / 4)).map { i in
                        (0..<4).reduce(UInt32(0)) { $0 | UInt32(raw[start + 4 * i + $1]) << (8 * UInt32($1)) }
                    }
                    integers.append((e.name, Int32Tensor(shape: e.shape, values: values.map { Int32(bitPattern: $0) })))
                    continue
                }
                let t = try Tensor.empty(e.shape)
                let size = e.end - e.begin
                if size > 0, let base = raw.baseAddress {
                    // memcpy rather than a typed load: the data need not be 4-byte aligned.
                    UnsafeMutableRawPointer(t.data).copyMemory(from: base + headerEnd + e.begin, byteCount: size)
                    #if _endian(big)
                    for i in 0..<t.count { t.data[i] = Float(bitPattern: UInt32(littleEndian: t.data[i].bitPattern)) }
                    #endif
                }
                tensors.append((e.name, t))
            }
        }
        return (tensors, integers, skipped, metadata)
    }

    /// Bytes per element of the standard safetensors dtypes.
    static let dtypeWidths: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
        "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    ]

    /// Validates one tensor's header entry on its own: keys, types, dtype, shape against size,
    /// and offsets within the data section.
    private static func entry(_ name: String, _ value: JSON, index: Int, dataLength: Int, integers allowIntegers: Bool,
                              others: Bool = false) throws -> Entry {
        guard case .object(let fields) = value else {
            throw FormatError("entry for tensor '\(name)' is a JSON \(value.kind), expected an object")
        }
        var dtype: String?
        var shape: [Int]?
        var offsets: [Int]?
        for (key, field) in fields {
            switch key {
            case "dtype":
                guard case .string(let text) = field else {
                    throw FormatError("'dtype' of tensor '\(name)' is a JSON \(field.kind), expected a string")
                }
                dtype = text
            case "shape":
                shape = try integers(field, what: "'shape' of tensor '\(name)'")
            case "data_offsets":
                offsets = try integers(field, what: "'data_offsets' of tensor '\(name)'")
            default:
                // An unknown field may change how the bytes are meant to be read; refuse rather
                // than guess.
                throw FormatError("tensor '\(name)' has an unexpected key '\(key)'")
            }
        }
        guard let dtype else { throw FormatError("tensor '\(name)' has no 'dtype'") }
        guard let shape else { throw FormatError("tensor '\(name)' has no 'shape'") }
        guard let offsets else { throw FormatError("tensor '\(name)' has no 'data_offsets'") }
        let skip = others && dtype != "F32" && !(allowIntegers && dtype == "I32") && dtypeWidths[dtype] != nil
        guard dtype == "F32" || (allowIntegers && dtype == "I32") || skip else {
            throw FormatError("tensor '\(name)' has dtype '\(dtype)'; only F32\(allowIntegers ? " and I32 are" : " is") supported")
        }
        guard offsets.count == 2 else {
            throw FormatError("'data_offsets' of tensor '\(name)' has \(offsets.count) values, expected 2")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else {
            throw FormatError("'data_offsets' of tensor '\(name)' [\(begin), \(end)] end before they begin")
        }
        guard end <= dataLength else {
            throw FormatError("'data_offsets' of tensor '\(name)' [\(begin), \(end)] lie outside the \(dataLength)-byte data section")
        }
        do { try TensorSize.elements(shape) } catch let e as EngineError { throw FormatError("tensor '\(name)': \(e.message)") }
        // Checked products: a hostile shape must not overflow into a plausible size.
        var bytesNeeded = dtypeWidths[dtype] ?? 4
        for d in shape {
            let (product, overflow) = bytesNeeded.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw FormatError("shape \(describe(shape: shape)) of tensor '\(name)' is too large")
            }
            bytesNeeded = product
        }
        guard bytesNeeded == end - begin else {
            throw FormatError("tensor '\(name)' has shape \(describe(shape: shape)) (\(bytesNeeded) bytes of \(dtype)) but 'data_offsets' [\(begin), \(end)] span \(end - begin) bytes")
        }
        return Entry(name: name, integer: dtype == "I32", skippedDType: skip ? dtype : nil, shape: shape, begin: begin, end: end, headerIndex: index)
    }

    /// A JSON array of non-negative integers.
    private static func integers(_ value: JSON, what: String) throws -> [Int] {
        guard case .array(let items) = value else {
            throw FormatError("\(what) is a JSON \(value.kind), expected an array of integers")
        }
        return try items.map { item in
            guard case .integer(let v) = item else {
                throw FormatError("\(what) contains a JSON \(item.kind), expected a non-negative integer")
            }
            guard v >= 0 else { throw FormatError("\(what) contains the negative value \(v)") }
            return v
        }
    }
}

// MARK: - JSON

// Nested in `Safetensors` so that these minimal types cannot collide with a fuller JSON type
// elsewhere in the module. Also the reader of model folders' config.json (`JSON.parse`).
extension Safetensors {
/// A JSON value, just rich enough for safetensors headers and model configs. Objects keep their members in order
/// (and the parser rejects duplicate keys) so output is deterministic and nothing is silently
/// dropped.
public enum JSON: Equatable {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    /// An integer that fits in `Int`.
    case integer(Int)
    /// Any other number, kept as written: headers never need one, so it is only reported.
    case number(String)
    case bool(Bool)
    case null

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

    /// Parses one JSON document; the error gives the byte offset where it went wrong.
    public static func parse(_ bytes: [UInt8]) throws -> JSON {
        do {
            var parser = JSONParser(ArraySlice(bytes))
            return try parser.parseDocument()
        } catch let error as JSONParser.Failure {
            throw EngineError(error.isDuplicateKey ? "a \(error.reason)" : "not valid JSON: \(error.reason)")
        }
    }

    /// The member `key` of an object (nil for a missing key or a non-object).
    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    /// Appends compact JSON (no spaces), escaping strings the way serde_json does.
    func write(to out: inout [UInt8]) {
        switch self {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
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

/// A strict RFC 8259 parser over bytes. Errors carry the byte offset within the header.
struct JSONParser {
    struct Failure: Error {
        var reason: String
        /// Duplicate keys are valid JSON grammar but not a valid header; reported separately.
        var isDuplicateKey = false
    }

    private let bytes: ArraySlice<UInt8>
    private var index: Int
    /// Nesting is bounded so that a hostile header cannot exhaust the stack.
    private let maxDepth = 64

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    /// One value surrounded by optional whitespace (the format pads headers with spaces).
    mutating func parseDocument() throws -> JSON {
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard index == bytes.endIndex else { throw fail("unexpected \(describeCurrent()) after the top-level value") }
        return value
    }

    private var offset: Int { index - bytes.startIndex }

    private func fail(_ reason: String) -> Failure { Failure(reason: "\(reason) at byte \(offset)") }

    private func describeCurrent() -> String {
        guard index < bytes.endIndex else { return "end of header" }
        let b = bytes[index]
        return (0x21..<0x7F).contains(b) ? "character '\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    private mutating func skipWhitespace() {
        while index < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func parseValue(depth: Int) throws -> JSON {
        guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
        guard index < bytes.endIndex else { throw fail("unexpected end of header, expected a value") }
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
            // Duplicate keys would make one tensor (or field) silently shadow another.
            guard keys.insert(key).inserted else {
                // Top-level keys of a header are tensor names; say so, since that is the mistake.
                let what = depth == 0 && key != Safetensors.metadataKey ? "tensor name" : "key"
                throw Failure(reason: "duplicate \(what) '\(key)' at byte \(keyOffset)", isDuplicateKey: true)
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

    /// Numbers follow the JSON grammar exactly; integers that fit in `Int` become `.integer`.
    private mutating func parseNumber() throws -> JSON {
        let start = index
        var isInteger = true
        func digits(_ parser: inout JSONParser) -> Int {
            var count = 0
            while parser.index < parser.bytes.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.index]) {
                parser.index += 1
                count += 1
            }
            return count
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else {
            throw fail("invalid number, expected a digit")
        }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                throw fail("invalid number with a leading zero")
            }
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

    /// A string with all escapes decoded, including \uXXXX and surrogate pairs; the result
    /// must be valid UTF-8.
    private mutating func parseString() throws -> String {
        let start = offset
        index += 1
        var out: [UInt8] = []
        while true {
            guard index < bytes.endIndex else { throw Failure(reason: "unterminated string starting at byte \(start)") }
            let b = bytes[index]
            index += 1
            switch b {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw Failure(reason: "string starting at byte \(start) is not valid UTF-8")
                }
                return s
            case UInt8(ascii: "\\"):
                guard index < bytes.endIndex else { throw Failure(reason: "unterminated string starting at byte \(start)") }
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
            case 0..<0x20:
                throw fail("unescaped control character 0x\(String(b, radix: 16)) in string")
            default:
                out.append(b)
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
}
