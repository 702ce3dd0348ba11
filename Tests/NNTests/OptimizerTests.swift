// Optimizers against their update rules written out here (PyTorch semantics), learning-rate
// schedules, gradient clipping, freezing, parameter groups and glob matching.
import Foundation
import Testing
import TestSupport
@testable import NN
import Engine

/// The gradient fed at step `t` (0-based): fixed, varied values so that momentum and the Adam
/// moments see changing inputs, including sign changes.
private func gradient(_ t: Int) -> [Float] {
    [0.5 - 0.3 * Float(t), -1.25 + 0.1 * Float(t * t), 2.0 * (t % 2 == 0 ? 1 : -1), 0.01]
}

private let initial: [Float] = [1, -2, 0.5, 3]

/// Runs `steps` optimizer steps on a single 4-element parameter with the gradients above.
private func run(_ kind: OptimizerKind, lr: Float, weightDecay: Float = 0, steps: Int,
                 schedule: LRSchedule = .constant) throws -> (weights: [Float], optimizer: Optimizer) {
    let w = try Tensor(shape: [4], data: initial).requiringGrad()
    let opt = try Optimizer(kind, parameters: [("w", w)], lr: lr, weightDecay: weightDecay, schedule: schedule)
    for t in 0..<steps {
        w.grad = try Tensor(shape: [4], data: gradient(t))
        opt.step()
    }
    return (w.array, opt)
}

@Suite struct OptimizerTests {
    // MARK: SGD

    @Test func sgdPlain() throws {
        var w = initial.map(Double.init)
        for t in 0..<3 { w = zip(w, gradient(t)).map { $0 - 0.1 * Double($1) } }
        let (got, opt) = try run(.sgd(), lr: 0.1, steps: 3)
        assertClose(got, w.map(Float.init), atol: 1e-6, rtol: 1e-6, "sgd")
        #expect(opt.stepCount == 3)
        #expect(opt.state(of: "w").isEmpty, "plain SGD keeps no state")
    }

    @Test func sgdWeightDecay() throws {
        // g' = g + wd·w; w ← w − lr·g'.
        var w = initial.map(Double.init)
        for t in 0..<3 { w = zip(w, gradient(t)).map { $0 - 0.1 * (Double($1) + 0.05 * $0) } }
        let (got, _) = try run(.sgd(), lr: 0.1, weightDecay: 0.05, steps: 3)
        assertClose(got, w.map(Float.init), atol: 1e-6, rtol: 1e-6, "sgd + weight decay")
    }

    @Test(arguments: [false, true])
    func sgdMomentum(nesterov: Bool) throws {
        // PyTorch: g' = g + wd·w; v ← μ·v + g' (v₁ = g'); w ← w − lr·v, or w − lr·(g' + μ·v) with Nesterov.
        let mu = 0.9, lr = 0.05, wd = 0.01
        var w = initial.map(Double.init), v = [Double](repeating: 0, count: 4)
        for t in 0..<4 {
            let g = gradient(t)
            for i in 0..<4 {
                let gi = Double(g[i]) + wd * w[i]
                v[i] = mu * v[i] + gi
                w[i] -= lr * (nesterov ? gi + mu * v[i] : v[i])
            }
        }
        let (got, opt) = try run(.sgd(momentum: 0.9, nesterov: nesterov), lr: 0.05, weightDecay: 0.01, steps: 4)
        assertClose(got, w.map(Float.init), atol: 1e-6, rtol: 1e-5, nesterov ? "nesterov" : "momentum")
        let state = opt.state(of: "w")
        #expect(state.count == 1)
        assertClose(state.first?.array ?? [], v.map(Float.init), atol: 1e-6, rtol: 1e-5, "momentum buffer")
    }

    @Test func sgdMomentumFirstStepEqualsPlainStep() throws {
        // The buffer starts as the first gradient (not (1 − dampening)·g), so step one is plain SGD.
        let (a, _) = try run(.sgd(momentum: 0.9), lr: 0.1, steps: 1)
        let (b, _) = try run(.sgd(), lr: 0.1, steps: 1)
        #expect(a == b)
    }

    // MARK: Adam and AdamW

