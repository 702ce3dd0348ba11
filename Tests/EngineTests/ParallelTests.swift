// The multi-threaded kernel paths: every large kernel gives bit-for-bit the same result on one
// thread and on several, agrees with the reference loops, and still has correct gradients.
import Testing
import TestSupport
@testable import Engine
import Kernels

/// Runs `body` with the kernels it calls limited to `threads` threads. The limit holds on this
/// thread only: other tests run meanwhile, and split GEMMs round differently at one thread and
/// two, so changing the process-wide count could change their results. A kernel that finds the
/// pool busy runs on its own thread, with the same result.
private func withKernelThreads<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
    try Parallel.withThreads(threads, body)
}

/// Runs `f` on one thread and on `threads` threads and expects identical arrays.
private func expectSameOnThreads(_ what: String, threads: Int = 2, sourceLocation: SourceLocation = #_sourceLocation,
                                 _ f: () throws -> [[Float]]) throws {
    let one = try withKernelThreads(1, f)
    let many = try withKernelThreads(threads, f)
    #expect(one.count == many.count, sourceLocation: sourceLocation)
    for (i, (a, b)) in zip(one, many).enumerated() {
        #expect(a.count == b.count, "\(what) output \(i): count", sourceLocation: sourceLocation)
        if let j = a.indices.first(where: { j in j < b.count && a[j].bitPattern != b[j].bitPattern }) {
            Issue.record("\(what) output \(i): element \(j) is \(b[j]) on \(threads) threads, \(a[j]) on one",
                         sourceLocation: sourceLocation)
        }
    }
}

@Test func parallelForRunsEveryTaskOnce() {
    for threads in [1, 2, 3] {
        withKernelThreads(threads) {
            for tasks in [0, 1, 2, 3, 7, 64] {
                let counts = UnsafeMutablePointer<Int>.allocate(capacity: max(tasks, 1))
                counts.initialize(repeating: 0, count: max(tasks, 1))
                parallelFor(tasks) { i in
                    // A nested call runs on the calling thread.
                    parallelFor(2) { j in if j == 0 { counts[i] += 1 } }
                }
                #expect((0..<tasks).allSatisfy { counts[$0] == 1 }, "\(tasks) tasks on \(threads) threads")
                counts.deallocate()
            }
        }
    }
}

/// Above the size at which the elementwise kernels split their work.
private let bigShape = [12, 32, 28, 28]

@Test func elementwiseKernelsAgreeAcrossThreadCounts() throws {
    #expect(bigShape.reduce(1, *) >= 2 * Parallel.minParallelElements)
    let a = try rand(bigShape, seed: 21), b = try rand(bigShape, seed: 22), g = try rand(bigShape, seed: 23)
    try expectSameOnThreads("elementwise") {
        var outs: [[Float]] = []
        for op in [UnaryOp.relu, .exp, .tanh, .gelu] {
            let x = a.detached().requiringGrad()
            let y = x.unary(op)
            try y.backward(g)
            outs += [y.array, x.grad?.array ?? []]
        }
        outs.append(try (a + b).array)
        outs.append(try (a * b).array)
        outs.append((a * 3).array)
        outs.append(a.clamped(min: -0.5, max: 0.5).array)
        return outs
    }
    // And against plain loops.
    let relu = withKernelThreads(2) { a.relu().array }
    #expect(relu == a.array.map { $0 > 0 ? $0 : 0 })
    let sum = try withKernelThreads(2) { try (a + b).array }
    #expect(sum == zip(a.array, b.array).map { $0 + $1 })
}

private let bigPoolCases: [PoolCase] = [
    PoolCase(shape: [8, 32, 28, 28], kernel: 2, stride: nil, padding: 0),
    PoolCase(shape: [4, 16, 29, 27], kernel: 3, stride: 2, padding: 1),
    PoolCase(shape: [2, 64, 14, 14], kernel: 3, stride: 1, padding: 1),
]

@Test(arguments: bigPoolCases)
func poolingAgreesAcrossThreadCounts(_ pc: PoolCase) throws {
    let x = try rand(pc.shape, seed: 31)
    let s = pc.stride ?? pc.kernel
    try expectSameOnThreads("pooling \(pc.testDescription)") {
        let xm = x.detached().requiringGrad(), xa = x.detached().requiringGrad()
        let ym = try xm.maxPool2d(kernel: pc.kernel, stride: pc.stride, padding: pc.padding)
        let ya = try xa.avgPool2d(kernel: pc.kernel, stride: pc.stride, padding: pc.padding)
        try ym.backward(rand(ym.shape, seed: 32))
        try ya.backward(rand(ya.shape, seed: 33))
        let gp = try x.globalAvgPool()
        return [ym.array, xm.grad?.array ?? [], ya.array, xa.grad?.array ?? [], gp.array]
    }
    try withKernelThreads(2) {
        let ym = try x.maxPool2d(kernel: pc.kernel, stride: pc.stride, padding: pc.padding)
        let refMax = referenceMaxPool2d(x.array, x.shape, kernel: pc.kernel, stride: s, padding: pc.padding)
        assertClose(ym.array, refMax.values, atol: 0, rtol: 0, "maxPool2d \(pc.testDescription)")
        let ya = try x.avgPool2d(kernel: pc.kernel, stride: pc.stride, padding: pc.padding)
        let refAvg = referenceAvgPool2d(x.array, x.shape, kernel: pc.kernel, stride: s, padding: pc.padding)
        assertClose(ya.array, refAvg.values, "avgPool2d \(pc.testDescription)")
    }
}

/// Convolutions large enough to be split over images: the small CNN's two layers (the first on
/// the direct kernels, the second on GEMMs), a strided one and one with few images per chunk.
private let bigConvCases: [ConvCase] = [
    ConvCase(n: 16, c: 1, h: 28, w: 28, o: 32, k: 3, stride: 1, padding: 1, bias: true),
    ConvCase(n: 16, c: 32, h: 14, w: 14, o: 64, k: 3, stride: 1, padding: 1, bias: true),
    ConvCase(n: 32, c: 8, h: 31, w: 29, o: 24, k: 3, stride: 2, padding: 1, bias: false),
    ConvCase(n: 5, c: 16, h: 20, w: 20, o: 8, k: 5, stride: 1, padding: 2, bias: true),
]

@Test(arguments: bigConvCases)
func conv2dAgreesAcrossThreadCountsAndWithTheReference(_ cs: ConvCase) throws {
    let x = try rand(cs.xShape, seed: 41), w = try rand(cs.wShape, seed: 42, scale: 0.3), b = try rand([cs.o], seed: 43)
    let g = try rand([cs.n, cs.o, (cs.h + 2 * cs.padding - cs.k) / cs.stride + 1, (cs.w + 2 * cs.padding - cs.k) / cs.stride + 1], seed: 44)
    let plan = ConvPlan(batch: cs.n, k: cs.c * cs.k * cs.k, plane: g.shape[2] * g.shape[3], outChannels: cs.o)
    #expect(plan.groups > 1, "\(cs.testDescription) is not split")
    for threads in [2, 3] {
        try expectSameOnThreads("conv2d \(cs.testDescription)", threads: threads) {
            let xs = x.detached().requiringGrad(), ws = w.detached().requiringGrad(), bs = b.detached().requiringGrad()
            let y = try Tensor.conv2d(xs, weight: ws, bias: cs.bias ? bs : nil, stride: cs.stride, padding: cs.padding)
            try y.backward(g)
            return [y.array, xs.grad?.array ?? [], ws.grad?.array ?? [], bs.grad?.array ?? []]
        }
    }
    // Against the reference loops, and gradients against the plain sums they stand for:
    // dL/db = Σ g, dL/dw·w + dL/db·b = Σ g ⊙ y for a linear map (Euler's identity).
    try withKernelThreads(2) {
        let ws = w.detached().requiringGrad(), bs = b.detached().requiringGrad()
        let y = try Tensor.conv2d(x, weight: ws, bias: cs.bias ? bs : nil, stride: cs.stride, padding: cs.padding)
        let ref = referenceConv2d(x.array, x.shape, weight: w.array, w.shape, bias: cs.bias ? b.array : nil,
                                  stride: cs.stride, padding: cs.padding)
        #expect(y.shape == ref.shape)
        assertClose(y.array, ref.values, atol: 1e-4, "conv2d \(cs.testDescription)")
        try y.backward(g)
        let gy = zip(g.array, y.array).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        var lhs = zip(ws.grad!.array, w.array).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        if cs.bias {
            lhs += zip(bs.grad!.array, b.array).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let gsum = g.array.reduce(0.0) { $0 + Double($1) }
            let perChannel = (0..<cs.o).map { oc in
                (0..<cs.n).reduce(0.0) { acc, img in
                    let p = g.shape[2] * g.shape[3], base = (img * cs.o + oc) * p
                    return acc + g.array[base..<(base + p)].reduce(0.0) { $0 + Double($1) }
                }
            }
            assertClose(bs.grad!.array, perChannel.map { Float($0) }, atol: 1e-3, "bias gradient")
            #expect(Swift.abs(perChannel.reduce(0, +) - gsum) < 1e-2)
        }
        #expect(Swift.abs(lhs - gy) <= 1e-3 * Swift.max(1, Swift.abs(gy)), "Σ w·dL/dw = \(lhs), Σ g·y = \(gy)")
    }
}

