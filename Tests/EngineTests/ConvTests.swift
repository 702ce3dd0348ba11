// Convolution and pooling: forward passes against the reference loops, gradients against
// finite differences, and the errors users see for bad shapes.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import Kernels
import TestSupport
@testable import Engine

/// Distinct values 0.1 apart in shuffled order: a finite-difference step of 0.01 never changes
/// which element of a pooling window is the maximum.
private func distinct(_ shape: [Int], seed: UInt64) throws -> Tensor {
    let n = shape.reduce(1, *)
    let perm = RNG(seed: seed).permutation(n)
    return try Tensor(shape: shape, data: perm.map { Float($0) * 0.1 - Float(n) * 0.05 })
}

struct ConvCase: Sendable, CustomTestStringConvertible {
    var n, c, h, w, o, k, stride, padding: Int
    var bias: Bool
    var testDescription: String {
        "x [\(n), \(c), \(h), \(w)] * w [\(o), \(c), \(k), \(k)] stride \(stride) pad \(padding)\(bias ? " +bias" : "")"
    }
    var xShape: [Int] { [n, c, h, w] }
    var wShape: [Int] { [o, c, k, k] }
}

private let convCases: [ConvCase] = [
    ConvCase(n: 1, c: 1, h: 5, w: 5, o: 1, k: 1, stride: 1, padding: 0, bias: false),
    ConvCase(n: 2, c: 3, h: 7, w: 5, o: 4, k: 3, stride: 1, padding: 1, bias: true),
    ConvCase(n: 2, c: 3, h: 7, w: 5, o: 4, k: 3, stride: 2, padding: 1, bias: false),
    ConvCase(n: 2, c: 3, h: 8, w: 6, o: 4, k: 3, stride: 1, padding: 0, bias: true),
    ConvCase(n: 2, c: 3, h: 8, w: 6, o: 4, k: 3, stride: 2, padding: 0, bias: true),
    ConvCase(n: 1, c: 2, h: 9, w: 7, o: 3, k: 5, stride: 1, padding: 0, bias: false),
    ConvCase(n: 2, c: 2, h: 9, w: 7, o: 3, k: 5, stride: 2, padding: 1, bias: true),
    ConvCase(n: 3, c: 4, h: 6, w: 11, o: 5, k: 5, stride: 1, padding: 1, bias: true),
    ConvCase(n: 2, c: 3, h: 5, w: 4, o: 2, k: 1, stride: 2, padding: 0, bias: true),
    ConvCase(n: 2, c: 3, h: 5, w: 4, o: 2, k: 1, stride: 1, padding: 1, bias: true),
    ConvCase(n: 1, c: 2, h: 3, w: 3, o: 2, k: 3, stride: 1, padding: 0, bias: true),
    ConvCase(n: 2, c: 4, h: 9, w: 8, o: 3, k: 3, stride: 2, padding: 1, bias: true),
    ConvCase(n: 2, c: 1, h: 9, w: 8, o: 6, k: 3, stride: 2, padding: 1, bias: true),
    ConvCase(n: 3, c: 1, h: 11, w: 13, o: 7, k: 3, stride: 1, padding: 0, bias: false),
    ConvCase(n: 2, c: 1, h: 28, w: 28, o: 8, k: 3, stride: 1, padding: 1, bias: true),
    ConvCase(n: 2, c: 32, h: 14, w: 14, o: 16, k: 3, stride: 1, padding: 1, bias: true),
]

@Test(arguments: convCases)
func conv2dMatchesReference(_ cs: ConvCase) throws {
    let x = try rand(cs.xShape, seed: 1), w = try rand(cs.wShape, seed: 2, scale: 0.3), b = try rand([cs.o], seed: 3)
    let y = try Tensor.conv2d(x, weight: w, bias: cs.bias ? b : nil, stride: cs.stride, padding: cs.padding)
    let ref = referenceConv2d(x.array, x.shape, weight: w.array, w.shape, bias: cs.bias ? b.array : nil,
                              stride: cs.stride, padding: cs.padding)
    #expect(y.shape == ref.shape)
    assertClose(y.array, ref.values, atol: 1e-4, "conv2d \(cs.testDescription)")
}

