// Fixed masks through training (SGD with momentum and weight decay, AdamW), saving and loading
// with masks and scores, Python interop, bake, copy_mask, and reports.
import Foundation
import Testing
import TestSupport
import Engine
import NN
@testable import Pruning

@Suite struct MaskPersistenceTests {
    /// Prunes to 80% by magnitude, freezes, trains 3 epochs with `optimizer`; every pruned
    /// weight and its optimizer state must be exactly 0 afterwards.
    func frozenMaskSurvives(_ makeOptimizer: (Module) throws -> Optimizer) throws {
        let data = try Clusters(perClass: 30)
        let net = try model()
        try Pruner(PrunerConfig(Magnitude.self, keep: 0.2)).pruneOnce(net, data: nil)
        try Masks.freeze(net)
        let before = Dictionary(uniqueKeysWithValues: net.namedParameters().map { ($0.0, $0.1.copy()) })
        let opt = try makeOptimizer(net)
        try fit(net, on: data, optimizer: opt, config: quiet(3, batch: 16))
        let params = Dictionary(uniqueKeysWithValues: net.namedParameters())
        for (name, gate) in net.namedGates() {
            let w = params[name]!
            var pruned = 0, moved = 0
            for i in 0..<w.count {
                if gate.mask.data[i] == 0 {
                    pruned += 1
                    if w.data[i].bitPattern != 0 { Issue.record("\(name)[\(i)] = \(w.data[i]) after training"); break }
                    for s in opt.state(of: name) where s.data[i] != 0 { Issue.record("\(name)[\(i)] optimizer state \(s.data[i])"); break }
                } else if w.data[i] != before[name]!.data[i] {
                    moved += 1
                }
            }
            #expect(pruned == Int((0.8 * Double(w.count)).rounded()))
            #expect(moved > 0, "\(name): the kept weights trained")
        }
    }

    @Test func frozenMaskSurvivesSGDWithMomentumAndWeightDecay() throws {
        try frozenMaskSurvives { net in try Optimizer(.sgd(momentum: 0.9, nesterov: false), parameters: net.namedParameters(), lr: 0.05, weightDecay: 5e-4) }
        try frozenMaskSurvives { net in try Optimizer(.sgd(momentum: 0.9, nesterov: true), parameters: net.namedParameters(), lr: 0.05, weightDecay: 5e-4) }
    }

    @Test func frozenMaskSurvivesAdamW() throws {
        try frozenMaskSurvives { net in try Optimizer(.adamw(), parameters: net.namedParameters(), lr: 1e-2, weightDecay: 0.05) }
        try frozenMaskSurvives { net in try Optimizer(.adam(), parameters: net.namedParameters(), lr: 1e-2, weightDecay: 1e-3) }
    }

    @Test func savedPrunedModelLoadsWithMasksAndSameAccuracy() throws {
        let data = try Clusters(perClass: 30)
        let net = try model()
        var config = PrunerConfig(Movement.self, keep: 0.3)
        config.schedule = PruneSchedule(.cubic, every: 2)
        try fit(net, on: data, optimizer: try sgd(net), config: quiet(2, batch: 16), hooks: [try Pruner(config)])
        let acc = try evaluate(net, on: data)
        let dir = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/pruned.safetensors"
        try Checkpoint.save(net, to: path)
        let fresh = try model(seed: 7)
        try Checkpoint.load(fresh, from: path)
        let acc2 = try evaluate(fresh, on: data)
        #expect(acc.accuracy == acc2.accuracy && acc.loss == acc2.loss)
        let a = Dictionary(uniqueKeysWithValues: net.namedGates()), b = Dictionary(uniqueKeysWithValues: fresh.namedGates())
        #expect(Set(a.keys) == Set(b.keys) && a.count == 2)
        for (name, g) in a {
            #expect(b[name]?.mask.array == g.mask.array)
            #expect(b[name]?.scores?.array == g.scores?.array)
            #expect(b[name]?.requestedSparsity == g.requestedSparsity)
        }
        // Python's safetensors sees the masks beside the weights.
        let script = """
            import sys
            from safetensors.numpy import load_file
            t = load_file(sys.argv[1])
            m = t["layers.1.weight.mask"]
            print(sorted(k for k in t if k.endswith(".mask")), m.shape, int(m.sum()), "layers.1.weight.scores" in t)
            """
        let out = try python(script, [path])
        let kept = a["layers.1.weight"]!.mask.nonzeroCount
        #expect(out == "['layers.1.weight.mask', 'layers.3.weight.mask'] (64, 20) \(kept) True\n")
    }

