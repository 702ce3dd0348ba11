// Closeness checks and the finite-difference gradient check, shared by every test target
// (mlx-swift's one `assertClose`): Engine's ops, NN's layers and Pruning's methods are checked
// the same way.
import Testing
import Engine

/// Asserts two float arrays agree elementwise within atol + rtol·|expected|.
public func assertClose(_ actual: [Float], _ expected: [Float], atol: Float = 1e-5, rtol: Float = 1e-4,
                        _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): count \(actual.count) vs \(expected.count)", sourceLocation: sourceLocation)
    var worst: (Int, Float, Float)?
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        if !(Swift.abs(a - e) <= atol + rtol * Swift.abs(e)) { worst = (i, a, e); break }
    }
    if let (i, a, e) = worst {
        Issue.record("\(what): element \(i) is \(a), expected \(e)", sourceLocation: sourceLocation)
    }
}

/// Checks the gradients that `f` produces for each input against central finite differences.
/// The output is reduced to a scalar as Σ wᵢ·yᵢ with fixed random weights, accumulated in Double,
/// so every output element is exercised. Inputs are perturbed one element at a time; `names`
/// label them in failures (default `input0`, `input1`, …).
public func gradCheck(_ inputs: [Tensor], names: [String]? = nil, eps: Float = 1e-2, atol: Float = 2e-2, rtol: Float = 2e-2,
                      _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation,
                      _ f: ([Tensor]) throws -> Tensor) throws {
    for x in inputs { x.requiresGrad = true; x.grad = nil }
    let y0 = try f(inputs)
    let rng = RNG(seed: 99)
    let weights = (0..<y0.count).map { _ in Double(rng.uniform() * 2 - 1) }
    func reduce(_ y: Tensor) -> Double { zip(y.array, weights).reduce(0) { $0 + Double($1.0) * $1.1 } }
    let w = try Tensor(shape: y0.shape, data: weights.map { Float($0) })
    try y0.backward(w)
    let analytic = inputs.map { $0.grad?.array ?? [Float](repeating: 0, count: $0.count) }
    try GradMode.noGrad {
        for (k, x) in inputs.enumerated() {
            var numeric = [Float](repeating: 0, count: x.count)
            for i in 0..<x.count {
                let old = x.data[i]
                x.data[i] = old + eps
                let plus = reduce(try f(inputs))
                x.data[i] = old - eps
                let minus = reduce(try f(inputs))
                x.data[i] = old
                numeric[i] = Float((plus - minus) / (2 * Double(eps)))
            }
            let label = names.map { $0[k] } ?? "input\(k)"
            assertClose(analytic[k], numeric, atol: atol, rtol: rtol, "\(what) d/d\(label)", sourceLocation: sourceLocation)
        }
    }
}

/// A seeded random tensor for tests.
public func rand(_ shape: [Int], seed: UInt64 = 1, scale: Float = 1) throws -> Tensor {
    try Tensor.randn(shape, std: scale, rng: RNG(seed: seed))
}