private let convGradCases: [ConvCase] = [
    ConvCase(n: 2, c: 2, h: 5, w: 4, o: 3, k: 3, stride: 1, padding: 1, bias: true),
    ConvCase(n: 1, c: 2, h: 6, w: 5, o: 2, k: 3, stride: 2, padding: 0, bias: true),
    ConvCase(n: 2, c: 1, h: 5, w: 5, o: 2, k: 1, stride: 2, padding: 1, bias: true),
    ConvCase(n: 1, c: 2, h: 7, w: 6, o: 2, k: 5, stride: 2, padding: 1, bias: true),
    ConvCase(n: 2, c: 2, h: 4, w: 5, o: 2, k: 3, stride: 1, padding: 0, bias: false),
    // Few enough input terms (C·kh·kw) for the direct kernels.
    ConvCase(n: 2, c: 1, h: 6, w: 5, o: 5, k: 3, stride: 1, padding: 1, bias: true),
    ConvCase(n: 1, c: 1, h: 7, w: 6, o: 2, k: 3, stride: 2, padding: 0, bias: false),
]

@Test(arguments: convGradCases)
func conv2dGradients(_ cs: ConvCase) throws {
    let x = try rand(cs.xShape, seed: 4), w = try rand(cs.wShape, seed: 5, scale: 0.5), b = try rand([cs.o], seed: 6)
    let inputs = cs.bias ? [x, w, b] : [x, w]
    try gradCheck(inputs, "conv2d \(cs.testDescription)") { t in
        try Tensor.conv2d(t[0], weight: t[1], bias: cs.bias ? t[2] : nil, stride: cs.stride, padding: cs.padding)
    }
}

/// Input channels on either side of the direct kernel's limit, so both code paths are covered.
private let directAndGEMMChannels = [1, 3]

@Test(arguments: directAndGEMMChannels)
func conv2dComputesOnlyTheGradientsAsked(channels c: Int) throws {
    let x = try rand([2, c, 6, 5], seed: 7), w = try rand([4, c, 3, 3], seed: 8), b = try rand([4], seed: 9)
    let g = try rand([2, 4, 6, 5], seed: 10)
    // Everything trainable: the reference gradients.
    for t in [x, w, b] { t.requiresGrad = true }
    try Tensor.conv2d(x, weight: w, bias: b, padding: 1).backward(g)
    let full = [x, w, b].map { $0.grad?.array ?? [] }

    // Every other combination, e.g. a first layer (no input gradient) or a frozen one (only the
    // input gradient): the requested gradients agree and the others are not computed.
    for mask in 1..<7 {
        let wanted = [mask & 1 != 0, mask & 2 != 0, mask & 4 != 0]
        for (t, want) in zip([x, w, b], wanted) { t.requiresGrad = want; t.grad = nil }
        try Tensor.conv2d(x, weight: w, bias: b, padding: 1).backward(g)
        for (i, (t, want)) in zip([x, w, b], wanted).enumerated() {
            if want {
                assertClose(t.grad?.array ?? [], full[i], "input \(i) with gradients \(wanted)")
            } else {
                #expect(t.grad == nil, "input \(i) got a gradient it did not ask for (\(wanted))")
            }
        }
    }
    #expect((c * 9 <= Tensor.conv2dDirectMaxK) == (c == directAndGEMMChannels[0]))
}

