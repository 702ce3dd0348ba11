// prune-bench: training and inference throughput of the ready models on Fashion-MNIST, and the
// machine's sgemm peak, printed as `<workload> <metric> <value>` lines for scripts/bench.
import FileIO
import Data
import Engine
import NN
#if canImport(Glibc)
import Glibc
#endif

func arg(_ name: String) -> String? {
    let a = CommandLine.arguments
    guard let i = a.firstIndex(of: name), i + 1 < a.count else { return nil }
    return a[i + 1]
}

let threads = Int(arg("--threads") ?? "2") ?? 2
let workloads = (arg("--workloads") ?? "mlp,cnn,vit,minilm").split(separator: ",").map(String.init)
let trainSamples = arg("--train-samples").flatMap(Int.init)
BLAS.setThreads(threads)

func emit(_ workload: String, _ metric: String, _ value: Double, digits: Int = 0) {
    print("\(workload) \(metric) \(digits == 0 ? String(Int(value.rounded())) : fmt(value, digits))")
    fflush(stdout)
}

/// The best sgemm rate over a few large square products, in GFLOP/s.
func sgemmPeak(n: Int = 2048) throws -> Double {
    let a = try Tensor.uniform([n, n], rng: RNG(seed: 1)), b = try Tensor.uniform([n, n], rng: RNG(seed: 2))
    let c = try Tensor.empty([n, n])
    var best = 0.0
    for _ in 0..<5 {
        let t0 = monotonicSeconds()
        BLAS.gemm(m: n, n: n, k: n, a.data, b.data, c.data)
        best = max(best, 2 * Double(n * n * n) / (monotonicSeconds() - t0) / 1e9)
    }
    return best
}

func makeModel(_ name: String) throws -> Module {
    let rng = RNG(seed: 0)
    switch name {
    case "mlp": return try Models.mlp([784, 300, 100, 10], rng: rng)
    case "cnn": return try Models.cnn(rng: rng)
    case "vit": return try Models.vit(rng: rng)
    case "resnet": return try Models.resnet(rng: rng)
    case "lenet5": return try Models.lenet5(rng: rng)
    default: throw EngineError("unknown workload \(name)")
    }
}

/// Full-length training runs for the README's accuracy table: each model with its recipe
/// (batch 128, cosine learning-rate decay), test accuracy after every epoch.
func accuracyRuns(epochs: Int) throws {
    let train = try FashionMNIST.load(.train), test = try FashionMNIST.load(.test)
    for name in workloads where name != "minilm" {
        let model = try makeModel(name)
        let (kind, lr): (OptimizerKind, Float) = name == "vit" ? (.adamw(), 1e-3) : (.sgd(momentum: 0.9), 0.05)
        let steps = epochs * ((train.count + 127) / 128)
        let opt = try Optimizer(kind, parameters: model.namedParameters(), lr: lr, weightDecay: name == "vit" ? 0.05 : 0,
                                schedule: .cosine(total: steps))
        var config = TrainConfig(epochs: epochs, batchSize: 128)
        config.progress = false
        var epoch = 0
        let history = try fit(model, on: train, optimizer: opt, config: config, validation: test, afterStep: { _ in })
        for e in history.epochs {
            epoch = e.epoch
            emit(name, "epoch\(epoch)_test_acc", e.validationAccuracy ?? 0, digits: 4)
        }
        emit(name, "final_test_acc", history.epochs.last?.validationAccuracy ?? 0, digits: 4)
        emit(name, "best_test_acc", history.epochs.compactMap(\.validationAccuracy).max() ?? 0, digits: 4)
    }
}

if CommandLine.arguments.contains("--kernels") { kernelCosts(); exit(0) }

if CommandLine.arguments.contains("--overhead") {
    do { try overheadCosts() } catch { fputs("prune-bench: error: \(error)\n", stderr); exit(1) }
    exit(0)
}

if CommandLine.arguments.contains("--conv-kernels") {
    do { try convKernelCosts() } catch { fputs("prune-bench: error: \(error)\n", stderr); exit(1) }
    exit(0)
}

