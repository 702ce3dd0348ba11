// Elementwise ops: broadcasting binary ops, scalar ops, comparisons, where, unary ops and clamp,
// checked against plain-loop references and finite-difference gradients.
import Testing
import TestSupport
@testable import Engine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Double-precision libm, named so that enum cases called exp/log/pow do not shadow them.
private func refExp(_ x: Double) -> Double { exp(x) }
private func refLog(_ x: Double) -> Double { log(x) }
private func refTanh(_ x: Double) -> Double { tanh(x) }
private func refErf(_ x: Double) -> Double { erf(x) }
private func refPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }

/// Slow, obviously-correct references over [Float], shared by the core-op tests.
enum CoreRef {
    static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The multi-index of flat position `flat` in a row-major `shape`.
    static func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
        var idx = [Int](repeating: 0, count: shape.count), f = flat
        for d in stride(from: shape.count - 1, through: 0, by: -1) { idx[d] = f % shape[d]; f /= shape[d] }
        return idx
    }

    /// The flat row-major position of a multi-index.
    static func ravel(_ idx: [Int], _ shape: [Int]) -> Int {
        var f = 0
        for (d, i) in idx.enumerated() { f = f * shape[d] + i }
        return f
    }

    /// NumPy broadcasting of two shapes, written independently of the engine.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = Swift.max(a.count, b.count)
        let pa = [Int](repeating: 1, count: r - a.count) + a, pb = [Int](repeating: 1, count: r - b.count) + b
        var out: [Int] = []
        for i in 0..<r {
            if pa[i] == pb[i] || pb[i] == 1 { out.append(pa[i]) } else if pa[i] == 1 { out.append(pb[i]) } else { return nil }
        }
        return out
    }

    /// The element of `x` (of `shape`) that lands at `index` of a broadcast output.
    static func element(_ x: [Float], _ shape: [Int], at index: [Int]) -> Float {
        let lead = index.count - shape.count
        var flat = 0
        for i in 0..<shape.count { flat = flat * shape[i] + (shape[i] == 1 ? 0 : index[lead + i]) }
        return x[flat]
    }

    /// f applied elementwise under broadcasting, one output element at a time.
    static func binary(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> (shape: [Int], data: [Float]) {
        let s = broadcast(a.shape, b.shape)!
        let av = a.array, bv = b.array
        let data = (0..<count(s)).map { i -> Float in
            let idx = unravel(i, s)
            return f(element(av, a.shape, at: idx), element(bv, b.shape, at: idx))
        }
        return (s, data)
    }

    /// [m,k]·[k,n] with a Double accumulator.
    static func matmul(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
                c[i * n + j] = Float(s)
            }
        }
        return c
    }

    /// Reduces `axes` (non-negative) of x by `combine` from `initial`, in Double.
    static func reduce(_ x: [Float], _ shape: [Int], axes: Set<Int>, keepDims: Bool, initial: Double,
                       _ combine: (Double, Double) -> Double) -> (shape: [Int], data: [Float]) {
        let kept = shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        var acc = [Double](repeating: initial, count: count(kept))
        for i in 0..<x.count {
            var idx = unravel(i, shape)
            for a in axes { idx[a] = 0 }
            let o = ravel(idx, kept)
            acc[o] = combine(acc[o], Double(x[i]))
        }
        let outShape = keepDims ? kept : shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
        return (outShape, acc.map { Float($0) })
    }

    /// out[i₀, …] = x[…] with out.shape[d] = shape[perm[d]].
    static func permute(_ x: [Float], _ shape: [Int], _ perm: [Int]) -> (shape: [Int], data: [Float]) {
        let outShape = perm.map { shape[$0] }
        var out = [Float](repeating: 0, count: x.count)
        for o in 0..<x.count {
            let oi = unravel(o, outShape)
            var ii = [Int](repeating: 0, count: shape.count)
            for (d, p) in perm.enumerated() { ii[p] = oi[d] }
            out[o] = x[ravel(ii, shape)]
        }
        return (outShape, out)
    }

    /// Picks `indices` along `axis`, one output element at a time.
    static func select(_ x: [Float], _ shape: [Int], axis: Int, _ indices: [Int]) -> (shape: [Int], data: [Float]) {
        var outShape = shape
        outShape[axis] = indices.count
        let data = (0..<count(outShape)).map { o -> Float in
            var idx = unravel(o, outShape)
            idx[axis] = indices[idx[axis]]
            return x[ravel(idx, shape)]
        }
        return (outShape, data)
    }

    /// Distinct values on a shuffled grid: k·gap + offset for k in −n/2..<n/2. Two tensors with
    /// offsets differing by gap/2 never come closer than gap/2 (no ties for max/min/relu/abs).
    static func spaced(_ shape: [Int], seed: UInt64, gap: Float = 0.3, offset: Float = 0) -> Tensor {
        let n = count(shape)
        let p = RNG(seed: seed).permutation(n)
        return try! Tensor(shape: shape, data: p.map { Float($0 - n / 2) * gap + offset })
    }

    static func uniform(_ shape: [Int], _ low: Float, _ high: Float, seed: UInt64) throws -> Tensor {
        try Tensor.uniform(shape, low: low, high: high, rng: RNG(seed: seed))
    }

    /// Expects `body` to throw an EngineError whose message is non-empty and contains `fragment`.
    static func expectError<R>(_ fragment: String, sourceLocation: SourceLocation = #_sourceLocation,
                               _ body: () throws -> R) {
        let error = #expect(throws: EngineError.self, sourceLocation: sourceLocation) { _ = try body() }
        if let error {
            #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
            #expect(error.message.contains(fragment), "message: \(error.message)", sourceLocation: sourceLocation)
        }
    }
}

