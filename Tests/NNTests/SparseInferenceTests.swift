// Sparse inference (NN/Sparse.swift): masked layers computing with their kept weights give the
// dense outputs within 1e-5 relative, pick up changed weights and masks, and stay out of the way
// where they do not apply (training, recording, non-fixed masks).
import Testing
@testable import NN
@testable import Engine
import Kernels

/// Installs a random fixed mask keeping about `density` of every weight matrix of `model`.
func maskWeights(_ model: Module, density: Double, seed: UInt64 = 7) throws {
    let rng = RNG(seed: seed)
    for (name, p) in model.namedParameters() where name.hasSuffix("weight") && p.rank >= 2 {
        let mask = try Tensor.zeros(p.shape)
        for i in 0..<mask.count where Double(rng.uniform()) < density { mask.data[i] = 1 }
        try model.setGate(WeightGate(mask: mask), for: name)
    }
}

/// max |a − b| / max(1, |b|): relative to the output's scale of one.
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.array, b.array).reduce(0) { max($0, abs($1.0 - $1.1) / max(1, abs($1.1))) }
}

/// The model's output in evaluation mode under `mode`.
func output(_ model: Module, _ x: Tensor, mode: SparseKernelChoice) throws -> Tensor {
    model.eval()
    return try GradMode.noGrad { try SparseInference.with(model, mode: mode) { try model(x) } }
}

