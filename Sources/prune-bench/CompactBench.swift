// Compacted models: the CNN, LeNet-5 and the ResNet pruned by channels (L1, one-shot) to 75, 50
// and 25% of their units, compacted, and timed against the dense model in evaluation mode at
// batch 1 and 128, interleaved so that the machine's noise hits both alike. The goal (issue:
// structured pruning) is that latency falls at least 0.6 × as much as the dense FLOPs do.
import Engine
import NN
import Pruning

func compactBench(repeats: Int) throws {
    let names = (arg("--workloads") ?? "cnn,lenet5,resnet").split(separator: ",").map(String.init)
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
            var ratios: [Int: [Double]] = [:]
            var flops = (dense: 0, small: 0)
            for _ in 0..<repeats {
                let a = try CompactionCost.measure(model, batch: batch), b = try CompactionCost.measure(small, batch: batch)
                flops = (a.flops, b.flops)
                for (x, y) in zip(a.latency, b.latency) { ratios[x.batch, default: []].append(y.seconds / x.seconds) }
            }
            let tag = "compact_\(name)_keep\(Int(keep * 100))"
            let flopRatio = Double(flops.small) / Double(max(flops.dense, 1))
            emit(tag, "flops_ratio", flopRatio, digits: 3)
            for n in ratios.keys.sorted() {
                let r = (ratios[n] ?? []).sorted()
                let median = r[r.count / 2]
                emit(tag, "latency_ratio_b\(n)", median, digits: 3)
                // Latency falls by at least 0.6 × the FLOP reduction.
                emit(tag, "goal_met_b\(n)", (1 - median) >= 0.6 * (1 - flopRatio) ? 1 : 0)
            }
        }
    }
}
