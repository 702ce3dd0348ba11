// Softmax, log-softmax and cross-entropy (with and without label smoothing).
import Testing
import TestSupport
@testable import Engine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct SoftmaxTests {
    /// Row-wise log-softmax along the last axis, in Double.
    static func logSoftmaxReference(_ x: Tensor) -> [Double] {
        let c = x.shape.last ?? 1, v = x.array.map(Double.init)
        var out: [Double] = []
        for r in 0..<(x.count / c) {
            let row = v[(r * c)..<((r + 1) * c)]
            let m = row.max()!
            let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
            out += row.map { $0 - lse }
        }
        return out
    }

    static let shapes: [[Int]] = [[4, 5], [2, 3, 6], [7], [3, 1], []]

    @Test(arguments: shapes)
    func softmaxForward(shape: [Int]) throws {
        let x = try rand(shape, seed: 1, scale: 3)
        let y = x.softmax()
        #expect(y.shape == shape)
        assertClose(y.array, Self.logSoftmaxReference(x).map { Float(exp($0)) }, atol: 1e-6, rtol: 1e-5, "softmax \(shape)")
        let c = shape.last ?? 1
        for r in 0..<(x.count / c) {
            let s = y.array[(r * c)..<((r + 1) * c)].reduce(0, +)
            #expect(Swift.abs(s - 1) < 1e-5)
        }
    }

    @Test(arguments: shapes)
    func logSoftmaxForward(shape: [Int]) throws {
        let x = try rand(shape, seed: 2, scale: 3)
        let y = x.logSoftmax()
        #expect(y.shape == shape)
        assertClose(y.array, Self.logSoftmaxReference(x).map { Float($0) }, atol: 1e-5, rtol: 1e-5, "logSoftmax \(shape)")
    }

    @Test func stableForLargeLogits() throws {
        let x = try Tensor(shape: [2, 3], data: [1000, 1001, 1002, -1000, -1001, -1002])
        let y = x.softmax(), l = x.logSoftmax()
        #expect(y.array.allSatisfy { $0.isFinite })
        #expect(l.array.allSatisfy { $0.isFinite })
        let small = try Tensor(shape: [3], data: [0, 1, 2]).softmax().array
        assertClose(Array(y.array[0..<3]), small, atol: 1e-6, rtol: 1e-5, "shift invariance")
        assertClose(Array(y.array[3..<6]), small.reversed(), atol: 1e-6, rtol: 1e-5, "shift invariance")
        assertClose(l.array, Self.logSoftmaxReference(x).map { Float($0) }, atol: 1e-4, rtol: 1e-5, "large logSoftmax")
    }

    @Test func softmaxGradients() throws {
        for shape in [[4, 5], [2, 3, 4], [6]] {
            try gradCheck([rand(shape, seed: 3)], "softmax \(shape)") { $0[0].softmax() }
            try gradCheck([rand(shape, seed: 4)], "logSoftmax \(shape)") { $0[0].logSoftmax() }
        }
    }

    // MARK: cross-entropy

    /// −Σ_r Σ_j target[r, j]·log p[r, j] / B with target = (1 − ε)·onehot + ε/C.
    static func crossEntropyReference(_ x: Tensor, _ labels: [Int], smoothing e: Double) -> Double {
        let c = x.shape[1], b = x.shape[0], lp = logSoftmaxReference(x)
        var loss = 0.0
        for r in 0..<b {
            for j in 0..<c {
                let target = (j == labels[r] ? 1 - e : 0) + e / Double(c)
                loss -= target * lp[r * c + j]
            }
        }
        return loss / Double(b)
    }

    @Test func crossEntropyByHand() throws {
        // Two equal logits: loss ln 2 whichever the label.
        #expect(Swift.abs(try Tensor(shape: [1, 2], data: [0, 0]).crossEntropy(labels: [1]).item - logf(2)) < 1e-6)
        // logits [1, 2, 3], label 2: −log(e³ / (e + e² + e³)) = log(1 + e⁻¹ + e⁻²) ≈ 0.407606.
        let x = try Tensor(shape: [1, 3], data: [1, 2, 3])
        #expect(Swift.abs(try x.crossEntropy(labels: [2]).item - 0.40760596) < 1e-5)
        // With ε = 0.3: 0.8·(−log p₂) + 0.1·(−log p₀ − log p₁ ) where −log p₀ = 2.407606, −log p₁ = 1.407606.
        let smoothed = 0.8 * 0.40760596 + 0.1 * (2.40760596 + 1.40760596)
        #expect(Swift.abs(try x.crossEntropy(labels: [2], smoothing: 0.3).item - Float(smoothed)) < 1e-5)
        // The mean over the batch.
        let two = try Tensor(shape: [2, 3], data: [1, 2, 3, 0, 0, 0])
        #expect(Swift.abs(try two.crossEntropy(labels: [2, 0]).item - Float((0.40760596 + log(3.0)) / 2)) < 1e-5)
    }

    @Test(arguments: [Float(0), 0.1, 0.5])
    func crossEntropyMatchesReference(smoothing: Float) throws {
        let x = try rand([6, 5], seed: 5, scale: 2)
        let labels = [0, 4, 2, 2, 1, 3]
        let loss = try x.crossEntropy(labels: labels, smoothing: smoothing)
        #expect(loss.shape == [])
        let ref = Self.crossEntropyReference(x, labels, smoothing: Double(smoothing))
        assertClose([loss.item], [Float(ref)], atol: 1e-5, rtol: 1e-5, "cross-entropy ε=\(smoothing)")
        if smoothing == 0 {
            // The same as −mean(logSoftmax gathered at the labels).
            let composed = -(try x.logSoftmax().gatherLast(labels).mean())
            assertClose([loss.item], [composed.item], atol: 1e-5, rtol: 1e-5, "vs composition")
        }
        try gradCheck([rand([6, 5], seed: 6, scale: 2)], "cross-entropy ε=\(smoothing)") {
            try $0[0].crossEntropy(labels: labels, smoothing: smoothing)
        }
    }

    @Test func crossEntropyGradientIsSoftmaxMinusTarget() throws {
        let x = try rand([3, 4], seed: 7).requiringGrad()
        let labels = [3, 0, 1], e: Float = 0.2
        try x.crossEntropy(labels: labels, smoothing: e).backward()
        let p = x.detached().softmax().array
        var expected: [Float] = []
        for r in 0..<3 { for j in 0..<4 { expected.append((p[r * 4 + j] - (j == labels[r] ? 1 - e : 0) - e / 4) / 3) } }
        assertClose(x.grad!.array, expected, atol: 1e-6, rtol: 1e-5, "∂CE")
    }

    @Test func crossEntropyErrors() throws {
        let x = try rand([3, 4])
        CoreRef.expectError("label 4 is out of range") { try x.crossEntropy(labels: [0, 4, 1]) }
        CoreRef.expectError("label -1 is out of range") { try x.crossEntropy(labels: [0, -1, 1]) }
        CoreRef.expectError("2 labels for a batch of 3") { try x.crossEntropy(labels: [0, 1]) }
        CoreRef.expectError("[batch, classes]") { try rand([2, 3, 4]).crossEntropy(labels: [0, 1]) }
        CoreRef.expectError("smoothing") { try x.crossEntropy(labels: [0, 1, 2], smoothing: 1) }
        CoreRef.expectError("smoothing") { try x.crossEntropy(labels: [0, 1, 2], smoothing: -0.1) }
    }
}
