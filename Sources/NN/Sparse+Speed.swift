// Measuring what sparsity buys: per-layer kernel timings (from `SparseInference.compile`) and
// whole-model latency dense, sparse and as chosen, for `speed(net, batch=)` and prune-bench.
import FileIO
import Engine

/// Seconds per call of each of `bodies`, measured interleaved so that a shared machine's slow
/// stretches hit all alike: `body(n)` makes n calls; each body is sized to blocks of about
/// `blockSeconds` of calls, and the best of `blocks` blocks is kept. A body may pay a fixed cost
/// per block besides its calls (entering a sparse scope checks every mask): the size comes from
/// the difference between 9 calls and 1, so that cost is spread over a whole block's calls, as
/// over an evaluation's batches, instead of over as many calls as it and one call take 20 ms.
public func interleavedSeconds(_ bodies: [(Int) throws -> Void], blocks: Int = 7, blockSeconds: Double = 0.02) throws -> [Double] {
    var reps: [Int] = []
    for body in bodies {
        try body(1)
        var t0 = monotonicSeconds()
        try body(1)
        let one = monotonicSeconds() - t0
        t0 = monotonicSeconds()
        try body(9)
        let perCall = min(one, max((monotonicSeconds() - t0 - one) / 8, 1e-7))
        reps.append(max(1, min(100_000, Int(blockSeconds / max(perCall, 1e-7)))))
    }
    var best = [Double](repeating: .infinity, count: bodies.count)
    for _ in 0..<max(blocks, 1) {
        for (i, body) in bodies.enumerated() {
            let t0 = monotonicSeconds()
            try body(reps[i])
            best[i] = min(best[i], (monotonicSeconds() - t0) / Double(reps[i]))
        }
    }
    return best
}

extension SparseInference {
    /// A model's latency at one batch size: every masked layer's timed choice, and the whole
    /// forward pass with every layer dense, every masked layer sparse, and as chosen.
    public struct SpeedReport: Sendable {
        public var batch: Int
        public var layers: [LayerChoice]
        /// Seconds per forward pass.
        public var dense: Double, sparse: Double, chosen: Double
        /// Multiply-adds per sample of the dense Linear and Conv2d layers.
        public var denseMACs: Double
    }

    /// Measures `model` on `input` (a batch) in evaluation mode, without recording; the layers'
    /// choices for this batch size are made afresh and kept.
    public static func speed(_ model: Module, input: Tensor, blocks: Int = 5) throws -> SpeedReport {
        let layers = try compile(model, input: input)
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        let modes: [SparseKernelChoice] = [.dense, .sparse, .auto]
        let seconds = try GradMode.noGrad {
            try interleavedSeconds(modes.map { mode in { n in
                try with(model, mode: mode) { for _ in 0..<n { _ = try model(input) } }
            } }, blocks: blocks, blockSeconds: 0.01)
        }
        return SpeedReport(batch: input.shape.first ?? 1, layers: layers, dense: seconds[0], sparse: seconds[1],
                           chosen: seconds[2], denseMACs: layers.reduce(0) { $0 + $1.denseMACs })
    }
}
