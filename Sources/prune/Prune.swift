// The `prune` command line: thin glue over the libraries.
import ArgumentParser
import Data
import Engine
import NN
#if canImport(Glibc)
import Glibc
#endif

@main
struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "A laboratory for pruning neural networks in the transfer-learning regime.",
        version: pruneVersion)

    static func main() {
        reexecWithFastBLASIfNeeded()
        main(nil)
    }

    @Argument(help: "A .prune script to run.")
    var file: String?

    @Option(name: .long, help: "Train a ready model on Fashion-MNIST and report test accuracy: mlp, cnn, lenet5, resnet or vit.")
    var demo: String?

    @Option(name: .long, help: "Epochs for --demo.")
    var epochs: Int = 3

    @Option(name: .long, help: "Number of threads for the math library.")
    var threads: Int = 2

    @Option(name: .long, help: "Random seed.")
    var seed: UInt64 = 0

    @Flag(name: .shortAndLong, help: "Print less.")
    var quiet = false

    mutating func run() throws {
        BLAS.setThreads(threads)
        Interrupt.installHandler()
        if let demo {
            do { try runDemo(model: demo, epochs: epochs, seed: seed, quiet: quiet) } catch let e as EngineError {
                fputs("prune: error: \(e.message)\n", stderr)
                throw ExitCode(1)
            }
            return
        }
        if let file {
            fputs("prune: error: \(file): running .prune scripts is not implemented yet (the language is the next milestone); try --demo mlp\n", stderr)
            throw ExitCode(1)
        }
        print(Prune.helpMessage())
    }
}

let pruneVersion = "0.1.0"

/// Trains one of the ready models on Fashion-MNIST, printing one line per epoch.
func runDemo(model name: String, epochs: Int, seed: UInt64, quiet: Bool) throws {
    let rng = RNG(seed: seed)
    let model: Module
    switch name {
    case "mlp": model = try Models.mlp([784, 300, 100, 10], rng: rng)
    case "cnn": model = try Models.cnn(rng: rng)
    case "lenet5": model = try Models.lenet5(rng: rng)
    case "resnet": model = try Models.resnet(rng: rng)
    case "vit": model = try Models.vit(rng: rng)
    default: throw EngineError("unknown model '\(name)' (choose mlp, cnn, lenet5, resnet or vit)")
    }
    let train = try FashionMNIST.load(.train), test = try FashionMNIST.load(.test)
    if !quiet { print("\(name): \(model.parameterCount) parameters; \(train)") }
    let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.05)
    var config = TrainConfig(epochs: epochs, batchSize: 128)
    config.seed = seed
    let history = try fit(model, on: train, optimizer: opt, config: config, validation: test)
    for e in history.epochs {
        let test = e.validationAccuracy.map { fmt($0, 4) } ?? "—"
        print("epoch \(e.epoch)  loss \(fmt(e.loss, 4))  train acc \(fmt(e.accuracy, 4))  test acc \(test)  \(Int(e.samplesPerSecond)) samples/s")
    }
    if history.interrupted { print("interrupted"); throw ExitCode(130) }
}
