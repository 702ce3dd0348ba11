// Transfer: linear probes leave the body alone, full fine-tuning keeps an upstream mask
// exactly, fine-tuning while pruning reaches its target, the upstream model never changes.
import Testing
import TestSupport
import Engine
import NN
@testable import Pruning

@Suite struct TransferTests {
    func upstream() throws -> Sequential {
        let net = try model([20, 64, 32, 4])
        try fit(net, on: try Clusters(classes: 4, seed: 0), optimizer: sgd(net), config: quiet(3))
        return net
    }

    func adam(_ m: Module, _ steps: Int) throws -> Optimizer { try Optimizer(.adam(), parameters: m.namedParameters(), lr: 0.01) }

    func snapshot(_ m: Module) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: (m.namedParameters() + m.namedBuffers()).map { ($0.0, $0.1.array) })
    }

    @Test func linearProbeTrainsOnlyTheNewHead() throws {
        let up = try upstream()
        let before = snapshot(up)
        let task = try Clusters(classes: 3, seed: 5)
        let (adapted, history) = try Transfer.adapt(up, to: task, config: TransferConfig(mode: .linear),
                                                    makeOptimizer: adam, train: quiet(5))
        #expect(history.epochs.count == 5)
        #expect(snapshot(up) == before, "the upstream model changed")
        let after = snapshot(adapted)
        for name in ["layers.1.weight", "layers.1.bias", "layers.3.weight", "layers.3.bias"] {
            #expect(after[name] == before[name], "\(name) changed under a linear probe")
        }
        let head = try Transfer.head(of: adapted).layer
        #expect(head.outFeatures == 3 && head.inFeatures == 32)
        #expect(try evaluate(adapted, on: task).accuracy > 0.9)
    }

    @Test func cachedFeaturesMatchTheBody() throws {
        let up = try upstream()
        let body = Sequential(Array(up.layers.prefix(5)))
        let task = try Clusters(classes: 3, perClass: 7, seed: 5)
        let cached = try FeatureSet.extract(body, from: task)
        #expect(cached.count == 21 && cached.sampleShape == [32])
        var row = 0
        for (x, _) in task.makeBatches(size: 4, shuffle: false, rng: RNG(seed: 0)) {
            let f = try GradMode.noGrad { try body(x) }
            // BLAS may block a 500-row batch differently from a 4-row one: equal to rounding.
            for i in 0..<f.count {
                let a = cached.features.data[row * 32 + i], b = f.data[i]
                #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "feature \(i) of row \(row): \(a) vs \(b)")
            }
            row += x.shape[0]
        }
    }

    @Test func fullFineTuneKeepsTheUpstreamMask() throws {
        let up = try upstream()
        var c = PrunerConfig(Magnitude.self, keep: 0.1)
        c.schedule = PruneSchedule(.oneshot)
        try Pruner(c).pruneOnce(up, data: nil)
        _ = try Masks.freeze(up)
        let masks = up.namedGates().map { ($0.0, $0.1.mask.array) }
        let before = snapshot(up)
        let (adapted, _) = try Transfer.adapt(up, to: try Clusters(classes: 3, seed: 5), config: TransferConfig(mode: .full),
                                              makeOptimizer: adam, train: quiet(3))
        #expect(snapshot(up) == before)
        for (name, mask) in masks {
            let gate = try #require(adapted.gate(for: name))
            #expect(gate.mask.array == mask, "mask of \(name) changed")
            let w = try #require(adapted.namedParameters().first { $0.0 == name }).1
            #expect(zip(w.array, mask).allSatisfy { $1 == 1 || $0.bitPattern == 0 }, "a pruned weight of \(name) is not +0.0")
            #expect(w.array != before[name], "\(name) did not train")
        }
    }

    @Test func keepMaskFalseLetsWeightsRegrow() throws {
        let up = try upstream()
        var c = PrunerConfig(Magnitude.self, keep: 0.2)
        c.schedule = PruneSchedule(.oneshot)
        try Pruner(c).pruneOnce(up, data: nil)
        var t = TransferConfig(mode: .full)
        t.keepMask = false
        let (adapted, _) = try Transfer.adapt(up, to: try Clusters(classes: 3, seed: 5), config: t, makeOptimizer: adam, train: quiet(2))
        #expect(adapted.namedGates().isEmpty)
        #expect(Masks.sparsity(adapted) < 0.5)
        #expect(abs(Masks.sparsity(up) - 0.8) < 1e-3)
    }

    @Test func fineTuningWhilePruningReachesItsTarget() throws {
        let up = try upstream()
        var c = PrunerConfig(Movement.self, keep: 0.05)
        c.seed = 3
        let (adapted, _) = try Transfer.adapt(up, to: try Clusters(classes: 3, seed: 5), config: TransferConfig(mode: .full),
                                              pruner: try Pruner(c), makeOptimizer: adam, train: quiet(4))
        for (name, gate) in adapted.namedGates() {
            let kept = gate.mask.array.filter { $0 == 1 }.count
            #expect(kept == Int((0.05 * Double(gate.mask.count)).rounded()), "\(name) keeps \(kept)")
        }
        #expect(up.namedGates().isEmpty, "the upstream model got masks")
    }

    @Test func wrongInputsSayWhy() throws {
        let up = try upstream()
        let msg = errorMessage { _ = try Transfer.adapt(up, to: try Clusters(classes: 3, dim: 12, seed: 5), config: TransferConfig(),
                                                        makeOptimizer: self.adam, train: quiet(1)) }
        #expect(msg?.contains("does not take the task's samples of shape [12]") == true, "\(msg ?? "no error")")
        var keep = TransferConfig()
        keep.newHead = false
        let heads = errorMessage { _ = try Transfer.adapt(up, to: try Clusters(classes: 3, seed: 5), config: keep,
                                                          makeOptimizer: self.adam, train: quiet(1)) }
        #expect(heads?.contains("4 classes, but it has 3") == true, "\(heads ?? "no error")")
        let probe = errorMessage { _ = try Transfer.adapt(up, to: try Clusters(classes: 3, seed: 5), config: TransferConfig(mode: .linear),
                                                          pruner: try Pruner(PrunerConfig(Magnitude.self, keep: 0.5)),
                                                          makeOptimizer: self.adam, train: quiet(1)) }
        #expect(probe?.contains("a linear probe keeps the body frozen") == true, "\(probe ?? "no error")")
        let conv = try Models.vit(classes: 4, rng: RNG(seed: 0))
        let vit = errorMessage { _ = try Transfer.adapt(conv, to: try Clusters(classes: 3, seed: 5), config: TransferConfig(),
                                                        makeOptimizer: self.adam, train: quiet(1)) }
        #expect(vit?.contains("not supported yet") == true)
    }
}

