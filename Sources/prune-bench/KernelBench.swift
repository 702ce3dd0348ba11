// The kernels of a movement-pruning step at the benchmark MLP's size (its two gated matrices,
// 265,200 weights), each timed hot (repeated on the same buffers) and cold (after 64 MB of
// other traffic, as inside a training step). `prune-bench --kernels [--threads N]`. The fused
// lines are the eight-lane pass; `fused_implied_two_avx512` is the sixteen-lane one training
// uses where the CPU has AVX-512.
import FileIO
import Engine
import Kernels
import Pruning
import NN

func kernelCosts() {
    let n = 784 * 300 + 300 * 100
    let rng = RNG(seed: 3)
    func buffer(_ f: () -> Float) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
        for i in 0..<n { p[i] = f() }
        return p
    }
    let w = buffer { Float(rng.uniform()) - 0.5 }, g = buffer { Float(rng.uniform()) - 0.5 }
    let m = buffer { rng.uniform() < 0.1 ? 1 : 0 }, s = buffer { Float(rng.uniform()) - 0.5 }
    let momentum = buffer { 0 }, out = buffer { 0 }, dw = buffer { 0 }, ds = buffer { 0 }
    let sFirst = buffer { 1e-3 * (Float(rng.uniform()) - 0.5) }, sSecond = buffer { 1e-3 * Float(rng.uniform()) }
    let flush = UnsafeMutablePointer<Float>.allocate(capacity: 16 << 20)
    flush.initialize(repeating: 1, count: 16 << 20)
    var sink: Float = 0
    func time(_ name: String, _ body: () -> Void) {
        // Momentum from zero: without gradient (pruned entries) it decays geometrically and would
        // reach subnormal numbers after ~800 calls, which are slow and not what a run sees.
        momentum.update(repeating: 0, count: n)
        for _ in 0..<20 { body() }
        var hot = 1e9, cold = 1e9
        for _ in 0..<7 {
            let t0 = monotonicSeconds()
            for _ in 0..<50 { body() }
            hot = min(hot, (monotonicSeconds() - t0) / 50)
        }
        for _ in 0..<20 {
            for j in stride(from: 0, to: 16 << 20, by: 16) { flush[j] += 1; sink += flush[j] }
            let t0 = monotonicSeconds()
            body()
            cold = min(cold, monotonicSeconds() - t0)
        }
        emit("kernels", name + "_hot_us", hot * 1e6, digits: 1)
        emit("kernels", name + "_cold_us", cold * 1e6, digits: 1)
    }
    // Unfused: the forward's W ⊙ M, the backward's two products, the updates, the selection.
    time("gate_forward") { gateForward(w, m, out, n) }
    time("gate_backward") { gateBackward(g, w, m, dw, ds, n) }
    time("sgd") { sgdStep(w, g, momentum, n, lr: 1e-9, momentum: 0.9, weightDecay: 0, nesterov: false) }
    time("adam") {
        adamStep(s, ds, sFirst, sSecond, n, lr: 1e-9, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false,
                 c1: 0.5, c2: 0.5)
    }
    var hint = TopKHint()
    topKMasks(values: [(UnsafePointer(s), n)], allowed: [nil], k: n / 10, masks: [m], hint: &hint)
    time("topk_hinted") { topKMasks(values: [(UnsafePointer(s), n)], allowed: [nil], k: n / 10, masks: [m], hint: &hint) }
    // Fused: everything after the backward in one pass (lr 1e-9 keeps the scores in place).
    let b = MovementBuffers(weight: w, gradient: g, weightFirst: momentum, weightSecond: nil, scores: s, scoreFirst: sFirst,
                            scoreSecond: sSecond, mask: m, masked: out, count: n)
    let scoreRule = UpdateRule.adam(lr: 1e-9, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, c1: 0.5, c2: 0.5)
    let rule = UpdateRule.sgd(lr: 1e-9, momentum: 0.9, weightDecay: 0, nesterov: false)
    time("fused_held_mask") { sink += Float(movementStep(b, rule: rule, scoreRule: scoreRule, current: .stored, window: nil, offset: 0).above) }
    if let window = hint.window(k: n / 10) {
        time("fused_selecting") { sink += Float(movementStep(b, rule: rule, scoreRule: scoreRule, current: .stored, window: window, offset: 0).above) }
        if let cut = hint.cut {
            time("fused_implied") { sink += Float(movementStep(b, rule: rule, scoreRule: scoreRule, current: .implied(cut: cut), window: window, offset: 0).above) }
            // While the schedule ramps, the threshold moves fast and the window is wide: here it
            // holds a tenth of the entries (the scores are uniform on ±0.5, the cut near 0.4).
            let wide = KeyWindow(lo: orderedKey(0.35), hi: orderedKey(0.45))
            time("fused_implied_wide") { sink += Float(movementStep(b, rule: rule, scoreRule: scoreRule, current: .implied(cut: cut), window: wide, offset: 0).above) }
            // The MLP's two matrices as one job, as a training step runs them.
            let big = 784 * 300
            let first = MovementBuffers(weight: w, gradient: g, weightFirst: momentum, weightSecond: nil, scores: s, scoreFirst: sFirst,
                                        scoreSecond: sSecond, mask: m, masked: out, count: big)
            let second = MovementBuffers(weight: w + big, gradient: g + big, weightFirst: momentum + big, weightSecond: nil,
                                         scores: s + big, scoreFirst: sFirst + big, scoreSecond: sSecond + big, mask: m + big,
                                         masked: out + big, count: n - big)
            let two = [MovementTask(first, rule: rule, scoreRule: scoreRule, current: .implied(cut: cut), window: window, offset: 0),
                       MovementTask(second, rule: rule, scoreRule: scoreRule, current: .implied(cut: cut), window: window, offset: 0)]
            time("fused_implied_two") { sink += Float(movementSteps(two)[0].above) }
            // The same on sixteen lanes, where the CPU has AVX-512 (what training runs there).
            if AVX512.enabled { time("fused_implied_two_avx512") { sink += Float(fusedMovementSteps(two)[0].above) } }
        }
    }
    if sink == .infinity { print(sink) }
}

