// WoodFisher and OBD through the pruner: the one-shot compensation against the dense reference
// inverse of the gradients the method used (independent and joint), exact targets and +0.0 in
// one-shot and gradual runs, a new Fisher at every gradual step that moves the target, OBD's
// ranking against magnitude's, missing or scarce data, frozen upstream masks, BatchNorm untouched.
import Testing
import Engine
import NN
import Kernels
@testable import Pruning

/// Two inputs on very different scales, x₀ = 10a and x₁ = 0.1b (a, b standard normal), labelled
/// by the sign of a + b: the gradient of a first-layer weight scales with its input.
final class ScaledInputs: BatchSource {
    let x: Tensor, y: [Int]
    init(count: Int = 64) throws {
        let rng = RNG(seed: 5)
        var x: [Float] = [], y: [Int] = []
        for _ in 0..<count { let a = rng.normal(), b = rng.normal(); x += [10 * a, 0.1 * b]; y.append(a + b > 0 ? 1 : 0) }
        self.x = try Tensor(shape: [count, 2], data: x); self.y = y
    }
    var count: Int { y.count }
    var sampleShape: [Int] { [2] }
    var classes: Int { 2 }
    func makeBatches(size: Int, shuffle: Bool, rng: RNG) -> AnySequence<(x: Tensor, y: [Int])> {
        AnySequence(stride(from: 0, to: count, by: size).map { s in
            let e = min(s + size, count)
            let batch = Tensor.empty(rows: e - s, of: x)
            batch.data.update(from: x.data + 2 * s, count: 2 * (e - s))
            return (x: batch, y: Array(y[s..<e]))
        })
    }
}

@Suite struct WoodFisherTests {
    func config(_ method: String, keep: Double, _ settings: [String: Double] = [:], schedule: PruneSchedule? = nil) throws -> PrunerConfig {
        var c = try PrunerConfig(named: method, keep: keep)
        for (k, v) in settings { try c.set(k, v) }
        if let schedule { c.schedule = schedule }
        return c
    }

    func train(_ net: Module, _ p: Pruner, data: BatchSource? = nil, epochs: Int = 2) throws {
        let data = try data ?? Clusters(dim: 20, perClass: 16)
        _ = try PrunedTraining.train(net, on: data, pruner: p, makeOptimizer: { _ in try sgd(net) }, config: quiet(epochs, batch: 8))
    }

    /// The expected weights of one matrix after OBS removes `removed` from `w`, computed from the
    /// dense Double inverse of each block of λI + (1/m)GᵀG, with each entry's error scale.
    func reference(_ w: [Float], removed: [Bool], grads: Tensor, m: Int, block: Int, lambda: Double,
                   joint: Bool) -> (weights: [Double], scale: [Double], rho: [Double]) {
        let d = w.count
        let blocks = referenceFisherInverse(gradients: grads.data, count: m, dimension: d, blockSize: block, lambda: lambda)
        var out = w.map(Double.init), scale = w.map { Double(abs($0)) }, rho = [Double](repeating: 0, count: d)
        for (k, inverse) in blocks.enumerated() {
            guard let f = inverse else { Issue.record("singular reference block"); continue }
            let start = k * block, n = min(block, d - start)
            for j in 0..<n { rho[start + j] = Double(w[start + j] * w[start + j]) / (2 * f[j * n + j]) }
            let s = (0..<n).filter { removed[start + $0] }
            guard !s.isEmpty else { continue }
            // δw = −F⁻¹[:, S]·c: c_q = w_q/[F⁻¹]_qq each alone, or c = (F⁻¹_SS)⁻¹ w_S jointly.
            var c = s.map { Double(w[start + $0]) / f[$0 * n + $0] }
            if joint, let k = referenceInverse(s.flatMap { r in s.map { f[r * n + $0] } }, n: s.count) {
                c = s.indices.map { a in s.indices.reduce(0) { $0 + k[a * s.count + $1] * Double(w[start + s[$1]]) } }
            }
            for j in 0..<n {
                for (a, q) in s.enumerated() { out[start + j] -= f[j * n + q] * c[a]; scale[start + j] += abs(f[j * n + q] * c[a]) }
            }
            for q in s { out[start + q] = 0 }
        }
        return (out, scale, rho)
    }