@Suite struct DistillationWithPenaltyTests {
    /// With α = 1 the task loss vanishes, but a penalty added before the mix would vanish too:
    /// soft movement must still prune under pure distillation.
    @Test func penaltyIsNotScaledByDistillation() throws {
        let task = try Clusters(classes: 3, seed: 5)
        let teacher = try model([20, 64, 32, 3], seed: 1)
        try fit(teacher, on: task, optimizer: sgd(teacher), config: quiet(2))
        let student = try model([20, 64, 32, 3], seed: 2)
        var c = PrunerConfig(SoftMovement.self, keep: nil)
        try c.set("lambda", 2000)
        try c.set("score_lr", 0.5)
        let distil = try Distillation(teacher: teacher, temperature: 2, alpha: 1)
        _ = try PrunedTraining.train(student, on: task, pruner: try Pruner(c),
                                     makeOptimizer: { _ in try Optimizer(.adam(), parameters: student.namedParameters(), lr: 1e-3) },
                                     config: quiet(10), hooks: [distil])
        #expect(Masks.sparsity(student) > 0.5, "soft movement pruned only \(Masks.sparsity(student)) under pure distillation")
    }
}

@Suite struct CloneTests {
    /// A copy has the same outputs and is independent of the original, for every ready model.
    @Test func copiesEveryReadyModel() throws {
        let rng = RNG(seed: 3)
        let models: [Module] = [try Models.mlp([784, 32, 10], rng: rng), try Models.cnn(rng: rng),
                                try Models.resnet(widths: [4, 8, 8], rng: rng), try Models.vit(dim: 16, depth: 1, heads: 2, rng: rng)]
        let x = try Tensor.uniform([2, 1, 28, 28], low: 0, high: 1, rng: rng)
        for m in models {
            m.eval()
            let c = try m.clone()
            let a = try GradMode.noGrad { try m(x) }, b = try GradMode.noGrad { try c(x) }
            #expect(a.array == b.array, "\(m.typeName)")
            c.parameters[0].fill(0)
            #expect(m.parameters[0].array.contains { $0 != 0 }, "\(m.typeName) shares storage with its copy")
        }
    }
}
