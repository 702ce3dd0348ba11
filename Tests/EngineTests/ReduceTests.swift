// Reductions: sum, mean, max, min and argmax, over everything and along axes.
import Testing
import TestSupport
@testable import Engine

@Suite struct ReduceTests {
    struct AxesCase: Sendable, CustomTestStringConvertible {
        let shape: [Int], axes: [Int], keepDims: Bool
        var testDescription: String { "\(shape) axes \(axes)\(keepDims ? " keepDims" : "")" }
        /// The axes made non-negative.
        var normalized: Set<Int> { Set(axes.map { $0 < 0 ? $0 + shape.count : $0 }) }
    }

    static let axesCases: [AxesCase] = {
        let base: [([Int], [Int])] = [
            ([2, 3, 4], [0]), ([2, 3, 4], [1]), ([2, 3, 4], [2]), ([2, 3, 4], [-1]), ([2, 3, 4], [0, 2]),
            ([2, 3, 4], [1, 2]), ([2, 3, 4], [0, 1, 2]), ([2, 3, 4], [2, 0]), ([2, 3, 4], [-3, -1]),
            ([2, 3, 4], [1, 1]), ([5], [0]), ([3, 1, 2], [1]), ([2, 3, 2, 5], [1, 3]), ([4, 9], [1]),
        ]
        return base.flatMap { s, a in [AxesCase(shape: s, axes: a, keepDims: false), AxesCase(shape: s, axes: a, keepDims: true)] }
    }()

    @Test func sumAndMeanOfEverything() throws {
        for shape in [[], [1], [7], [3, 5], [2, 3, 4], [1000]] {
            let x = try rand(shape, seed: 2)
            let s = x.sum(), m = x.mean()
            let ref = x.array.reduce(0.0) { $0 + Double($1) }
            #expect(s.shape == [] && m.shape == [])
            assertClose([s.item], [Float(ref)], atol: 1e-5, rtol: 1e-5, "sum \(shape)")
            assertClose([m.item], [Float(ref / Double(x.count))], atol: 1e-6, rtol: 1e-5, "mean \(shape)")
        }
        try gradCheck([rand([3, 4], seed: 3)], "sum()") { $0[0].sum() }
        try gradCheck([rand([3, 4], seed: 3)], "mean()") { $0[0].mean() }
        try gradCheck([rand([], seed: 3)], "sum() of a scalar") { $0[0].sum() }
    }

    @Test func sumAccumulatesPrecisely() throws {
        // 10⁵ copies of 0.1: a float running sum drifts by ~1%, the Double accumulator does not.
        let x = try Tensor(shape: [100_000], repeating: 0.1)
        assertClose([x.sum().item], [10_000], atol: 0, rtol: 1e-5, "sum")
        assertClose([x.mean().item], [0.1], atol: 0, rtol: 1e-5, "mean")
        let y = try Tensor(shape: [2, 50_000], repeating: 0.1)
        assertClose(try y.sum(axes: [1]).array, [5000, 5000], atol: 0, rtol: 1e-3, "sum axis")
    }

    @Test(arguments: axesCases)
    func sumAlongAxes(c: AxesCase) throws {
        let x = try rand(c.shape, seed: 4)
        let y = try x.sum(axes: c.axes, keepDims: c.keepDims)
        let ref = CoreRef.reduce(x.array, c.shape, axes: c.normalized, keepDims: c.keepDims, initial: 0, +)
        #expect(y.shape == ref.shape)
        assertClose(y.array, ref.data, atol: 1e-5, rtol: 1e-5, "sum \(c.testDescription)")
        try gradCheck([rand(c.shape, seed: 5)], "sum \(c.testDescription)") { try $0[0].sum(axes: c.axes, keepDims: c.keepDims) }
    }

    @Test(arguments: axesCases)
    func meanAlongAxes(c: AxesCase) throws {
        let x = try rand(c.shape, seed: 6)
        let y = try x.mean(axes: c.axes, keepDims: c.keepDims)
        let n = Double(c.normalized.reduce(1) { $0 * c.shape[$1] })
        let ref = CoreRef.reduce(x.array, c.shape, axes: c.normalized, keepDims: c.keepDims, initial: 0, +)
        #expect(y.shape == ref.shape)
        assertClose(y.array, ref.data.map { Float(Double($0) / n) }, atol: 1e-6, rtol: 1e-5, "mean \(c.testDescription)")
        try gradCheck([rand(c.shape, seed: 7)], "mean \(c.testDescription)") { try $0[0].mean(axes: c.axes, keepDims: c.keepDims) }
    }

    static let maxCases: [AxesCase] = [[2, 3, 4], [5], [3, 1, 2], [4, 9]].flatMap { shape in
        (-1..<shape.count).flatMap { a in [false, true].map { AxesCase(shape: shape, axes: [a], keepDims: $0) } }
    }