    @Test(arguments: [0, 1])
    func oneShotCompensationMatchesTheReference(joint: Int) throws {
        let net = try model([20, 24, 16, 4]), data = try Clusters(dim: 20, perClass: 16)
        let p = try Pruner(config("woodfisher", keep: 0.4, ["block": 8, "samples": 24, "fisher_batch": 2, "damping": 0.01, "joint": Double(joint)]))
        let wf = try #require(p.method as? WoodFisher)
        wf.keepsSamples = true
        try p.attach(to: net)
        let before = p.targets.map { $0.weight.array }
        try p.pruneOnce(net, data: data)
        let samples = try #require(wf.lastSamples)
        #expect(samples.count == 24 && wf.stepSeconds.count == 1)
        var moved = 0.0
        for (i, (t, g)) in zip(p.targets, p.gates).enumerated() {
            let removed = g.mask.array.map { $0 == 0 }
            let ref = reference(before[i], removed: removed, grads: samples.gradients[i], m: samples.count, block: 8, lambda: 0.01, joint: joint == 1)
            // The mask keeps the largest reference saliencies.
            let kept = ref.rho.indices.filter { !removed[$0] }.map { ref.rho[$0] }, gone = ref.rho.indices.filter { removed[$0] }.map { ref.rho[$0] }
            #expect((kept.min() ?? 0) >= (gone.max() ?? 0) * (1 - 1e-4), "\(t.name): a removed weight outranks a kept one")
            for j in 0..<t.weight.count {
                let actual = Double(t.weight.data[j])
                if removed[j] { if t.weight.data[j].bitPattern != 0 { Issue.record("\(t.name)[\(j)] = \(actual)") }; continue }
                let tolerance = (joint == 1 ? 1e-3 : 1e-4) * ref.scale[j] + 1e-6
                if abs(actual - ref.weights[j]) > tolerance { Issue.record("\(t.name)[\(j)]: \(actual) vs \(ref.weights[j])"); break }
                moved = max(moved, abs(ref.weights[j] - Double(before[i][j])))
            }
        }
        #expect(moved > 1e-2, "the kept weights were compensated (largest move \(moved))")
    }

    @Test(arguments: ["woodfisher", "obd"])
    func targetsAreExactAndRemovedWeightsArePositiveZero(_ method: String) throws {
        for schedule in [PruneSchedule(.oneshot), PruneSchedule(.cubic, every: 2)] {
            let net = try model([20, 32, 16, 4])
            let p = try Pruner(config(method, keep: 0.3, schedule: schedule))
            try train(net, p)
            for (t, g) in zip(p.targets, p.gates) {
                let expected = Int((0.3 * Double(t.weight.count)).rounded()), kept = g.mask.nonzeroCount
                #expect(abs(kept - expected) <= 1, "\(method) \(schedule.kind): \(t.name) keeps \(kept) of \(expected)")
                for j in 0..<t.weight.count where g.mask.data[j] == 0 && t.weight.data[j].bitPattern != 0 {
                    Issue.record("\(method) \(schedule.kind): \(t.name)[\(j)] = \(t.weight.data[j])"); break
                }
            }
            let seconds = (p.method as? WoodFisher)?.stepSeconds ?? (p.method as? OBD)?.stepSeconds ?? []
            #expect(!seconds.isEmpty && seconds.allSatisfy { $0 > 0 })
        }
    }

    @Test(arguments: ["woodfisher", "obd"])
    func theFisherIsEstimatedAgainAtEveryStepThatMovesTheTarget(_ method: String) throws {
        let net = try model([20, 32, 16, 4])
        let schedule = PruneSchedule(.cubic, warmup: 0.1, cooldown: 0.2, every: 3)
        let p = try Pruner(config(method, keep: 0.2, schedule: schedule))
        try train(net, p, epochs: 3)
        // The pruner's updates: keep(at: 0) at the start, then after every scheduled step; a step
        // estimates when its target differs from the last one applied and removes something.
        var last: Double?, expected = 0
        func apply(_ k: Double) { if k != last { if k < 1 { expected += 1 }; last = k } }
        apply(p.keep(at: 0))
        for t in 1...p.totalSteps where schedule.updates(after: t, total: p.totalSteps) { apply(p.keep(at: t)) }
        let seconds = (p.method as? WoodFisher)?.stepSeconds ?? (p.method as? OBD)?.stepSeconds ?? []
        #expect(p.totalSteps == 24 && expected >= 4)
        #expect(seconds.count == expected)
    }