@Suite struct ElementwiseTests {
    struct Shapes: Sendable, CustomTestStringConvertible {
        let a: [Int], b: [Int]
        init(_ a: [Int], _ b: [Int]) { self.a = a; self.b = b }
        var testDescription: String { "\(a) ⊕ \(b)" }
    }

    enum Op: String, CaseIterable, Sendable {
        case add, sub, mul, div, maximum, minimum, pow, eq, ne, lt, le, gt, ge

        var differentiable: Bool { ![.eq, .ne, .lt, .le, .gt, .ge].contains(self) }

        func apply(_ a: Tensor, _ b: Tensor) throws -> Tensor {
            switch self {
            case .add: try a + b
            case .sub: try a - b
            case .mul: try a * b
            case .div: try a / b
            case .maximum: try a.maximum(b)
            case .minimum: try a.minimum(b)
            case .pow: try a.pow(b)
            case .eq: try a.eq(b)
            case .ne: try a.ne(b)
            case .lt: try a.lt(b)
            case .le: try a.le(b)
            case .gt: try a.gt(b)
            case .ge: try a.ge(b)
            }
        }

        func reference(_ x: Float, _ y: Float) -> Float {
            switch self {
            case .add: x + y
            case .sub: x - y
            case .mul: x * y
            case .div: x / y
            case .maximum: x > y ? x : y
            case .minimum: x < y ? x : y
            case .pow: Float(refPow(Double(x), Double(y)))
            case .eq: x == y ? 1 : 0
            case .ne: x != y ? 1 : 0
            case .lt: x < y ? 1 : 0
            case .le: x <= y ? 1 : 0
            case .gt: x > y ? 1 : 0
            case .ge: x >= y ? 1 : 0
            }
        }

        /// Inputs in the op's comfortable domain: positive bases for pow, denominators away from
        /// zero, no near-ties for max/min, small integers (with ties) for comparisons.
        func inputs(_ sa: [Int], _ sb: [Int]) throws -> (Tensor, Tensor) {
            switch self {
            case .pow:
                return (try CoreRef.uniform(sa, 0.5, 2, seed: 3), try CoreRef.uniform(sb, -1.5, 2, seed: 4))
            case .div:
                let d = try CoreRef.uniform(sb, 0.5, 1.5, seed: 4)
                for i in 0..<d.count where i % 2 == 1 { d.data[i] = -d.data[i] }
                return (try rand(sa, seed: 3), d)
            case .maximum, .minimum:
                return (CoreRef.spaced(sa, seed: 3), CoreRef.spaced(sb, seed: 4, offset: 0.15))
            case .eq, .ne, .lt, .le, .gt, .ge:
                let a = try CoreRef.uniform(sa, -2, 2, seed: 3), b = try CoreRef.uniform(sb, -2, 2, seed: 4)
                for t in [a, b] { for i in 0..<t.count { t.data[i] = t.data[i].rounded() } }
                return (a, b)
            default:
                return (try rand(sa, seed: 3), try rand(sb, seed: 4))
            }
        }
    }