if CommandLine.arguments.contains("--sparse-kernels") {
    do { try sparseKernelCosts() } catch { fputs("prune-bench: error: \(error)\n", stderr); exit(1) }
    exit(0)
}

if CommandLine.arguments.contains("--sparse") || CommandLine.arguments.contains("--sparse-train") {
    do { try sparseBench(saveDir: arg("--save-dir"), samples: trainSamples) } catch {
        fputs("prune-bench: error: \(error)\n", stderr)
        exit(1)
    }
    exit(0)
}

if CommandLine.arguments.contains("--pruning") {
    do { try pruningOverhead(repeats: Int(arg("--repeat") ?? "5") ?? 5, samples: trainSamples) } catch {
        fputs("prune-bench: error: \(error)\n", stderr)
        exit(1)
    }
    exit(0)
}

if CommandLine.arguments.contains("--compact") {
    do { try compactBench(repeats: Int(arg("--repeat") ?? "3") ?? 3) } catch {
        fputs("prune-bench: error: \(error)\n", stderr)
        exit(1)
    }
    exit(0)
}

if CommandLine.arguments.contains("--accuracy") {
    do { try accuracyRuns(epochs: Int(arg("--epochs") ?? "10") ?? 10) } catch {
        fputs("prune-bench: error: \(error)\n", stderr)
        exit(1)
    }
    exit(0)
}

do {
    if arg("--workloads") == nil || workloads.contains("plot") { print(plotBenchLine()); fflush(stdout) }
    let peak = try sgemmPeak()
    emit("sgemm", "peak_gflops", peak, digits: 1)
    let images = workloads.contains { $0 != "plot" && $0 != "minilm" }
    let train = try images ? FashionMNIST.load(.train) : nil, test = try images ? FashionMNIST.load(.test) : nil
    for name in workloads where name != "plot" {
        if name == "minilm" {
            // Without the model package the other workloads still run.
            do { try minilmBench(steps: Int(arg("--minilm-steps") ?? "10") ?? 10) } catch {
                fputs("prune-bench: minilm skipped: \(error)\n", stderr)
            }
            continue
        }
        guard let train, let test else { continue }
        let model = try makeModel(name)
        let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.01)
        // Warm-up steps (not timed) on a snapshot that is then restored, as the PyTorch side does.
        let snapshot = model.namedParameters().map { $0.1.copy() }
        var warm = TrainConfig(epochs: 1, batchSize: 128)
        warm.maxSamplesPerEpoch = 20 * 128; warm.progress = false
        try fit(model, on: train, optimizer: opt, config: warm)
        for (p, s) in zip(model.parameters, snapshot) { try p.assign(s) }
        for b in model.namedBuffers() { if b.0.hasSuffix("running_var") { b.1.fill(1) } else { b.1.fill(0) } }
        let timedOpt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.01)
        var config = TrainConfig(epochs: 1, batchSize: 128)
        config.maxSamplesPerEpoch = trainSamples
        config.progress = false
        let flops0 = BLAS.flops
        let history = try fit(model, on: train, optimizer: timedOpt, config: config)
        let rec = history.epochs[0]
        let gflops = Double(BLAS.flops - flops0) / rec.seconds / 1e9
        emit(name, "train_samples_per_s", rec.samplesPerSecond)
        emit(name, "gflops", gflops, digits: 1)
        emit(name, "peak_fraction", gflops / peak, digits: 3)
        // Inference over the test set at batch 128.
        _ = try evaluate(model, on: test, batchSize: 128)
        let t0 = monotonicSeconds()
        let (_, acc) = try evaluate(model, on: test, batchSize: 128)
        emit(name, "infer_samples_per_s", Double(test.count) / (monotonicSeconds() - t0))
        emit(name, "test_acc", acc, digits: 4)
    }
} catch {
    fputs("prune-bench: error: \(error)\n", stderr)
    exit(1)
}
