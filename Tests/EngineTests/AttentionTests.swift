// The fused multi-head attention op against the same computation written from primitive ops
// (permute, batched matmul, softmax), and its gradients against finite differences.
import Testing
import TestSupport
@testable import Engine
import Kernels

@Suite struct AttentionTests {
    /// Attention from primitives: heads split by permutes, scores by batched matmul, the mask
    /// as the large negative added before softmax.
    static func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, mask: Tensor?) throws -> Tensor {
        let b = q.shape[0], t = q.shape[1], d = q.shape[2], dh = d / heads
        func split(_ x: Tensor) throws -> Tensor { try x.reshaped([b, t, heads, dh]).permuted([0, 2, 1, 3]).reshaped([b * heads, t, dh]) }
        var scores = try split(q).matmul(split(k).transposed()) * (1 / Float(dh).squareRoot())   // [B·H, T, T]
        if let mask {
            let bias = try ((1 - mask) * Tensor.attentionMaskScore).reshaped([b, 1, 1, t])
            scores = try (scores.reshaped([b, heads, t, t]) + bias).reshaped([b * heads, t, t])
        }
        let out = try scores.softmax().matmul(split(v))
        return try out.reshaped([b, heads, t, dh]).permuted([0, 2, 1, 3]).reshaped([b, t, d])
    }

    static let padding = try! Tensor(shape: [2, 5], data: [1, 1, 1, 0, 0, 1, 1, 1, 1, 1])

    @Test(arguments: [false, true])
    func forwardMatchesPrimitives(masked: Bool) throws {
        let q = try rand([2, 5, 6], seed: 1, scale: 2), k = try rand([2, 5, 6], seed: 2, scale: 2), v = try rand([2, 5, 6], seed: 3)
        let mask = masked ? Self.padding : nil
        let y = try Tensor.attention(q: q, k: k, v: v, heads: 3, keyMask: mask)
        assertClose(y.array, try Self.reference(q, k, v, heads: 3, mask: mask).array, atol: 1e-5, rtol: 1e-4, "attention masked=\(masked)")
    }

    @Test func paddedKeysGetNoWeight() throws {
        // Changing a padded key or value changes nothing.
        let q = try rand([2, 5, 4], seed: 4), k = try rand([2, 5, 4], seed: 5), v = try rand([2, 5, 4], seed: 6)
        let y0 = try Tensor.attention(q: q, k: k, v: v, heads: 2, keyMask: Self.padding)
        k.data[4 * 4] += 10; v.data[3 * 4 + 1] -= 7
        let y1 = try Tensor.attention(q: q, k: k, v: v, heads: 2, keyMask: Self.padding)
        #expect(y0.array == y1.array)
    }

    @Test(arguments: [false, true])
    func gradients(masked: Bool) throws {
        let q = try rand([2, 5, 6], seed: 7), k = try rand([2, 5, 6], seed: 8), v = try rand([2, 5, 6], seed: 9)
        let mask = masked ? Self.padding : nil
        try gradCheck([q, k, v], eps: 1e-2, atol: 1e-2, rtol: 2e-2, "attention masked=\(masked)") { xs in
            try Tensor.attention(q: xs[0], k: xs[1], v: xs[2], heads: 2, keyMask: mask)
        }
    }

    @Test func gradientsWithDropout() throws {
        let q = try rand([1, 4, 4], seed: 10), k = try rand([1, 4, 4], seed: 11), v = try rand([1, 4, 4], seed: 12)
        // A fresh generator per call: the same probabilities are dropped every time.
        try gradCheck([q, k, v], eps: 1e-2, atol: 1e-2, rtol: 2e-2, "attention with dropout") { xs in
            try Tensor.attention(q: xs[0], k: xs[1], v: xs[2], heads: 2, dropout: 0.3, rng: RNG(seed: 3))
        }
        let y = try Tensor.attention(q: q, k: k, v: v, heads: 2, dropout: 0.3, rng: RNG(seed: 3))
        let clean = try Tensor.attention(q: q, k: k, v: v, heads: 2)
        #expect(y.array != clean.array)
    }

    @Test func sameResultOnOneThreadAndTwo() throws {
        let q = try rand([3, 7, 8], seed: 13), k = try rand([3, 7, 8], seed: 14), v = try rand([3, 7, 8], seed: 15)
        let one = try Parallel.withThreads(1) { try Tensor.attention(q: q, k: k, v: v, heads: 4) }
        let two = try Parallel.withThreads(2) { try Tensor.attention(q: q, k: k, v: v, heads: 4) }
        #expect(one.array == two.array)
    }

    @Test func badShapesAreErrors() throws {
        let x = try rand([2, 3, 4])
        #expect(throws: EngineError.self) { try Tensor.attention(q: x, k: x, v: x, heads: 3) }
        #expect(throws: EngineError.self) { try Tensor.attention(q: x, k: try rand([2, 3, 5]), v: x, heads: 2) }
        #expect(throws: EngineError.self) { try Tensor.attention(q: x, k: x, v: x, heads: 2, keyMask: try rand([2, 4])) }
        #expect(throws: EngineError.self) { try Tensor.attention(q: x, k: x, v: x, heads: 2, dropout: 1) }
    }
}