    /// The gradients of column 0 are 100 times column 1's, its weights half as large: magnitude
    /// keeps column 1, OBD (w²·F_qq) column 0, and so does WoodFisher with blocks of one weight,
    /// which is OBD and leaves the kept weights as they were.
    @Test func obdRanksByTheFisherNotByMagnitude() throws {
        func scaledNet() throws -> Sequential {
            let net = try model([2, 4, 2])
            let params = Dictionary(uniqueKeysWithValues: net.namedParameters())
            let w = try #require(params["layers.1.weight"]), out = try #require(params["layers.3.weight"])
            for r in 0..<4 { w.data[2 * r] = r % 2 == 0 ? 0.5 : -0.5; w.data[2 * r + 1] = r < 2 ? 1 : -1 }
            // Every hidden unit reaches the two logits with opposite signs, so none is silent.
            for h in 0..<4 { out.data[h] = h % 2 == 0 ? 1 : -1; out.data[4 + h] = -out.data[h] }
            try #require(params["layers.1.bias"]).fill(0)
            return net
        }
        let data = try ScaledInputs()
        var masks: [String: [Float]] = [:], weights: [String: [Float]] = [:]
        let runs: [(String, [String: Double])] = [("magnitude", [:]), ("obd", [:]), ("woodfisher", ["block": 1])]
        for (method, settings) in runs {
            let net = try scaledNet(), p = try Pruner(config(method, keep: 0.5, settings))
            try p.pruneOnce(net, data: data)
            masks[method] = p.gates[0].mask.array; weights[method] = p.targets[0].weight.array
        }
        #expect(masks["magnitude"] == [0, 1, 0, 1, 0, 1, 0, 1])
        #expect(masks["obd"] == [1, 0, 1, 0, 1, 0, 1, 0])
        #expect(masks["woodfisher"] == masks["obd"])
        #expect(weights["woodfisher"] == [0.5, 0, -0.5, 0, 0.5, 0, -0.5, 0])
    }

    @Test(arguments: ["woodfisher", "obd"])
    func withoutDataItSaysSo(_ method: String) throws {
        let net = try model([20, 32, 16, 4])
        #expect(throws: PruningError.needsData(method: method)) { try Pruner(config(method, keep: 0.5)).pruneOnce(net, data: nil) }
        // A gradual pruner used as a plain hook has no training data to estimate from.
        let p = try Pruner(config(method, keep: 0.5, schedule: PruneSchedule(.cubic, every: 2)))
        #expect(throws: PruningError.needsData(method: method)) {
            _ = try fit(net, on: try Clusters(dim: 20, perClass: 8), optimizer: sgd(net), config: quiet(1, batch: 8), hooks: [p])
        }
    }

    @Test func frozenEntriesStayZero() throws {
        for (joint, schedule) in [(0, PruneSchedule(.oneshot)), (1, PruneSchedule(.oneshot)), (0, PruneSchedule(.cubic, every: 2)), (1, PruneSchedule(.cubic, every: 2))] {
            let net = try model([20, 32, 16, 4]), rng = RNG(seed: 3)
            var frozen: [String: [Float]] = [:]
            for name in Targets.defaultNames(net) {
                let w = try #require(net.namedParameters().first { $0.0 == name }?.1)
                let mask = try Tensor.ones(w.shape)
                for j in 0..<mask.count where rng.uniform() < 0.3 { mask.data[j] = 0 }
                let gate = WeightGate(mask: mask)
                gate.frozen = true
                try net.setGate(gate, for: name)
                frozen[name] = mask.array
            }
            let p = try Pruner(config("woodfisher", keep: 0.3, ["joint": Double(joint)], schedule: schedule))
            try train(net, p)
            for (t, g) in zip(p.targets, p.gates) {
                let upstream = try #require(frozen[t.name])
                for j in 0..<t.weight.count where upstream[j] == 0 && (g.mask.data[j] != 0 || t.weight.data[j].bitPattern != 0) {
                    Issue.record("joint \(joint) \(schedule.kind): \(t.name)[\(j)] revived to \(t.weight.data[j])"); break
                }
            }
        }
    }

    /// Fewer mini-batches than `samples`: it takes what there is. The model's mode, BatchNorm's
    /// running statistics and the gradients are as before.
    @Test func scarceDataAndTheModelsStateAreHandled() throws {
        let rng = RNG(seed: 0)
        let net = Sequential([Flatten(), try Linear(20, 16, rng: rng), try BatchNorm(16), Activation(.relu), try Linear(16, 4, rng: rng)])
        net.train()
        let data = try Clusters(dim: 20, perClass: 8)
        let buffers = net.namedBuffers().map { $0.1.array }
        for (batch, expected) in [(1.0, 32), (5, 7), (64, 1)] {
            let p = try Pruner(config("woodfisher", keep: 0.5, ["samples": 1000, "fisher_batch": batch]))
            let wf = try #require(p.method as? WoodFisher)
            wf.keepsSamples = true
            try p.pruneOnce(net, data: data)
            #expect(wf.lastSamples?.count == expected)
        }
        #expect(net.training)
        #expect(net.namedBuffers().map { $0.1.array } == buffers)
        #expect(net.namedParameters().allSatisfy { $0.1.grad == nil })
    }
}
