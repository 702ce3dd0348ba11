// sweep(...) in the language: runs a grid of a script from a script or notebook cell and returns
// the gathered table. The prune executable registers it (Builtins.register), so the language
// module knows nothing of sweeps.
import FileIO
import Engine
import Language
import Bindings
import Notebooks
#if canImport(Glibc)
import Glibc
#endif

public enum SweepBuiltins {
    /// The prune executable that runs the points (this process's own binary by default).
    nonisolated(unsafe) public static var binary: String = ownExecutable()

    public static let all: [Builtin] = [
        Builtin("sweep", [BuiltinParam("file", nil, "the .prune script to run at every point"),
                          BuiltinParam("grid", .nil_, "a record of value lists: {method: [\"magnitude\", \"movement\"], keep: [0.5, 0.1]}"),
                          BuiltinParam("seeds", .number(1), "how many seeds (0, 1, …) or a list of seeds"),
                          BuiltinParam("jobs", .number(0), "worker processes at once (0: one per core)"),
                          BuiltinParam("out", .nil_, "the sweep's folder (default sweeps/NAME)"),
                          BuiltinParam("force", .bool(false), "rerun points that already have results")],
                topic: "sweeps",
                summary: "Run a script over a grid of settings and seeds in parallel worker processes; returns the gathered results table.",
                help: """
                    Each point runs FILE with --set name=value for its settings and --seed/--set seed=S, in its \\
                    own process; what the script passes to record(...) becomes its rows, and the table has the \\
                    point's settings and seed as its first columns (also written to OUT/results.csv). Points \\
                    are keyed by the script's text, the settings, the seed and prune's version: calling sweep \\
                    again runs only points that are missing or failed. A grid name the script never reads \\
                    with param(...) is an error. From the command line: prune sweep FILE --grid keep=0.5,0.1 \\
                    --seeds 3 (also on a Slurm cluster: --backend slurm).
                    """,
                example: "t = sweep(\"tutorials/03-sparse-transfer.prune\", grid={keep: [0.1, 0.03]}, seeds=2)") { args in
            let file = try args.string("file")
            var axes: [SweepAxis] = []
            switch args.value("grid") {
            case .nil_: break
            case .record(let r):
                for k in r.keys {
                    let values: [Value]
                    switch r.values[k] ?? .nil_ {
                    case .list(let l): values = l.items
                    case .range(let a, let b):
                        guard b >= a, b - a < SweepGrid.maxPoints else { throw BuiltinError("sweep: the range of '\(k)' is empty or too long") }
                        values = (a...b).map { .number(Double($0)) }
                    case let v: values = [v]
                    }
                    let texts = try values.map { v -> String in
                        switch v {
                        case .number, .string, .bool: return Sweep.text(v)
                        default: throw BuiltinError("sweep: grid values are numbers, text or true/false; '\(k)' holds a \(v.typeName)")
                        }
                    }
                    do { axes.append(try SweepAxis.parse("\(k)=" + texts.joined(separator: ","))) } catch let e as SweepError {
                        throw BuiltinError("sweep: " + e.message.replacingGridFlag)
                    }
                }
            default: throw args.wrong("grid", "a record of value lists, e.g. {keep: [0.5, 0.1]}")
            }
            let seeds: [UInt64]
            switch args.value("seeds") {
            case .list(let l):
                seeds = try l.items.map { v in
                    guard case .number(let x) = v, x >= 0, x == x.rounded(), x < 1e15 else { throw BuiltinError("sweep: seeds are whole numbers ≥ 0") }
                    return UInt64(x)
                }
            default:
                let n = try args.int("seeds")
                guard n >= 1, n <= SweepGrid.maxPoints else { throw BuiltinError("sweep: seeds must be at least 1") }
                seeds = (0..<UInt64(n)).map { $0 }
            }
            let jobs = try args.int("jobs")
            guard jobs >= 0, jobs <= 1024 else { throw BuiltinError("sweep: jobs must be between 0 and 1024") }
            let out: String? = args.has("out") ? try args.string("out") : nil
            do {
                let grid = try SweepGrid(axes: axes, seeds: seeds)
                let workers = jobs == 0 ? LocalBackend.cores : jobs
                let sweep = try Sweep.plan(SweepRequest(script: file, grid: grid, out: out,
                                                        threads: max(1, LocalBackend.cores / workers),
                                                        binary: binary, version: Notebook.version))
                InputFiles.read(sweep.script)
                let pending = sweep.pending(force: try args.bool("force"))
                let progress = ProgressPrinter(total: sweep.points.count, pending: pending.count)
                let outcome = try LocalBackend.run(sweep, points: pending, jobs: workers, report: progress.report)
                progress.finish()
                if outcome.interrupted { throw BuiltinError("sweep: interrupted; finished points are kept in \(sweep.directory)") }
                let table = try sweep.gather()
                if outcome.failed > 0 {
                    args.session.write("sweep: \(outcome.failed) of \(sweep.points.count) points failed; their logs are in \(sweep.directory)/points\n")
                }
                return .table(table)
            } catch let e as SweepError {
                throw BuiltinError("sweep: " + e.message.replacingGridFlag)
            }
        },
    ]

    /// This process's executable.
    static func ownExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink("/proc/self/exe", &buffer, 4096)
        guard n > 0 else { return CommandLine.arguments.first ?? "prune" }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Progress of a local sweep on stderr: one rewritten line on a terminal, else a line per
/// finished point; failures always print their log's last lines.
public final class ProgressPrinter {
    let total: Int, pending: Int
    let terminal = isatty(2) != 0
    var lineShown = false

    public init(total: Int, pending: Int) {
        self.total = total; self.pending = pending
        if pending < total { emit("sweep: \(total - pending) of \(total) points already done; running \(pending)\n") }
    }

    public func report(_ event: SweepEvent) {
        switch event {
        case .progress(let p):
            guard terminal else { return }
            var shown = p
            shown.total = pending
            emit("\r\u{1B}[2Ksweep: " + shown.line)
            lineShown = true
        case .finished(let point, let state, let seconds):
            clearLine()
            switch state {
            case .done:
                if !terminal { emit("sweep: point \(point.index) (\(point.label)) done in \(duration(seconds))\n") }
            case .failed(let why):
                emit("sweep: point \(point.index) (\(point.label)) failed: \(why)\n")
            case .missing: break
            }
        }
    }

    public func finish() { clearLine() }

    private func clearLine() {
        if lineShown { emit("\r\u{1B}[2K"); lineShown = false }
    }

    private func emit(_ s: String) { fputs(s, stderr) }
}

extension String {
    /// Errors about `--grid name=...` read as the builtin's keyword inside the language.
    var replacingGridFlag: String {
        hasPrefix("--grid ") ? "grid " + dropFirst(7) : self
    }
}
