// Masked weights for pruning: w ⊙ m with a straight-through gradient to scores, and the
// hard-concrete gate of L0 regularisation.
import Kernels

extension Tensor {
    /// w ⊙ mask, where `mask` is a constant 0/1 tensor. With `scores`, the mask is taken to be a
    /// binarisation of the scores whose backward is the identity (straight-through, as in
    /// Movement Pruning): the scores receive ∂L/∂(w⊙m) ⊙ w, the weights ∂L/∂(w⊙m) ⊙ m.
    public static func gated(_ w: Tensor, mask: Tensor, scores: Tensor? = nil) throws -> Tensor {
        guard mask.shape == w.shape, scores.map({ $0.shape == w.shape }) ?? true else {
            throw EngineError("mask: weight \(describe(shape: w.shape)), mask \(describe(shape: mask.shape))"
                + (scores.map { ", scores \(describe(shape: $0.shape))" } ?? ""))
        }
        let out = Tensor.empty(like: w)
        gateForward(w.data, mask.data, out.data, w.count)
        return Tensor.record("gated", out, scores.map { [w, $0] } ?? [w]) { g in
            let dw = w.requiresGrad ? Tensor.empty(like: w) : nil
            let ds = (scores?.requiresGrad ?? false) ? Tensor.empty(like: w) : nil
            gateBackward(g.data, w.data, mask.data, dw?.data, ds?.data, w.count)
            return scores == nil ? [dw] : [dw, ds]
        }
    }

    /// w ⊙ m already computed (`maskedWeight`, kept up to date by a fused update): the output
    /// shares its storage. The backward hands ∂L/∂(w⊙m) to `receive` instead of producing
    /// gradients for `w` and `scores`; whoever receives it updates both.
    public static func gated(_ w: Tensor, scores: Tensor?, maskedWeight: Tensor,
                             receive: @escaping (Tensor) -> Void) throws -> Tensor {
        guard maskedWeight.shape == w.shape, scores.map({ $0.shape == w.shape }) ?? true else {
            throw EngineError("mask: weight \(describe(shape: w.shape)), masked weight \(describe(shape: maskedWeight.shape))")
        }
        let out = Tensor(shape: w.shape, storage: maskedWeight.storage)
        return Tensor.record("gated", out, scores.map { [w, $0] } ?? [w]) { g in
            receive(g)
            return scores == nil ? [nil] : [nil, nil]
        }
    }

    /// w ⊙ m with the hard-concrete gate m = min(1, max(0, (r − l)·s + l)) of logits `a`:
    /// s = σ((log u − log(1 − u) + a)/β) for noise u in (0, 1) during training, s = σ(a) at test
    /// time (`noise` nil). Gradients reach w (through m) and a (through s, where m is not clamped).
    public static func hardConcreteGated(_ w: Tensor, logits a: Tensor, noise: Tensor?, l: Float, r: Float,
                                         beta: Float) throws -> Tensor {
        guard a.shape == w.shape, noise.map({ $0.shape == w.shape }) ?? true else {
            throw EngineError("hard concrete: weight \(describe(shape: w.shape)), logits \(describe(shape: a.shape))")
        }
        let n = w.count
        let m = Tensor.empty(like: w), dm = Tensor.empty(like: w)
        hardConcrete(a.data, noise.map { UnsafePointer($0.data) }, n, l: l, r: r, beta: beta, m.data, dm.data)
        let out = Tensor.empty(like: w)
        gateForward(w.data, m.data, out.data, n)
        return Tensor.record("hardConcreteGated", out, [w, a]) { g in
            let dw = w.requiresGrad ? Tensor.empty(like: w) : nil
            let da = a.requiresGrad ? Tensor.empty(like: w) : nil
            if let dw { gateForward(g.data, m.data, dw.data, n) }
            if let da { for i in 0..<n { da.data[i] = g.data[i] * w.data[i] * dm.data[i] } }
            return [dw, da]
        }
    }

    /// The deterministic hard-concrete gate min(1, max(0, (r − l)·σ(a) + l)), without recording.
    public static func hardConcreteMask(logits a: Tensor, l: Float, r: Float) -> Tensor {
        let m = Tensor.empty(like: a)
        hardConcrete(a.data, nil, a.count, l: l, r: r, beta: 1, m.data, nil)
        return m
    }

    /// Zeroes (as +0.0) the entries where `mask` is 0, in place, without recording.
    public func maskInPlace(by mask: Tensor) {
        guard mask.count == count else { return }
        applyMask(data, mask.data, count)
    }

    /// self ⊙= other, in place (same shape, no recording).
    public func multiplyInPlace(by other: Tensor) {
        guard other.count == count else { return }
        gateForward(data, other.data, data, count)
    }

    /// The number of entries different from zero.
    public var nonzeroCount: Int { countNonzero(data, count) }
}
