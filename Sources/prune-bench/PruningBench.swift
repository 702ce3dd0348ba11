// The cost of pruning while training: one epoch of the MLP dense and with every registered
// method (each at its defaults; keep 0.1 where it takes a target; lottery with one round, its
// cost per epoch trained), interleaved and repeated so that the machine's noise hits all alike.
// The overhead is the median over rounds of each round's own ratio to its dense epoch (the
// machines are shared: a slow stretch slows the epochs next to each other alike, so paired
// ratios vary far less than the times themselves).
import Data
import Engine
import NN
import Pruning

func pruningOverhead(repeats: Int, samples: Int?) throws {
    guard repeats >= 1 else { throw EngineError("--repeat must be at least 1 (got \(repeats))") }
    var methods: [(any PruningMethod.Type)?] = [nil] + Methods.all.map { $0 }
    if let only = arg("--methods") {
        methods = [nil]
        for name in only.split(separator: ",") {
            guard let m = Methods.named(String(name)) else { throw EngineError("--methods: unknown method '\(name)'") }
            methods.append(m)
        }
    }
    let train = try FashionMNIST.load(.train)
    var times: [[Double]] = Array(repeating: [], count: methods.count)
    for round in 0...repeats {
        // Alternate the order, so that no method always runs first in a round.
        for i in round % 2 == 0 ? Array(methods.indices) : methods.indices.reversed() {
            let plain = try Models.mlp([784, 300, 100, 10], rng: RNG(seed: 0))
            let model = try methods[i].map { try $0.prepared(plain) } ?? plain
            var config = TrainConfig(epochs: 1, batchSize: 128)
            config.maxSamplesPerEpoch = samples
            config.progress = false
            let pruner = try methods[i].map { m -> Pruner in
                var pc = PrunerConfig(m, keep: m.target == .keep ? 0.1 : nil)
                if m.name == "lottery" { try pc.set("rounds", 1) }
                if let every = arg("--every").flatMap(Int.init) { pc.schedule.every = every }     // mask interval override
                let p = try Pruner(pc)
                p.fusesUpdates = !CommandLine.arguments.contains("--unfused")     // movement's kernels one by one
                return p
            }
            let history = try PrunedTraining.train(model, on: train, pruner: pruner, makeOptimizer: { _ in
                try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.01)
            }, config: config)
            // The epochs' own time (as before this bench covered every method), per epoch trained.
            let perEpoch = history.epochs.reduce(0) { $0 + $1.seconds } / Double(Swift.max(history.epochs.count, 1))
            if round > 0 { times[i].append(perEpoch) }     // round 0 warms up
        }
    }
    if methods.contains(where: { $0?.name == WoodFisher.name }) { try woodFisherStep(train) }
    func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }
    emit("pruning", "mlp_epoch_dense_s", median(times[0]), digits: 3)
    for (i, method) in methods.enumerated().dropFirst() {
        let name = method?.name ?? "dense"
        emit("pruning", "mlp_epoch_\(name)_s", median(times[i]), digits: 3)
        emit("pruning", "mlp_epoch_\(name)_overhead", median(zip(times[i], times[0]).map { $0 / $1 - 1 }), digits: 3)
    }
}

/// One WoodFisher pruning step on the small CNN (gradients on the data, the block-diagonal
/// inverse, the selection and the compensation) at its default block size, median of three.
func woodFisherStep(_ train: BatchSource) throws {
    var seconds: [Double] = []
    var block = 0
    for r in 0..<3 {
        let model = try Models.cnn(classes: 10, rng: RNG(seed: UInt64(r)))
        let config = PrunerConfig(WoodFisher.self, keep: 0.1)
        block = config.settings.int("block")
        let p = try Pruner(config)
        try p.pruneOnce(model, data: train)
        if let s = (p.method as? WoodFisher)?.stepSeconds.last { seconds.append(s) }
    }
    guard !seconds.isEmpty else { throw EngineError("woodfisher recorded no pruning step") }
    emit("pruning", "cnn_woodfisher_step_s_block\(block)", seconds.sorted()[seconds.count / 2], digits: 3)
}
