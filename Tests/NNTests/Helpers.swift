// Helpers of the NN tests: a module's gradient check, inputs away from ReLU's kink, snapshots of
// parameters. The shared ones (assertClose, gradCheck, temporary folders, error checks) are in
// Tests/TestSupport.
import Foundation
import Testing
import FileIO
@testable import NN
import Engine
import TestSupport

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

/// The parameters and buffers of a model as plain arrays, by name (for exact comparisons).
func snapshot(_ model: Module) -> [String: [Float]] {
    var out: [String: [Float]] = [:]
    for (name, t) in model.namedParameters() + model.namedBuffers() { out[name] = t.array }
    return out
}

/// Float bit patterns, for bit-exact comparisons that also treat NaN consistently.
func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }
