// Reverse-mode autodiff: accumulation, shared subexpressions, no-grad mode, gradients with
// respect to inputs, and the errors backward() reports.
import Testing
import TestSupport
@testable import Engine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct AutodiffTests {
    @Test func gradientsAccumulateAcrossBackwardCalls() throws {
        let w = try Tensor(shape: [3], data: [1, 2, 3]).requiringGrad()
        let x = try Tensor(shape: [3], data: [4, 5, 6])
        try (w * x).sum().backward()
        #expect(w.grad?.array == [4, 5, 6])
        try (w * x).sum().backward()  // a fresh graph, the same leaf
        #expect(w.grad?.array == [8, 10, 12])
        try (w.square()).sum().backward()
        #expect(w.grad?.array == [10, 14, 18])
        w.zeroGrad()
        #expect(w.grad == nil)
        try w.sum().backward()
        #expect(w.grad?.array == [1, 1, 1])
    }

    @Test func tensorUsedTwiceGetsTheSummedGradient() throws {
        let x = try Tensor(shape: [3], data: [1, -2, 3]).requiringGrad()
        try (x * x).sum().backward()
        #expect(x.grad?.array == [2, -4, 6])
        x.zeroGrad()
        try (x + x + x).sum().backward()
        #expect(x.grad?.array == [3, 3, 3])
        // A diamond: y feeds two branches that meet again.
        try gradCheck([rand([2, 3], seed: 1)], "diamond") { t in
            let y = t[0] * 0.5
            return try y.exp() * y.tanh() + y
        }
        // The same tensor on both sides of a matmul.
        try gradCheck([rand([3, 3], seed: 2)], "x·x") { try $0[0].matmul($0[0]) }
        try gradCheck([rand([3, 4], seed: 3)], "x·xᵀ") { try $0[0].matmul($0[0].transposed()) }
    }

    @Test func noGradRecordsNothing() throws {
        let w = try rand([3, 4], seed: 4).requiringGrad()
        #expect(GradMode.isEnabled)
        let y = try GradMode.noGrad {
            #expect(!GradMode.isEnabled)
            return try w.matmul(rand([4, 2])).relu().sum()
        }
        #expect(GradMode.isEnabled)
        #expect(!y.isRecorded && !y.requiresGrad)
        CoreRef.expectError("does not require a gradient") { try y.backward() }
        #expect(w.grad == nil)
        // Nested: still off inside, back on outside.
        GradMode.noGrad { GradMode.noGrad { #expect(!GradMode.isEnabled) }; #expect(!GradMode.isEnabled) }
        #expect(GradMode.isEnabled)
        // A throw inside noGrad leaves recording on afterwards.
        #expect(throws: EngineError.self) { try GradMode.noGrad { try w.reshaped([5]) } }
        #expect(GradMode.isEnabled)
        #expect((w * 2).isRecorded)
    }

    @Test func gradientWithRespectToAnInput() throws {
        // Saliency: d/dx Σ (x·Wᵀ) = column sums of W, for every row of x.
        let w = try Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let x = try rand([4, 3], seed: 5).requiringGrad()
        try Tensor.linear(x, weight: w, bias: nil).sum().backward()
        #expect(x.grad?.shape == [4, 3])
        #expect(x.grad?.array == [Float](repeating: 0, count: 4).flatMap { _ in [5, 7, 9] as [Float] })
        #expect(w.grad == nil)
    }

    @Test func inputsThatDoNotRequireGradGetNone() throws {
        let a = try rand([2, 3], seed: 6).requiringGrad(), b = try rand([2, 3], seed: 7), c = try rand([3], seed: 8)
        try ((a * b + c).sigmoid().sum()).backward()
        #expect(a.grad != nil)
        #expect(b.grad == nil && c.grad == nil)
        #expect(!b.requiresGrad && !c.requiresGrad)
        // Turning it off again stops the flow.
        a.zeroGrad()
        a.requiringGrad(false)
        let product = try a * b
        #expect(!product.isRecorded)
    }

    @Test func backwardErrors() throws {
        let x = try rand([2, 3], seed: 9).requiringGrad()
        CoreRef.expectError("needs a scalar") { try (x * 2).backward() }
        CoreRef.expectError("expected [2, 3]") { try (x * 2).backward(try Tensor.ones([3, 2])) }
        CoreRef.expectError("does not require a gradient") { try rand([1]).backward() }
        // A non-scalar output with an explicit gradient is fine: vector–Jacobian product.
        try (x * 2).backward(try Tensor.ones([2, 3]))
        #expect(x.grad?.array == [Float](repeating: 2, count: 6))
        // A one-element non-scalar output needs no explicit gradient.
        x.zeroGrad()
        try x.sum(axes: [0, 1], keepDims: true).backward()
        #expect(x.grad?.array == [Float](repeating: 1, count: 6))
    }

    @Test func graphIsReleasedAfterBackward() throws {
        let x = try rand([3], seed: 10).requiringGrad()
        let y = (x * 3).sum()
        #expect(y.isRecorded)
        try y.backward()
        #expect(!y.isRecorded)
        #expect(x.requiresGrad && !x.isRecorded)
        // The leaf's gradient is kept; a second backward through the released graph is an error.
        CoreRef.expectError("does not require a gradient") { try y.backward() }
        #expect(x.grad?.array == [3, 3, 3])
    }

    @Test func backwardOnALeaf() throws {
        let x = try rand([2, 2], seed: 11).requiringGrad()
        try x.backward(try Tensor.ones([2, 2]) * 5)
        #expect(x.grad?.array == [5, 5, 5, 5])
    }

    @Test func leafGradientsDoNotAlias() throws {
        // a + b hands the same upstream gradient to both inputs; the leaves' grads must still be
        // independent tensors (optimizers and clipping modify them in place).
        let a = try rand([3], seed: 12).requiringGrad(), b = try rand([3], seed: 13).requiringGrad()
        try (a + b).sum().backward()
        #expect(a.grad !== b.grad)
        #expect(a.grad?.storage !== b.grad?.storage)
        a.grad?.data[0] = 42
        #expect(b.grad?.array == [1, 1, 1])
        // Nor with the caller's seed gradient, through a reshape view.
        let x = try rand([2, 3], seed: 14).requiringGrad()
        let seed = try Tensor.ones([6])
        try x.reshaped([6]).backward(seed)
        #expect(x.grad?.storage !== seed.storage)
        x.grad?.fill(0)
        #expect(seed.array == [Float](repeating: 1, count: 6))
    }

    @Test func intermediateTensorsGetNoGrad() throws {
        let x = try rand([3], seed: 15).requiringGrad()
        let h = x.exp()
        try (h * 2).sum().backward()
        #expect(h.grad == nil)
        assertClose(x.grad!.array, x.array.map { 2 * expf($0) }, atol: 1e-5, rtol: 1e-5, "d exp")
    }

    @Test func longChainDoesNotOverflowTheStack() throws {
        let x = Tensor(1).requiringGrad()
        var y = x
        for _ in 0..<20_000 { y = y * 1 }
        try y.backward()
        #expect(x.grad?.item == 1)
    }

    @Test func multiLayerNetworkGradient() throws {
        // A two-layer MLP with every kind of op a classifier uses, checked end to end.
        let labels = [2, 0, 1, 2]
        try gradCheck([rand([4, 5], seed: 16), rand([6, 5], seed: 17, scale: 0.5), rand([6], seed: 18, scale: 0.1),
                       rand([3, 6], seed: 19, scale: 0.5), rand([3], seed: 20, scale: 0.1)], "mlp") { t in
            let h = try Tensor.linear(t[0], weight: t[1], bias: t[2]).tanh()
            return try Tensor.linear(h, weight: t[3], bias: t[4]).crossEntropy(labels: labels, smoothing: 0.1)
        }
    }
}