@Test func conv2dErrors() throws {
    let x = try rand([2, 3, 5, 5])
    expectError(["conv2d", "3 channels", "[2, 3, 5, 5]", "[4, 2, 3, 3]"]) {
        _ = try Tensor.conv2d(x, weight: rand([4, 2, 3, 3]), bias: nil)
    }
    expectError(["conv2d", "larger", "[1, 1, 4, 4]", "[1, 1, 5, 5]"]) {
        _ = try Tensor.conv2d(rand([1, 1, 4, 4]), weight: rand([1, 1, 5, 5]), bias: nil)
    }
    // The same kernel fits once padded.
    #expect(try Tensor.conv2d(rand([1, 1, 4, 4]), weight: rand([1, 1, 5, 5]), bias: nil, padding: 1).shape == [1, 1, 2, 2])
    expectError(["conv2d", "bias", "[3]", "4 output channels"]) {
        _ = try Tensor.conv2d(x, weight: rand([4, 3, 3, 3]), bias: rand([3]))
    }
    expectError(["conv2d", "bias", "[1, 4]"]) {
        _ = try Tensor.conv2d(x, weight: rand([4, 3, 3, 3]), bias: rand([1, 4]))
    }
    expectError(["conv2d", "input", "[3, 5, 5]"]) {
        _ = try Tensor.conv2d(rand([3, 5, 5]), weight: rand([4, 3, 3, 3]), bias: nil)
    }
    expectError(["conv2d", "weight", "[4, 27]"]) {
        _ = try Tensor.conv2d(x, weight: rand([4, 27]), bias: nil)
    }
    expectError(["conv2d", "stride", "[2, 3, 5, 5]"]) {
        _ = try Tensor.conv2d(x, weight: rand([4, 3, 3, 3]), bias: nil, stride: 0)
    }
    expectError(["conv2d", "padding", "[2, 3, 5, 5]"]) {
        _ = try Tensor.conv2d(x, weight: rand([4, 3, 3, 3]), bias: nil, padding: -1)
    }
}

struct PoolCase: Sendable, CustomTestStringConvertible {
    var shape: [Int]
    var kernel: Int
    var stride: Int?
    var padding: Int
    var testDescription: String {
        "\(describe(shape: shape)) kernel \(kernel) stride \(stride.map(String.init) ?? "default") pad \(padding)"
    }
}

private let poolCases: [PoolCase] = [
    PoolCase(shape: [2, 3, 8, 8], kernel: 2, stride: nil, padding: 0),
    PoolCase(shape: [2, 3, 7, 9], kernel: 2, stride: 2, padding: 0),
    PoolCase(shape: [1, 2, 6, 5], kernel: 3, stride: 1, padding: 1),
    PoolCase(shape: [2, 2, 7, 6], kernel: 3, stride: 2, padding: 1),
    PoolCase(shape: [2, 3, 6, 7], kernel: 3, stride: nil, padding: 1),
    PoolCase(shape: [1, 3, 9, 7], kernel: 5, stride: 2, padding: 2),
    PoolCase(shape: [1, 1, 5, 5], kernel: 5, stride: nil, padding: 0),
    PoolCase(shape: [2, 2, 5, 6], kernel: 1, stride: 2, padding: 0),
    PoolCase(shape: [1, 2, 4, 6], kernel: 4, stride: 2, padding: 2),
    PoolCase(shape: [2, 2, 6, 6], kernel: 2, stride: 1, padding: 1),
    PoolCase(shape: [4, 32, 28, 28], kernel: 2, stride: 2, padding: 0),
]

@Test(arguments: poolCases)
func maxPoolMatchesReference(_ pc: PoolCase) throws {
    let x = try rand(pc.shape, seed: 11)
    let y = try x.maxPool2d(kernel: pc.kernel, stride: pc.stride, padding: pc.padding)
    let ref = referenceMaxPool2d(x.array, x.shape, kernel: pc.kernel, stride: pc.stride ?? pc.kernel, padding: pc.padding)
    #expect(y.shape == ref.shape)
    assertClose(y.array, ref.values, atol: 0, rtol: 0, "maxPool2d \(pc.testDescription)")
}

