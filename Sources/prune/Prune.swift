// The `prune` command line: thin glue over the libraries. Parsing lives here; running scripts
// is in Runner.swift, the prompt in REPL.swift.
import ArgumentParser
import Data
import FileIO
import Engine
import FileIO
import NN
import Language
import Bindings
import Notebooks
import Sweeps
#if canImport(Glibc)
import Glibc
#endif

@main
struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "A laboratory for pruning neural networks in the transfer-learning regime.",
        discussion: """
            With no FILE, prune opens the prune> prompt when stdin is a terminal and otherwise \
            runs the script read from stdin. 'prune render FILE -o out.html' renders a notebook \
            (see 'prune render --help'); 'prune cache clear' empties its cell cache; 'prune sweep FILE \
            --grid name=v1,v2 --seeds 3' runs a grid of runs (see 'prune sweep --help'). Exit status: 0 success, 1 script error, 2 usage \
            error, 130 interrupted (Ctrl-C).
            """,
        version: pruneVersion)

    static func main() {
        reexecWithFastBLASIfNeeded()
        Notebook.install()
        Builtins.register(SweepBuiltins.all)
        _ = runSubcommandIfAsked()
        runCommand(Prune.self)
    }

    @ArgumentParser.Argument(help: ArgumentHelp("A .prune script to run ('-' reads the script from stdin). Like the prompt and a rendered notebook, it prints the value of each expression statement not ended by ';'.", valueName: "FILE"))
    var file: String?

    @Option(name: .customShort("e"), parsing: .unconditional, help: ArgumentHelp("Run CODE and print the value of its expressions, as the prompt does.", valueName: "CODE"))
    var code: String?

    @Option(name: .customLong("set"), parsing: .unconditionalSingleValue, help: ArgumentHelp("Set a script parameter, read by param(\"name\") (repeatable).", valueName: "name=value"))
    var settings: [String] = []

    @Option(name: .long, help: ArgumentHelp("Write the rows the script recorded with record(...) to FILE as CSV when it ends (how a sweep collects a run's result).", valueName: "FILE"))
    var record: String?

    @Option(name: .long, help: "Train a ready model on Fashion-MNIST and report test accuracy: \(Models.readyNames).")
    var demo: String?

    @Option(name: .long, help: "Epochs for --demo.")
    var epochs: Int = 3

    @Option(name: .long, help: "Number of threads for the math library.")
    var threads: Int = 2

    @Option(name: .long, help: "Random seed.")
    var seed: UInt64 = 0

    @Flag(name: .shortAndLong, help: "Print less: no banner at the prompt, no header line for --demo.")
    var quiet = false

    func validate() throws {
        if code != nil && file != nil { throw ValidationError("give either FILE or -e CODE, not both") }
        if demo != nil && (code != nil || file != nil) { throw ValidationError("--demo runs on its own; drop FILE and -e") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        _ = try parsedSettings(settings)
    }

    mutating func run() throws {
        BLAS.setThreads(threads)
        Interrupt.installHandler()
        if let demo {
            do { try runDemo(model: demo, epochs: epochs, seed: seed, quiet: quiet) } catch let e as LibraryError {
                fputs("prune: error: \(e.message)\n", stderr)
                throw ExitCode(ExitStatus.failure)
            }
            return
        }
        let options = RunOptions(settings: try parsedSettings(settings), seed: seed, quiet: quiet, record: record)
        let status: Int32
        if let code {
            status = runSource(code, name: "<command line>", echo: true, options: options)
        } else if let file, file != "-" {
            guard let source = readScriptFile(file) else { throw ExitCode(ExitStatus.usage) }
            status = runSource(source, name: file, echo: true, options: options)
        } else if file == nil && isatty(0) != 0 {
            status = REPL(options: options).run()
        } else {
            guard let source = readAllStdin() else { throw ExitCode(ExitStatus.usage) }
            status = runSource(source, name: "<stdin>", echo: true, options: options)
        }
        if status != 0 { throw ExitCode(status) }
    }
}

let pruneVersion = "0.1.0"

/// Trains one of the ready models on Fashion-MNIST, printing one line per epoch.
func runDemo(model name: String, epochs: Int, seed: UInt64, quiet: Bool) throws {
    let rng = RNG(seed: seed)
    guard let make = Models.ready.first(where: { $0.name == name })?.make else {
        throw EngineError("unknown model '\(name)' (choose \(Models.readyNames))")
    }
    let model = try make(rng)
    let train = try FashionMNIST.load(.train), test = try FashionMNIST.load(.test)
    if !quiet { print("\(name): \(model.parameterCount) parameters; \(train)") }
    let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.05)
    var config = TrainConfig(epochs: epochs, batchSize: 128)
    config.seed = seed
    let history = try fit(model, on: train, optimizer: opt, config: config, validation: test)
    for e in history.epochs {
        let test = e.validationAccuracy.map { fmt($0, 4) } ?? missingText
        print("epoch \(e.epoch)  loss \(fmt(e.loss, 4))  train acc \(fmt(e.accuracy, 4))  test acc \(test)  \(thousands(Int(e.samplesPerSecond))) samples/s")
    }
    if history.interrupted { print("interrupted"); throw ExitCode(ExitStatus.interrupted) }
}