    @Test func loadRejectsMasksOfTheWrongShapeOrValues() throws {
        let dir = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let net = try model()
        var tensors = (net.namedParameters() + net.namedBuffers()).map { (name: $0.0, tensor: $0.1) }
        tensors.append((name: "layers.1.weight.mask", tensor: try Tensor.ones([2, 2])))
        try Safetensors.save(tensors, metadata: [:], to: dir + "/bad.safetensors")
        #expect(errorMessage { try Checkpoint.load(net, from: dir + "/bad.safetensors") }?.contains("'layers.1.weight.mask' has shape [2, 2]") == true)
        tensors[tensors.count - 1] = (name: "layers.1.weight.mask", tensor: try Tensor(shape: [64, 20], repeating: 0.5))
        try Safetensors.save(tensors, metadata: [:], to: dir + "/bad2.safetensors")
        #expect(errorMessage { try Checkpoint.load(net, from: dir + "/bad2.safetensors") }?.contains("only 0 and 1") == true)
        #expect(net.namedGates().isEmpty)
    }

    @Test func bakeKeepsZerosAndDropsMasks() throws {
        let net = try model()
        try Pruner(PrunerConfig(Magnitude.self, keep: 0.4)).pruneOnce(net, data: nil)
        let s = Masks.sparsity(net)
        #expect(try Masks.bake(net) == 2)
        #expect(net.namedGates().isEmpty)
        #expect(Masks.sparsity(net) == s)
    }

    @Test func copyMaskCarriesAnUpstreamMaskDownstream() throws {
        let up = try model(), down = try model([20, 64, 32, 7], seed: 3)
        try Pruner(PrunerConfig(Magnitude.self, keep: 0.1)).pruneOnce(up, data: nil)
        #expect(try Masks.copy(from: up, to: down) == 2)
        for (name, g) in up.namedGates() {
            let d = down.gate(for: name)!
            #expect(d.mask.array == g.mask.array && d.frozen)
            let w = down.namedParameters().first { $0.0 == name }!.1
            #expect(zeros(w) >= g.mask.count - g.mask.nonzeroCount)
        }
        let other = try model([20, 50, 32, 4])
        #expect(errorMessage { try Masks.copy(from: up, to: other) }?.contains("'layers.1.weight' is [64, 20] in the source but [50, 20] in the target") == true)
        #expect(errorMessage { try Masks.copy(from: other, to: up) }?.contains("no masks") == true)
    }

    @Test func reportShowsRequestedBesideAchievedAndSparseFLOPs() throws {
        let net = try model()
        try Pruner(PrunerConfig(Magnitude.self, keep: 0.25)).pruneOnce(net, data: nil)
        let r = Masks.report(net)
        #expect(r.layers.map(\.name) == ["layers.1.weight", "layers.3.weight"])
        let l0 = r.layers[0]
        #expect(l0.shape == [64, 20] && l0.parameters == 1280 && l0.nonzeros == 320)
        #expect(l0.requested == 0.75 && l0.achieved == 0.75)
        #expect(l0.denseFLOPs == 2 * 1280 && l0.sparseFLOPs == 2 * 320)
        #expect(r.parameters == 1280 + 2048 && r.nonzeros == 320 + 512)
        // Convolutions know their FLOPs once they have run: 2 · C·k²·O · H·W.
        let cnn = try Models.cnn(classes: 10, rng: RNG(seed: 0))
        #expect(Masks.report(cnn).layers[0].denseFLOPs == nil)
        _ = try GradMode.noGrad { try cnn(try Tensor.zeros([1, 1, 28, 28])) }
        #expect(Masks.report(cnn).layers[0].denseFLOPs == 2 * 32 * 9 * 28 * 28)
    }

    func python(_ script: String, _ arguments: [String]) throws -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            Issue.record("python3 with safetensors failed (status \(process.terminationStatus)); scripts/test installs it with pip")
            return nil
        }
        return String(decoding: data, as: UTF8.self)
    }
}