/// ReLU then pooling in one pass (evaluation) equals the two ops one after the other, also
/// with NaN (ReLU maps it to 0 first), and with recording it keeps the gradient of the pair.
@Test(arguments: poolCases)
func maxPoolAfterReLUInOnePass(_ pc: PoolCase) throws {
    let x = try rand(pc.shape, seed: 15)
    for i in stride(from: 0, to: x.count, by: 37) { x.data[i] = .nan }
    let twoOps = try x.relu().maxPool2d(kernel: pc.kernel, stride: pc.stride, padding: pc.padding)
    let fused = try x.maxPool2d(kernel: pc.kernel, stride: pc.stride, padding: pc.padding, reluFirst: true)
    #expect(fused.shape == twoOps.shape)
    #expect(fused.array == twoOps.array, "maxPool2d(reluFirst:) \(pc.testDescription)")
}

@Test func maxPoolAfterReLUKeepsTheGradient() throws {
    let x = try distinct([1, 2, 4, 6], seed: 16)
    for i in 0..<x.count { x.data[i] += 0.05 }   // away from ReLU's kink
    try gradCheck([x], "maxPool2d(reluFirst:)") { t in try t[0].maxPool2d(kernel: 2, reluFirst: true) }
}

@Test(arguments: poolCases)
func avgPoolMatchesReference(_ pc: PoolCase) throws {
    let x = try rand(pc.shape, seed: 12)
    let y = try x.avgPool2d(kernel: pc.kernel, stride: pc.stride, padding: pc.padding)
    let ref = referenceAvgPool2d(x.array, x.shape, kernel: pc.kernel, stride: pc.stride ?? pc.kernel, padding: pc.padding)
    #expect(y.shape == ref.shape)
    assertClose(y.array, ref.values, "avgPool2d \(pc.testDescription)")
}

private let poolGradCases: [PoolCase] = [
    PoolCase(shape: [2, 2, 4, 6], kernel: 2, stride: nil, padding: 0),
    PoolCase(shape: [1, 2, 5, 5], kernel: 2, stride: 2, padding: 0),
    PoolCase(shape: [1, 2, 5, 4], kernel: 3, stride: 1, padding: 1),
    PoolCase(shape: [2, 1, 6, 5], kernel: 3, stride: 2, padding: 1),
    PoolCase(shape: [1, 1, 7, 6], kernel: 5, stride: 2, padding: 2),
]

@Test(arguments: poolGradCases)
func maxPoolGradients(_ pc: PoolCase) throws {
    let x = try distinct(pc.shape, seed: 13)
    try gradCheck([x], "maxPool2d \(pc.testDescription)") { t in
        try t[0].maxPool2d(kernel: pc.kernel, stride: pc.stride, padding: pc.padding)
    }
}

@Test(arguments: poolGradCases)
func avgPoolGradients(_ pc: PoolCase) throws {
    let x = try rand(pc.shape, seed: 14)
    try gradCheck([x], "avgPool2d \(pc.testDescription)") { t in
        try t[0].avgPool2d(kernel: pc.kernel, stride: pc.stride, padding: pc.padding)
    }
}

@Test func maxPoolPropagatesNaNAndPicksTheFirstMaximum() throws {
    let x = try Tensor(shape: [1, 1, 2, 4], data: [1, .nan, 3, 3,
                                                  0, 1, 3, 2])
    let y = try x.maxPool2d(kernel: 2)
    #expect(y.array[0].isNaN && y.array[1] == 3)
    x.requiresGrad = true
    try x.maxPool2d(kernel: 2).backward(try Tensor(shape: [1, 1, 1, 2], data: [1, 1]))
    // Ties go to the first element of the window in row-major order.
    #expect(x.grad?.array == [0, 1, 1, 0, 0, 0, 0, 0])
}

