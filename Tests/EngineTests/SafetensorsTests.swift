// Safetensors tests: round trips, the exact byte layout, every malformed-file error, and
// interoperability with the reference Python library in both directions.
import Foundation
import Testing
import TestSupport
import FileIO
@testable import Engine

/// Tensors covering the edge cases: a matrix, a vector, a scalar, and two empty shapes, with
/// values whose bits must survive exactly (negative zero, infinities, NaN, subnormals).
private func sampleTensors() throws -> [(name: String, tensor: Tensor)] {
    [
        ("layer1.weight", try Tensor(shape: [2, 3], data: [1, -2.5, 3e-38, .infinity, -.infinity, -0.0])),
        ("scalar", Tensor(42.125)),
        ("empty", try Tensor.zeros([0, 4])),
        ("layer1.bias", try Tensor(shape: [3], data: [.nan, .leastNonzeroMagnitude, 7])),
        ("zero.middle", try Tensor.zeros([2, 0, 3])),
        ("ünïcode/名前", try Tensor(shape: [1, 1, 2], data: [0.1, 0.2])),
    ]
}

private func bits(_ t: Tensor) -> [UInt32] { t.array.map(\.bitPattern) }

/// A file with header `json` (not padded) followed by `data`.
private func fileBytes(header json: [UInt8], data: [UInt8] = []) -> [UInt8] {
    let n = UInt64(json.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + json + data
}

private func fileBytes(header json: String, data: [UInt8] = []) -> [UInt8] {
    fileBytes(header: Array(json.utf8), data: data)
}

/// A tensor entry for hand-written headers.
private func entry(_ shape: String, _ begin: Int, _ end: Int, dtype: String = "F32") -> String {
    #"{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
}

/// One malformed file and a fragment its error message must contain.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var fragment: String
    var testDescription: String { name }
}

