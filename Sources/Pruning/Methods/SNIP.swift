// SNIP (Lee, Ajanthan & Torr 2019): prune once at initialisation by |w · Σ_b ∂L/∂w| over a
// few batches, then train the sparse network.
import Engine
import NN

public final class SNIP: PruningMethod, TrainingProcedure {
    public static let name = "snip"
    public static let summary = "prunes once before training by |w·∂L/∂w| on a few batches"
    public static let reference = "Lee, Ajanthan & Torr 2019 (arXiv 1810.02340)"
    public static let parameters: [MethodParameter] = [
        .integer("batches", 4, 1...1_000_000, "batches of data the saliency is computed on"),
    ]
    public static let defaultSchedule = PruneSchedule(.oneshot)
    public static let schedules: [PruneSchedule.Kind] = [.oneshot]
    let batches: Int

    public init(settings: MethodSettings) { batches = settings.int("batches") }

    public func oneShotImportance(_ pruner: Pruner, data: BatchSource?, batchSize: Int) throws -> [Tensor] {
        guard let data else { throw PruningError.needsData(method: Self.name) }
        return try Taylor.saliency(pruner, data: data, batchSize: batchSize, batches: batches, summedFirst: true)
    }

    public var procedure: TrainingProcedure? { self }

    /// Prunes on the training data, then trains with the mask fixed.
    public func train(_ run: TrainingRun, pruner: Pruner) throws -> History {
        try pruner.pruneOnce(run.model, data: run.data, batchSize: run.config.batchSize)
        return try run.fit()
    }
}