    static let forwardShapes: [Shapes] = [
        .init([3, 4], [3, 4]), .init([3, 4], [4]), .init([4], [3, 4]), .init([2, 1, 3], [4, 1]),
        .init([3, 4], []), .init([], [3, 4]), .init([], []), .init([3, 1], [1, 4]),
        .init([2, 3, 4, 5], [3, 1, 5]), .init([4, 1, 6], [1, 5, 1]), .init([1, 1, 7], [3, 2, 7]),
        .init([2, 1, 4, 1], [1, 3, 1, 5]), .init([2, 3, 1], [1]), .init([1, 3], [3]), .init([0, 3], [3]),
        .init([40, 33], [40, 1]),
    ]

    static let gradShapes: [Shapes] = [
        .init([3, 4], [3, 4]), .init([3, 4], [4]), .init([4], [3, 4]), .init([2, 1, 3], [4, 1]),
        .init([3, 4], []), .init([], [3, 4]), .init([3, 1], [1, 4]), .init([2, 3, 4], [3, 1]),
        .init([1, 4], [3, 1, 4]),
    ]

    @Test(arguments: Op.allCases, forwardShapes)
    func binaryForward(op: Op, shapes: Shapes) throws {
        let (a, b) = try op.inputs(shapes.a, shapes.b)
        let y = try op.apply(a, b)
        let expected = CoreRef.binary(a, b, op.reference)
        #expect(y.shape == expected.shape)
        assertClose(y.array, expected.data, atol: 1e-6, rtol: 1e-5, "\(op) \(shapes.testDescription)")
    }

    @Test(arguments: Op.allCases.filter(\.differentiable), gradShapes)
    func binaryGradient(op: Op, shapes: Shapes) throws {
        let (a, b) = try op.inputs(shapes.a, shapes.b)
        try gradCheck([a, b], "\(op) \(shapes.testDescription)") { try op.apply($0[0], $0[1]) }
    }

    @Test(arguments: Op.allCases.filter(\.differentiable))
    func binaryGradientToOneSideOnly(op: Op) throws {
        // Only one input requires a gradient: the other must get none, the first the right one.
        let (a, b) = try op.inputs([2, 3], [3])
        try gradCheck([a], "\(op) d/da") { try op.apply($0[0], b) }
        #expect(b.grad == nil && !b.requiresGrad)
        let (c, d) = try op.inputs([2, 3], [3])
        try gradCheck([d], "\(op) d/db") { try op.apply(c, $0[0]) }
        #expect(c.grad == nil)
    }

    @Test func maximumAndMinimumRouteGradientToTheChosenInput() throws {
        let a = try Tensor(shape: [4], data: [1, 5, -2, 3]).requiringGrad()
        let b = try Tensor(shape: [4], data: [2, 4, -3, 7]).requiringGrad()
        try a.maximum(b).sum().backward()
        #expect(a.grad?.array == [0, 1, 1, 0])
        #expect(b.grad?.array == [1, 0, 0, 1])
        a.zeroGrad(); b.zeroGrad()
        a.requiresGrad = true; b.requiresGrad = true
        try a.minimum(b).sum().backward()
        #expect(a.grad?.array == [1, 0, 0, 1])
        #expect(b.grad?.array == [0, 1, 1, 0])
    }