/// Finite-difference gradients of a convolution split over several groups, on two threads.
@Test func conv2dGradientsWhenSplit() throws {
    let saved = ConvPlan.columnBlockFloats
    defer { ConvPlan.columnBlockFloats = saved }
    // Small column blocks so that a convolution small enough for finite differences is split.
    ConvPlan.columnBlockFloats = 1
    let cs = ConvCase(n: 4, c: 2, h: 5, w: 4, o: 3, k: 3, stride: 1, padding: 1, bias: true)
    let plan = ConvPlan(batch: cs.n, k: 18, plane: 20, outChannels: 3)
    #expect(plan.chunk == 1)
    try withKernelThreads(2) {
        let x = try rand(cs.xShape, seed: 51), w = try rand(cs.wShape, seed: 52, scale: 0.5), b = try rand([cs.o], seed: 53)
        try gradCheck([x, w, b], "conv2d split \(cs.testDescription)") { t in
            try Tensor.conv2d(t[0], weight: t[1], bias: t[2], stride: cs.stride, padding: cs.padding)
        }
    }
}

@Test func splitGEMMAgreesWithOneCall() throws {
    // Shapes of the MLP's and the CNN's linear layers, and a tall and a wide one. Split and
    // single calls may round differently (OpenBLAS blocks the halves on their own), so they are
    // compared within float tolerance; bit-exact repeatability at a fixed thread count is checked
    // by the training determinism tests.
    for (m, k, n) in [(128, 784, 300), (128, 3136, 128), (1000, 64, 40), (40, 64, 1000)] {
        let a = try rand([m, k], seed: 61), b = try rand([k, n], seed: 62), g = try rand([m, n], seed: 63)
        func run() throws -> [[Float]] {
            let x = a.detached().requiringGrad(), y = b.detached().requiringGrad()
            let c = try x.matmul(y)
            try c.backward(g)
            return [c.array, x.grad?.array ?? [], y.grad?.array ?? []]
        }
        let one = try withKernelThreads(1, run), two = try withKernelThreads(2, run)
        for (i, (p, q)) in zip(one, two).enumerated() {
            assertClose(q, p, atol: 1e-3, rtol: 1e-4, "matmul \(m)×\(k)×\(n) output \(i), 2 threads vs 1")
        }
        let c = try withKernelThreads(2) { try a.matmul(b) }
        assertClose(c.array, referenceMatmul(a.array, b.array, m: m, k: k, n: n), atol: 1e-3, "matmul \(m)×\(k)×\(n)")
    }
}

@Test func movementStepsAreTheSameOnOneThreadAndTwo() throws {
    // Two matrices' fused movement steps as one job (a large one split into pieces and a small
    // one), with a window: every buffer and every candidate list bit for bit alike.
    let sizes = [300 * 400 + 3, 30_000]
    try expectSameOnThreads("movementSteps") {
        var out: [[Float]] = []
        var tasks: [MovementTask] = [], keep: [Tensor] = []
        var offset = 0
        for (j, n) in sizes.enumerated() {
            let t = try (0..<8).map { try rand([n], seed: UInt64(70 + 10 * j + $0), scale: $0 >= 5 ? 1e-3 : 1) }
            for i in 0..<n { t[6].data[i] = abs(t[6].data[i]) }     // Adam's second moment
            keep += t
            let b = MovementBuffers(weight: t[0].data, gradient: t[1].data, weightFirst: t[2].data, weightSecond: nil,
                                    scores: t[3].data, scoreFirst: t[5].data, scoreSecond: t[6].data, mask: t[4].data,
                                    masked: t[7].data, count: n)
            tasks.append(MovementTask(b, rule: .sgd(lr: 0.1, momentum: 0.9, weightDecay: 0, nesterov: false),
                                      scoreRule: .adam(lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0,
                                                       decoupled: false, c1: 0.1, c2: 0.001),
                                      current: .stored, window: KeyWindow(lo: orderedKey(0.9), hi: orderedKey(1.1)),
                                      offset: offset))
            offset += n
        }
        let found = movementSteps(tasks)
        #expect(found.allSatisfy { !$0.candidates.isEmpty }, "every matrix has entries inside the window")
        for f in found { out.append([Float(f.above)] + f.candidates.map { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) }) }
        for t in keep { out.append(t.array) }
        return out
    }
}
