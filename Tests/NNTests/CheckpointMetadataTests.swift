// Checkpoint metadata read back from a file is checked like its tensors (issue 25): a requested
// sparsity that is not a number in [0, 1] is ignored with a warning naming it.
import Testing
import TestSupport
@testable import NN
import Engine

@Suite struct CheckpointMetadataTests {
    @Test func invalidRequestedSparsityIsIgnoredWithAWarning() throws {
        let dir = try TempDir("sparsity-meta")
        defer { dir.cleanup() }
        let path = dir.file("masked.safetensors")
        for (text, expected) in [("nan", nil), ("-5", nil), ("inf", nil), ("1.5", nil), ("lots", nil), ("0.25", 0.25 as Double?)] {
            let model = try Models.mlp([4, 3, 2], rng: RNG(seed: 1))
            try model.setGate(WeightGate(mask: try Tensor.ones([3, 4])), for: "layers.1.weight")
            try Checkpoint.save(model, to: path, metadata: ["sparsity.layers.1.weight": text])
            let fresh = try Models.mlp([4, 3, 2], rng: RNG(seed: 2))
            var warnings: [String] = []
            try Checkpoint.load(fresh, from: path, warn: { warnings.append($0) })
            let gate = try #require(fresh.gate(for: "layers.1.weight"))
            #expect(gate.requestedSparsity == expected, "\(text): \(String(describing: gate.requestedSparsity))")
            if expected == nil {
                #expect(warnings.count == 1 && warnings[0].contains("sparsity.layers.1.weight") && warnings[0].contains(text), "\(text): \(warnings)")
            } else {
                #expect(warnings.isEmpty, "\(warnings)")
            }
        }
    }
}
