// Batch norm, layer norm, dropout and embedding: forward against references or hand computations,
// gradients against finite differences, and the errors users see.
import Testing
import TestSupport
@testable import Engine

struct BatchNormCase: Sendable, CustomTestStringConvertible {
    var shape: [Int]
    var training: Bool
    var affine: Bool
    var testDescription: String {
        "\(describe(shape: shape)) \(training ? "training" : "eval")\(affine ? " affine" : "")"
    }
}

private let batchNormCases: [BatchNormCase] = [[4, 3], [2, 3, 4, 5], [3, 2, 5, 3], [5, 4, 1, 1], [2, 3, 17]]
    .flatMap { s in [true, false].flatMap { t in [true, false].map { BatchNormCase(shape: s, training: t, affine: $0) } } }

@Test(arguments: batchNormCases)
func batchNormMatchesReference(_ bc: BatchNormCase) throws {
    let c = bc.shape[1]
    // A large mean exercises the two-pass variance.
    let x = try rand(bc.shape, seed: 21, scale: 2) + 3
    let gamma = try rand([c], seed: 22), beta = try rand([c], seed: 23)
    let rm = try rand([c], seed: 24, scale: 0.5), rv = try Tensor.uniform([c], low: 0.5, high: 2, rng: RNG(seed: 25))
    let ref = referenceBatchNorm(x.array, x.shape, weight: bc.affine ? gamma.array : nil, bias: bc.affine ? beta.array : nil,
                                 runningMean: rm.array, runningVar: rv.array, training: bc.training, momentum: 0.2)
    let y = try Tensor.batchNorm(x, weight: bc.affine ? gamma : nil, bias: bc.affine ? beta : nil,
                                 runningMean: rm, runningVar: rv, training: bc.training, momentum: 0.2)
    #expect(y.shape == x.shape)
    assertClose(y.array, ref.values, atol: 1e-4, "batchNorm \(bc.testDescription)")
    assertClose(rm.array, ref.runningMean, "running mean \(bc.testDescription)")
    assertClose(rv.array, ref.runningVar, "running variance \(bc.testDescription)")
}

@Test func batchNormRunningStatsAfterOneTrainingStep() throws {
    // Channel 0 holds 1, 3, 5, 7: mean 4, biased variance 5, unbiased 20/3.
    // Channel 1 holds 2, 4, 8, 10: mean 6, biased variance 10, unbiased 40/3.
    let x = try Tensor(shape: [4, 2], data: [1, 2, 3, 4, 5, 8, 7, 10])
    let rm = try Tensor.zeros([2]), rv = try Tensor.ones([2])
    let y = try Tensor.batchNorm(x, weight: nil, bias: nil, runningMean: rm, runningVar: rv, training: true)
    assertClose(rm.array, [0.1 * 4, 0.1 * 6], "running mean")
    assertClose(rv.array, [0.9 + 0.1 * 20 / 3, 0.9 + 0.1 * 40 / 3], "running variance")
    let s0 = (5 + Float(1e-5)).squareRoot(), s1 = (10 + Float(1e-5)).squareRoot()
    assertClose(y.array, [-3 / s0, -4 / s1, -1 / s0, -2 / s1, 1 / s0, 2 / s1, 3 / s0, 4 / s1], "normalised output")

    // Evaluation then uses exactly those statistics and leaves them alone.
    let (m0, m1, v0, v1) = (rm.array[0], rm.array[1], rv.array[0], rv.array[1])
    let gamma = try Tensor(shape: [2], data: [2, 0.5]), beta = try Tensor(shape: [2], data: [1, -1])
    let e = try Tensor.batchNorm(x, weight: gamma, bias: beta, runningMean: rm, runningVar: rv, training: false)
    let expected = (0..<8).map { i -> Float in
        let ch = i % 2, v = x.array[i]
        return ch == 0 ? (v - m0) / (v0 + 1e-5).squareRoot() * 2 + 1 : (v - m1) / (v1 + 1e-5).squareRoot() * 0.5 - 1
    }
    assertClose(e.array, expected, "eval output")
    #expect(rm.array == [m0, m1] && rv.array == [v0, v1])
}

@Test func batchNormMomentumAndEps() throws {
    let x = try Tensor(shape: [2, 1, 1, 2], data: [0, 2, 4, 6])  // mean 3, biased 5, unbiased 20/3
    let rm = try Tensor(shape: [1], data: [1]), rv = try Tensor(shape: [1], data: [2])
    let y = try Tensor.batchNorm(x, weight: nil, bias: nil, runningMean: rm, runningVar: rv, training: true,
                                 momentum: 0.25, eps: 0.5)
    assertClose(rm.array, [0.75 * 1 + 0.25 * 3])
    assertClose(rv.array, [0.75 * 2 + 0.25 * 20 / 3])
    assertClose(y.array, [-3, -1, 1, 3].map { $0 / Float(5.5).squareRoot() })
}