    @Test(arguments: Op.allCases)
    func incompatibleBroadcastThrows(op: Op) throws {
        CoreRef.expectError("cannot be broadcast") { try op.apply(try Tensor.zeros([3, 4]), try Tensor.zeros([3])) }
        CoreRef.expectError("[2, 3]") { try op.apply(try Tensor.zeros([2, 3]), try Tensor.zeros([3, 2])) }
        CoreRef.expectError("cannot be broadcast") { try op.apply(try Tensor.zeros([2, 1, 3]), try Tensor.zeros([4, 2])) }
    }

    @Test func broadcastShapeMatchesNumPyRules() throws {
        let pairs: [([Int], [Int])] = [
            ([], []), ([3], []), ([], [2, 3]), ([3, 4], [4]), ([2, 1, 3], [4, 1]), ([1], [5, 1, 1]),
            ([3, 4], [3]), ([2, 3], [3, 2]), ([0, 3], [3]), ([0], [1]), ([0], [2]), ([8, 1, 6, 1], [7, 1, 5]),
        ]
        for (a, b) in pairs {
            #expect(broadcastShape(a, b) == CoreRef.broadcast(a, b), "\(a) \(b)")
            #expect(broadcastShape(b, a) == CoreRef.broadcast(b, a), "\(b) \(a)")
        }
        #expect(broadcastShape([8, 1, 6, 1], [7, 1, 5]) == [8, 7, 6, 5])
        #expect(broadcastShape([3, 4], [3]) == nil)
    }

    // MARK: Scalar operands

    enum ScalarOp: String, CaseIterable, Sendable {
        case addRight, addLeft, subRight, subLeft, mulRight, mulLeft, divRight, divLeft, negate, powConst, sqrtPow

        func apply(_ a: Tensor) throws -> Tensor {
            switch self {
            case .addRight: a + 2.5
            case .addLeft: 2.5 + a
            case .subRight: a - 1.5
            case .subLeft: 1.5 - a
            case .mulRight: a * -3
            case .mulLeft: -3 * a
            case .divRight: a / 4
            case .divLeft: 4 / a
            case .negate: -a
            case .powConst: a.pow(3)
            case .sqrtPow: a.pow(0.5)
            }
        }

        func reference(_ x: Float) throws -> Float {
            switch self {
            case .addRight, .addLeft: x + 2.5
            case .subRight: x - 1.5
            case .subLeft: 1.5 - x
            case .mulRight, .mulLeft: x * -3
            case .divRight: x / 4
            case .divLeft: 4 / x
            case .negate: -x
            case .powConst: x * x * x
            case .sqrtPow: x.squareRoot()
            }
        }
    }

    @Test(arguments: ScalarOp.allCases)
    func scalarOperand(op: ScalarOp) throws {
        let x = try CoreRef.uniform([3, 4], 0.5, 2, seed: 7)
        let y = try op.apply(x)
        #expect(y.shape == [3, 4])
        assertClose(y.array, try x.array.map(op.reference), atol: 1e-6, rtol: 1e-5, "\(op)")
        try gradCheck([x], "\(op)") { try op.apply($0[0]) }
        // On a scalar tensor too.
        let s = Tensor(1.25)
        #expect(try op.apply(s).shape == [])
        assertClose(try op.apply(s).array, [try op.reference(1.25)], atol: 1e-6, rtol: 1e-5, "\(op) scalar")
    }

    @Test func powOfNegativeBaseByIntegerConstant() throws {
        let x = try Tensor(shape: [4], data: [-1.5, -0.5, 0.5, 2])
        #expect(x.pow(2).array == [2.25, 0.25, 0.25, 4])
        #expect(x.pow(3).array == [-3.375, -0.125, 0.125, 8])
        try gradCheck([x], "pow 3 of negatives") { $0[0].pow(3) }
        x.zeroGrad()
        try x.pow(2).sum().backward()
        #expect(x.grad?.array == [-3, -1, 1, 4])
    }

    // MARK: Comparisons

    @Test func comparisonsAreNotRecorded() throws {
        let a = try rand([3, 4], seed: 1).requiringGrad(), b = try rand([4], seed: 2).requiringGrad()
        for y in [try a.eq(b), try a.ne(b), try a.lt(b), try a.le(b), try a.gt(b), try a.ge(b)] {
            #expect(!y.isRecorded && !y.requiresGrad)
            #expect(y.array.allSatisfy { $0 == 0 || $0 == 1 })
        }
        #expect(try a.le(a).array.allSatisfy { $0 == 1 })
        #expect(try a.lt(a).array.allSatisfy { $0 == 0 })
    }

