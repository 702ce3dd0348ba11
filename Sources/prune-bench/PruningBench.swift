// The cost of pruning while training: one epoch of the MLP dense, with gradual magnitude
// pruning, and with movement pruning (cubic schedule to keep 0.1, each method's default mask
// interval: magnitude every 10 steps, movement every step), interleaved and repeated so that
// the machine's noise hits all three alike. The overhead is the median over rounds of each
// round's own ratio to its dense epoch (the machines are shared: a slow stretch slows the
// epochs next to each other alike, so paired ratios vary far less than the times themselves).
import Data
import Engine
import NN
import Pruning

func pruningOverhead(repeats: Int, samples: Int?) throws {
    guard repeats >= 1 else { throw EngineError("--repeat must be at least 1 (got \(repeats))") }
    var methods: [(any PruningMethod.Type)?] = [nil, Magnitude.self, Movement.self]
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
        // Alternate the order, so that neither side always runs first in a round.
        for i in round % 2 == 0 ? Array(methods.indices) : methods.indices.reversed() {
            let method = methods[i]
            let model = try Models.mlp([784, 300, 100, 10], rng: RNG(seed: 0))
            let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.01)
            var config = TrainConfig(epochs: 1, batchSize: 128)
            config.maxSamplesPerEpoch = samples
            config.progress = false
            let hooks: [TrainingHook] = try method.map { m in
                var pc = PrunerConfig(m, keep: 0.1)
                if let every = arg("--every").flatMap(Int.init) { pc.schedule.every = every }     // mask interval override
                let pruner = try Pruner(pc)
                pruner.fusesUpdates = !CommandLine.arguments.contains("--unfused")     // the kernels one by one
                return [pruner]
            } ?? []
            let history = try fit(model, on: train, optimizer: opt, config: config, hooks: hooks)
            if round > 0 { times[i].append(history.epochs[0].seconds) }     // round 0 warms up
        }
    }
    func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }
    emit("pruning", "mlp_epoch_dense_s", median(times[0]), digits: 3)
    for (i, method) in methods.enumerated().dropFirst() {
        let name = method?.name ?? "dense"
        emit("pruning", "mlp_epoch_\(name)_s", median(times[i]), digits: 3)
        emit("pruning", "mlp_epoch_\(name)_overhead", median(zip(times[i], times[0]).map { $0 / $1 - 1 }), digits: 3)
    }
}
