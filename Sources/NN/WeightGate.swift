// Masks on parameters: how a pruning mask (and the scores behind it) enters a layer's forward
// pass. Pruners in the Pruning module install and update them; layers only call `effective`.
import Engine

/// How a mask that is not a fixed 0/1 pattern enters the forward pass: learned scores behind a
/// straight-through top-k, stochastic hard-concrete gates, a learned threshold. Pruning methods
/// define them (each in its own file); layers only see `WeightGate.apply`.
public protocol GateTransform: AnyObject {
    /// Identifies the transform in saved state ("straight_through").
    var name: String { get }
    /// The numbers that rebuild it together with its name (saved notebook state).
    var settings: [String: Double] { get }
    /// The tensor the layer computes with, given the stored weight.
    func apply(_ w: Tensor, gate: WeightGate, training: Bool) throws -> Tensor
    /// Turns the gate into a fixed mask: writes the 0/1 mask it implies into `gate.mask`, and
    /// into `w` the values the layer computed with at evaluation (L0 folds its gate values in),
    /// so that afterwards `w` as it is gives the same outputs.
    func fix(_ w: Tensor, gate: WeightGate)
    /// An independent copy, for a copied model (fresh noise where it draws any).
    func copy() -> GateTransform
}

/// The mask of one parameter, stored apart from the weights. The model's masks are keyed by
/// the parameter's dotted name (`layers.0.weight`), see `Module.namedGates()`.
///
/// Without a transform the mask is fixed: the weights themselves hold zeros where the mask is
/// 0 (the optimizer re-zeroes them and their state after every step), so the forward pass uses
/// the weights as they are, W = W ⊙ M at all times, at no cost per step.
public final class WeightGate {
    /// How a mask that is not fixed enters the forward pass (nil: fixed).
    public var transform: GateTransform?
    /// 0/1, the parameter's shape. Updated in place by pruners so that references stay valid.
    public let mask: Tensor
    /// Learned importance scores (movement, soft movement), gate logits (L0) or thresholds.
    public var scores: Tensor?
    /// A frozen mask is never changed by a pruner: later pruning can only remove more.
    public var frozen = false
    /// The sparsity the pruner asked for, for reports (nil when the method sets none).
    public var requestedSparsity: Double?
    /// The method that made the mask (for reports).
    public var method: String

    public init(mask: Tensor, scores: Tensor? = nil, method: String = "mask", transform: GateTransform? = nil) {
        self.mask = mask; self.scores = scores; self.method = method; self.transform = transform
    }

    /// Whether the mask is a fixed 0/1 pattern already applied to the weights.
    public var isFixed: Bool { transform == nil }

    /// The tensor the layer computes with.
    public func apply(_ w: Tensor, training: Bool) throws -> Tensor {
        guard let transform else { return w }
        return try transform.apply(w, gate: self, training: training)
    }

    /// Makes the mask fixed (see `GateTransform.fix`) and W = W ⊙ M; scores stay for inspection.
    public func makeFixed(_ w: Tensor) {
        transform?.fix(w, gate: self)
        transform = nil
        scores?.requiresGrad = false
        scores?.grad = nil
        w.maskInPlace(by: mask)
    }

    /// The fixed 0/1 mask this gate implies for weight `w`, leaving both untouched.
    public func fixedMask(weight w: Tensor) -> Tensor {
        guard let transform else { return mask.copy() }
        let probe = WeightGate(mask: mask.copy(), scores: scores?.copy(), method: method, transform: transform.copy())
        probe.transform?.fix(w.copy(), gate: probe)
        return probe.mask
    }

    /// An independent copy (masks and scores copied, the transform too).
    public func copy() -> WeightGate {
        let c = WeightGate(mask: mask.copy(), scores: scores.map { $0.copy().requiringGrad($0.requiresGrad) }, method: method,
                           transform: transform?.copy())
        c.frozen = frozen; c.requestedSparsity = requestedSparsity
        return c
    }

    /// Fraction of the mask that is 0.
    public var sparsity: Double {
        mask.count == 0 ? 0 : 1 - Double(mask.nonzeroCount) / Double(mask.count)
    }
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
            throw NNError("no parameter named '\(name)' in the model")
        }
        if let gate {
            guard gate.mask.shape == p.shape else {
                throw NNError("mask for '\(name)' has shape \(describe(shape: gate.mask.shape)), the parameter has \(describe(shape: p.shape))")
            }
            m.gates[local] = gate
            if gate.isFixed { p.maskInPlace(by: gate.mask) }
        } else {
            m.gates[local] = nil
        }
    }

    /// Re-establishes W = W ⊙ M for every fixed mask (after weights were loaded or edited).
    public func applyMasks() {
        let params = Dictionary(namedParameters(), uniquingKeysWith: { a, _ in a })
        for (name, gate) in namedGates() where gate.isFixed {
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
