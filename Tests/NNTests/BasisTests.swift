// Basis scaling: the SVD pair reproduces each layer before training, only α (and what the user
// chooses) trains, and the pair saves and rebuilds through the codec.
import Testing
import Engine
@testable import NN

private func maxRelativeDifference(_ a: Tensor, _ b: Tensor) -> Float {
    var worst: Float = 0, scale: Float = 0
    for i in 0..<a.count { scale = max(scale, abs(a.data[i])); worst = max(worst, abs(a.data[i] - b.data[i])) }
    return worst / max(scale, 1e-12)
}

@Suite struct BasisTests {
    @Test func svdReconstructsTheMatrix() throws {
        let rng = RNG(seed: 1)
        for (m, n) in [(5, 3), (3, 5), (4, 4)] {
            let a = (0..<(m * n)).map { _ in rng.normal() }
            let (u, s, vt) = try BLAS.svd(a, m: m, n: n)
            let r = min(m, n)
            #expect(s == s.sorted(by: >))
            for i in 0..<m {
                for j in 0..<n {
                    var x: Float = 0
                    for k in 0..<r { x += u[i * r + k] * s[k] * vt[k * n + j] }
                    #expect(abs(x - a[i * n + j]) < 1e-4)
                }
            }
        }
    }

    @Test func thePairReproducesTheCNNAndTheMLP() throws {
        let rng = RNG(seed: 2)
        for (model, shape) in [(try Models.cnn(classes: 5, rng: rng) as Module, [3, 1, 28, 28]), (try Models.mlp([30, 20, 12, 4], rng: rng), [6, 30])] {
            model.eval()
            let x = try Tensor.randn(shape, rng: rng)
            let pair = try BasisLayer.rewrite(model)
            pair.eval()
            #expect(maxRelativeDifference(try model(x), try pair(x)) <= 1e-5)
            let bases = pair.layers.compactMap { $0 as? BasisLayer }
            #expect(bases.count == (model is Sequential && shape.count == 4 ? 3 : 2))
            // Only α and the classifier train; everything else is frozen.
            let head = pair.layers.count - 1
            let trained = pair.namedParameters().filter { $0.1.requiresGrad }.map(\.0)
            #expect(trained == pair.namedParameters().map(\.0).filter { $0.hasSuffix(".alpha") || $0.hasPrefix("layers.\(head).") })
            #expect(trained.contains { $0.hasPrefix("layers.\(head).") })
            // The codec rebuilds the architecture.
            let copy = try pair.clone()
            #expect(maxRelativeDifference(try pair(x), try copy(x)) == 0)
        }
    }

    @Test func rankIsTheSmallerSide() throws {
        let conv = try Conv2d(1, 32, kernel: 3, rng: RNG(seed: 3))
        #expect(try BasisLayer.from(conv).bases == 9)
        let lin = try Linear(10, 4, rng: RNG(seed: 3))
        #expect(try BasisLayer.from(lin).bases == 4)
        #expect(throws: NNError.self) { _ = try BasisLayer.from(ReLU()) }
    }
}
