// Matrix products: 2-D and batched matmul, [b,m,k]@[k,n], and the fused linear layer.
import Testing
import TestSupport
@testable import Engine

@Suite struct LinalgTests {
    struct MNK: Sendable, CustomTestStringConvertible {
        let m: Int, k: Int, n: Int
        init(_ m: Int, _ k: Int, _ n: Int) { self.m = m; self.k = k; self.n = n }
        var testDescription: String { "\(m)×\(k)·\(k)×\(n)" }
    }

    static let sizes: [MNK] = [.init(1, 1, 1), .init(3, 4, 5), .init(1, 7, 3), .init(6, 1, 2), .init(17, 33, 9), .init(64, 70, 65)]

    /// Batched reference: `batch` independent products, b shared when `shared`.
    static func batchedReference(_ a: Tensor, _ b: Tensor, batch: Int, m: Int, k: Int, n: Int, shared: Bool) -> [Float] {
        let av = a.array, bv = b.array
        return (0..<batch).flatMap { i in
            CoreRef.matmul(Array(av[(i * m * k)..<((i + 1) * m * k)]),
                           shared ? bv : Array(bv[(i * k * n)..<((i + 1) * k * n)]), m: m, k: k, n: n)
        }
    }

    @Test(arguments: sizes)
    func matmul2D(s: MNK) throws {
        let a = try rand([s.m, s.k], seed: 1), b = try rand([s.k, s.n], seed: 2)
        let y = try a.matmul(b)
        #expect(y.shape == [s.m, s.n])
        assertClose(y.array, CoreRef.matmul(a.array, b.array, m: s.m, k: s.k, n: s.n), atol: 1e-4, rtol: 1e-4, s.testDescription)
    }

    @Test func matmulGradients() throws {
        try gradCheck([rand([3, 4], seed: 3), rand([4, 5], seed: 4)], "2-D") { try $0[0].matmul($0[1]) }
        try gradCheck([rand([2, 3, 4], seed: 5), rand([2, 4, 2], seed: 6)], "batched") { try $0[0].matmul($0[1]) }
        try gradCheck([rand([2, 3, 4], seed: 7), rand([4, 2], seed: 8)], "[b,m,k]@[k,n]") { try $0[0].matmul($0[1]) }
        try gradCheck([rand([2, 2, 3, 2], seed: 9), rand([2, 2, 2, 3], seed: 10)], "rank-4 batched") { try $0[0].matmul($0[1]) }
        // One side only: the other must receive nothing.
        let w = try rand([4, 5], seed: 11)
        try gradCheck([rand([3, 4], seed: 12)], "2-D d/da") { try $0[0].matmul(w) }
        #expect(w.grad == nil)
        let x = try rand([2, 3, 4], seed: 13)
        try gradCheck([rand([2, 4, 2], seed: 14)], "batched d/db") { try x.matmul($0[0]) }
        try gradCheck([rand([4, 2], seed: 15)], "[b,m,k]@[k,n] d/db") { try x.matmul($0[0]) }
        #expect(x.grad == nil)
    }

    @Test func batchedMatmul() throws {
        let a = try rand([3, 5, 4], seed: 16), b = try rand([3, 4, 6], seed: 17)
        let y = try a.matmul(b)
        #expect(y.shape == [3, 5, 6])
        assertClose(y.array, Self.batchedReference(a, b, batch: 3, m: 5, k: 4, n: 6, shared: false), atol: 1e-5, rtol: 1e-4, "bmm")

        let c = try rand([2, 3, 5, 4], seed: 18), d = try rand([2, 3, 4, 2], seed: 19)
        let z = try c.matmul(d)
        #expect(z.shape == [2, 3, 5, 2])
        assertClose(z.array, Self.batchedReference(c, d, batch: 6, m: 5, k: 4, n: 2, shared: false), atol: 1e-5, rtol: 1e-4, "rank-4 bmm")
    }

    @Test func batchTimesMatrix() throws {
        let a = try rand([3, 5, 4], seed: 20), b = try rand([4, 6], seed: 21)
        let y = try a.matmul(b)
        #expect(y.shape == [3, 5, 6])
        assertClose(y.array, Self.batchedReference(a, b, batch: 3, m: 5, k: 4, n: 6, shared: true), atol: 1e-5, rtol: 1e-4, "[b,m,k]@[k,n]")
        let c = try rand([2, 3, 5, 4], seed: 22)
        let z = try c.matmul(b)
        #expect(z.shape == [2, 3, 5, 6])
        assertClose(z.array, Self.batchedReference(c, b, batch: 6, m: 5, k: 4, n: 6, shared: true), atol: 1e-5, rtol: 1e-4, "rank-4 @ matrix")
    }

    @Test func emptyInnerDimensionGivesZeros() throws {
        let y = try Tensor.zeros([2, 0]).matmul(try Tensor.zeros([0, 3]))
        #expect(y.shape == [2, 3] && y.array == [Float](repeating: 0, count: 6))
        let z = try Tensor.zeros([2, 2, 0]).matmul(try Tensor.zeros([2, 0, 3]))
        #expect(z.shape == [2, 2, 3] && z.array == [Float](repeating: 0, count: 12))
    }

