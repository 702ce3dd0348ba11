// Safetensors: reading and writing the safetensors checkpoint format (F32 tensors, and I32 ones
// for the indices of sparse checkpoints).
//
// The format (https://github.com/huggingface/safetensors) is an 8-byte little-endian header
// length N, N bytes of UTF-8 JSON describing each tensor's dtype, shape and byte range, then the
// raw little-endian data. It is the common currency for weights, so files written here must load
// in the reference library and vice versa. Every field of a loaded file is checked before memory
// is allocated or bytes are copied, because a checkpoint may be truncated or come from anywhere.
// The header is read and written by FileIO's JSON, whose output is byte-for-byte deterministic
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
            root = try JSON.parse(bytes[8..<headerEnd], maxDepth: maxHeaderDepth)
        } catch let error as JSONError {
            guard case .duplicateKey(let key, let depth, let offset) = error.kind else {
                throw FormatError("header is not valid JSON: \(error.reason)")
            }
            // Top-level keys of a header are tensor names; say so, since that is the mistake.
            let what = depth == 0 && key != metadataKey ? "tensor name" : "key"
            throw FormatError("header has a duplicate \(what) '\(key)' at byte \(offset)")
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

    /// Headers nest three levels deep; the bound keeps a hostile one from exhausting the stack.
    static let maxHeaderDepth = 64

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
