// Checkpoints: exact round trips (parameters and batch-norm buffers), the errors for files that
// do not fit the model or are damaged, and interoperability with the Python safetensors library.
import Foundation
import Testing
import TestSupport
@testable import NN
import Engine

/// Trains a tiny ResNet for a couple of steps so its weights and running statistics are far from
/// their initial values.
private func trainedResNet(seed: UInt64) throws -> Sequential {
    let model = try Models.resnet(classes: 3, widths: [2, 4], rng: RNG(seed: seed))
    let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.1)
    model.train()
    for step in 0..<2 {
        opt.zeroGrad()
        try Loss.crossEntropy(model(rand([4, 1, 8, 8], seed: UInt64(100 + step))), [0, 1, 2, 1]).backward()
        GradMode.noGrad { opt.step() }
    }
    return model
}

/// Runs a command, returning its exit status and combined output.
private func shell(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite struct CheckpointTests {
    @Test func roundTripRestoresParametersAndBuffersExactly() throws {
        let dir = try TempDir("roundtrip")
        defer { dir.cleanup() }
        let path = dir.file("resnet.safetensors")
        let source = try trainedResNet(seed: 1)
        #expect(source.namedBuffers().contains { name, t in name.hasSuffix("running_mean") && t.array.contains { $0 != 0 } },
                "training moved the running statistics")
        try Checkpoint.save(source, to: path, metadata: ["epoch": "2", "note": "round trip"])

        let fresh = try Models.resnet(classes: 3, widths: [2, 4], rng: RNG(seed: 2))
        let expected = snapshot(source)
        #expect(snapshot(fresh) != expected, "a fresh model starts different")
        let metadata = try Checkpoint.load(fresh, from: path)
        #expect(metadata["epoch"] == "2" && metadata["note"] == "round trip")
        #expect(metadata["format"] == "pt" && metadata["producer"] == "prune")

        let got = snapshot(fresh)
        #expect(got.keys.sorted() == expected.keys.sorted())
        for (name, values) in expected { #expect(bits(got[name]!) == bits(values), "\(name) not restored exactly") }
        // Batch norms: the stem's, two in block 2→2, three in block 2→4 (one in its shortcut).
        #expect(fresh.namedBuffers().count == 6 * 2)

        // Same outputs in evaluation mode (which reads the running statistics).
        source.eval(); fresh.eval()
        let x = try rand([2, 1, 8, 8], seed: 3)
        #expect(bits(try source(x).array) == bits(try fresh(x).array))
    }

    @Test func savedFileHoldsTheDottedNames() throws {
        let dir = try TempDir("names")
        defer { dir.cleanup() }
        let path = dir.file("mlp.safetensors")
        let model = try Models.mlp([4, 3, 2], rng: RNG(seed: 4))
        try Checkpoint.save(model, to: path)
        let (tensors, metadata) = try Safetensors.load(path)
        #expect(tensors.map(\.name) == ["layers.1.weight", "layers.1.bias", "layers.3.weight", "layers.3.bias"])
        #expect(tensors.map(\.tensor.shape) == [[3, 4], [3], [2, 3], [2]])
        #expect(metadata["format"] == "pt")
    }

    @Test func userMetadataIsKept() throws {
        let dir = try TempDir("meta")
        defer { dir.cleanup() }
        let path = dir.file("m.safetensors")
        try Checkpoint.save(try Models.mlp([2, 2], rng: RNG(seed: 0)), to: path, metadata: ["format": "np", "x": "y"])
        let (_, metadata) = try Safetensors.load(path)
        #expect(metadata["x"] == "y")
        #expect(metadata["format"] != nil)
    }

    @Test func shapeMismatchNamesTheFileAndTheTensor() throws {
        let dir = try TempDir("shapes")
        defer { dir.cleanup() }
        let path = dir.file("small.safetensors")
        try Checkpoint.save(try Models.mlp([4, 3, 2], rng: RNG(seed: 5)), to: path)
        let other = try Models.mlp([4, 5, 2], rng: RNG(seed: 6))
        let before = snapshot(other)
        expectError(["small.safetensors", "layers.1.weight", "[3, 4]", "[5, 4]"]) {
            try Checkpoint.load(other, from: path)
        }
        #expect(snapshot(other) == before, "nothing changes when a check fails")
    }

    @Test func missingTensorsAreReported() throws {
        let dir = try TempDir("missing")
        defer { dir.cleanup() }
        let path = dir.file("linear.safetensors")
        let rng = RNG(seed: 7)
        try Checkpoint.save(Sequential([try Linear(4, 3, rng: rng)]), to: path)
        let bigger = Sequential([try Linear(4, 3, rng: rng), try BatchNorm(3)])
        let before = snapshot(bigger)
        expectError(["linear.safetensors", "missing 4", "layers.1.weight", "layers.1.bias",
                           "layers.1.running_mean", "layers.1.running_var"]) {
            try Checkpoint.load(bigger, from: path)
        }
        #expect(snapshot(bigger) == before, "nothing changes when a check fails")
    }

    @Test func extraTensorsNeedNonStrictLoading() throws {
        let dir = try TempDir("extra")
        defer { dir.cleanup() }
        let path = dir.file("bigger.safetensors")
        let rng = RNG(seed: 8)
        let bigger = Sequential([try Linear(4, 3, rng: rng), try BatchNorm(3)])
        try Checkpoint.save(bigger, to: path)
        let smaller = Sequential([try Linear(4, 3, rng: RNG(seed: 9))])
        let before = snapshot(smaller)
        expectError(["bigger.safetensors", "4 tensor(s) the model does not have", "layers.1.weight"]) {
            try Checkpoint.load(smaller, from: path)
        }
        #expect(snapshot(smaller) == before)
        try Checkpoint.load(smaller, from: path, strict: false)
        #expect(snapshot(smaller)["layers.0.weight"] == snapshot(bigger)["layers.0.weight"])
    }

    @Test func malformedHeaderNamesTheFile() throws {
        let dir = try TempDir("garbage")
        defer { dir.cleanup() }
        // Garbage all the way through: the 8-byte length is absurd.
        let garbage = dir.file("garbage.safetensors")
        try Data((0..<64).map { UInt8(($0 * 37 + 11) % 256) }).write(to: URL(fileURLWithPath: garbage))
        let model = try Models.mlp([4, 3, 2], rng: RNG(seed: 10))
        let before = snapshot(model)
        expectError(["garbage.safetensors", "not a valid safetensors file"]) { try Checkpoint.load(model, from: garbage) }

        // A plausible length followed by bytes that are not JSON.
        let badJSON = dir.file("badjson.safetensors")
        var bytes: [UInt8] = [16, 0, 0, 0, 0, 0, 0, 0]
        bytes += Array("{\"layers.1.wei\u{1}".utf8) + [0xFF, 0xFE, 0x00]
        try Data(bytes).write(to: URL(fileURLWithPath: badJSON))
        expectError(["badjson.safetensors", "header"]) { try Checkpoint.load(model, from: badJSON) }

        // Too short to hold the length, and a file that does not exist.
        let tiny = dir.file("tiny.safetensors")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: tiny))
        expectError(["tiny.safetensors"]) { try Checkpoint.load(model, from: tiny) }
        expectError(["nope.safetensors"]) { try Checkpoint.load(model, from: dir.file("nope.safetensors")) }

        // A valid file cut short.
        let good = dir.file("good.safetensors")
        try Checkpoint.save(model, to: good)
        let whole = try Data(contentsOf: URL(fileURLWithPath: good))
        let cut = dir.file("cut.safetensors")
        try whole.prefix(whole.count - 4).write(to: URL(fileURLWithPath: cut))
        expectError(["cut.safetensors"]) { try Checkpoint.load(model, from: cut) }

        #expect(snapshot(model) == before, "failed loads leave the model alone")
    }

    @Test func fileOpensInPythonSafetensors() throws {
        let dir = try TempDir("python")
        defer { dir.cleanup() }
        let path = dir.file("mlp.safetensors")
        let model = try Models.mlp([4, 3, 2], rng: RNG(seed: 11))
        try Checkpoint.save(model, to: path, metadata: ["epoch": "7"])

        let probe = try shell("/usr/bin/env", ["python3", "-c", "import safetensors.numpy, numpy"])
        guard probe.status == 0 else {
            Issue.record("""
                python3 cannot import safetensors and numpy, which this test needs to check that checkpoints \
                open in the reference library: run `pip install safetensors numpy`. (\(probe.output.prefix(300)))
                """)
            return
        }
        let script = """
            import sys
            from safetensors.numpy import load_file
            from safetensors import safe_open
            t = load_file(sys.argv[1])
            for k in sorted(t):
                v = t[k]
                print(k, v.dtype, list(v.shape), v.astype('<f4').tobytes().hex())
            with safe_open(sys.argv[1], framework="numpy") as f:
                print("meta", sorted(f.metadata().items()))
            """
        let result = try shell("/usr/bin/env", ["python3", "-c", script, path])
        #expect(result.status == 0, "python failed: \(result.output)")
        let lines = result.output.split(separator: "\n").map(String.init)
        func hex(_ t: Tensor) -> String {
            t.array.flatMap { f in withUnsafeBytes(of: f.bitPattern.littleEndian) { Array($0) } }
                .map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
        }
        var expected = model.namedParameters().sorted { $0.0 < $1.0 }.map { name, t in
            "\(name) float32 [\(t.shape.map(String.init).joined(separator: ", "))] \(hex(t))"
        }
        let architecture = try ModuleCodec.describe(model).text
        expected.append("meta [('architecture', '\(architecture)'), ('epoch', '7'), ('format', 'pt'), ('producer', 'prune')]")
        #expect(lines == expected)
        #expect(lines.first?.hasPrefix("layers.1.bias float32 [3]") == true)
    }

    @Test func pythonWrittenFileLoadsIntoTheModel() throws {
        let dir = try TempDir("frompython")
        defer { dir.cleanup() }
        let path = dir.file("torchlike.safetensors")
        let probe = try shell("/usr/bin/env", ["python3", "-c", "import safetensors.numpy, numpy"])
        guard probe.status == 0 else {
            Issue.record("python3 cannot import safetensors: run `pip install safetensors numpy`. (\(probe.output.prefix(300)))")
            return
        }
        let script = """
            import sys, numpy as np
            from safetensors.numpy import save_file
            save_file({
                "layers.1.weight": np.arange(12, dtype=np.float32).reshape(3, 4) / 8,
                "layers.1.bias": np.array([1, -1, 0.5], dtype=np.float32),
                "layers.3.weight": -np.arange(6, dtype=np.float32).reshape(2, 3),
                "layers.3.bias": np.zeros(2, dtype=np.float32),
            }, sys.argv[1], metadata={"format": "pt"})
            """
        let result = try shell("/usr/bin/env", ["python3", "-c", script, path])
        #expect(result.status == 0, "python failed: \(result.output)")
        guard result.status == 0 else { return }
        let model = try Models.mlp([4, 3, 2], rng: RNG(seed: 12))
        try Checkpoint.load(model, from: path)
        let p = snapshot(model)
        #expect(p["layers.1.weight"] == (0..<12).map { Float($0) / 8 })
        #expect(p["layers.1.bias"] == [1, -1, 0.5])
        #expect(p["layers.3.weight"] == (0..<6).map { -Float($0) })
        #expect(p["layers.3.bias"] == [0, 0])
    }
}
