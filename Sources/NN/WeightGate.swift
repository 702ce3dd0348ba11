// Masks on parameters: how a pruning mask (and the scores behind it) enters a layer's forward
// pass. Pruners in the Pruning module install and update them; layers only call `effective`.
import Engine

/// The mask of one parameter, stored apart from the weights. The model's masks are keyed by
/// the parameter's dotted name (`layers.0.weight`), see `Module.namedGates()`.
public final class WeightGate {
    /// How the mask enters the forward pass.
    public enum Kind: Equatable, Sendable {
        /// A fixed 0/1 mask. The weights themselves hold zeros where the mask is 0 (the
        /// optimizer re-zeroes them and their state after every step), so the forward pass uses
        /// the weights as they are: W = W ⊙ M at all times, at no cost per step.
        case fixed
        /// A 0/1 mask recomputed from learned scores; the forward pass computes W ⊙ M and the
        /// scores receive the straight-through gradient ∂L/∂(W⊙M) ⊙ W (movement pruning).
        case straightThrough
        /// Stochastic hard-concrete gates on logits (`scores`) in training, their deterministic
        /// value at evaluation (L0 regularisation).
        case hardConcrete(l: Float, r: Float, beta: Float)
    }

    public var kind: Kind
    /// 0/1, the parameter's shape. Updated in place by pruners so that references stay valid.
    public let mask: Tensor
    /// Learned importance scores (movement, soft movement) or gate logits (L0), if any.
    public var scores: Tensor?
    /// A frozen mask is never changed by a pruner: later pruning can only remove more.
    public var frozen = false
    /// The sparsity the pruner asked for, for reports (nil when the method sets none).
    public var requestedSparsity: Double?
    /// The method that made the mask (for reports).
    public var method: String
    /// Noise source for hard-concrete gates.
    public var rng: RNG?
    /// Set while a pruner updates this straight-through gate in one fused pass (see
    /// `FusedGate`); the forward pass then reads W ⊙ M from it instead of computing it.
    public var fused: FusedGate?

    public init(kind: Kind = .fixed, mask: Tensor, scores: Tensor? = nil, method: String = "mask") {
        self.kind = kind; self.mask = mask; self.scores = scores; self.method = method
    }

    /// The tensor the layer computes with.
    public func apply(_ w: Tensor, training: Bool) throws -> Tensor {
        switch kind {
        case .fixed:
            return w
        case .straightThrough:
            if let fused {
                return try Tensor.gated(w, scores: scores, maskedWeight: fused.masked) { g in
                    fused.gradient = fused.gradient.map { $0.adding(g) } ?? g
                }
            }
            return try Tensor.gated(w, mask: mask, scores: scores)
        case let .hardConcrete(l, r, beta):
            guard let scores else { return try Tensor.gated(w, mask: mask) }
            var noise: Tensor?
            if training, let rng {
                let u = Tensor.empty(w.shape)
                for i in 0..<u.count { u.data[i] = 1e-4 + (1 - 2e-4) * rng.uniform() }
                noise = u
            }
            return try Tensor.hardConcreteGated(w, logits: scores, noise: noise, l: l, r: r, beta: beta)
        }
    }

    /// Fraction of the mask that is 0.
    public var sparsity: Double {
        mask.count == 0 ? 0 : 1 - Double(mask.nonzeroCount) / Double(mask.count)
    }
}

/// The state of a straight-through gate whose weight, scores and mask a pruner updates in one
/// pass after each optimizer step: W ⊙ M kept up to date for the forward pass, and the
/// gradient that product received in the backward pass (taken by the pruner, so the weight and
/// scores themselves get no `.grad`).
public final class FusedGate {
    /// W ⊙ M, rewritten by every fused step.
    public let masked: Tensor
    /// ∂L/∂(W ⊙ M) since the last fused step (summed over uses), nil before the backward pass.
    public var gradient: Tensor?
    public init(masked: Tensor) { self.masked = masked }
}

extension Module {
    /// The parameter as this module's forward pass must use it: the weight itself, or the weight
    /// behind its mask when a pruner installed one.
    @inline(__always)
    public func effective(_ name: String, _ t: Tensor) throws -> Tensor {
        guard !gates.isEmpty, let gate = gates[name] else { return t }
        return try gate.apply(t, training: training)
    }

    /// Every mask in the model, by the dotted name of its parameter.
    public func namedGates() -> [(String, WeightGate)] {
        namedModules().flatMap { path, m in
            m.localParameters.compactMap { local, _ in
                m.gates[local].map { (path.isEmpty ? local : path + "." + local, $0) }
            }
        }
    }

    /// The mask of the parameter with this dotted name, if any.
    public func gate(for name: String) -> WeightGate? {
        let (path, local) = splitName(name)
        guard let m = module(at: path) else { return nil }
        return m.gates[local]
    }

    /// Installs (or, with nil, removes) the mask of the parameter with this dotted name.
    public func setGate(_ gate: WeightGate?, for name: String) throws {
        let (path, local) = splitName(name)
        guard let m = module(at: path), let p = m.localParameters.first(where: { $0.0 == local })?.1 else {
            throw EngineError("no parameter named '\(name)' in the model")
        }
        if let gate {
            guard gate.mask.shape == p.shape else {
                throw EngineError("mask for '\(name)' has shape \(describe(shape: gate.mask.shape)), the parameter has \(describe(shape: p.shape))")
            }
            m.gates[local] = gate
            if gate.kind == .fixed { p.maskInPlace(by: gate.mask) }
        } else {
            m.gates[local] = nil
        }
    }

    /// Re-establishes W = W ⊙ M for every fixed mask (after weights were loaded or edited).
    public func applyMasks() {
        let params = Dictionary(namedParameters(), uniquingKeysWith: { a, _ in a })
        for (name, gate) in namedGates() where gate.kind == .fixed {
            params[name]?.maskInPlace(by: gate.mask)
        }
    }

    /// The sub-module at a dotted path ("" is the module itself).
    public func module(at path: String) -> Module? {
        if path.isEmpty { return self }
        return namedModules().first { $0.0 == path }?.1
    }

    private func splitName(_ name: String) -> (String, String) {
        guard let dot = name.lastIndex(of: ".") else { return ("", name) }
        return (String(name[..<dot]), String(name[name.index(after: dot)...]))
    }
}
