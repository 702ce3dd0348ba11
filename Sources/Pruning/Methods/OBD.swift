// Optimal Brain Damage (LeCun, Denker & Solla 1990) with the diagonal empirical Fisher in place
// of the Hessian's diagonal: rank by w_q²·F_qq/2, the loss rise of removing w_q alone under a
// quadratic model without off-diagonal terms, and remove with no compensation.
import FileIO
import Engine
import Kernels
import NN

public final class OBD: PruningMethod {
    public static let name = "obd"
    public static let summary = "Optimal Brain Damage: ranks by w²·F_qq/2, F_qq the diagonal empirical Fisher from gradients on the data; no compensation"
    public static let reference = "LeCun, Denker & Solla 1990"
    public static let parameters: [MethodParameter] = [
        .real("damping", 1e-3, atLeast: 0, "λ in F_qq = λ + (1/m)Σ g_q², as woodfisher's, so that obd is woodfisher with blocks of one weight (the authors' diagonal-Fisher code adds none)"),
        .integer("samples", 32, 1...1_000_000, "gradients m that F is estimated from, each step (woodfisher's default); fewer when the data hold fewer mini-batches"),
        .integer("fisher_batch", 1, 1...1_000_000, "data samples averaged into one gradient (1: per-sample gradients, as the authors' code does)"),
    ]
    let damping: Double, samples: Int, fisherBatch: Int
    /// Seconds each pruning step took (gradients, diagonal, ranking, selection), in order, since
    /// the pruner attached: one entry per Fisher estimate.
    public private(set) var stepSeconds: [Double] = []
    /// When the one-shot step in flight began (it ends in `pruned`).
    var started: Double?

    public init(settings: MethodSettings) {
        damping = settings.number("damping"); samples = settings.int("samples"); fisherBatch = settings.int("fisher_batch")
    }

    public func attached(_ pruner: Pruner) throws { stepSeconds = []; started = nil }

    /// A gradual step: F's diagonal is estimated anew at the current weights. An unchanged target
    /// costs nothing.
    public func updateMasks(_ pruner: Pruner, keep: Double) throws {
        if pruner.lastKeep == keep { return }
        guard keep < 1 else {
            try pruner.select(pruner.targets.map { Tensor.ones(like: $0.weight) }, keep: keep)
            return
        }
        let start = monotonicSeconds()
        try pruner.select(saliency(pruner, data: FisherSamples.data(nil, pruner)), keep: keep)
        stepSeconds.append(monotonicSeconds() - start)
    }

    /// One-shot: the saliencies from `data` (or the data of the training run in progress); `batchSize`
    /// gives way to `fisher_batch`.
    public func oneShotImportance(_ pruner: Pruner, data given: BatchSource?, batchSize: Int) throws -> [Tensor] {
        started = monotonicSeconds()
        return try saliency(pruner, data: FisherSamples.data(given, pruner))
    }

    public func pruned(_ pruner: Pruner) throws {
        if let started { stepSeconds.append(monotonicSeconds() - started) }
        started = nil
    }

    /// w_q²·(λ + (1/m)Σ g_q²)/2 per weight, from gradients at the current weights.
    func saliency(_ pruner: Pruner, data: BatchSource) throws -> [Tensor] {
        let s = try FisherSamples.collect(pruner, data: data, samples: samples, batchSize: fisherBatch,
                                          seed: pruner.config.seed &+ UInt64(stepSeconds.count))
        return zip(pruner.targets, s.gradients).map { t, g in
            let n = t.weight.count, out = Tensor.empty(like: t.weight)
            diagonalFisher(gradients: g.data, count: s.count, dimension: n, lambda: damping, into: out.data)
            // Element by element, so the diagonal may be overwritten by the saliency it gives.
            diagonalSaliency(weights: t.weight.data, fisherDiagonal: out.data, count: n, into: out.data)
            return out
        }
    }
}