    private func adamReference(decoupled: Bool, lr: Double, wd: Double, steps: Int,
                               b1: Double = 0.9, b2: Double = 0.999, eps: Double = 1e-8) -> (w: [Double], m: [Double], v: [Double]) {
        var w = initial.map(Double.init)
        var m = [Double](repeating: 0, count: 4), v = [Double](repeating: 0, count: 4)
        for t in 1...steps {
            let g = gradient(t - 1)
            for i in 0..<4 {
                var gi = Double(g[i])
                if decoupled { w[i] -= lr * wd * w[i] } else { gi += wd * w[i] }   // AdamW vs Adam's L2
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                let mHat = m[i] / (1 - pow(b1, Double(t))), vHat = v[i] / (1 - pow(b2, Double(t)))
                w[i] -= lr * mHat / (vHat.squareRoot() + eps)
            }
        }
        return (w, m, v)
    }

    @Test(arguments: [Float(0), 0.1])
    func adam(weightDecay: Float) throws {
        let ref = adamReference(decoupled: false, lr: 0.01, wd: Double(weightDecay), steps: 5)
        let (got, opt) = try run(.adam(), lr: 0.01, weightDecay: weightDecay, steps: 5)
        assertClose(got, ref.w.map(Float.init), atol: 1e-6, rtol: 1e-5, "adam wd=\(weightDecay)")
        let state = opt.state(of: "w")
        #expect(state.count == 2)
        assertClose(state.first?.array ?? [], ref.m.map(Float.init), atol: 1e-7, rtol: 1e-5, "first moment")
        assertClose(state.last?.array ?? [], ref.v.map(Float.init), atol: 1e-7, rtol: 1e-5, "second moment")
    }

    @Test func adamFirstStepMovesEachWeightByAboutLR() throws {
        // With bias correction, m̂ = g and v̂ = g², so the first step is lr·sign(g).
        let (got, _) = try run(.adam(), lr: 0.01, steps: 1)
        let expected = zip(initial, gradient(0)).map { $0 - 0.01 * ($1 > 0 ? 1 : -1) }
        assertClose(got, expected, atol: 1e-5, rtol: 0, "first Adam step")
    }

    @Test func adamCustomBetas() throws {
        let ref = adamReference(decoupled: false, lr: 0.02, wd: 0, steps: 4, b1: 0.5, b2: 0.9, eps: 1e-3)
        let (got, _) = try run(.adam(beta1: 0.5, beta2: 0.9, eps: 1e-3), lr: 0.02, steps: 4)
        assertClose(got, ref.w.map(Float.init), atol: 1e-6, rtol: 1e-5, "adam custom betas")
    }

    @Test func adamW() throws {
        let ref = adamReference(decoupled: true, lr: 0.01, wd: 0.1, steps: 5)
        let (got, _) = try run(.adamw(), lr: 0.01, weightDecay: 0.1, steps: 5)
        assertClose(got, ref.w.map(Float.init), atol: 1e-6, rtol: 1e-5, "adamw")
        // Decoupled decay differs from L2 decay folded into the gradient.
        let (l2, _) = try run(.adam(), lr: 0.01, weightDecay: 0.1, steps: 5)
        #expect(l2 != got)
        // Without a gradient signal, AdamW still shrinks: a zero gradient leaves w·(1 − lr·wd).
        let w = try Tensor(shape: [2], data: [2, -4]).requiringGrad()
        let opt = try Optimizer(.adamw(), parameters: [("w", w)], lr: 0.1, weightDecay: 0.5)
        w.grad = try Tensor.zeros([2])
        opt.step()
        assertClose(w.array, [2 * 0.95, -4 * 0.95], atol: 1e-6, rtol: 1e-6, "pure decoupled decay")
    }

    // MARK: Behaviour around the update

    @Test func parametersWithoutGradientsAreSkipped() throws {
        let a = try Tensor(shape: [2], data: [1, 2]).requiringGrad()
        let b = try Tensor(shape: [2], data: [3, 4]).requiringGrad()
        let opt = try Optimizer(.adam(), parameters: [("a", a), ("b", b)], lr: 0.1)
        a.grad = try Tensor(shape: [2], data: [1, 1])
        opt.step()
        #expect(b.array == [3, 4])
        #expect(a.array != [1, 2])
        #expect(opt.state(of: "b").isEmpty)
        opt.zeroGrad()
        #expect(a.grad == nil)
        #expect(opt.state(of: "nope").isEmpty)
    }