/// The convolutions of the benchmark models at small batches, through the direct stride-1
/// kernel and through im2col + GEMM, interleaved, best of many: `prune-bench --conv-kernels`.
func convKernelCosts() throws {
    // (name, C, O, kernel, padding, image size)
    let layers = [("lenet_conv1", 1, 6, 5, 2, 28), ("lenet_conv2", 6, 16, 5, 0, 14), ("cnn_conv1", 1, 32, 3, 1, 28),
                  ("cnn_conv2", 32, 64, 3, 1, 14), ("resnet_3x3", 16, 16, 3, 1, 28), ("resnet_3x3_64", 64, 64, 3, 1, 7)]
    let saved = Tensor.conv2dShiftedMaxBatch
    defer { Tensor.conv2dShiftedMaxBatch = saved }
    for (name, c, o, k, p, size) in layers {
        let weight = try Tensor.randn([o, c, k, k], rng: RNG(seed: 1)), bias = try Tensor.randn([o], rng: RNG(seed: 2))
        for n in (arg("--conv-batches") ?? "1,2,4,8,16").split(separator: ",").compactMap({ Int($0) }).filter({ $0 >= 1 && $0 <= 512 }) {
            let x = try Tensor.randn([n, c, size, size], rng: RNG(seed: 3))
            var best = [Double.infinity, .infinity]
            for _ in 0..<30 {
                for (i, limit) in [Int.max, 0].enumerated() {
                    Tensor.conv2dShiftedMaxBatch = limit
                    let t0 = monotonicSeconds()
                    for _ in 0..<5 { _ = try Tensor.conv2d(x, weight: weight, bias: bias, padding: p) }
                    best[i] = min(best[i], (monotonicSeconds() - t0) / 5)
                }
            }
            emit("conv_\(name)_b\(n)", "shifted_us", best[0] * 1e6, digits: 1)
            emit("conv_\(name)_b\(n)", "im2col_us", best[1] * 1e6, digits: 1)
        }
    }
}
