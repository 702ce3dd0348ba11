// WoodFisher (Singh & Alistarh 2020): Optimal Brain Surgeon with the inverse of a block-diagonal
// empirical Fisher built by Woodbury updates. Weights are ranked by the loss rise of removing
// each, ρ_q = w_q²/(2[F⁻¹]_qq); the weights that stay then move to compensate, by the sum of the
// single-weight updates δw = −(w_q/[F⁻¹]_qq)·F⁻¹e_q or by the joint update of the removed set.
import FileIO
import Engine
import Kernels
import NN

public final class WoodFisher: PruningMethod {
    public static let name = "woodfisher"
    public static let summary = "OBS: ranks by w²/(2[F⁻¹]_qq), F a block-diagonal empirical Fisher from gradients on the data, and moves the kept weights to compensate"
    public static let reference = "Singh & Alistarh 2020 (arXiv 2004.14340); Hassibi & Stork 1993"
    public static let parameters: [MethodParameter] = [
        .integer("block", 128, 1...16384, "weights per diagonal block of F (the authors: 2000 for ResNet-50, 10000 for MobileNetV1, on GPUs); 128 here, since the build costs samples × block operations per weight and the blocks take block floats per weight"),
        .real("damping", 1e-3, above: 0, "λ in F = λI + (1/m)Σ g gᵀ (the authors' code default; their ImageNet runs use 1e-5)"),
        .integer("samples", 32, 1...1_000_000, "gradients m that F is estimated from, each step (the authors' code default; their runs use 400 to 1000); fewer when the data hold fewer mini-batches"),
        .integer("fisher_batch", 1, 1...1_000_000, "data samples averaged into one gradient (the authors' code default 1: per-sample gradients)"),
        .integer("joint", 0, 0...1, "1: remove the pruned weights of a block jointly (exact OBS for the set); 0: add up their single-weight updates, as the authors' code does"),
    ]
    let blockSize: Int, damping: Double, samples: Int, fisherBatch: Int, joint: Bool
    /// Seconds each pruning step took (gradients, inverse, ranking, selection, compensation), in
    /// order, since the pruner attached: for benchmarks, and one entry per Fisher estimate.
    public private(set) var stepSeconds: [Double] = []
    /// Tests set this to keep the gradients of the last estimate in `lastSamples`.
    var keepsSamples = false
    var lastSamples: FisherSamples?
    /// A step between ranking and compensation: the inverses, and the weights and masks before
    /// the selection (which zeroes the removed weights, whose values the compensation needs).
    var pending: (inverses: [BlockFisherInverse], weights: [Tensor], masks: [Tensor], start: Double)?

    public init(settings: MethodSettings) {
        blockSize = settings.int("block"); damping = settings.number("damping")
        samples = settings.int("samples"); fisherBatch = settings.int("fisher_batch")
        joint = settings.int("joint") == 1
    }

    public func attached(_ pruner: Pruner) throws { stepSeconds = []; pending = nil }

    /// A gradual step: F is estimated anew at the current weights, the masks follow the
    /// saliencies, and the weights just removed are compensated. An unchanged target costs nothing.
    public func updateMasks(_ pruner: Pruner, keep: Double) throws {
        if pruner.lastKeep == keep { return }
        guard keep < 1 else {
            // Nothing to remove (masks only shrink): no estimate.
            try pruner.select(pruner.targets.map { Tensor.ones(like: $0.weight) }, keep: keep)
            return
        }
        let importance = try estimate(pruner, data: FisherSamples.data(nil, pruner))
        try pruner.select(importance, keep: keep)
        try compensate(pruner)
    }

    /// One-shot: the saliencies from `data` (or the data of the training run in progress); `batchSize`
    /// gives way to `fisher_batch`, which sets what one gradient averages.
    public func oneShotImportance(_ pruner: Pruner, data given: BatchSource?, batchSize: Int) throws -> [Tensor] {
        try estimate(pruner, data: FisherSamples.data(given, pruner))
    }

    public func pruned(_ pruner: Pruner) throws { try compensate(pruner) }

    /// Gradients at the current weights, F⁻¹ per target and ρ per weight; keeps what the
    /// compensation needs in `pending`.
    func estimate(_ pruner: Pruner, data: BatchSource) throws -> [Tensor] {
        let start = monotonicSeconds()
        let targets = pruner.targets
        let blockBytes = targets.reduce(0.0) { $0 + Double(Swift.min(blockSize, $1.weight.count)) * Double($1.weight.count) * 4 }
        guard blockBytes <= Double(FisherSamples.byteLimit) else {
            throw PruningError.invalid("woodfisher: blocks of \(blockSize) weights would take \(Int(blockBytes / 1e9)) GB for these layers; choose a smaller block")
        }
        // A new draw of the data at every step of a run.
        let s = try FisherSamples.collect(pruner, data: data, samples: samples, batchSize: fisherBatch,
                                          seed: pruner.config.seed &+ UInt64(stepSeconds.count))
        lastSamples = keepsSamples ? s : nil
        var inverses: [BlockFisherInverse] = [], importance: [Tensor] = []
        for (t, g) in zip(targets, s.gradients) {
            let inverse = BlockFisherInverse(gradients: g.data, count: s.count, dimension: t.weight.count,
                                             blockSize: blockSize, lambda: damping)
            let rho = Tensor.empty(like: t.weight)
            inverse.saliency(weights: t.weight.data, into: rho.data)
            inverses.append(inverse); importance.append(rho)
        }
        pending = (inverses, targets.map { $0.weight.copy() }, pruner.gates.map { $0.mask.copy() }, start)
        return importance
    }

    /// Applies the OBS update for the weights the selection removed (mask 1 → 0 at this step) to
    /// the weights as they were before it. Entries already 0 before the step (pruned earlier, or
    /// by a frozen upstream mask) are held at 0: the independent update leaves them alone, the
    /// joint one solves with them constrained to 0.
    func compensate(_ pruner: Pruner) throws {
        guard let step = pending else { return }
        pending = nil
        for (i, (t, g)) in zip(pruner.targets, pruner.gates).enumerated() {
            let n = t.weight.count
            let before = step.masks[i].data, after = g.mask.data, allowed = pruner.allowed[i]?.data
            let remove = Tensor.empty(like: t.weight), frozen = Tensor.empty(like: t.weight)
            var removed = false
            for j in 0..<n {
                let was = before[j] != 0
                remove.data[j] = was && after[j] == 0 ? 1 : 0
                frozen.data[j] = was && (allowed.map { $0[j] != 0 } ?? true) ? 1 : 0
                removed = removed || remove.data[j] != 0
            }
            guard removed else { continue }
            let w = step.weights[i]
            // A joint system singular to Float precision leaves its block uncompensated (the
            // removed weights are still zeroed): the quadratic model cannot say more there.
            step.inverses[i].prune(weights: w.data, remove: remove.data, frozen: frozen.data, joint: joint)
            try t.weight.assign(w)
            if g.isFixed { t.weight.maskInPlace(by: g.mask) }
        }
        stepSeconds.append(monotonicSeconds() - step.start)
    }
}