    // MARK: where

    @Test func whereForwardWithBroadcasting() throws {
        let cond = try Tensor(shape: [3, 1], data: [1, 0, -0.5])  // any non-zero counts as true
        let a = try rand([1, 4], seed: 5), b = Tensor(7)
        let y = try Tensor.where(cond, a, b)
        #expect(y.shape == [3, 4])
        var expected: [Float] = []
        for r in 0..<3 { for c in 0..<4 { expected.append(cond.array[r] != 0 ? a.array[c] : 7) } }
        #expect(y.array == expected)

        let c2 = try CoreRef.uniform([2, 3, 4], 0, 1, seed: 6)
        for i in 0..<c2.count { c2.data[i] = c2.data[i] > 0.5 ? 1 : 0 }
        let a2 = try rand([3, 4], seed: 7), b2 = try rand([2, 1, 4], seed: 8)
        let y2 = try Tensor.where(c2, a2, b2)
        let idxShape = [2, 3, 4]
        let ref = (0..<24).map { i -> Float in
            let idx = CoreRef.unravel(i, idxShape)
            return c2.array[i] != 0 ? CoreRef.element(a2.array, a2.shape, at: idx) : CoreRef.element(b2.array, b2.shape, at: idx)
        }
        #expect(y2.shape == idxShape)
        #expect(y2.array == ref)
    }

    @Test func whereGradient() throws {
        let cond = try CoreRef.uniform([2, 3, 4], 0, 1, seed: 9)
        for i in 0..<cond.count { cond.data[i] = cond.data[i] > 0.4 ? 1 : 0 }
        try gradCheck([rand([3, 4], seed: 1), rand([2, 1, 4], seed: 2)], "where broadcast") {
            try Tensor.where(cond, $0[0], $0[1])
        }
        try gradCheck([rand([2, 3, 4], seed: 3), rand([], seed: 4)], "where scalar") {
            try Tensor.where(cond, $0[0], $0[1])
        }
        // Gradient is the upstream gradient masked by the condition.
        let a = try rand([2, 3, 4], seed: 5).requiringGrad(), b = try rand([2, 3, 4], seed: 6).requiringGrad()
        try Tensor.where(cond, a, b).sum().backward()
        #expect(a.grad?.array == cond.array)
        #expect(b.grad?.array == cond.array.map { 1 - $0 })
    }

    @Test func whereIncompatibleShapesThrow() {
        CoreRef.expectError("cannot be broadcast") { try Tensor.where(try Tensor.ones([3]), try Tensor.ones([4]), try Tensor.ones([4])) }
        CoreRef.expectError("where") { try Tensor.where(try Tensor.ones([2, 4]), try Tensor.ones([3, 4]), try Tensor.ones([4])) }
    }

    // MARK: Unary

    enum Unary: String, CaseIterable, Sendable {
        case neg, exp, log, sqrt, abs, relu, tanh, sigmoid, gelu, square, reciprocal, sign

        func apply(_ x: Tensor) throws -> Tensor {
            switch self {
            case .neg: -x
            case .exp: x.exp()
            case .log: x.log()
            case .sqrt: x.sqrt()
            case .abs: x.abs()
            case .relu: x.relu()
            case .tanh: x.tanh()
            case .sigmoid: x.sigmoid()
            case .gelu: x.gelu()
            case .square: x.square()
            case .reciprocal: x.reciprocal()
            case .sign: x.sign()
            }
        }

        func reference(_ v: Float) throws -> Float {
            let x = Double(v)
            let y: Double = switch self {
            case .neg: -x
            case .exp: refExp(x)
            case .log: refLog(x)
            case .sqrt: x.squareRoot()
            case .abs: Swift.abs(x)
            case .relu: x > 0 ? x : 0
            case .tanh: refTanh(x)
            case .sigmoid: 1 / (1 + refExp(-x))
            case .gelu: 0.5 * x * (1 + refErf(x / 2.0.squareRoot()))
            case .square: x * x
            case .reciprocal: 1 / x
            case .sign: x > 0 ? 1 : (x < 0 ? -1 : 0)
            }
            return Float(y)
        }