private let batchNormGradCases: [BatchNormCase] = [
    BatchNormCase(shape: [4, 3], training: true, affine: true),
    BatchNormCase(shape: [2, 2, 3, 2], training: true, affine: true),
    BatchNormCase(shape: [3, 2, 2, 2], training: true, affine: false),
    BatchNormCase(shape: [2, 3, 2, 2], training: false, affine: true),
    BatchNormCase(shape: [5, 2], training: false, affine: false),
]

@Test(arguments: batchNormGradCases)
func batchNormGradients(_ bc: BatchNormCase) throws {
    let c = bc.shape[1]
    let x = try rand(bc.shape, seed: 26), gamma = try rand([c], seed: 27) + 1.5, beta = try rand([c], seed: 28)
    let rm = try rand([c], seed: 29, scale: 0.5), rv = try Tensor.uniform([c], low: 0.5, high: 2, rng: RNG(seed: 30))
    let inputs = bc.affine ? [x, gamma, beta] : [x]
    try gradCheck(inputs, "batchNorm \(bc.testDescription)") { t in
        try Tensor.batchNorm(t[0], weight: bc.affine ? t[1] : nil, bias: bc.affine ? t[2] : nil,
                             runningMean: rm, runningVar: rv, training: bc.training)
    }
}

@Test func batchNormErrors() throws {
    let x = try rand([4, 3, 2, 2])
    let rm = try Tensor.zeros([3]), rv = try Tensor.ones([3])
    expectError(["batchNorm", "weight", "[4]", "[4, 3, 2, 2]"]) {
        _ = try Tensor.batchNorm(x, weight: try Tensor.ones([4]), bias: nil, runningMean: rm, runningVar: rv, training: true)
    }
    expectError(["batchNorm", "bias", "[3, 1]", "[4, 3, 2, 2]"]) {
        _ = try Tensor.batchNorm(x, weight: nil, bias: try Tensor.ones([3, 1]), runningMean: rm, runningVar: rv, training: true)
    }
    expectError(["batchNorm", "running mean", "[2]", "[4, 3, 2, 2]"]) {
        _ = try Tensor.batchNorm(x, weight: nil, bias: nil, runningMean: try Tensor.zeros([2]), runningVar: rv, training: false)
    }
    expectError(["batchNorm", "running variance", "[5]"]) {
        _ = try Tensor.batchNorm(x, weight: nil, bias: nil, runningMean: rm, runningVar: try Tensor.ones([5]), training: false)
    }
    expectError(["batchNorm", "[12]"]) {
        _ = try Tensor.batchNorm(rand([12]), weight: nil, bias: nil, runningMean: rm, runningVar: rv, training: true)
    }
    expectError(["batchNorm", "more than 1 value", "[1, 3]"]) {
        _ = try Tensor.batchNorm(rand([1, 3]), weight: nil, bias: nil, runningMean: rm, runningVar: rv, training: true)
    }
    // A single sample is fine in evaluation.
    #expect(try Tensor.batchNorm(rand([1, 3]), weight: nil, bias: nil, runningMean: rm, runningVar: rv, training: false).shape == [1, 3])
}

private let layerNormShapes: [[Int]] = [[4, 6], [2, 3, 5], [3, 16], [2, 19], [7]]

@Test(arguments: layerNormShapes, [true, false])
func layerNormMatchesReference(_ shape: [Int], _ affine: Bool) throws {
    let d = shape[shape.count - 1]
    let x = try rand(shape, seed: 31, scale: 3) + 5, gamma = try rand([d], seed: 32), beta = try rand([d], seed: 33)
    let y = try Tensor.layerNorm(x, weight: affine ? gamma : nil, bias: affine ? beta : nil)
    let ref = referenceLayerNorm(x.array, d: d, weight: affine ? gamma.array : nil, bias: affine ? beta.array : nil)
    #expect(y.shape == shape)
    assertClose(y.array, ref, atol: 1e-4, "layerNorm \(describe(shape: shape))")
}

@Test(arguments: [[3, 5], [2, 2, 9], [2, 12]])
func layerNormGradients(_ shape: [Int]) throws {
    let d = shape[shape.count - 1]
    let x = try rand(shape, seed: 34), gamma = try rand([d], seed: 35) + 1, beta = try rand([d], seed: 36)
    try gradCheck([x, gamma, beta], "layerNorm \(describe(shape: shape))") { t in
        try Tensor.layerNorm(t[0], weight: t[1], bias: t[2])
    }
    try gradCheck([rand(shape, seed: 37)], "layerNorm without affine \(describe(shape: shape))") { t in
        try Tensor.layerNorm(t[0], weight: nil, bias: nil)
    }
}

