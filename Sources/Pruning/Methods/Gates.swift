// Architecture pruning by subset selection (Colombo & Gao 2021, arXiv 2107.03375; built from the
// paper's abstract and METHODS.md's sketch, the full text was not reachable): gates(net) puts a
// stochastic gate on every unit and freezes the weights; this pruner trains the gate logits a_u
// with the task loss plus a complexity prior, the expected fraction of open units
// λ·mean_u σ(a_u/τ₂), while both temperatures anneal from 1: τ₁ of the relaxed Bernoulli samples
// (UnitGate) towards `temperature`, τ₂ of the prior towards `prior_temperature`. At the end a
// unit stays when a_u > 0. architecture(net) then extracts the chosen sub-network, re-initialised,
// to train on the downstream task: the architecture, not the weights, is what transfers.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import NN

public final class Gates: PruningMethod {
    public static let name = "gates"
    public static func prepared(_ model: Module) throws -> Module { try UnitGate.insert(model) }
    public static let summary = "learns which units to keep with relaxed Bernoulli gates and a complexity prior, weights frozen; architecture(net) extracts the sub-network"
    public static let reference = "Colombo & Gao 2021 (arXiv 2107.03375)"
    public static let parameters: [MethodParameter] = [
        .real("lambda", 1, atLeast: 0, "weight of the complexity prior (the expected fraction of open units)", displayed: true),
        .real("temperature", 0.1, above: 0, atMost: 1, "the relaxation's temperature τ₁ at the end (it starts at 1)"),
        .real("prior_temperature", 0.1, above: 0, atMost: 1, "the prior's temperature τ₂ at the end (it starts at 1)"),
    ]
    public static let target = MethodTarget.own
    public static let schedules: [PruneSchedule.Kind] = [.constant]
    public static let defaultSchedule = PruneSchedule(.constant, every: 10)
    public static let structured = false
    public static let learnsWhileTraining = true

    let lambda: Float, finalTemperature: Float, finalPriorTemperature: Float
    var gates: [UnitGate] = []
    /// τ₂ of the prior now.
    var priorTemperature: Float = 1

    public init(settings: MethodSettings) {
        lambda = Float(settings.number("lambda"))
        finalTemperature = Float(settings.number("temperature"))
        finalPriorTemperature = Float(settings.number("prior_temperature"))
    }

    public func attached(_ pruner: Pruner) throws {
        guard let model = pruner.model else { return }
        gates = model.namedModules().compactMap { $0.1 as? UnitGate }
        guard !gates.isEmpty else {
            throw PruningError.missingLayers(method: Self.name, layers: "unit gates", insertedBy: "UnitGate.insert(_:)")
        }
        for (i, g) in gates.enumerated() {
            g.noise = RNG(seed: pruner.config.seed &+ UInt64(i) &* 7919)
            g.temperature = 1
        }
        priorTemperature = 1
    }

    /// The loss plus λ·(Σ over every gate of σ(a_u/τ₂)) / (number of units).
    public func loss(_ loss: Tensor, pruner: Pruner, step: Int) throws -> Tensor {
        guard lambda > 0 else { return loss }
        let units = gates.reduce(0) { $0 + $1.features }
        var prior: Tensor?
        for g in gates {
            let open = try ((g.logits * (1 / priorTemperature)).sigmoid() * g.open).sum()
            prior = try prior.map { try $0 + open } ?? open
        }
        guard let prior else { return loss }
        return try loss + prior * (lambda / Float(Swift.max(units, 1)))
    }

    /// Anneals both temperatures geometrically from 1 to their final values.
    public func afterStep(_ pruner: Pruner, step: Int) throws {
        let progress = Float(Swift.min(1, Double(step + 1) / Double(Swift.max(pruner.totalSteps, 1))))
        let tau = powf(finalTemperature, progress)
        for g in gates { g.temperature = tau }
        priorTemperature = powf(finalPriorTemperature, progress)
    }

    public func updateMasks(_ pruner: Pruner, keep: Double) throws {}

    /// Units whose logit is not above 0 are removed for good (each layer keeps its best one).
    public func end(_ pruner: Pruner) throws {
        for g in gates {
            for u in 0..<g.features where g.logits.data[u] <= 0 { g.open.data[u] = 0 }
            if g.open.nonzeroCount == 0, let best = (0..<g.features).max(by: { g.logits.data[$0] < g.logits.data[$1] }) {
                g.open.data[best] = 1
                if g.logits.data[best] <= 0 { g.logits.data[best] = 1e-3 }
            }
        }
    }
}