@Test func globalAvgPoolAveragesEachPlane() throws {
    let x = try rand([2, 3, 4, 5], seed: 15)
    let y = try x.globalAvgPool()
    #expect(y.shape == [2, 3])
    let expected = (0..<6).map { p in x.array[(p * 20)..<(p * 20 + 20)].reduce(0, +) / 20 }
    assertClose(y.array, expected, "globalAvgPool")
    try gradCheck([rand([2, 2, 3, 3], seed: 16)], "globalAvgPool") { t in try t[0].globalAvgPool() }
}

@Test func poolingErrors() throws {
    let x = try rand([2, 3, 5, 5])
    expectError(["maxPool2d", "[3, 5, 5]"]) { _ = try rand([3, 5, 5]).maxPool2d(kernel: 2) }
    expectError(["avgPool2d", "[2, 15]"]) { _ = try rand([2, 15]).avgPool2d(kernel: 2) }
    expectError(["maxPool2d", "larger", "[2, 3, 5, 5]"]) { _ = try x.maxPool2d(kernel: 6) }
    expectError(["avgPool2d", "larger", "[2, 3, 5, 5]"]) { _ = try x.avgPool2d(kernel: 6) }
    expectError(["maxPool2d", "padding 2", "[2, 3, 5, 5]"]) { _ = try x.maxPool2d(kernel: 3, padding: 2) }
    expectError(["avgPool2d", "kernel 0", "[2, 3, 5, 5]"]) { _ = try x.avgPool2d(kernel: 0) }
    expectError(["maxPool2d", "stride 0", "[2, 3, 5, 5]"]) { _ = try x.maxPool2d(kernel: 2, stride: 0) }
    expectError(["globalAvgPool", "[2, 3, 5]"]) { _ = try rand([2, 3, 5]).globalAvgPool() }
}

/// Opt-in timing of the small CNN's convolutional trunk at batch 128 (PRUNE_BENCH_CONV=1).
@Test(.enabled(if: getenv("PRUNE_BENCH_CONV") != nil))
func benchSmallCNNTrunk() throws {
    let rng = RNG(seed: 0)
    let x = try Tensor.uniform([128, 1, 28, 28], rng: rng)
    let w1 = try Tensor.kaimingUniform([32, 1, 3, 3], rng: rng).requiringGrad(), b1 = try Tensor.zeros([32]).requiringGrad()
    let w2 = try Tensor.kaimingUniform([64, 32, 3, 3], rng: rng).requiringGrad(), b2 = try Tensor.zeros([64]).requiringGrad()
    let fc = try Tensor.kaimingUniform([10, 3136], rng: rng).requiringGrad()
    func step() throws {
        let h1 = try Tensor.conv2d(x, weight: w1, bias: b1, padding: 1).relu().maxPool2d(kernel: 2)
        let h2 = try Tensor.conv2d(h1, weight: w2, bias: b2, padding: 1).relu().maxPool2d(kernel: 2)
        let y = try Tensor.linear(h2.flattened(), weight: fc, bias: nil)
        try y.sum().backward()
        for p in [w1, b1, w2, b2, fc] { p.grad = nil }
    }
    for _ in 0..<3 { try step() }
    var ts = timespec(), te = timespec()
    let steps = 20
    clock_gettime(CLOCK_MONOTONIC, &ts)
    for _ in 0..<steps { try step() }
    clock_gettime(CLOCK_MONOTONIC, &te)
    let seconds = Double(te.tv_sec - ts.tv_sec) + Double(te.tv_nsec - ts.tv_nsec) * 1e-9
    let ms = (seconds / Double(steps) * 10_000).rounded() / 10
    print("small CNN trunk: \(ms) ms/step, \(Int(Double(128 * steps) / seconds)) samples/s")
}