private let malformedCases: [MalformedCase] = {
    let eight = [UInt8](repeating: 0, count: 8)
    func c(_ name: String, _ bytes: [UInt8], _ fragment: String) -> MalformedCase {
        MalformedCase(name: name, bytes: bytes, fragment: fragment)
    }
    let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
    return [
        c("empty-file", [], "too short"),
        c("too-short", [1, 0, 0, 0, 0], "too short"),
        c("header-longer-than-file", [10, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8), "header length 10 is larger than the 2 bytes"),
        c("header-length-huge", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B, 0x7D], "header length 18446744073709551615 is larger"),
        c("not-json", fileBytes(header: "{abc}"), "not valid JSON"),
        c("truncated-json", fileBytes(header: #"{"a":"#), "not valid JSON"),
        c("trailing-garbage", fileBytes(header: "{} x"), "not valid JSON"),
        c("bad-escape", fileBytes(header: #"{"a\q":1}"#), "invalid escape"),
        c("lone-surrogate", fileBytes(header: #"{"__metadata__":{"k":"\ud800"}}"#), "surrogate"),
        c("control-char", fileBytes(header: "{\"a\nb\":1}"), "control character"),
        c("invalid-utf8", fileBytes(header: [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D]), "not valid UTF-8"),
        c("too-deep", fileBytes(header: #"{"__metadata__":"# + deep + "}"), "nesting"),
        c("array-root", fileBytes(header: "[1,2]"), "is a JSON array, not an object"),
        c("string-root", fileBytes(header: #""hello""#), "is a JSON string, not an object"),
        c("entry-not-object", fileBytes(header: #"{"a":5}"#), "entry for tensor 'a' is a JSON integer"),
        c("missing-dtype", fileBytes(header: #"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, data: eight), "tensor 'a' has no 'dtype'"),
        c("missing-shape", fileBytes(header: #"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#, data: eight), "tensor 'a' has no 'shape'"),
        c("missing-offsets", fileBytes(header: #"{"a":{"dtype":"F32","shape":[2]}}"#, data: eight), "tensor 'a' has no 'data_offsets'"),
        c("dtype-not-string", fileBytes(header: #"{"a":{"dtype":5,"shape":[2],"data_offsets":[0,8]}}"#, data: eight), "'dtype' of tensor 'a' is a JSON integer"),
        c("shape-not-array", fileBytes(header: #"{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#, data: eight), "'shape' of tensor 'a' is a JSON string"),
        c("shape-float", fileBytes(header: #"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, data: eight), "'shape' of tensor 'a' contains a JSON non-integer"),
        c("shape-negative", fileBytes(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eight), "negative value -2"),
        c("offsets-null", fileBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":null}}"#, data: eight), "'data_offsets' of tensor 'a' is a JSON null"),
        c("offsets-one-value", fileBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}"#, data: eight), "has 1 values, expected 2"),
        c("offsets-huge", fileBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]}}"#, data: eight), "out-of-range"),
        c("unexpected-key", fileBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"scale":1}}"#, data: eight), "unexpected key 'scale'"),
        c("metadata-not-object", fileBytes(header: #"{"__metadata__":[]}"#), "'__metadata__' is a JSON array"),
        c("metadata-value-not-string", fileBytes(header: #"{"__metadata__":{"epoch":3}}"#), "metadata value for 'epoch' is a JSON integer"),
        c("dtype-f16", fileBytes(header: "{\"a\":\(entry("[4]", 0, 8, dtype: "F16"))}", data: eight), "dtype 'F16'; only F32"),
        c("dtype-bf16", fileBytes(header: "{\"a\":\(entry("[2]", 0, 8, dtype: "BF16"))}", data: eight), "dtype 'BF16'"),
        c("dtype-f64", fileBytes(header: "{\"a\":\(entry("[1]", 0, 8, dtype: "F64"))}", data: eight), "dtype 'F64'"),
        c("size-mismatch", fileBytes(header: "{\"a\":\(entry("[3]", 0, 8))}", data: eight), "shape [3] (12 bytes of F32) but 'data_offsets' [0, 8] span 8 bytes"),
        c("shape-overflow", fileBytes(header: "{\"a\":\(entry("[4611686018427387904,4]", 0, 8))}", data: eight), "too large"),
        c("offsets-reversed", fileBytes(header: "{\"a\":\(entry("[1]", 8, 4))}", data: eight), "[8, 4] end before they begin"),
        c("offsets-out-of-range", fileBytes(header: "{\"a\":\(entry("[4]", 0, 16))}", data: eight), "[0, 16] lie outside the 8-byte data section"),
        c("offsets-overlap", fileBytes(header: "{\"a\":\(entry("[2]", 0, 8)),\"b\":\(entry("[2]", 4, 12))}", data: eight + [0, 0, 0, 0]), "overlaps tensor 'a'"),
        c("offsets-gap", fileBytes(header: "{\"a\":\(entry("[1]", 0, 4)),\"b\":\(entry("[1]", 8, 12))}", data: eight + [0, 0, 0, 0]), "4 bytes before tensor 'b' (offset 4) belong to no tensor"),
        c("trailing-data", fileBytes(header: "{\"a\":\(entry("[1]", 0, 4))}", data: eight), "the last 4 bytes"),
        c("duplicate-name", fileBytes(header: "{\"a\":\(entry("[1]", 0, 4)),\"a\":\(entry("[1]", 4, 8))}", data: eight), "duplicate tensor name 'a'"),
        c("duplicate-field", fileBytes(header: #"{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: eight), "duplicate key 'dtype'"),
    ]
}()

@Suite struct SafetensorsTests {
    @Test func roundTripWithMetadata() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/model.safetensors"
        let tensors = try sampleTensors()
        let metadata = ["epoch": "3", "note": "héllo \"q\" \\ /\n\t\u{01}\u{7F} 😀 名前", "": "empty key"]
        try Safetensors.save(tensors, metadata: metadata, to: path)
        let (loaded, meta) = try Safetensors.load(path)
        #expect(loaded.map(\.name) == tensors.map(\.name))
        for ((_, a), (name, b)) in zip(tensors, loaded) {
            #expect(a.shape == b.shape, "\(name)")
            #expect(bits(a) == bits(b), "\(name)")
        }
        #expect(meta == metadata)
        // The header length keeps the data section 8-byte aligned.
        let bytes = try WholeFile.readAll(path)
        #expect(Int(bytes[0]) % 8 == 0)
    }

    @Test func emptyFile() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/nothing.safetensors"
        try Safetensors.save([], to: path)
        #expect(try WholeFile.readAll(path) == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
        let (tensors, metadata) = try Safetensors.load(path)
        #expect(tensors.isEmpty)
        #expect(metadata.isEmpty)
    }

    /// The exact bytes the reference library writes for the same input.
    @Test func byteExactLayout() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/small.safetensors"
        try Safetensors.save([("a", Tensor(5)), ("b", try Tensor(shape: [3], data: [1, -2, 0.5]))],
                             metadata: ["k": "v"], to: path)
        let header = #"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}}"#
            + "    "
        let expected: [UInt8] = [0x88, 0, 0, 0, 0, 0, 0, 0] + Array(header.utf8)
            + [0x00, 0x00, 0xA0, 0x40, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x3F]
        #expect(header.utf8.count == 0x88)
        #expect(try WholeFile.readAll(path) == expected)
    }

    /// Data order follows the order given, not the names; metadata keys are sorted.
    @Test func dataOrderFollowsGivenOrder() throws {
        let tensors: [(name: String, tensor: Tensor)] = [("z", Tensor(1)), ("a", Tensor(2))]
        let bytes = try Safetensors.serialize(tensors, metadata: ["y": "1", "x": "2"], path: "m")
        let n = Int(bytes[0])
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        #expect(header.hasPrefix(#"{"__metadata__":{"x":"2","y":"1"},"z":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":"#))
        let loaded = try Safetensors.parse(bytes)
        #expect(loaded.tensors.map(\.name) == ["z", "a"])
        #expect(loaded.tensors.map(\.tensor.item) == [1, 2])
    }

    @Test func saveRejectsBadNames() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/x.safetensors"
        let duplicate = errorMessage { try Safetensors.save([("w", Tensor(1)), ("w", Tensor(2))], to: path) }
        #expect(duplicate?.contains("duplicate tensor name 'w'") == true, "\(duplicate ?? "")")
        #expect(duplicate?.contains(path) == true)
        let reserved = errorMessage { try Safetensors.save([("__metadata__", Tensor(1))], to: path) }
        #expect(reserved?.contains("reserved") == true, "\(reserved ?? "")")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test(arguments: malformedCases)
    func malformedFileIsRejected(_ bad: MalformedCase) throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let fileName = "bad-\(bad.name).safetensors"
        try WholeFile.write(bad.bytes, to: dir + "/" + fileName)
        let message = errorMessage { _ = try Safetensors.load(dir + "/" + fileName) }
        #expect(message?.contains(fileName) == true, "\(message ?? "")")
        #expect(message?.contains(bad.fragment) == true, "expected '\(bad.fragment)' in: \(message ?? "")")
    }

    @Test func missingFileIsNamed() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let message = errorMessage { _ = try Safetensors.load(dir + "/absent.safetensors") }
        #expect(message?.contains("absent.safetensors") == true, "\(message ?? "")")
        #expect(message?.contains("No such file or directory") == true, "\(message ?? "")")
    }

    /// Unaligned data offsets and whitespace inside the header are legal and must load.
    @Test func toleratesUnpaddedHeaderAndWhitespace() throws {
        let header = " {\n \"a\" : {\"shape\": [ 2 ], \"data_offsets\" : [0, 8], \"dtype\": \"F32\"} }\t"
        let values: [Float] = [1.5, -3]
        let data = values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } }
        let (tensors, metadata) = try Safetensors.parse(fileBytes(header: header, data: data))
        #expect(tensors.count == 1 && tensors[0].name == "a")
        #expect(tensors[0].tensor.shape == [2])
        #expect(tensors[0].tensor.array == values)
        #expect(metadata.isEmpty)
    }

    @Test func jsonEscapes() throws {
        let value = try JSON.parse(Array(#"["\u00e9\uD83D\ude00\"\\\/\b\f\n\r\t\u0001", -12, 0, 1e3, true, null]"#.utf8))
        let expected = JSON.array([
            .string("é😀\"\\/\u{08}\u{0C}\n\r\t\u{01}"), .integer(-12), .integer(0), .number("1e3"), .bool(true), .null,
        ])
        #expect(value == expected)
        // Serializing and parsing again gives the same value.
        var out: [UInt8] = []
        value.write(to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"["é😀\"\\/\b\f\n\r\t\u0001",-12,0,1e3,true,null]"#)
        #expect(try JSON.parse(out) == value)
    }

    // MARK: - Interoperability with the reference implementation

    /// Runs python3 with `script` and `arguments`; nil (with a failing issue) when the
    /// safetensors package is missing, since interoperability must not go untested silently.
    private func python(_ script: String, _ arguments: [String], in dir: String) throws -> String? {
        let probe = try run(["-c", "import safetensors, numpy"], in: dir)
        guard probe.status == 0 else {
            Issue.record("""
                The Python safetensors package is needed to check interoperability: \
                run `pip install safetensors numpy` (python3 said: \(probe.error))
                """)
            return nil
        }
        let result = try run(["-c", script] + arguments, in: dir)
        guard result.status == 0 else {
            Issue.record("python3 failed (status \(result.status)): \(result.error)")
            return nil
        }
        return result.output
    }

    private func run(_ arguments: [String], in dir: String) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let stdout = Pipe()
        let errPath = dir + "/python-stderr.txt"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let stderr = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Read before waiting so a large output cannot fill the pipe and stall the child.
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try stderr.close()
        let error = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return (process.terminationStatus, String(decoding: data, as: UTF8.self), error)
    }

    /// Parses the JSON report printed by the Python side with our own parser.
    private func report(_ text: String) throws -> [(String, JSON)] {
        guard case .object(let members) = try JSON.parse(text) else { throw EngineError("report is not an object") }
        return members
    }

    private func number(_ value: JSON?) -> Double? {
        switch value {
        case .integer(let v): Double(v)
        case .number(let text): Double(text)
        default: nil
        }
    }

    @Test func pythonLoadsOurFile() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/ours.safetensors"
        // Finite values only: the report compares sums and JSON has no NaN.
        let tensors: [(name: String, tensor: Tensor)] = [
            ("conv.weight", try Tensor(shape: [2, 1, 2, 2], data: [1, 2, 3, 4, -5, 6.5, 7, 0.125])),
            ("scalar", Tensor(-3.25)),
            ("empty", try Tensor.zeros([0, 5])),
            ("fc.bias", try Tensor(shape: [3], data: [1e-3, 2e5, -1])),
        ]
        let metadata = ["format": "prune", "note": "é \"quoted\"\n"]
        try Safetensors.save(tensors, metadata: metadata, to: path)
        let script = """
            import json, sys
            from safetensors import safe_open
            from safetensors.numpy import load_file
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="numpy") as f:
                metadata = f.metadata()
            out = {"tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype),
                                   "sum": float(v.astype("float64").sum()),
                                   "values": [float(x) for x in v.reshape(-1)]}
                               for k, v in tensors.items()},
                   "metadata": metadata}
            print(json.dumps(out, ensure_ascii=True))
            """
        guard let text = try python(script, [path], in: dir) else { return }
        let members = try report(text)
        guard case .object(let seen)? = members.first(where: { $0.0 == "tensors" })?.1,
              case .object(let meta)? = members.first(where: { $0.0 == "metadata" })?.1 else {
            Issue.record("unexpected report: \(text)")
            return
        }
        #expect(Set(seen.map(\.0)) == Set(tensors.map(\.name)))
        for (name, tensor) in tensors {
            guard case .object(let info)? = seen.first(where: { $0.0 == name })?.1 else {
                Issue.record("python did not report '\(name)'")
                continue
            }
            let field = { (key: String) in info.first(where: { $0.0 == key })?.1 }
            #expect(field("shape") == .array(tensor.shape.map { .integer($0) }), "\(name)")
            #expect(field("dtype") == .string("float32"), "\(name)")
            let sum = tensor.array.reduce(0.0) { $0 + Double($1) }
            let pySum = number(field("sum")) ?? .nan
            #expect(abs(pySum - sum) <= 1e-9 * max(1, abs(sum)), "\(name): python sum \(pySum), ours \(sum)")
            if case .array(let values)? = field("values") {
                #expect(values.map { number($0).map(Float.init) } == tensor.array.map { Optional($0) }, "\(name)")
            } else {
                Issue.record("no values for '\(name)'")
            }
        }
        let pyMetadata = meta.reduce(into: [String: String]()) { dict, pair in
            if case .string(let s) = pair.1 { dict[pair.0] = s }
        }
        #expect(meta.count == metadata.count && pyMetadata == metadata)
    }

    @Test func weLoadPythonFileAndWriteIdenticalBytes() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let theirs = dir + "/theirs.safetensors"
        let script = """
            import sys, numpy as np
            from safetensors.numpy import save_file
            save_file({"a.weight": np.arange(12, dtype=np.float32).reshape(3, 4) / 8 - 0.75,
                       "b.scalar": np.array(2.5, dtype=np.float32),
                       "c.empty": np.zeros((2, 0), dtype=np.float32),
                       "d.vector": np.array([1e-40, -0.0, 3.0e38], dtype=np.float32)},
                      sys.argv[1], metadata={"source": "python é\\n"})
            """
        guard try python(script, [theirs], in: dir) != nil else { return }
        let (loaded, metadata) = try Safetensors.load(theirs)
        #expect(loaded.map(\.name) == ["a.weight", "b.scalar", "c.empty", "d.vector"])
        #expect(loaded.map(\.tensor.shape) == [[3, 4], [], [2, 0], [3]])
        #expect(loaded.first?.tensor.array == (0..<12).map { Float($0) / 8 - 0.75 })
        #expect(loaded.dropFirst().first?.tensor.array == [2.5])
        #expect(loaded.last.map { bits($0.tensor) } == [Float(1e-40), -0.0, 3.0e38].map(\.bitPattern))
        #expect(metadata == ["source": "python é\n"])

        // Saving what we loaded reproduces the reference library's file byte for byte.
        let ours = dir + "/ours.safetensors"
        try Safetensors.save(loaded, metadata: metadata, to: ours)
        #expect(try WholeFile.readAll(ours) == WholeFile.readAll(theirs))
    }

    /// Hugging Face files carry tensors of other dtypes (BERT's I64 position ids): a foreign
    /// load lists them, with their bytes checked by width, and reads the F32 ones.
    @Test func foreignLoadListsOtherDTypes() throws {
        let header = "{\"ids\":" + entry("[1,2]", 0, 16, dtype: "I64") + ",\"w\":" + entry("[1]", 16, 20) + "}"
        let data = [UInt8](repeating: 0, count: 16) + withUnsafeBytes(of: Float(2.5).bitPattern.littleEndian, Array.init)
        let (tensors, _, skipped, _) = try Safetensors.parse(fileBytes(header: header, data: data), integers: false, others: true)
        #expect(tensors.map(\.name) == ["w"] && tensors[0].tensor.array == [2.5])
        #expect(skipped == [Safetensors.Skipped(name: "ids", dtype: "I64", shape: [1, 2])])
        #expect(throws: Safetensors.FormatError.self) { try Safetensors.parse(fileBytes(header: header, data: data)) }
        // A width that does not fit the shape is still an error.
        let short = "{\"ids\":" + entry("[1,2]", 0, 8, dtype: "I64") + "}"
        #expect(throws: Safetensors.FormatError.self) {
            try Safetensors.parse(fileBytes(header: short, data: [UInt8](repeating: 0, count: 8)), integers: false, others: true)
        }
    }
}