@Test func layerNormErrors() throws {
    let x = try rand([3, 5])
    expectError(["layerNorm", "weight", "[4]", "[3, 5]"]) { _ = try Tensor.layerNorm(x, weight: rand([4]), bias: nil) }
    expectError(["layerNorm", "bias", "[1, 5]", "[3, 5]"]) { _ = try Tensor.layerNorm(x, weight: nil, bias: rand([1, 5])) }
    expectError(["layerNorm", "[3, 0]"]) { _ = try Tensor.layerNorm(try Tensor.zeros([3, 0]), weight: nil, bias: nil) }
    expectError(["layerNorm", "[]"]) { _ = try Tensor.layerNorm(Tensor(1), weight: nil, bias: nil) }
}

@Test func dropoutIsTheIdentityInEvaluationOrWithZeroProbability() throws {
    let x = try rand([4, 5])
    #expect(try x.dropout(p: 0.5, training: false, rng: RNG(seed: 1)) === x)
    #expect(try x.dropout(p: 0, training: true, rng: RNG(seed: 1)) === x)
}

@Test func dropoutZeroesAndRescales() throws {
    let x = try Tensor.ones([20_000]).requiringGrad()
    let y = try x.dropout(p: 0.3, training: true, rng: RNG(seed: 2))
    let kept = y.array.filter { $0 != 0 }
    #expect(kept.allSatisfy { Swift.abs($0 - 1 / 0.7) < 1e-6 })
    let dropped = Double(20_000 - kept.count) / 20_000
    #expect(Swift.abs(dropped - 0.3) < 0.015)
    // The gradient is the same mask.
    try y.backward(try Tensor.ones([20_000]))
    #expect(x.grad?.array == y.array)
    // Same seed, same mask.
    let again = try Tensor.ones([20_000]).dropout(p: 0.3, training: true, rng: RNG(seed: 2))
    #expect(again.array == y.array)
}

@Test func dropoutGradient() throws {
    try gradCheck([rand([3, 7], seed: 38)], "dropout") { t in
        try t[0].dropout(p: 0.4, training: true, rng: RNG(seed: 3))
    }
}

@Test func dropoutErrors() throws {
    let x = try rand([2, 3])
    for p: Float in [1, 1.5, -0.1, .nan] {
        expectError(["dropout", "[0, 1)", "[2, 3]"]) { _ = try x.dropout(p: p, training: true, rng: RNG(seed: 1)) }
        expectError(["dropout", "[2, 3]"]) { _ = try x.dropout(p: p, training: false, rng: RNG(seed: 1)) }
    }
}

@Test func embeddingLooksUpRowsAndAccumulatesGradients() throws {
    let w = try Tensor(shape: [5, 3], data: (0..<15).map(Float.init)).requiringGrad()
    let y = try Tensor.embedding([4, 0, 4, 2], shape: [2, 2], weight: w)
    #expect(y.shape == [2, 2, 3])
    #expect(y.array == [12, 13, 14, 0, 1, 2, 12, 13, 14, 6, 7, 8])
    try y.backward(try Tensor(shape: [2, 2, 3], data: (1...12).map(Float.init)))
    // Row 4 was read twice, rows 1 and 3 never.
    #expect(w.grad?.array == [4, 5, 6, 0, 0, 0, 10, 11, 12, 0, 0, 0, 1 + 7, 2 + 8, 3 + 9])
    try gradCheck([rand([4, 3], seed: 39)], "embedding") { t in
        try Tensor.embedding([1, 3, 3, 0, 2, 1], shape: [3, 2], weight: t[0])
    }
}

@Test func embeddingErrors() throws {
    let w = try rand([5, 3])
    expectError(["embedding", "index 5", "[5, 3]"]) { _ = try Tensor.embedding([0, 5], shape: [2], weight: w) }
    expectError(["embedding", "index -1", "[5, 3]"]) { _ = try Tensor.embedding([-1], shape: [1], weight: w) }
    expectError(["embedding", "3 indices", "[2, 2]"]) { _ = try Tensor.embedding([0, 1, 2], shape: [2, 2], weight: w) }
    expectError(["embedding", "weight", "[15]"]) { _ = try Tensor.embedding([0], shape: [1], weight: rand([15])) }
}

@Test func referenceMatmulMatchesBLAS() throws {
    let a = try rand([5, 7], seed: 40), b = try rand([7, 3], seed: 41)
    assertClose(try a.matmul(b).array, referenceMatmul(a.array, b.array, m: 5, k: 7, n: 3), "matmul")
}
