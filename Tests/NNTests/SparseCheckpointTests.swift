// Sparse checkpoints (NN/Checkpoint+Sparse.swift): exact round trips into an identical model,
// smaller files than dense at 90% sparsity, the documented CSR layout as numpy reads it, and
// clear errors for damaged indices.
import Foundation
import Testing
import TestSupport
@testable import NN
import Engine

private func masks(_ model: Module) -> [String: [Float]] {
    Dictionary(uniqueKeysWithValues: model.namedGates().map { ($0.0, $0.1.mask.array) })
}

private func fileSize(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
}

@Test func sparseCheckpointRoundTripsExactlyAndIsSmaller() throws {
    let dir = try TempDir("sparseckpt")
    defer { dir.cleanup() }
    for make in [{ try Models.mlp([784, 300, 100, 10], rng: RNG(seed: 1)) }, { try Models.cnn(rng: RNG(seed: 2)) }] {
        let model = try make()
        try maskWeights(model, density: 0.1)
        // The last (smallest) gate with scores and a requested sparsity, which travel along;
        // scores are stored densely.
        let (name, gate) = try #require(model.namedGates().last)
        gate.scores = try Tensor.uniform(gate.mask.shape, rng: RNG(seed: 3)); gate.requestedSparsity = 0.9
        let dense = dir.file("dense.safetensors"), sparse = dir.file("sparse.safetensors")
        try Checkpoint.save(model, to: dense)
        try Checkpoint.save(model, to: sparse, sparse: true)
        let copy = try make()
        try Checkpoint.load(copy, from: sparse)
        #expect(snapshot(copy).mapValues(bits) == snapshot(model).mapValues(bits))
        #expect(masks(copy) == masks(model))
        #expect(copy.namedGates().allSatisfy { $0.1.isFixed })
        #expect(copy.gate(for: name)?.scores?.array == gate.scores?.array)
        #expect(copy.gate(for: name)?.requestedSparsity == 0.9)
        // At 90% sparsity the file holds about a tenth of the weights twice (values, indices)
        // where the dense file holds every weight and every mask entry.
        let ratio = Double(try fileSize(sparse)) / Double(try fileSize(dense))
        #expect(ratio < 0.3, "sparse/dense size \(ratio)")
    }
}

@Test func sparseCheckpointKeepsKeptZerosAndEmptyMasks() throws {
    let dir = try TempDir("sparsezeros")
    defer { dir.cleanup() }
    let model = try Models.mlp([6, 5, 3], rng: RNG(seed: 4))
    try maskWeights(model, density: 0.5)
    // A kept weight that is exactly 0 stays kept; an all-zero mask stays all zero.
    let w = model.namedParameters().first { $0.0 == "layers.1.weight" }!.1
    let gate = try #require(model.gate(for: "layers.1.weight"))
    if let i = (0..<gate.mask.count).first(where: { gate.mask.data[$0] == 1 }) { w.data[i] = 0 }
    try model.setGate(WeightGate(mask: try Tensor.zeros([3, 5])), for: "layers.3.weight")
    let path = dir.file("m.safetensors")
    try Checkpoint.save(model, to: path, sparse: true)
    let copy = try Models.mlp([6, 5, 3], rng: RNG(seed: 5))
    try Checkpoint.load(copy, from: path)
    #expect(masks(copy) == masks(model))
    #expect(snapshot(copy).mapValues(bits) == snapshot(model).mapValues(bits))
}

@Test func sparseCheckpointLayoutIsCSRForNumpy() throws {
    let dir = try TempDir("sparsepy")
    defer { dir.cleanup() }
    let model = try Models.cnn(rng: RNG(seed: 6))
    try maskWeights(model, density: 0.2)
    let path = dir.file("cnn.safetensors")
    try Checkpoint.save(model, to: path, sparse: true)
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    let script = """
        import sys, numpy as np
        from safetensors.numpy import load_file
        from safetensors import safe_open
        t = load_file(sys.argv[1])
        with safe_open(sys.argv[1], framework="numpy") as f: meta = f.metadata()
        for key in sorted(k for k in meta if k.startswith("sparse.")):
            name = key[len("sparse."):]
            shape = [int(d) for d in meta[key][len("csr:"):].split(",")]
            crow, col, val = t[name + ".crow_indices"], t[name + ".col_indices"], t[name + ".values"]
            assert crow.dtype == np.int32 and col.dtype == np.int32 and val.dtype == np.float32
            dense = np.zeros((shape[0], int(np.prod(shape[1:]))), np.float32)
            for r in range(shape[0]):
                dense[r, col[crow[r]:crow[r + 1]]] = val[crow[r]:crow[r + 1]]
            print(name, float(np.abs(dense.reshape(shape)).sum()))
        """
    probe.arguments = ["python3", "-c", script, path]
    let pipe = Pipe()
    probe.standardOutput = pipe; probe.standardError = pipe
    try probe.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    probe.waitUntilExit()
    #expect(probe.terminationStatus == 0, "python: \(output)")
    guard probe.terminationStatus == 0 else { return }
    let params = Dictionary(uniqueKeysWithValues: model.namedParameters())
    let lines = output.split(separator: "\n")
    #expect(lines.count == model.namedGates().count)
    for line in lines {
        let parts = line.split(separator: " ")
        let name = String(parts[0]), total = Double(parts[1]) ?? -1
        let expected = params[name].map { $0.array.reduce(0.0) { $0 + Double(abs($1)) } } ?? -2
        #expect(abs(total - expected) < 1e-3 * max(1, expected), "\(name)")
    }
}

@Test func damagedSparseIndicesAreClearErrors() throws {
    let dir = try TempDir("sparsebad")
    defer { dir.cleanup() }
    let model = try Models.mlp([4, 3, 2], rng: RNG(seed: 7))
    try maskWeights(model, density: 0.5)
    let path = dir.file("bad.safetensors")
    let values = try Tensor.ones([2])
    var tensors = model.namedParameters().filter { $0.0 != "layers.1.weight" }.map { (name: $0.0, tensor: $0.1) }
    tensors.append((name: "layers.1.weight.values", tensor: values))
    let before = snapshot(model)
    for (crow, col, why) in [([0, 1, 1, 2], [0, 9], "not below 4"), ([0, 2, 1, 2], [0, 1], "decrease"),
                             ([0, 1, 2], [0, 1], "offsets"), ([0, 2, 2, 2], [1, 1], "out of order"),
                             ([0, 5, 5, 2], [0, 1], "decrease")] {
        try Safetensors.save(tensors, integers: [("layers.1.weight.crow_indices", .init(shape: [crow.count], values: crow.map(Int32.init))),
                                                 ("layers.1.weight.col_indices", .init(shape: [2], values: col.map(Int32.init)))],
                             metadata: ["sparse.layers.1.weight": "csr:3,4"], to: path)
        _ = expectError(["bad.safetensors", "layers.1.weight", why]) { try Checkpoint.load(model, from: path) }
    }
    try Safetensors.save(tensors, metadata: ["sparse.layers.1.weight": "csr:4,3"], to: path)
    _ = expectError(["shape"]) { try Checkpoint.load(model, from: path) }
    #expect(snapshot(model) == before)
}