/// Pooling ReLU(x + bias) from planes with wider rows and gaps between planes (a convolution's
/// wide result) equals adding the bias, then ReLU and pooling of the plain planes, bit for bit,
/// NaN included.
@Test(arguments: poolCases)
func maxPoolOfStridedPlanesWithBiasEqualsTheTwoSteps(_ pc: PoolCase) throws {
    let x = try rand(pc.shape, seed: 17)
    for i in stride(from: 0, to: x.count, by: 41) { x.data[i] = .nan }
    let planes = pc.shape[0] * pc.shape[1], h = pc.shape[2], w = pc.shape[3]
    let rowStride = w + 3, planeStride = h * rowStride + 5
    let bias = (0..<planes).map { Float($0 % 3) - 0.7 }
    var wide = [Float](repeating: .infinity, count: planes * planeStride)   // gaps read would show
    var biased = x.array
    for pl in 0..<planes {
        for r in 0..<h {
            for c in 0..<w {
                wide[pl * planeStride + r * rowStride + c] = x.array[(pl * h + r) * w + c]
                biased[(pl * h + r) * w + c] += bias[pl]
            }
        }
    }
    let twoSteps = try Tensor(shape: pc.shape, data: biased).maxPool2d(kernel: pc.kernel, stride: pc.stride, padding: pc.padding,
                                                                       reluFirst: true)
    let pooling = try #require(Tensor.poolingAfter(height: h, width: w, kernel: pc.kernel, stride: pc.stride ?? pc.kernel,
                                                   padding: pc.padding))
    #expect([pc.shape[0], pc.shape[1], pooling.outH, pooling.outW] == twoSteps.shape)
    var out = [Float](repeating: -1, count: twoSteps.count)
    maxPool2dReLU(wide, planes: planes, height: h, width: w, rowStride: rowStride, planeStride: planeStride, bias: bias,
                  kernel: pooling.kernel, stride: pooling.stride, padding: pooling.padding, outH: pooling.outH, outW: pooling.outW, &out)
    #expect(out == twoSteps.array, "\(pc.testDescription)")
}

/// Convolutions (stride 1) with the max pooling (kernel, stride, padding) after them: the
/// benchmark models' layers (LeNet-5's two, the CNN's second) and odd shapes, overlapping windows
/// and padding among them.
private let convPoolCases: [(ConvCase, Int, Int, Int)] = [
    (ConvCase(n: 2, c: 1, h: 28, w: 28, o: 6, k: 5, stride: 1, padding: 2, bias: true), 2, 2, 0),
    (ConvCase(n: 2, c: 6, h: 14, w: 14, o: 16, k: 5, stride: 1, padding: 0, bias: true), 2, 2, 0),
    (ConvCase(n: 3, c: 32, h: 14, w: 14, o: 64, k: 3, stride: 1, padding: 1, bias: true), 2, 2, 0),
    (ConvCase(n: 2, c: 3, h: 9, w: 7, o: 5, k: 3, stride: 1, padding: 1, bias: false), 3, 2, 1),
    (ConvCase(n: 1, c: 2, h: 6, w: 5, o: 2, k: 3, stride: 1, padding: 0, bias: true), 2, 1, 1),
]

/// Convolution, ReLU and max pooling in one pass equal the three operations, bit for bit, on
/// the shapes of the benchmark models' layers and odd ones; nil where it does not apply.
@Test func convReLUMaxPoolInOnePassEqualsTheThreeOperations() throws {
    for (cs, pk, ps, pp) in convPoolCases {
        let x = try rand(cs.xShape, seed: 18), w = try rand(cs.wShape, seed: 19, scale: 0.3), b = try rand([cs.o], seed: 20)
        let three = try Tensor.conv2d(x, weight: w, bias: cs.bias ? b : nil, padding: cs.padding).relu()
            .maxPool2d(kernel: pk, stride: ps, padding: pp)
        let fused = try GradMode.noGrad {
            try Tensor.conv2dReLUMaxPool(x, weight: w, bias: cs.bias ? b : nil, stride: 1, padding: cs.padding, pool: pk,
                                         poolStride: ps, poolPadding: pp)
        }
        let y = try #require(fused, "\(cs.testDescription)")
        #expect(y.shape == three.shape)
        #expect(y.array == three.array, "\(cs.testDescription) pool \(pk)/\(ps)/\(pp)")
    }
    // Not covered: stride 2, a pool larger than the padded result.
    let x = try rand([1, 2, 8, 8], seed: 21), w = try rand([3, 2, 3, 3], seed: 22)
    #expect(try Tensor.conv2dReLUMaxPool(x, weight: w, bias: nil, stride: 2, padding: 1, pool: 2, poolStride: 2, poolPadding: 0) == nil)
    #expect(try Tensor.conv2dReLUMaxPool(x, weight: w, bias: nil, stride: 1, padding: 0, pool: 9, poolStride: 1, poolPadding: 0) == nil)
}

