// Frozen-mask training through the sparse kernels (NN/Layers+Sparse.swift): the same weights as
// the dense path after a few steps, gradients only where the mask keeps weights, and the dense
// path wherever the mask is not frozen or keeps too much.
import Testing
@testable import NN
import Engine

/// `steps` SGD steps with momentum on a fixed random batch, with sparse kernels on or off.
private func trained(frozen: Bool, density: Double, sparse: Bool, steps: Int = 4) throws -> Module {
    let model = try Models.mlp([30, 24, 16, 5], rng: RNG(seed: 1))
    try maskWeights(model, density: density)
    for (_, g) in model.namedGates() { g.frozen = frozen }
    return try SparseInference.$enabledHere.withValue(sparse) { try trainSteps(model, count: steps) }
}

private func trainSteps(_ model: Module, count steps: Int) throws -> Module {
    let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.1)
    opt.bindMasks(model)
    model.train()
    for step in 0..<steps {
        let x = try Tensor.uniform([9, 30], low: -1, high: 1, rng: RNG(seed: UInt64(step)))
        opt.zeroGrad()
        try Loss.crossEntropy(model(x), (0..<9).map { $0 % 5 }).backward()
        GradMode.noGrad { opt.step() }
    }
    return model
}

@Test func frozenMaskTrainingMatchesTheDensePath() throws {
    for density in [0.0, 0.1, 0.2] {
        let dense = try trained(frozen: true, density: density, sparse: false)
        let sparse = try trained(frozen: true, density: density, sparse: true)
        for ((name, a), (_, b)) in zip(sparse.namedParameters(), dense.namedParameters()) {
            #expect(relativeError(a, b) < 1e-4, "\(name) at density \(density)")
        }
        // The sparse path ran: each layer whose mask keeps little built its compressed weight.
        for (_, layer) in SparseInference.sparseLayers(of: sparse) {
            let mask = try #require(layer.gates["weight"]?.mask)
            if Double(mask.nonzeroCount) <= SparseInference.maxTrainingDensity * Double(mask.count) {
                #expect(layer.sparse.matrix != nil)
            }
        }
    }
}

@Test func sparseTrainingGradientsOnlyAtKeptEntriesAndInputGradient() throws {
    let layer = try Linear(12, 7, rng: RNG(seed: 2))
    let mask = try Tensor.zeros([7, 12])
    for i in stride(from: 0, to: 84, by: 9) { mask.data[i] = 1 }
    let gate = WeightGate(mask: mask)
    gate.frozen = true
    try layer.setGate(gate, for: "weight")
    let x = try Tensor.uniform([5, 12], low: -1, high: 1, rng: RNG(seed: 3)).requiringGrad()
    layer.train()
    let y = try layer(x)
    try y.square().sum().backward()
    let gw = try #require(layer.weight.grad), gx = try #require(x.grad)
    #expect(layer.sparse.matrix != nil)
    for i in 0..<84 where mask.data[i] == 0 { #expect(gw.data[i] == 0) }
    // The same gradients from the dense op on the masked weight.
    let xd = x.copy().requiringGrad(), wd = layer.weight.copy().requiringGrad()
    let bd = layer.bias!.copy().requiringGrad()
    try Tensor.linear(xd, weight: wd, bias: bd).square().sum().backward()
    #expect(relativeError(gx, xd.grad!) < 1e-5)
    #expect(relativeError(gw, try wd.grad! * mask) < 1e-5)
    #expect(relativeError(layer.bias!.grad!, bd.grad!) < 1e-5)
}

@Test func unfrozenOrDenseMasksTrainDensely() throws {
    for (frozen, density) in [(false, 0.1), (true, 0.9)] {
        let model = try trained(frozen: frozen, density: density, sparse: true, steps: 1)
        for (_, layer) in SparseInference.sparseLayers(of: model) { #expect(layer.sparse.matrix == nil) }
    }
}

/// A small CNN with a stride-1 convolution (the sparse forward without im2col) and a stride-2
/// one (im2col), trained `steps` SGD steps on a fixed random batch.
private func trainedCNN(density: Double, sparse: Bool, steps: Int = 4) throws -> Module {
    let rng = RNG(seed: 4)
    let model = Sequential([
        try Conv2d(2, 6, kernel: 3, padding: 1, rng: rng), ReLU(),
        try Conv2d(6, 8, kernel: 3, stride: 2, padding: 1, rng: rng), ReLU(),
        Flatten(), try Linear(8 * 4 * 4, 5, rng: rng),
    ])
    try maskWeights(model, density: density)
    for (_, g) in model.namedGates() { g.frozen = true }
    let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.05)
    opt.bindMasks(model)
    model.train()
    try SparseInference.$enabledHere.withValue(sparse) {
        for step in 0..<steps {
            let x = try Tensor.uniform([6, 2, 8, 8], low: -1, high: 1, rng: RNG(seed: UInt64(10 + step)))
            opt.zeroGrad()
            try Loss.crossEntropy(model(x), (0..<6).map { $0 % 5 }).backward()
            GradMode.noGrad { opt.step() }
        }
    }
    return model
}

@Test func frozenMaskConvTrainingMatchesTheDensePath() throws {
    for density in [0.0, 0.1, 0.2] {
        let dense = try trainedCNN(density: density, sparse: false)
        let sparse = try trainedCNN(density: density, sparse: true)
        for ((name, a), (_, b)) in zip(sparse.namedParameters(), dense.namedParameters()) {
            #expect(relativeError(a, b) < 1e-4, "\(name) at density \(density)")
        }
        for (name, layer) in SparseInference.sparseLayers(of: sparse) where layer is Conv2d {
            #expect(layer.sparse.matrix != nil, "\(name) trained through the sparse kernels")
        }
    }
}

@Test(arguments: [1, 2])
func sparseConvTrainingGradientsOnlyAtKeptEntries(convStride: Int) throws {
    let layer = try Conv2d(3, 5, kernel: 3, stride: convStride, padding: 1, rng: RNG(seed: 5))
    let mask = try Tensor.zeros([5, 3, 3, 3])
    for i in stride(from: 0, to: mask.count, by: 7) { mask.data[i] = 1 }
    let gate = WeightGate(mask: mask)
    gate.frozen = true
    try layer.setGate(gate, for: "weight")
    let x = try Tensor.uniform([3, 3, 7, 6], low: -1, high: 1, rng: RNG(seed: 6)).requiringGrad()
    layer.train()
    try layer(x).square().sum().backward()
    let gw = try #require(layer.weight.grad), gx = try #require(x.grad)
    #expect(layer.sparse.matrix != nil)
    for i in 0..<mask.count where mask.data[i] == 0 { #expect(gw.data[i] == 0) }
    // The same gradients from the dense op on the masked weight.
    let xd = x.copy().requiringGrad(), wd = layer.weight.copy().requiringGrad(), bd = layer.bias!.copy().requiringGrad()
    try Tensor.conv2d(xd, weight: wd, bias: bd, stride: convStride, padding: 1).square().sum().backward()
    #expect(relativeError(gx, xd.grad!) < 1e-5)
    #expect(relativeError(gw, try wd.grad! * mask) < 1e-5)
    #expect(relativeError(layer.bias!.grad!, bd.grad!) < 1e-5)
}