    @Test func matmulShapeErrors() {
        CoreRef.expectError("inner dimensions differ") { try rand([3, 4]).matmul(rand([5, 2])) }
        CoreRef.expectError("inner dimensions differ") { try rand([2, 3, 4]).matmul(rand([2, 3, 4])) }
        CoreRef.expectError("inner dimensions differ") { try rand([2, 3, 4]).matmul(rand([3, 2])) }
        CoreRef.expectError("batch dimensions differ") { try rand([2, 3, 4]).matmul(rand([3, 4, 2])) }
        CoreRef.expectError("not matrices") { try rand([4]).matmul(rand([4, 2])) }
        CoreRef.expectError("not matrices") { try rand([3, 4]).matmul(rand([4])) }
        CoreRef.expectError("not matrices") { try rand([3, 4]).matmul(rand([2, 4, 2])) }
    }

    // MARK: linear

    /// y[r, o] = Σᵢ x[r, i]·W[o, i] + b[o], in Double.
    static func linearReference(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> [Float] {
        let nIn = w.shape[1], nOut = w.shape[0], rows = x.count / nIn
        let xv = x.array, wv = w.array, bv = b?.array
        var out: [Float] = []
        for r in 0..<rows {
            for o in 0..<nOut {
                var s = Double(bv?[o] ?? 0)
                for i in 0..<nIn { s += Double(xv[r * nIn + i]) * Double(wv[o * nIn + i]) }
                out.append(Float(s))
            }
        }
        return out
    }

    @Test(arguments: [[5, 4], [4], [2, 3, 4], [1, 4], [33, 4]], [false, true])
    func linearForward(xShape: [Int], withBias: Bool) throws {
        let x = try rand(xShape, seed: 30), w = try rand([3, 4], seed: 31), b = withBias ? try rand([3], seed: 32) : nil
        let y = try Tensor.linear(x, weight: w, bias: b)
        #expect(y.shape == Array(xShape.dropLast()) + [3])
        assertClose(y.array, Self.linearReference(x, w, b), atol: 1e-5, rtol: 1e-4, "linear \(xShape) bias \(withBias)")
        // Same as matmul with the transposed weight.
        let viaMatmul = try x.reshaped([-1, 4]).matmul(w.transposed())
        let expected = try b.map { try viaMatmul + $0 } ?? viaMatmul
        assertClose(y.array, expected.array, atol: 1e-5, rtol: 1e-4, "linear vs matmul")
    }

    /// One row (batch 1) takes matVec instead of sgemm: shapes that leave one to three rows
    /// over and column counts off the sixteen-wide tiles, with and without bias.
    @Test(arguments: [(1, 1), (3, 5), (4, 16), (7, 33), (10, 84), (90, 300), (5, 24), (120, 400)], [false, true])
    func linearOneRowMatchesReference(shape: (Int, Int), withBias: Bool) throws {
        let x = try rand([1, shape.1], seed: 36), w = try rand([shape.0, shape.1], seed: 37)
        let b = withBias ? try rand([shape.0], seed: 38) : nil
        let y = try Tensor.linear(x, weight: w, bias: b)
        assertClose(y.array, Self.linearReference(x, w, b), atol: 1e-4, rtol: 1e-4, "linear \(shape) bias \(withBias)")
    }

    @Test func linearGradients() throws {
        try gradCheck([rand([5, 4], seed: 33), rand([3, 4], seed: 34), rand([3], seed: 35)], "linear with bias") {
            try Tensor.linear($0[0], weight: $0[1], bias: $0[2])
        }
        try gradCheck([rand([5, 4], seed: 36), rand([3, 4], seed: 37)], "linear without bias") {
            try Tensor.linear($0[0], weight: $0[1], bias: nil)
        }
        try gradCheck([rand([2, 3, 4], seed: 38), rand([2, 4], seed: 39), rand([2], seed: 40)], "linear rank 3") {
            try Tensor.linear($0[0], weight: $0[1], bias: $0[2])
        }
        try gradCheck([rand([4], seed: 41), rand([3, 4], seed: 42), rand([3], seed: 43)], "linear rank 1") {
            try Tensor.linear($0[0], weight: $0[1], bias: $0[2])
        }
        // Only the bias, or only the weight, requires a gradient.
        let x = try rand([5, 4], seed: 44), w = try rand([3, 4], seed: 45)
        try gradCheck([rand([3], seed: 46)], "linear d/db") { try Tensor.linear(x, weight: w, bias: $0[0]) }
        let b = try rand([3], seed: 47)
        try gradCheck([rand([3, 4], seed: 48)], "linear d/dW") { try Tensor.linear(x, weight: $0[0], bias: b) }
        #expect(x.grad == nil && w.grad == nil && b.grad == nil)
    }

    @Test func linearShapeErrors() {
        CoreRef.expectError("does not match weight") { try Tensor.linear(rand([5, 3]), weight: rand([3, 4]), bias: nil) }
        CoreRef.expectError("does not match weight") { try Tensor.linear(rand([5, 4]), weight: rand([3, 4, 1]), bias: nil) }
        CoreRef.expectError("bias of shape [4]") { try Tensor.linear(rand([5, 4]), weight: rand([3, 4]), bias: rand([4])) }
        CoreRef.expectError("bias of shape [1, 3]") { try Tensor.linear(rand([5, 4]), weight: rand([3, 4]), bias: rand([1, 3])) }
    }
}
