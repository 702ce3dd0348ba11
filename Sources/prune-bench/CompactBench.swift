// Compacted models: the CNN, LeNet-5 and the ResNet pruned by channels (L1, one-shot) to 75, 50
// and 25% of their units, compacted, and timed against the dense model in evaluation mode at
// batch 1 and 128, in alternating blocks so that the machine's noise hits both alike. The goal (issue:
// structured pruning) is that latency falls at least 0.6 × as much as the dense FLOPs do.
import Engine
import FileIO
import NN
import Pruning

func compactBench(repeats: Int) throws {
    let names = (arg("--workloads") ?? "cnn,lenet5,resnet").split(separator: ",").map(String.init)
    let sizes = (arg("--batches") ?? "1,128").split(separator: ",").compactMap { Int($0) }.filter { $0 >= 1 && $0 <= 128 }
    for name in names {
        for keep in [0.75, 0.5, 0.25] {
            let model = try makeModel(name)
            var config = PrunerConfig(Channel.self, keep: keep)
            config.schedule.kind = .oneshot
            try Pruner(config).pruneOnce(model, data: nil)
            model.eval()
            let small = try Structure.compact(model).model
            small.eval()
            let batch = try Tensor.randn([128, 1, 28, 28], rng: RNG(seed: 1))
            var ratios: [Int: [Double]] = [:], seconds: [Int: [(Double, Double)]] = [:]
            var flops = (dense: 0, small: 0)
            for _ in 0..<repeats {
                for n in sizes {
                    let (a, b) = try pairedLatency(model, small, batch.sliced(axis: 0, start: 0, end: n))
                    ratios[n, default: []].append(b / a)
                    seconds[n, default: []].append((a, b))
                }
            }
            // Counted after forward passes: a layer's FLOPs per sample need its spatial size.
            flops = (try CompactionCost.measure(model, batch: batch, sizes: []).flops,
                     try CompactionCost.measure(small, batch: batch, sizes: []).flops)
            let tag = "compact_\(name)_keep\(Int(keep * 100))"
            if CommandLine.arguments.contains("--layers") {
                let n = min(max(arg("--layer-batch").flatMap(Int.init) ?? 1, 1), 128)
                try layerTimes(tag + "_dense", model, batch.sliced(axis: 0, start: 0, end: n))
                try layerTimes(tag + "_compact", small, batch.sliced(axis: 0, start: 0, end: n))
            }
            let flopRatio = Double(flops.small) / Double(max(flops.dense, 1))
            emit(tag, "flops_ratio", flopRatio, digits: 3)
            for n in ratios.keys.sorted() {
                let r = (ratios[n] ?? []).sorted()
                let median = r[r.count / 2]
                emit(tag, "latency_ratio_b\(n)", median, digits: 3)
                // The best of each side alone, for reading absolute costs (a loaded machine inflates them).
                let s = seconds[n] ?? []
                emit(tag, "dense_us_b\(n)", (s.map(\.0).min() ?? 0) * 1e6, digits: 1)
                emit(tag, "compact_us_b\(n)", (s.map(\.1).min() ?? 0) * 1e6, digits: 1)
                // Latency falls by at least 0.6 × the FLOP reduction.
                emit(tag, "goal_met_b\(n)", (1 - median) >= 0.6 * (1 - flopRatio) ? 1 : 0)
            }
        }
    }
}

/// Seconds per forward pass of `a` and of `b` on `x` (evaluation, no recording), in blocks of
/// about 20 ms taken in turn, the best block of each (`interleavedSeconds`, as the sparse
/// benchmark and `speed` time): timing one model for 0.3 s and then the other let a few
/// milliseconds of another job's work decide a ratio.
func pairedLatency(_ a: Module, _ b: Module, _ x: Tensor) throws -> (Double, Double) {
    let s = try GradMode.noGrad {
        try interleavedSeconds([{ n in for _ in 0..<n { _ = try a(x) } }, { n in for _ in 0..<n { _ = try b(x) } }])
    }
    return (s[0], s[1])
}

/// Microseconds per call of each layer of a Sequential `model` on `x` (evaluation, no recording),
/// best of many: where a batch's time goes (`--layers`, batch 1 or `--layer-batch N`).
func layerTimes(_ tag: String, _ model: Module, _ x: Tensor) throws {
    guard let seq = model as? Sequential else { return }
    try GradMode.noGrad {
        var h = x
        for (i, layer) in seq.layers.enumerated() {
            var best = Double.infinity
            var y = try layer(h)
            for _ in 0..<20 {
                let t0 = monotonicSeconds()
                for _ in 0..<20 { y = try layer(h) }
                best = min(best, (monotonicSeconds() - t0) / 20)
            }
            emit(tag, "layer\(i)_\(layer.typeName.prefix(while: { $0 != "(" }))_us", best * 1e6, digits: 2)
            h = y
        }
    }
}
