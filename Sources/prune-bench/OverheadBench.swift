// Fixed costs per operation at batch 1 (`--overhead`): what a small layer pays before any
// arithmetic, in nanoseconds per call, best of many rounds. These bound the latency of small
// models at batch 1 (LeNet-5, the MLP), where the arithmetic itself takes a few microseconds.
import Engine
import FileIO
import NN
import Kernels
import KernelsAVX512

func overheadCosts() throws {
    let only = arg("--only"), rounds = arg("--rounds").flatMap { Int($0) } ?? 200   // more rounds: for a profiler
    // Best of `rounds` rounds of `calls` calls (fewer of both for steps that take milliseconds).
    func time(_ name: String, calls: Int = 100, rounds: Int = rounds, _ body: () throws -> Void) rethrows {
        if let only, only != name { return }
        var best = Double.infinity
        for _ in 0..<rounds {
            let t0 = monotonicSeconds()
            for _ in 0..<calls { try body() }
            best = min(best, (monotonicSeconds() - t0) / Double(calls))
        }
        emit("overhead", name + "_ns", best * 1e9, digits: 1)
    }
    let rng = RNG(seed: 0)
    let x84 = try Tensor.randn([1, 84], rng: rng), x400 = try Tensor.randn([1, 400], rng: rng)
    let small = try Linear(84, 10, rng: rng), wide = try Linear(400, 120, rng: rng)
    small.eval(); wide.eval()
    let img = try Tensor.randn([1, 6, 28, 28], rng: rng)
    let flatten = Flatten()
    try GradMode.noGrad {
        try time("empty_1x10") { _ = try Tensor.empty([1, 10]) }
        try time("empty_like") { _ = Tensor.empty(like: x84) }
        try time("relu_1x84") { _ = x84.relu() }
        try time("flatten") { _ = try flatten(img) }
        try time("tensor_linear_84x10") { _ = try Tensor.linear(x84, weight: small.weight, bias: small.bias) }
        try time("layer_linear_84x10") { _ = try small(x84) }
        try time("layer_linear_400x120") { _ = try wide(x400) }
        // A Linear 784→300 with a fixed 95% mask at batch 1 inside a sparse scope: the layer call
        // against its kernel called directly (the difference is the layer's dispatch).
        let masked = try Linear(784, 300, rng: rng)
        let mask = try Tensor.zeros([300, 784])
        for i in 0..<mask.count where rng.uniform() < 0.05 { mask.data[i] = 1 }
        try masked.setGate(WeightGate(mask: mask), for: "weight")
        masked.eval()
        let x784 = try Tensor.uniform([1, 784], low: 0, high: 1, rng: rng)
        try SparseInference.with(masked, mode: .sparse) {
            _ = try masked(x784)
            try time("layer_sparse_linear_784x300_95") { _ = try masked(x784) }
            if let m = masked.sparse.matrix {
                let y = try Tensor.empty([1, 300])
                time("kernel_sparse_linear_784x300_95") {
                    sparseLinear(m, x784.data, batch: 1, bias: masked.bias?.data, y.data, kernel: SparseKernels.rows)
                }
            }
        }
        let image = try Tensor.randn([1, 1, 28, 28], rng: rng)
        for o in 1...8 {
            let conv = try Conv2d(1, o, kernel: 5, padding: 2, rng: rng)
            conv.eval()
            try time("conv1_5x5_out\(o)") { _ = try conv(image) }
        }
        let pooled = try Tensor.randn([1, 6, 14, 14], rng: rng)
        for o in [8, 12, 16] {
            let conv = try Conv2d(6, o, kernel: 5, rng: rng)
            conv.eval()
            try time("conv2_6to\(o)") { _ = try conv(pooled) }
        }
        // LeNet-5 (dense, evaluation) at batch 1: a whole pass, whose fixed costs (tensors,
        // dispatch, each convolution's scratch) weigh against a compacted model's smaller products.
        let lenet = try Models.lenet5(rng: rng)
        lenet.eval()
        _ = try lenet(image)
        try time("lenet5_pass") { _ = try lenet(image) }
        // The benchmark MLP 784-300-100-10 with random 95% masks on its hidden layers (the
        // classifier dense), at batch 1 in a sparse scope: the whole pass against its products.
        let mlp = try Models.mlp([784, 300, 100, 10], rng: rng)
        let hidden = mlp.layers.compactMap { $0 as? Linear }
        try randomMasks(mlp, density: 0.05, rng: rng)
        mlp.eval()
        try SparseInference.with(mlp, mode: .sparse) {
            _ = try mlp(x784)
            try time("mlp_95_pass") { _ = try mlp(x784) }
            let x128 = try Tensor.uniform([128, 784], low: 0, high: 1, rng: rng)
            _ = try mlp(x128)
            try time("mlp_95_pass_128") { _ = try mlp(x128) }
        }
        // The small CNN with random 90% masks on every layer but the classifier, at batch 128.
        let cnn = try Models.cnn(rng: rng)
        try randomMasks(cnn, density: 0.1, rng: rng)
        cnn.eval()
        let images = try Tensor.uniform([128, 1, 28, 28], low: 0, high: 1, rng: rng)
        try SparseInference.with(cnn, mode: .sparse) {
            _ = try cnn(images)
            try time("cnn_90_pass_128") { _ = try cnn(images) }
            let h1 = try Tensor.empty([1, 300]), h2 = try Tensor.empty([1, 100]), out = try Tensor.empty([1, 10])
            if let l1 = hidden[0].sparse.laneMatrix(), let l2 = hidden[1].sparse.laneMatrix() {
                time("mlp_95_products") {
                    sparseLaneProduct(l1, x784.data, bias: hidden[0].bias?.data, h1.data)
                    sparseLaneProduct(l2, h1.data, bias: hidden[1].bias?.data, h2.data)
                    matVec(hidden[2].weight.data, rows: 10, cols: 100, h2.data, bias: hidden[2].bias?.data, out.data)
                }
            }
        }
    }
    // One step of frozen-mask training (forward, loss, backward, SGD step) at batch 128, through
    // the sparse kernels and densely: the MLP with random 95% masks on its hidden layers, and the
    // small CNN with random 90% masks on every layer but the classifier (frozen-mask fine-tuning
    // as tutorial 03 runs it; fewer calls and rounds, each step takes milliseconds).
    let labels = (0..<128).map { $0 % 10 }
    func frozenSteps(_ name: String, _ model: Sequential, _ x: Tensor, calls: Int = 100, rounds: Int = rounds) throws {
        let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.01)
        opt.bindMasks(model)
        for sparse in [true, false] {
            try SparseInference.$enabledHere.withValue(sparse) {
                try time(name + (sparse ? "_sparse" : "_dense"), calls: calls, rounds: rounds) {
                    let loss = try model(x).crossEntropy(labels: labels)
                    opt.zeroGrad()
                    try loss.backward()
                    GradMode.noGrad { opt.step() }
                }
            }
        }
    }
    let net = try Models.mlp([784, 300, 100, 10], rng: rng)
    try randomMasks(net, density: 0.05, frozen: true, rng: rng)
    try frozenSteps("mlp_95_frozen_step", net, try Tensor.uniform([128, 784], low: 0, high: 1, rng: rng))
    if let only, !only.hasPrefix("cnn_90_frozen_step") { return }     // building the CNN is not free
    let cnn = try Models.cnn(rng: rng)
    try randomMasks(cnn, density: 0.1, frozen: true, rng: rng)
    try frozenSteps("cnn_90_frozen_step", cnn, try Tensor.uniform([128, 1, 28, 28], low: 0, high: 1, rng: rng), calls: 5,
                    rounds: max(rounds / 20, 3))
}

/// Random masks keeping about `density` of the weights of every layer of `model` but the last
/// (the classifier), frozen if asked, and applied to the weights.
private func randomMasks(_ model: Sequential, density: Float, frozen: Bool = false, rng: RNG) throws {
    for case let layer as any SparseCapable in model.layers where !(layer === model.layers.last) {
        let m = try Tensor.zeros(layer.weight.shape)
        for i in 0..<m.count where rng.uniform() < density { m.data[i] = 1 }
        let gate = WeightGate(mask: m)
        gate.frozen = frozen
        try layer.setGate(gate, for: "weight")
    }
    model.applyMasks()
}