    @Test(arguments: maxCases)
    func maxAndMinAlongAxis(c: AxesCase) throws {
        let x = CoreRef.spaced(c.shape, seed: 8)  // distinct values: no ties
        let axis = c.axes[0]
        let mx = try x.max(axis: axis, keepDims: c.keepDims), mn = try x.min(axis: axis, keepDims: c.keepDims)
        let refMax = CoreRef.reduce(x.array, c.shape, axes: c.normalized, keepDims: c.keepDims, initial: -.infinity) { Swift.max($0, $1) }
        let refMin = CoreRef.reduce(x.array, c.shape, axes: c.normalized, keepDims: c.keepDims, initial: .infinity) { Swift.min($0, $1) }
        #expect(mx.shape == refMax.shape && mn.shape == refMin.shape)
        #expect(mx.array == refMax.data)
        #expect(mn.array == refMin.data)
        try gradCheck([CoreRef.spaced(c.shape, seed: 9)], "max \(c.testDescription)") { try $0[0].max(axis: axis, keepDims: c.keepDims) }
        try gradCheck([CoreRef.spaced(c.shape, seed: 9)], "min \(c.testDescription)") { try $0[0].min(axis: axis, keepDims: c.keepDims) }
    }

    @Test func maxOverEverything() throws {
        let x = CoreRef.spaced([3, 4], seed: 10)
        let m = try x.max()
        #expect(m.shape == [])
        #expect(m.item == x.array.max()!)
        #expect(try x.min().item == x.array.min()!)
        try gradCheck([CoreRef.spaced([3, 4], seed: 11)], "max()") { try $0[0].max() }
        try gradCheck([CoreRef.spaced([3, 4], seed: 11)], "min()") { try $0[0].min() }
    }

    @Test func maxGradientIsOneHotAtTheArgmax() throws {
        let x = try Tensor(shape: [2, 3], data: [1, 9, 3, 7, 2, 8]).requiringGrad()
        try x.max(axis: 1).sum().backward()
        #expect(x.grad?.array == [0, 1, 0, 0, 0, 1])
        x.zeroGrad(); x.requiresGrad = true
        try x.max(axis: 0).sum().backward()
        #expect(x.grad?.array == [0, 1, 0, 1, 0, 1])
        // With ties exactly one of the tied entries receives the gradient.
        let t = try Tensor(shape: [2, 4], repeating: 3).requiringGrad()
        try t.max(axis: 1).sum().backward()
        #expect(t.grad?.array.reduce(0, +) == 2)
    }

    @Test func argmax() throws {
        let x = CoreRef.spaced([3, 4, 5], seed: 12)
        for axis in [0, 1, 2, -1] {
            let ax = axis < 0 ? axis + 3 : axis
            let got = try x.argmax(axis: axis)
            // Reference: the position along `ax` of the maximum, for each remaining index.
            var outShape = x.shape
            outShape.remove(at: ax)
            let expected = (0..<CoreRef.count(outShape)).map { o -> Int in
                var idx = CoreRef.unravel(o, outShape)
                idx.insert(0, at: ax)
                var best = -Float.infinity, arg = -1
                for j in 0..<x.shape[ax] {
                    idx[ax] = j
                    let v = x.array[CoreRef.ravel(idx, x.shape)]
                    if v > best { best = v; arg = j }
                }
                return arg
            }
            #expect(got == expected, "axis \(axis)")
        }
        #expect(try x.argmax() == x.argmax(axis: 2))
        // Ties resolve to the first index, as in NumPy.
        let t = try Tensor(shape: [2, 4], data: [1, 5, 5, 2, 7, 7, 7, 7])
        #expect(try t.argmax() == [1, 0])
    }

    @Test func axisOutOfRangeThrows() throws {
        let x = try rand([2, 3, 4])
        CoreRef.expectError("out of range") { try x.sum(axes: [3]) }
        CoreRef.expectError("out of range") { try x.sum(axes: [-4]) }
        CoreRef.expectError("out of range") { try x.sum(axes: [0, 7], keepDims: true) }
        CoreRef.expectError("out of range") { try x.mean(axes: [5]) }
        CoreRef.expectError("out of range") { try x.max(axis: 3) }
        CoreRef.expectError("out of range") { try x.min(axis: -4) }
        CoreRef.expectError("out of range") { try x.argmax(axis: 3) }
        // A scalar has no axes at all.
        CoreRef.expectError("out of range") { try Tensor(2).sum(axes: [0]) }
        CoreRef.expectError("out of range") { try Tensor(2).max(axis: 0) }
        CoreRef.expectError("out of range") { try Tensor(2).argmax(axis: 0) }
    }

    @Test func emptyTensorMaxThrows() {
        CoreRef.expectError("empty") { try Tensor.zeros([0, 3]).max() }
        CoreRef.expectError("empty") { try Tensor.zeros([0]).argmax() }
    }
}
