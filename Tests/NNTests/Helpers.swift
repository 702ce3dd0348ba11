// Shared helpers for the NN tests: closeness checks, a finite-difference gradient check (copied
// from Tests/EngineTests/GradCheck.swift, since test targets cannot share files), error checks
// and unique temporary directories.
import Foundation
import Testing
import FileIO
@testable import NN
import Engine

/// Asserts two float arrays agree elementwise within atol + rtol·|expected|.
func assertClose(_ actual: [Float], _ expected: [Float], atol: Float = 1e-5, rtol: Float = 1e-4,
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
/// so every output element is exercised. Inputs are perturbed one element at a time.
func gradCheck(_ inputs: [Tensor], names: [String]? = nil, eps: Float = 1e-2, atol: Float = 2e-2, rtol: Float = 2e-2,
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

/// Gradient check of a whole module: w.r.t. its input `x` (unless `input` is false) and every one
/// of its parameters, by dotted name. Gradients are cleared afterwards.
func moduleGradCheck(_ module: Module, _ x: Tensor, input: Bool = true, eps: Float = 1e-2,
                     atol: Float = 2e-2, rtol: Float = 2e-2, _ what: String = "",
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
    let named = module.namedParameters()
    let inputs = (input ? [x] : []) + named.map(\.1)
    let names = (input ? ["x"] : []) + named.map(\.0)
    #expect(!named.isEmpty || input, "\(what): nothing to check", sourceLocation: sourceLocation)
    try gradCheck(inputs, names: names, eps: eps, atol: atol, rtol: rtol, what, sourceLocation: sourceLocation) { _ in
        try module(x)
    }
    for t in inputs { t.grad = nil }
    if !input { x.requiresGrad = false }
}

/// A seeded random tensor for tests.
func rand(_ shape: [Int], seed: UInt64 = 1, scale: Float = 1) throws -> Tensor {
    try Tensor.randn(shape, std: scale, rng: RNG(seed: seed))
}

/// A seeded random tensor whose elements are at least `margin` away from zero (for inputs to
/// ReLU, whose kink would spoil a finite difference).
func randAwayFromZero(_ shape: [Int], seed: UInt64 = 1, margin: Float = 0.1) throws -> Tensor {
    let t = try rand(shape, seed: seed)
    for i in 0..<t.count where Swift.abs(t.data[i]) < margin {
        t.data[i] = t.data[i] < 0 ? t.data[i] - margin : t.data[i] + margin
    }
    return t
}

/// Overwrites a parameter with seeded random values (so that γ = 1, β = 0 defaults do not hide
/// mistakes in a gradient).
func randomize(_ t: Tensor, seed: UInt64, scale: Float = 0.5, offset: Float = 0) throws {
    let r = try rand(t.shape, seed: seed, scale: scale)
    for i in 0..<t.count { t.data[i] = r.data[i] + offset }
}

/// Runs `body` and checks that it throws an EngineError whose message mentions every string in
/// `parts`. Returns the message.
@discardableResult
func expectEngineError(_ parts: [String], sourceLocation: SourceLocation = #_sourceLocation,
                       _ body: () throws -> Void) -> String? {
    do {
        try body()
        Issue.record("expected an EngineError mentioning \(parts)", sourceLocation: sourceLocation)
    } catch {
        // A file that cannot be read is the file layer's error (FileError); the rest NN's or the engine's.
        guard let message = (error as? LibraryError)?.message else {
            Issue.record("expected an EngineError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
        for p in parts where !message.contains(p) {
            Issue.record("error \"\(message)\" does not mention \"\(p)\"", sourceLocation: sourceLocation)
        }
        return message
    }
    return nil
}

/// A fresh, uniquely named directory under /tmp, removed by `cleanup()`.
struct TempDir {
    let path: String
    init(_ tag: String) throws {
        path = "/tmp/prune-nntests-\(tag)-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// The parameters and buffers of a model as plain arrays, by name (for exact comparisons).
func snapshot(_ model: Module) -> [String: [Float]] {
    var out: [String: [Float]] = [:]
    for (name, t) in model.namedParameters() + model.namedBuffers() { out[name] = t.array }
    return out
}

/// Float bit patterns, for bit-exact comparisons that also treat NaN consistently.
func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }
