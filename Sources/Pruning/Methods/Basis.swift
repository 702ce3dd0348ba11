// Basis pruning (Wong, Kashyap & Moradi 2021): on a model rewritten by basis(net), each layer's
// SVD bases are units gated by their scaling α; the pruner ranks bases by |α·∂L/∂α| summed over
// the steps (or over `batches` batches when pruning once), removes the lowest, and may add an L1
// penalty λ·Σ|α| that pulls unneeded scalings to zero while α and the classifier train. It is
// channel pruning restricted to the basis groups, so `compact` folds the removed bases away.
// Double pruning is this on top of a channel pruner: prune channels, compact, basis(), prune bases.
import Engine
import NN

public final class BasisPruning: PruningMethod {
    public static let name = "basis"
    public static func prepared(_ model: Module) throws -> Module { try BasisLayer.rewrite(model) }
    public static let summary = "removes the SVD bases of basis(net)'s layers with the smallest |α·∂L/∂α|, with an optional L1 penalty on α"
    public static let reference = "Wong, Kashyap & Moradi 2021 (arXiv 2108.02893)"
    public static let parameters: [MethodParameter] = [
        .real("lambda", 0, atLeast: 0, "L1 penalty λ·Σ|α| on the basis scalings", displayed: true),
        .integer("batches", 16, 1...1_000_000, "batches of data when pruning once"),
    ]
    public static let defaultSchedule = PruneSchedule(.cubic, every: 10)
    public static let removesUnits = true

    let lambda: Float
    /// Channel pruning over the basis groups only, ranked by the gates' first-order term.
    let bases: Channel

    public init(settings: MethodSettings) {
        lambda = Float(settings.number("lambda"))
        bases = Channel(criterion: "alpha", batches: settings.int("batches"),
                        admits: { g in g.gates.contains { $0.name.hasSuffix(".alpha") } }, label: "basis")
    }

    public func validate(_ config: PrunerConfig) throws {
        if config.granularity != .element {
            throw PruningError.invalid("basis pruning removes whole bases; it takes no granularity")
        }
    }

    public func attached(_ pruner: Pruner) throws {
        guard let model = pruner.model else { return }
        guard model.namedModules().contains(where: { $0.1 is BasisLayer }) else {
            throw PruningError.missingLayers(method: Self.name, layers: "bases", insertedBy: "BasisLayer.rewrite(_:)")
        }
        try bases.attached(pruner)
    }

    /// λ·Σ|α| over every basis layer.
    public func loss(_ loss: Tensor, pruner: Pruner, step: Int) throws -> Tensor {
        guard lambda > 0, let model = pruner.model else { return loss }
        var total = loss
        for case let (_, b as BasisLayer) in model.namedModules() { total = try total + b.alpha.abs().sum() * lambda }
        return total
    }

    public func afterBackward(_ pruner: Pruner, step: Int) throws { try bases.afterBackward(pruner, step: step) }
    public func updateMasks(_ pruner: Pruner, keep: Double) throws { try bases.updateMasks(pruner, keep: keep) }
    public func pruneNow(_ pruner: Pruner, data: BatchSource?, batchSize: Int, keep: Double) throws {
        try bases.pruneNow(pruner, data: data, batchSize: batchSize, keep: keep)
    }
}