@Test func convReLUMaxPoolGradients() throws {
    for (pk, ps, pp) in [(2, 2, 0), (3, 2, 1)] {
        let x = try rand([2, 2, 6, 5], seed: 35), w = try rand([3, 2, 3, 3], seed: 36, scale: 0.5), b = try rand([3], seed: 37)
        try gradCheck([x, w, b], "conv2dReLUMaxPool pool \(pk)/\(ps)/\(pp)") { t in
            try #require(try Tensor.conv2dReLUMaxPool(t[0], weight: t[1], bias: t[2], stride: 1, padding: 1, pool: pk, poolStride: ps,
                                                      poolPadding: pp))
        }
    }
}

/// Recorded, the one pass gives the three operations' output and gradients (input, weight,
/// bias) bit for bit: windows whose maximum is positive, windows the ReLU zeroes (a strongly
/// negative bias on some channels), overlapping windows (accumulated), NaN in the input, and
/// only the weight requiring a gradient.
@Test func convReLUMaxPoolInOnePassHasTheThreeOperationsGradients() throws {
    for (cs, pk, ps, pp) in convPoolCases {
        for variant in 0..<3 {
            let x = try rand(cs.xShape, seed: 30), w = try rand(cs.wShape, seed: 31, scale: 0.3), b = try rand([cs.o], seed: 32)
            for ch in stride(from: 0, to: cs.o, by: 2) { b.data[ch] -= 4 }   // mostly zeroed by the ReLU
            if variant == 1 { for i in stride(from: 0, to: x.count, by: 53) { x.data[i] = .nan } }
            let needX = variant != 2
            func run(_ fused: Bool) throws -> [[UInt32]] {
                let xi = needX ? x.copy().requiringGrad() : x.copy(), wi = w.copy().requiringGrad(), bi = b.copy().requiringGrad()
                let bias = cs.bias ? bi : nil
                let y = fused
                    ? try #require(try Tensor.conv2dReLUMaxPool(xi, weight: wi, bias: bias, stride: 1, padding: cs.padding, pool: pk,
                                                                poolStride: ps, poolPadding: pp), "\(cs.testDescription)")
                    : try Tensor.conv2d(xi, weight: wi, bias: bias, padding: cs.padding).relu().maxPool2d(kernel: pk, stride: ps, padding: pp)
                try (y * (try rand(y.shape, seed: 34))).sum().backward()
                #expect(xi.grad == nil || needX)
                return [y.array, xi.grad?.array ?? [], wi.grad?.array ?? [], cs.bias ? bi.grad?.array ?? [] : []].map { $0.map(\.bitPattern) }
            }
            let three = try run(false), one = try run(true)
            #expect(three[2].count == w.count && three[1].count == (needX ? x.count : 0))
            for (i, part) in ["output", "input gradient", "weight gradient", "bias gradient"].enumerated() {
                let differing = zip(one[i], three[i]).filter { $0 != $1 }.count
                #expect(one[i].count == three[i].count && differing == 0,
                        "\(part): \(differing) of \(three[i].count) differ, \(cs.testDescription) pool \(pk)/\(ps)/\(pp) variant \(variant)")
            }
        }
    }
}