    @Test func invalidSettingsThrow() throws {
        let w = try Tensor.zeros([1]).requiringGrad()
        expectError(["learning rate", "-1"]) { _ = try Optimizer(.sgd(), parameters: [("w", w)], lr: -1) }
        expectError(["learning rate"]) { _ = try Optimizer(.sgd(), parameters: [("w", w)], lr: .nan) }
        expectError(["learning rate"]) { _ = try Optimizer(.sgd(), parameters: [("w", w)], lr: .infinity) }
        expectError(["weight decay"]) { _ = try Optimizer(.sgd(), parameters: [("w", w)], lr: 0.1, weightDecay: -0.1) }
    }

    @Test func optimizerTrainsATinyModel() throws {
        // End to end: Linear regression of y = 2x − 1 with SGD through autodiff.
        let model = try Linear(1, 1, rng: RNG(seed: 1))
        let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.05)
        let x = try Tensor(shape: [4, 1], data: [-1, 0, 1, 2]), y = try Tensor(shape: [4, 1], data: [-3, -1, 1, 3])
        for _ in 0..<200 {
            opt.zeroGrad()
            try Loss.mse(model(x), y).backward()
            GradMode.noGrad { opt.step() }
        }
        assertClose([model.weight.item, model.bias!.item], [2, -1], atol: 1e-3, rtol: 0, "fitted line")
    }

    // MARK: Schedules

    @Test func scheduleFactors() throws {
        #expect(LRSchedule.constant.factor(at: 0) == 1)
        #expect(LRSchedule.constant.factor(at: 12345) == 1)

        let step = LRSchedule.step(every: 10, gamma: 0.5)
        for (s, f) in [(0, 1.0), (9, 1.0), (10, 0.5), (19, 0.5), (20, 0.25), (35, 0.125)] as [(Int, Float)] {
            assertClose([step.factor(at: s)], [f], atol: 1e-7, rtol: 1e-6, "step at \(s)")
        }
        #expect(LRSchedule.step(every: 0, gamma: 0.5).factor(at: 100) == 1, "every: 0 never decays")

        let cosine = LRSchedule.cosine(total: 100, minFactor: 0.1)
        // min + (1 − min)·½(1 + cos(π·t/T)), clamped at T.
        for s in [0, 25, 50, 75, 100, 150] {
            let t = min(Double(s) / 100, 1)
            let expected = Float(0.1 + 0.9 * 0.5 * (1 + cos(Double.pi * t)))
            assertClose([cosine.factor(at: s)], [expected], atol: 1e-6, rtol: 1e-6, "cosine at \(s)")
        }
        assertClose([cosine.factor(at: 0), cosine.factor(at: 50), cosine.factor(at: 100)], [1, 0.55, 0.1],
                    atol: 1e-6, rtol: 1e-6, "cosine landmarks")
        assertClose([LRSchedule.cosine(total: 10).factor(at: 10)], [0], atol: 1e-7, rtol: 0, "cosine to zero")

        // Warm-up: (s + 1)/W for s < W, then (T − s)/(T − W), never below 0.
        let warm = LRSchedule.warmupLinear(warmup: 4, total: 10)
        for (s, f) in [(0, 0.25), (1, 0.5), (3, 1.0), (4, 1.0), (7, 0.5), (9, 1.0 / 6), (10, 0), (15, 0)] as [(Int, Float)] {
            assertClose([warm.factor(at: s)], [f], atol: 1e-6, rtol: 1e-6, "warmupLinear at \(s)")
        }
        let noWarm = LRSchedule.warmupLinear(warmup: 0, total: 4)
        assertClose([noWarm.factor(at: 0), noWarm.factor(at: 2), noWarm.factor(at: 4)], [1, 0.5, 0], "no warm-up")
    }

    @Test func scheduleDrivesTheStepSize() throws {
        // Step schedule halving every 2 steps, gradient 1: moves of lr, lr, lr/2, lr/2, lr/4.
        let w = try Tensor.zeros([1]).requiringGrad()
        let opt = try Optimizer(.sgd(), parameters: [("w", w)], lr: 0.8, schedule: .step(every: 2, gamma: 0.5))
        var expected: Float = 0
        for s in 0..<5 {
            #expect(opt.currentLR == 0.8 * LRSchedule.step(every: 2, gamma: 0.5).factor(at: s))
            w.grad = try Tensor.ones([1])
            opt.step()
            expected -= [0.8, 0.8, 0.4, 0.4, 0.2][s]
            assertClose(w.array, [expected], atol: 1e-6, rtol: 1e-6, "after step \(s + 1)")
        }
    }

    // MARK: Clipping

    @Test func clipGradNormRescalesAndReturnsThePreClipNorm() throws {
        let a = try Tensor.zeros([2]).requiringGrad(), b = try Tensor.zeros([1]).requiringGrad(), c = try Tensor.zeros([3]).requiringGrad()
        a.grad = try Tensor(shape: [2], data: [3, 4])
        b.grad = try Tensor(shape: [1], data: [12])
        // c has no gradient and is ignored. Global norm √(9 + 16 + 144) = 13.
        let norm = clipGradNorm([a, b, c], maxNorm: 6.5)
        #expect(Swift.abs(norm - 13) < 1e-5)
        assertClose(a.grad!.array + b.grad!.array, [1.5, 2, 6], atol: 1e-6, rtol: 1e-6, "clipped")
        #expect(c.grad == nil)
        // Now at norm 6.5: a larger limit changes nothing, and the norm is still reported.
        let again = clipGradNorm([a, b, c], maxNorm: 100)
        #expect(Swift.abs(again - 6.5) < 1e-5)
        assertClose(a.grad!.array + b.grad!.array, [1.5, 2, 6], atol: 1e-6, rtol: 1e-6, "unchanged below the limit")
        #expect(clipGradNorm([c], maxNorm: 1) == 0)
    }

    // MARK: Freezing and groups

    @Test func freezeStopsUpdatesForMatchingParameters() throws {
        let model = try Models.mlp([4, 3, 2], rng: RNG(seed: 5))
        let frozen = freeze(model, matching: "layers.1.*")
        #expect(frozen == ["layers.1.weight", "layers.1.bias"])
        let before = snapshot(model)
        let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.5)
        for _ in 0..<2 {
            opt.zeroGrad()
            try Loss.crossEntropy(model(rand([5, 4], seed: 6)), [0, 1, 1, 0, 1]).backward()
            #expect(model.layers[1].namedParameters().allSatisfy { $0.1.grad == nil }, "frozen parameters get no gradient")
            GradMode.noGrad { opt.step() }
        }
        let after = snapshot(model)
        #expect(after["layers.1.weight"] == before["layers.1.weight"])
        #expect(after["layers.1.bias"] == before["layers.1.bias"])
        #expect(after["layers.3.weight"] != before["layers.3.weight"])
        #expect(after["layers.3.bias"] != before["layers.3.bias"])

        // Unfreezing lets them train again.
        #expect(freeze(model, matching: "layers.1.*", frozen: false) == frozen)
        #expect(model.namedParameters().allSatisfy { $0.1.requiresGrad })
        opt.zeroGrad()
        try Loss.crossEntropy(model(rand([5, 4], seed: 6)), [0, 1, 1, 0, 1]).backward()
        GradMode.noGrad { opt.step() }
        #expect(snapshot(model)["layers.1.weight"] != before["layers.1.weight"])
    }

    @Test func freezeByOtherPatterns() throws {
        let model = try Models.mlp([4, 3, 3, 2], rng: RNG(seed: 7))
        #expect(freeze(model, matching: "*.bias") == ["layers.1.bias", "layers.3.bias", "layers.5.bias"])
        #expect(freeze(model, matching: "nothing.*").isEmpty)
        #expect(model.namedParameters().filter { !$0.1.requiresGrad }.map(\.0) == ["layers.1.bias", "layers.3.bias", "layers.5.bias"])
    }

    @Test func paramGroupsOverrideLRAndWeightDecay() throws {
        let model = try Models.mlp([3, 2, 2], rng: RNG(seed: 8))
        // The first matching group wins: biases get no decay at the base lr; layers.1.weight gets lr 0.5.
        let opt = try Optimizer(.sgd(), parameters: model.namedParameters(), lr: 0.1, weightDecay: 0.01,
                                groups: [ParamGroup("*.bias", weightDecay: 0), ParamGroup("layers.1.*", lr: 0.5)])
        let before = snapshot(model)
        for (_, p) in model.namedParameters() { p.grad = try Tensor.ones(p.shape) }
        opt.step()
        let settings: [String: (lr: Float, wd: Float)] = [
            "layers.1.weight": (0.5, 0.01), "layers.1.bias": (0.1, 0), "layers.3.weight": (0.1, 0.01), "layers.3.bias": (0.1, 0),
        ]
        for (name, p) in model.namedParameters() {
            let s = settings[name]!
            let expected = before[name]!.map { $0 - s.lr * (1 + s.wd * $0) }
            assertClose(p.array, expected, atol: 1e-6, rtol: 1e-6, name)
        }
    }

    @Test func paramGroupWorksWithAdamW() throws {
        let a = try Tensor(shape: [1], data: [1]).requiringGrad(), b = try Tensor(shape: [1], data: [1]).requiringGrad()
        let opt = try Optimizer(.adamw(), parameters: [("enc.w", a), ("head.w", b)], lr: 0.1, weightDecay: 0.5,
                                groups: [ParamGroup("enc.*", lr: 0, weightDecay: 0)])
        a.grad = try Tensor.ones([1]); b.grad = try Tensor.ones([1])
        opt.step()
        #expect(a.array == [1], "lr 0 and no decay leave it alone")
        assertClose(b.array, [1 * (1 - 0.1 * 0.5) - 0.1], atol: 1e-5, rtol: 0, "default group")
    }

    @Test func globMatchCases() {
        let cases: [(String, String, Bool)] = [
            ("layers.1.weight", "layers.1.*", true),
            ("layers.1.weight", "*.weight", true),
            ("layers.1.bias", "*.weight", false),
            ("layers.10.weight", "layers.1.*", false),
            ("layers.10.weight", "layers.1?.weight", true),
            ("layers.1.weight", "layers.?.weight", true),
            ("layers.12.weight", "layers.?.weight", false),
            ("layers.3.conv1.weight", "layers.*.weight", true),  // * crosses dots
            ("blocks.0.attn.qkv.weight", "blocks.*.attn.*", true),
            ("blocks.0.attn.qkv.weight", "*attn*", true),
            ("head.weight", "head.weight", true),
            ("head.weight", "head.weigh", false),
            ("head.weight", "head.weightx", false),
            ("head.weight", "*", true),
            ("head.weight", "**", true),
            ("", "*", true),
            ("", "", true),
            ("a", "", false),
            ("", "?", false),
            ("abc", "a*c", true),
            ("abc", "a*b", false),
            ("aaa", "a*a*a", true),
            ("aa", "a*a*a", false),
            ("pos_embed", "pos_*", true),
            ("layers.1.weight", "LAYERS.1.weight", false),  // case-sensitive
        ]
        for (name, pattern, expected) in cases {
            #expect(globMatch(name, pattern) == expected, "globMatch(\"\(name)\", \"\(pattern)\")")
        }
    }

    // MARK: The vectorised Adam and gradient ownership

    /// Adam's kernel runs eight lanes at a time with a scalar tail; both must give, bit for bit,
    /// the update written out in Float in the order the kernel documents, with and without a
    /// pruning mask, for Adam and AdamW (1003 elements: vector lanes and a tail).
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func adamLanesMatchTheScalarUpdateExactly(decoupled: Bool, masked: Bool) throws {
        let n = 1003, lr: Float = 0.003, wd: Float = 0.01, b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8
        let rng = RNG(seed: 3)
        var w = (0..<n).map { _ in rng.uniform() - 0.5 }
        let mask: [Float] = (0..<n).map { _ in rng.uniform() < 0.3 ? 0 : 1 }
        let p = try Tensor(shape: [n], data: w).requiringGrad()
        let opt = try Optimizer(decoupled ? .adamw() : .adam(), parameters: [("p", p)], lr: lr, weightDecay: wd)
        if masked { opt.masks = [try Tensor(shape: [n], data: mask)] }
        var m = [Float](repeating: 0, count: n), v = [Float](repeating: 0, count: n)
        for t in 1...6 {
            let g = (0..<n).map { i in (rng.uniform() - 0.5) * (i % 7 == 0 ? 1e-6 : 1) }
            p.grad = try Tensor(shape: [n], data: g)
            opt.step()
            let c1 = 1 - Float(pow(Double(b1), Double(t))), c2 = 1 - Float(pow(Double(b2), Double(t)))
            let step = lr / c1, inv2 = 1 / c2.squareRoot()
            let l2: Float = decoupled ? 0 : wd, shrink: Float = decoupled ? 1 - lr * wd : 1
            for i in 0..<n {
                let k: Float = masked ? mask[i] : 1
                let gi = g[i] + l2 * w[i]
                var mi = b1 * m[i] + (1 - b1) * gi
                var vi = b2 * v[i] + (1 - b2) * gi * gi
                var wi = w[i] * shrink - step * mi / (vi.squareRoot() * inv2 + eps)
                if masked { mi = mi * k + 0; vi = vi * k + 0; wi = wi * k + 0 }
                m[i] = mi; v[i] = vi; w[i] = wi
            }
            #expect(p.array.map(\.bitPattern) == w.map(\.bitPattern), "weights at step \(t)")
            let state = opt.state(of: "p")
            #expect(state[0].array.map(\.bitPattern) == m.map(\.bitPattern), "first moments at step \(t)")
            #expect(state[1].array.map(\.bitPattern) == v.map(\.bitPattern), "second moments at step \(t)")
        }
    }

    /// Leaves keep the gradient a backward pass computed for them without copying it when
    /// nothing else holds it; wherever a gradient is shared (one tensor handed to two inputs,
    /// views of one buffer, the caller's seed) each leaf still gets its own, since clipping and
    /// optimizers change gradients in place.
    @Test func leafGradientsNeverAlias() throws {
        let a = try Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]).requiringGrad()
        let b = try Tensor(shape: [2, 3], data: [6, 5, 4, 3, 2, 1]).requiringGrad()
        let c = try Tensor(shape: [3, 2], data: [1, 1, 2, 2, 3, 3]).requiringGrad()
        // add hands its gradient to both inputs; the reshapes pass views of one buffer on.
        let y = try (a + b).reshaped([3, 2]) + c.reshaped([3, 2])
        let seed = try Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, 6])
        try y.backward(seed)
        let ga = try #require(a.grad), gb = try #require(b.grad), gc = try #require(c.grad)
        #expect(ga.array == [1, 2, 3, 4, 5, 6] && gb.array == ga.array && gc.array == ga.array)
        #expect(ga.storage !== gb.storage && ga.storage !== gc.storage && gb.storage !== gc.storage)
        #expect(ga.storage !== seed.storage && gc.storage !== seed.storage)
        clipGradNorm([a], maxNorm: 1e-3)
        #expect(gb.array == [1, 2, 3, 4, 5, 6] && seed.array == [1, 2, 3, 4, 5, 6])
        // A leaf's own backward gets a copy of the seed.
        let x = try Tensor(shape: [2], data: [1, 2]).requiringGrad()
        let s = try Tensor(shape: [2], data: [3, 4])
        try x.backward(s)
        #expect(x.grad?.storage !== s.storage && x.grad?.array == [3, 4])
        // A later backward adds into the gradient (a new tensor), leaving the first untouched.
        let w = try Tensor(shape: [2, 2], data: [1, 2, 3, 4]).requiringGrad()
        let input = try Tensor(shape: [1, 2], data: [1, 1])
        try input.matmul(w).sum().backward()
        let first = try #require(w.grad)
        #expect(first.array == [1, 1, 1, 1])
        try input.matmul(w).sum().backward()
        #expect(w.grad?.array == [2, 2, 2, 2] && first.array == [1, 1, 1, 1])
    }
}