@Test func sparseInferenceMatchesDenseOnTheMLPAndTheCNN() throws {
    for density in [0.0, 0.05, 0.3, 1.0] {
        let mlp = try Models.mlp([784, 300, 100, 10], rng: RNG(seed: 1))
        let cnn = try Models.cnn(rng: RNG(seed: 2))
        try maskWeights(mlp, density: density)
        try maskWeights(cnn, density: density)
        for batch in [1, 3, 130] {
            let x = try Tensor.uniform([batch, 1, 28, 28], low: 0, high: 1, rng: RNG(seed: UInt64(batch)))
            for model in [mlp, cnn] {
                let dense = try output(model, x, mode: .dense), sparse = try output(model, x, mode: .sparse)
                let auto = try output(model, x, mode: .auto)
                #expect(relativeError(sparse, dense) < 1e-5, "density \(density) batch \(batch)")
                #expect(relativeError(auto, dense) < 1e-5, "density \(density) batch \(batch) (auto)")
            }
        }
        // Every masked layer took the sparse path under .sparse, and timed both under .auto.
        for (_, layer) in SparseInference.sparseLayers(of: mlp) + SparseInference.sparseLayers(of: cnn) {
            #expect(layer.sparse.matrix != nil)
            if density <= SparseInference.maxDensity { #expect(layer.sparse.timings[3] != nil) }
        }
    }
}

@Test func sparseConvolutionWithStrideAndPaddingMatchesDense() throws {
    // Stride 2 goes through im2col; stride 1 with and without padding through offsets.
    for (stride, padding, kernel) in [(1, 0, 3), (1, 2, 5), (2, 1, 3), (3, 0, 1)] {
        let conv = try Conv2d(5, 7, kernel: kernel, stride: stride, padding: padding, rng: RNG(seed: 3))
        let model = Sequential([conv])
        try maskWeights(model, density: 0.2)
        for (h, w) in [(9, 11), (12, 12)] {
            let x = try Tensor.uniform([2, 5, h, w], low: -1, high: 1, rng: RNG(seed: 4))
            let dense = try output(model, x, mode: .dense), sparse = try output(model, x, mode: .sparse)
            #expect(dense.shape == sparse.shape)
            #expect(relativeError(sparse, dense) < 1e-5, "stride \(stride) padding \(padding) kernel \(kernel) \(h)×\(w)")
        }
    }
}

@Test func sparseInferenceFollowsChangedWeightsAndMasks() throws {
    let model = try Models.mlp([20, 16, 4], rng: RNG(seed: 5))
    try maskWeights(model, density: 0.3)
    // Batch 4 and batch 1 (its own layout where the CPU has AVX-512), both kept current.
    let x = try Tensor.uniform([4, 20], low: -1, high: 1, rng: RNG(seed: 6)), x1 = try x.sliced(axis: 0, start: 0, end: 1)
    _ = try output(model, x, mode: .sparse)
    _ = try output(model, x1, mode: .sparse)
    func agrees() throws -> Bool {
        try relativeError(try output(model, x, mode: .sparse), try output(model, x, mode: .dense)) < 1e-5
            && relativeError(try output(model, x1, mode: .sparse), try output(model, x1, mode: .dense)) < 1e-5
    }
    // New values at the kept entries, then a new mask: each scope sees them.
    let w = model.namedParameters().first { $0.0 == "layers.1.weight" }!.1
    for i in 0..<w.count { w.data[i] *= -2 }
    #expect(try agrees())
    try maskWeights(model, density: 0.1, seed: 9)
    #expect(try agrees())
    // A mask removed: the layer is dense again.
    try model.setGate(nil, for: "layers.1.weight")
    #expect(try agrees())
}

@Test func sparseInferenceStaysOutOfTrainingAndRecording() throws {
    let model = try Models.mlp([12, 8, 3], rng: RNG(seed: 8))
    try maskWeights(model, density: 0.2)
    let x = try Tensor.uniform([5, 12], low: -1, high: 1, rng: RNG(seed: 9)).requiringGrad()
    model.eval()
    // With gradients recorded the dense op runs, so the input gradient exists.
    let y = try SparseInference.with(model, mode: .sparse) { try model(x) }
    try y.sum().backward()
    #expect(x.grad != nil)
    // Outside a scope nothing sparse runs, and no timing is recorded.
    let fresh = try Models.mlp([12, 8, 3], rng: RNG(seed: 8))
    try maskWeights(fresh, density: 0.2)
    fresh.eval()
    _ = try GradMode.noGrad { try fresh(x) }
    for (_, layer) in SparseInference.sparseLayers(of: fresh) { #expect(layer.sparse.matrix == nil) }
}

@Test func evaluateAndCompileUseTheSparseKernels() throws {
    let model = try Models.mlp([784, 64, 10], rng: RNG(seed: 10))
    try maskWeights(model, density: 0.05)
    let x = try Tensor.uniform([50, 784], low: 0, high: 1, rng: RNG(seed: 11))
    let choices = try SparseInference.compile(model, input: x)
    #expect(choices.map(\.name) == ["layers.1", "layers.3"])
    for c in choices {
        #expect(c.denseSeconds != nil && c.sparseSeconds != nil)
        #expect(abs(c.density - 0.05) < 0.03)
    }
    let data = OneBatch(x: x, y: (0..<50).map { $0 % 10 })
    let sparse = try SparseInference.$enabledHere.withValue(true) { try evaluate(model, on: data, batchSize: 50) }
    let dense = try SparseInference.$enabledHere.withValue(false) { try evaluate(model, on: data, batchSize: 50) }
    #expect(abs(sparse.loss - dense.loss) < 1e-5 * max(1, abs(dense.loss)))
    #expect(sparse.accuracy == dense.accuracy)
}

/// A dataset that is one fixed batch.
struct OneBatch: BatchSource {
    let x: Tensor, y: [Int]
    var count: Int { y.count }
    var sampleShape: [Int] { Array(x.shape.dropFirst()) }
    var classes: Int { (y.max() ?? 0) + 1 }
    func makeBatches(size: Int, shuffle: Bool, rng: RNG) -> AnySequence<(x: Tensor, y: [Int])> { AnySequence([(x, y)]) }
}

/// The timed choice at batch 1 runs the sparse kernel by rows: the product over non-zero inputs
/// (whose cost depends on the input) is left out while timing, so one input's zeros cannot decide
/// the kernel for every input; afterwards it is available again.
@Test func theTimedChoiceAtBatchOneLeavesOutTheZeroInputProduct() throws {
    let layer = try Linear(64, 32, rng: RNG(seed: 12))
    try maskWeights(layer, density: 0.05)
    layer.eval()
    let x = try Tensor.zeros([1, 64])
    var timedWithColumns: [Bool] = []
    try GradMode.noGrad {
        try SparseInference.with(layer, mode: .auto) {
            _ = try layer.sparse.run(batch: 1, dense: { try Tensor.zeros([1, 32]) }, sparse: {
                timedWithColumns.append(layer.sparse.scatterColumns() != nil)
                return try Tensor.zeros([1, 32])
            })
            #expect(layer.sparse.choices[1] != nil)
            #expect(layer.sparse.scatterColumns() != nil)
            _ = try layer(x)
        }
    }
    #expect(!timedWithColumns.isEmpty)
    #expect(timedWithColumns.allSatisfy { !$0 })
}

@Test func runsOfSparseLinearLayersEqualTheLayersOneAtATime() throws {
    // Flatten, three Linear layers and two ReLUs; masked everywhere, or all but the classifier
    // (the pruners' default), whose dense layer then follows the run.
    for maskClassifier in [true, false] {
        let model = try Models.mlp([60, 40, 24, 5], rng: RNG(seed: 13))
        try maskWeights(model, density: 0.2)
        if !maskClassifier { try model.setGate(nil, for: "layers.5.weight") }
        model.eval()
        let layers = model.layers
        for batch in [1, 5, 130] {
            let x = try Tensor.uniform([batch, 1, 6, 10], low: -1, high: 1, rng: RNG(seed: UInt64(batch)))
            for mode in [SparseKernelChoice.sparse, .auto] {
                try GradMode.noGrad {
                    try SparseInference.with(model, mode: mode) {
                        // One layer at a time (the first .auto call also times each layer's kernels).
                        var h = x
                        for layer in layers { h = try layer(h) }
                        // Under .auto the run follows each layer's recorded choice (timed choices
                        // depend on the machine: set them here).
                        for (_, layer) in SparseInference.sparseLayers(of: model) where layer.sparse.matrix != nil {
                            layer.sparse.choices[batch] = true
                        }
                        // The run: from the Flatten through the last masked Linear and its ReLU.
                        let run = try #require(try LinearRun.forward(layers, from: 0, x), "batch \(batch) \(mode)")
                        // A dense classifier joins the run at batch 1 (matVec), not at batch > 1.
                        #expect(run.1 == (maskClassifier || batch == 1 ? 6 : 5), "batch \(batch) \(mode)")
                        var y = run.0
                        for layer in layers[run.1...] { y = try layer(y) }
                        #expect(y.shape == h.shape)
                        #expect(y.array == h.array, "batch \(batch) \(mode) classifier masked \(maskClassifier)")
                        #expect(try model(x).array == h.array)
                        if mode == .auto {
                            // The second Linear chose its dense kernel: the run stops before it
                            // (at batch 1 it takes it, densely).
                            let second = try #require(layers[3] as? Linear)
                            second.sparse.choices[batch] = false
                            let short = try #require(try LinearRun.forward(layers, from: 0, x))
                            #expect(short.1 == (batch == 1 ? 6 : 3))
                            var h2 = x
                            for layer in layers { h2 = try layer(h2) }
                            #expect(try model(x).array == h2.array)
                        }
                    }
                }
            }
        }
    }
    // Dense layers at batch 1: one run, the same bits; none while recording.
    let dense = try Models.mlp([50, 30, 20, 4], rng: RNG(seed: 16))
    dense.eval()
    let x1 = try Tensor.uniform([1, 50], low: -1, high: 1, rng: RNG(seed: 17))
    let one = try #require(try GradMode.noGrad { try LinearRun.forward(dense.layers, from: 0, x1) })
    #expect(one.1 == dense.layers.count)
    var h1 = x1
    for layer in dense.layers { h1 = try GradMode.noGrad { try layer(h1) } }
    #expect(one.0.array == h1.array)
    #expect(try LinearRun.forward(dense.layers, from: 0, x1) == nil)
    // No run where the layers compute densely at batch > 1, or before they have timed their kernels.
    let model = try Models.mlp([30, 20, 4], rng: RNG(seed: 14))
    try maskWeights(model, density: 0.2)
    model.eval()
    let x = try Tensor.uniform([3, 30], low: -1, high: 1, rng: RNG(seed: 15))
    try GradMode.noGrad {
        for mode in [SparseKernelChoice.dense, .auto] {
            let run = try SparseInference.with(model, mode: mode) { try LinearRun.forward(model.layers, from: 0, x) }
            #expect(run == nil, "\(mode)")
        }
    }
}

@Test func convolutionReLUAndPoolingInOnePassEqualTheLayersOneAtATime() throws {
    // LeNet-5 and the CNN, dense and with masks on their kept weights (sparse kernels, forced),
    // at batch 1 and 3: the model (joining each convolution with its ReLU and pooling, and the
    // Linear layers) against its layers called one at a time, bit for bit.
    for make in [{ try Models.lenet5(rng: RNG(seed: 23)) }, { try Models.cnn(rng: RNG(seed: 24)) }] {
        for masked in [false, true] {
            let model = try make()
            if masked { try maskWeights(model, density: 0.2) }
            model.eval()
            for batch in [1, 3] {
                let x = try Tensor.uniform([batch, 1, 28, 28], low: -1, high: 1, rng: RNG(seed: UInt64(batch)))
                try GradMode.noGrad {
                    try SparseInference.with(model, mode: masked ? .sparse : .dense) {
                        var h = x
                        for layer in model.layers { h = try layer(h) }
                        let conv = try #require(model.layers[0] as? Conv2d), pool = try #require(model.layers[2] as? MaxPool2d)
                        let joined = try #require(try conv.reluMaxPoolForward(x, pool: pool))
                        #expect(joined.array == (try pool(try model.layers[1](try conv(x)))).array)
                        #expect(try model(x).array == h.array, "\(model.typeName) masked \(masked) batch \(batch)")
                    }
                }
            }
        }
    }
}

@Test func trainingPassesJoiningConvolutionReLUAndPoolingHaveTheLayersGradients() throws {
    // LeNet-5 and the CNN in training, dense, with fixed masks, and with frozen masks at 20%
    // (which train through the kept weights, joined as well): the model's pass against its
    // layers called one at a time, output and every parameter's gradient bit for bit.
    for make in [{ try Models.lenet5(rng: RNG(seed: 25)) }, { try Models.cnn(rng: RNG(seed: 26)) }] {
        for masks in ["none", "fixed", "frozen"] {
            func run(joined: Bool) throws -> [[UInt32]] {
                let model = try make()
                if masks != "none" { try maskWeights(model, density: 0.2) }
                if masks == "frozen" { for (_, gate) in model.namedGates() { gate.frozen = true } }
                model.applyMasks()
                model.train()
                let x = try Tensor.uniform([3, 1, 28, 28], low: -1, high: 1, rng: RNG(seed: 27))
                var y = x
                if joined {
                    y = try model(x)
                } else {
                    for layer in model.layers { y = try layer(y) }
                }
                // The joined operation is recorded where it applies, and only there.
                var ops = Set<String>(), stack = [y], seen = Set<ObjectIdentifier>()
                while let t = stack.popLast() {
                    guard let node = t.node, seen.insert(ObjectIdentifier(t)).inserted else { continue }
                    ops.insert(node.op)
                    stack += node.inputs
                }
                let op = masks == "frozen" ? "sparse_conv2d_relu_maxpool" : "conv2d_relu_maxpool"
                #expect(ops.contains(op) == joined, "\(masks) masks: \(ops.sorted())")
                #expect(ops.contains("sparse_conv2d") == (masks == "frozen" && !joined), "\(masks) masks: \(ops.sorted())")
                try (y * (try Tensor.uniform(y.shape, low: -1, high: 1, rng: RNG(seed: 28)))).sum().backward()
                return [y.array.map(\.bitPattern)] + model.namedParameters().map { $0.1.grad?.array.map(\.bitPattern) ?? [] }
            }
            let one = try run(joined: true), layers = try run(joined: false)
            #expect(one.count == layers.count && layers.dropFirst().allSatisfy { !$0.isEmpty })
            for (i, (a, b)) in zip(one, layers).enumerated() {
                let differing = zip(a, b).filter { $0 != $1 }.count
                #expect(a.count == b.count && differing == 0,
                        "\(masks) masks, tensor \(i) (0: output, then the parameters' gradients): \(differing) of \(b.count) differ")
            }
        }
    }
}

@Test func frozenMaskConvolutionGradientsDoNotDependOnTheThreads() throws {
    // The weight and input gradients of a frozen-mask convolution run as two streams on two
    // threads: the same bits as on one (the CNN at 20% density, a training pass at batch 5).
    func gradients(threads: Int) throws -> [[UInt32]] {
        try Parallel.withThreads(threads) {
            let model = try Models.cnn(rng: RNG(seed: 29))
            try maskWeights(model, density: 0.2)
            for (_, gate) in model.namedGates() { gate.frozen = true }
            model.applyMasks()
            model.train()
            let x = try Tensor.uniform([5, 1, 28, 28], low: -1, high: 1, rng: RNG(seed: 30))
            let y = try model(x)
            try (y * (try Tensor.uniform(y.shape, low: -1, high: 1, rng: RNG(seed: 31)))).sum().backward()
            return model.namedParameters().map { $0.1.grad?.array.map(\.bitPattern) ?? [] }
        }
    }
    let one = try gradients(threads: 1), two = try gradients(threads: 2)
    #expect(one.allSatisfy { !$0.isEmpty })
    #expect(one == two)
}