        /// Positive inputs for log/sqrt/reciprocal, inputs away from the kinks for abs/relu/sign.
        func input(_ shape: [Int], seed: UInt64) throws -> Tensor {
            switch self {
            case .log, .sqrt, .reciprocal: try CoreRef.uniform(shape, 0.3, 2.5, seed: seed)
            case .abs, .relu, .sign: CoreRef.spaced(shape, seed: seed, offset: 0.15)
            default: try rand(shape, seed: seed, scale: 1.5)
            }
        }
    }

    @Test(arguments: Unary.allCases)
    func unaryForward(op: Unary) throws {
        for shape in [[3, 5], [], [2, 3, 4], [0]] {
            let x = try op.input(shape, seed: 11)
            let y = try op.apply(x)
            #expect(y.shape == shape)
            assertClose(y.array, try x.array.map(op.reference), atol: 1e-6, rtol: 1e-5, "\(op) \(shape)")
        }
    }

    @Test(arguments: Unary.allCases.filter { $0 != .sign })
    func unaryGradient(op: Unary) throws {
        try gradCheck([op.input([3, 5], seed: 12)], "\(op)") { try op.apply($0[0]) }
        try gradCheck([op.input([], seed: 13)], "\(op) scalar") { try op.apply($0[0]) }
    }

    @Test func signIsNotDifferentiable() throws {
        let x = CoreRef.spaced([6], seed: 1, offset: 0.15).requiringGrad()
        let s = x.sign()
        #expect(!s.isRecorded && !s.requiresGrad)
        #expect(try Tensor.zeros([3]).sign().array == [0, 0, 0])
    }

    @Test func reluAndAbsAtZero() throws {
        // The subgradient at the kink is 0 for both.
        let x = try Tensor(shape: [3], data: [-1, 0, 2]).requiringGrad()
        try (x.relu() + x.abs()).sum().backward()
        #expect(x.grad?.array == [-1, 0, 2])
    }

    // MARK: clamp

    static let clampBounds: [(Float, Float)] = [(-0.6, 0.6), (-.infinity, 0.6), (-0.6, .infinity), (-.infinity, .infinity), (0.2, 0.2)]

    @Test(arguments: clampBounds)
    func clampedForwardAndGradient(lo: Float, hi: Float) throws {
        let x = CoreRef.spaced([4, 5], seed: 21, offset: 0.15)  // ±0.15, ±0.45, …: away from ±0.6
        let y = x.clamped(min: lo, max: hi)
        assertClose(y.array, x.array.map { Swift.min(Swift.max($0, lo), hi) }, atol: 0, rtol: 0, "clamp \(lo) \(hi)")
        if lo < hi {
            try gradCheck([x], "clamp \(lo) \(hi)") { $0[0].clamped(min: lo, max: hi) }
        }
        let z = x.copy().requiringGrad()
        try z.clamped(min: lo, max: hi).sum().backward()
        #expect(z.grad?.array == x.array.map { $0 >= lo && $0 <= hi ? 1 : 0 })
    }

    @Test func clampedDefaultsAreIdentity() throws {
        let x = try rand([7], seed: 3)
        #expect(x.clamped().array == x.array)
        #expect(x.clamped(min: 0).array == x.array.map { Swift.max($0, 0) })
        #expect(x.clamped(max: 0).array == x.array.map { Swift.min($0, 0) })
    }

    // MARK: Composite

    @Test func compositeExpressionGradient() throws {
        // A small expression mixing broadcasting and unary ops: sigmoid(a·b + c)² / (1 + |a|).
        try gradCheck([rand([3, 4], seed: 1), rand([4], seed: 2), rand([3, 1], seed: 3)], "composite") { t in
            let u = try (t[0] * t[1] + t[2]).sigmoid().square()
            return try u / (1 + t[0].abs())
        }
    }
}
