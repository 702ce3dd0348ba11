// A stochastic gate per unit (Colombo & Gao 2021, differentiable architecture pruning): each
// channel or neuron u has a logit a_u; in training its output is multiplied by a relaxed
// Bernoulli sample z_u = σ((a_u + log s − log(1 − s)) / τ), s ~ U(0, 1), one draw per batch,
// and by `open` (0 once the unit is removed); in evaluation by 1[a_u > 0]·open. As τ anneals
// towards 0 the samples become 0/1 and the gates choose a subset of units.
import Engine

public final class UnitGate: Module {
    /// a_u, trainable.
    public let logits: Tensor
    /// 1 for a unit still in the network, 0 once removed (not trained).
    public let open: Tensor
    public var features: Int { logits.count }
    /// τ of the relaxation (set by the pruner as it anneals).
    public var temperature: Float = 1
    /// Draws the relaxation's noise.
    public var noise = RNG(seed: 0)

    public init(_ features: Int, logit: Float = 3) throws {
        logits = try Tensor(shape: [features], repeating: logit).requiringGrad()
        open = try Tensor.ones([features])
        super.init()
    }

    /// The multipliers of the units: sampled while training, 0/1 in evaluation.
    public func multipliers() throws -> Tensor {
        let a = try effective("logits", logits)
        if training {
            let n = try Tensor.empty([features])
            for u in 0..<features {
                let s = Swift.min(Swift.max(noise.uniform(), 1e-6), 1 - 1e-6)
                n.data[u] = Float(libmLog(Double(s)) - libmLog(1 - Double(s)))
            }
            return try ((a + n) * (1 / Swift.max(temperature, 1e-4))).sigmoid() * open
        }
        let z = try Tensor.zeros([features])
        for u in 0..<features where a.data[u] > 0 && open.data[u] != 0 { z.data[u] = 1 }
        return z
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank >= 2, x.shape[1] == features else {
            throw NNError("unit gate: expected \(features) channels on axis 1, got input \(describe(shape: x.shape))")
        }
        var shape = [1, features]
        for _ in 2..<x.rank { shape.append(1) }
        return try x * (try multipliers().reshaped(shape))
    }

    public override var localParameters: [(String, Tensor)] { [("logits", logits), ("open", open)] }
    public override var typeName: String { "UnitGate(\(features))" }

    /// `model` with a gate after every Linear and Conv2d layer except the classifier; only the
    /// gates and the classifier train.
    public static func insert(_ model: Module, logit: Float = 3) throws -> Sequential {
        try insertAfterUnits(model, what: "gates insert") { try UnitGate($0, logit: logit) }
    }
}
