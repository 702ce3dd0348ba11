// Diff pruning: the gate math by hand, a diff that is exactly zero outside its kept entries,
// apply_diff rebuilding the task model bit for bit from a saved diff, and the saved size.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport
import Engine
import NN
@testable import Pruning

struct DiffPruningTests {
    @Test func gateMathByHand() throws {
        // z = min(1, max(0, 3σ(α) − 1.5)) at evaluation: α = 0 → 0, α = 1 → 0.693176, α = 5 → 1.
        let base = try Tensor(shape: [3], data: [1, 2, 3])
        let transform = DiffGate(pretrained: base, l: -1.5, r: 1.5, groupLogit: nil, rng: RNG(seed: 0))
        let gate = WeightGate(mask: Tensor(like: base, repeating: 1), scores: try Tensor(shape: [3], data: [0, 1, 5]), method: "diff",
                              transform: transform)
        let w = try Tensor(shape: [3], data: [2, 2, 2])
        let out = try gate.apply(w, training: false)
        let z1 = 3 / (1 + exp(-1.0)) - 1.5
        #expect(abs(Double(out.data[0]) - 1) < 1e-6)
        #expect(abs(Double(out.data[1]) - (2 + 2 * z1)) < 1e-5)
        #expect(abs(Double(out.data[2]) - 5) < 1e-6)
        // The structured variant multiplies by the tensor's own gate: α_g = 1 → 0.693176.
        transform.groupLogit = try Tensor(shape: [1], data: [1])
        let grouped = try gate.apply(w, training: false)
        #expect(abs(Double(grouped.data[2]) - (3 + 2 * z1)) < 1e-5)
        // The penalty: λ·Σ σ(α − log(−l/r)) = λ·(σ(0) + σ(1) + σ(5)) (log 1 = 0), times σ(α_g).
        var settings = DiffSettings()
        settings.lambda = 0.5
        let penalty = DiffPenalty(gates: [(gate, transform)], settings: settings)
        let loss = try penalty.loss(Tensor(0), x: Tensor(0), logits: Tensor(0), labels: [], step: 1)
        let sig = { (a: Double) in 1 / (1 + exp(-a)) }
        #expect(abs(Double(loss.item) - 0.5 * (sig(0) + sig(1) + sig(5)) * sig(1)) < 1e-5)
        // Training draws noise: the gates differ from the evaluation value somewhere.
        transform.groupLogit = nil
        let noisy = try gate.apply(w, training: true)
        #expect((0..<3).contains { noisy.data[$0] != out.data[$0] })
    }

    @Test func projectionKeepsTheLargestEntries() {
        let a = Tensor(vector: [0.1, -3, 0]), b = Tensor(vector: [2, -0.5, 1])
        let m = DiffPruning.topMagnitude([a, b], k: 3)
        #expect(m[0].array == [0, 1, 0] && m[1].array == [1, 0, 1])
        // Never more than the non-zeros.
        #expect(DiffPruning.topMagnitude([a], k: 3)[0].array == [1, 1, 0])
    }

    /// An upstream MLP trained on one task, and diff pruning of it on another.
    func diffPruned(keep: Double, structured: Bool = false) throws -> (up: Module, model: Module, diff: ModelDiff) {
        let up = try model([20, 32, 16, 4], seed: 2)
        try fit(up, on: try Clusters(classes: 4, seed: 1), optimizer: try sgd(up), config: quiet(2))
        let task = try Clusters(classes: 3, perClass: 40, seed: 5)
        var config = TransferConfig(mode: .diff)
        config.diff.keep = keep
        config.diff.structured = structured
        config.diff.finetuneEpochs = 2
        let r = try Transfer.run(up, to: task, config: config,
                                 makeOptimizer: { m, _ in try Optimizer(.adam(), parameters: m.namedParameters(), lr: 1e-2) },
                                 train: quiet(3))
        guard let diff = r.diff else { throw EngineError("no diff") }
        return (up, r.model, diff)
    }

    @Test(arguments: [false, true])
    func diffIsZeroOutsideItsKeptEntries(structured: Bool) throws {
        let (up, task, diff) = try diffPruned(keep: 0.05, structured: structured)
        let shared = up.namedParameters().filter { !$0.0.hasPrefix("layers.5.") }    // layers.5 is the head
        let n = shared.reduce(0) { $0 + $1.1.count }
        #expect(diff.parameters == n)
        #expect(diff.nonzeros == Int((0.05 * Double(n)).rounded()))
        let params = Dictionary(task.namedParameters(), uniquingKeysWith: { a, _ in a })
        let entries = Dictionary(diff.entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for (name, p) in shared {
            guard let q = params[name] else { Issue.record("missing \(name)"); continue }
            let kept = Dictionary(zip(entries[name]?.indices.map(Int.init) ?? [], entries[name]?.values ?? []), uniquingKeysWith: { a, _ in a })
            for i in 0..<p.count {
                if let v = kept[i] {
                    #expect(v != 0 && q.data[i] == p.data[i] + v)
                } else {
                    #expect(q.data[i].bitPattern == p.data[i].bitPattern)
                }
            }
        }
        // The new head is the task's: three classes.
        #expect(params["layers.5.weight"]?.shape == [3, 16])
    }

    @Test func applyDiffRebuildsTheModelBitForBitFromTheFile() throws {
        let (up, task, diff) = try diffPruned(keep: 0.02)
        let path = NSTemporaryDirectory() + "diff-\(getpid()).safetensors"
        defer { unlink(path) }
        let bytes = try diff.save(to: path)
        let loaded = try ModelDiff.load(path)
        #expect(loaded.entries == diff.entries.filter { !$0.values.isEmpty })
        let rebuilt = try loaded.apply(to: up)
        let a = task.namedParameters() + task.namedBuffers(), b = rebuilt.namedParameters() + rebuilt.namedBuffers()
        #expect(a.map(\.0) == b.map(\.0))
        for ((name, x), (_, y)) in zip(a, b) {
            #expect(x.shape == y.shape, "\(name)")
            #expect((0..<x.count).allSatisfy { x.data[$0].bitPattern == y.data[$0].bitPattern }, "\(name)")
        }
        // The size: each non-zero costs a value and a column index (4 + 4 bytes); besides them
        // only the row offsets, the head stored whole and the header.
        let rowOffsets = diff.entries.filter { !$0.values.isEmpty }.reduce(0) { $0 + 4 * (($1.shape.count >= 2 ? $1.shape[0] : 1) + 1) }
        let payload = diff.nonzeros * 8 + diff.replacedCount * 4
        let header = bytes - payload - rowOffsets
        #expect(header > 0 && header < 2048)
        // The base is checked.
        let other = try model([20, 32, 16, 4], seed: 3)
        #expect(errorMessage { _ = try loaded.apply(to: other) }?.contains("another base") == true)
    }
}
