// `prune sweep FILE --grid name=v1,v2 --seeds 3 [--jobs N] [--backend local|slurm] [--out DIR]`:
// runs a script over a grid of settings and seeds and gathers what each run records into
// DIR/results.csv; `--status DIR` and `--cancel DIR` look after a submitted Slurm sweep.
import ArgumentParser
import Engine
import Language
import Bindings
import Notebooks
import Sweeps
#if canImport(Glibc)
import Glibc
#endif

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune sweep",
        abstract: "Run a script over a grid of settings and seeds, locally or as a Slurm job array, into one results table.",
        discussion: """
            Each point runs FILE with --set name=value for its settings and --seed S (also --set seed=S). \
            What the script passes to record(...) is the point's result; DIR/results.csv gathers every point's \
            rows with its settings and seed as the first columns, and DIR/points/KEY/log.txt keeps each log. \
            Points are keyed by the script's text, the settings, the seed and prune's version: a rerun runs only \
            missing or failed points (--force reruns all). FILE may also be a .sweep file holding the grid, seeds \
            and a [slurm] section (see docs/sweeps.md). Exit status: 0 every point done, 1 some failed, 2 bad \
            grid or options, 130 interrupted (finished points are kept).
            """)

    @ArgumentParser.Argument(help: ArgumentHelp("The .prune script (or a .sweep file).", valueName: "FILE"))
    var file: String?

    @Option(name: .customLong("grid"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("An axis of the grid: a setting the script reads with param() and its values (repeatable).", valueName: "name=v1,v2,..."))
    var grid: [String] = []

    @Option(name: .customLong("set"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("A setting every point gets (an axis with one value; repeatable).", valueName: "name=value"))
    var settings: [String] = []

    @Option(name: .long, help: ArgumentHelp("Seeds: a count (3 runs seeds 0, 1, 2) or a list (0,5,7). Default 1.", valueName: "N|list"))
    var seeds: String?

    @Option(name: .long, help: "Worker processes at once on this machine (default: one per core).")
    var jobs: Int?

    @Option(name: .long, help: "Math-library threads per run (default: the cores divided among the workers; Slurm: --cpus-per-task).")
    var threads: Int?

    @Option(name: .long, help: "local (worker processes here) or slurm (one job array through sbatch).")
    var backend: String?

    @Option(name: .long, help: ArgumentHelp("The sweep's folder (default sweeps/NAME).", valueName: "DIR"))
    var out: String?

    @Flag(name: .long, help: "Rerun every point, also those with results.")
    var force = false

    @Option(name: .long, help: ArgumentHelp("Show a sweep's progress and gather its results so far.", valueName: "DIR"))
    var status: String?

    @Option(name: .long, help: ArgumentHelp("Cancel a sweep's Slurm job.", valueName: "DIR"))
    var cancel: String?

    @Flag(name: .customLong("no-wait"), help: "Slurm: submit and return (follow later with --status DIR).")
    var noWait = false

    @Option(name: .long, help: "Slurm partition.") var partition: String?
    @Option(name: .long, help: "Slurm wall time per task (e.g. 00:30:00).") var time: String?
    @Option(name: .long, help: "Slurm memory per task (e.g. 4G).") var mem: String?
    @Option(name: .customLong("cpus-per-task"), help: "Slurm CPUs per task (default 1).") var cpusPerTask: Int?
    @Option(name: .customLong("max-running"), help: "Slurm: array tasks running at once (the %M of --array).") var maxRunning: Int?

    @Option(name: .customLong("run-point"), parsing: .upToNextOption, help: .hidden)
    var runPoint: [String] = []

    func validate() throws {
        let modes = [file != nil, status != nil, cancel != nil, !runPoint.isEmpty].filter { $0 }.count
        if modes != 1 { throw ValidationError("give one of FILE, --status DIR or --cancel DIR") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let backend, backend != "local" && backend != "slurm" { throw ValidationError("--backend must be local or slurm, got '\(backend)'") }
    }

    func run() throws {
        Interrupt.installHandler()
        do {
            if !runPoint.isEmpty { return try runTask() }
            if let status { return try showStatus(status) }
            if let cancel {
                let sweep = try Sweep.open(cancel)
                let job = try SlurmBackend.cancel(sweep)
                print("sweep: cancelled Slurm job \(job) (finished points are kept in \(sweep.directory))")
                return
            }
            try runSweep()
        } catch let e as SweepError {
            fputs("prune sweep: error: \(e.message)\n", stderr)
            throw ExitCode(ExitStatus.usage)
        }
    }

    private func runSweep() throws {
        guard let file else { return }
        var sweepFile: SweepFile?
        if file.hasSuffix(".sweep") { sweepFile = try SweepFile.load(file) }
        var axes = sweepFile?.grid ?? []
        for spec in settings {
            let axis = try SweepAxis.parse(spec)
            guard axis.values.count == 1 else { throw SweepError("--set \(spec): one value (a list of values is a --grid)") }
            axes.removeAll { $0.name == axis.name }
            axes.append(axis)
        }
        for spec in grid {
            let axis = try SweepAxis.parse(spec)
            axes.removeAll { $0.name == axis.name }
            axes.append(axis)
        }
        let seedList = try SweepGrid.parseSeeds(seeds ?? sweepFile?.seeds ?? "1")
        let sweepGrid = try SweepGrid(axes: axes, seeds: seedList)
        let backendName = backend ?? sweepFile?.backend ?? "local"
        guard backendName == "local" || backendName == "slurm" else { throw SweepError("backend must be local or slurm, got '\(backendName)'") }
        var slurm = sweepFile?.slurm ?? SlurmOptions()
        for (key, value) in [("partition", partition), ("time", time), ("mem", mem), ("cpus-per-task", cpusPerTask.map(String.init)),
                             ("max-running", maxRunning.map(String.init))] {
            if let value { try slurm.set(key, value, what: "--\(key)") }
        }
        let workers = jobs ?? sweepFile?.jobs ?? LocalBackend.cores
        let perRun = threads ?? (backendName == "slurm" ? slurm.cpusPerTask : max(1, LocalBackend.cores / workers))
        let sweep = try Sweep.plan(SweepRequest(script: sweepFile?.script ?? file, grid: sweepGrid, out: out ?? sweepFile?.out,
                                                threads: perRun, binary: SweepBuiltins.binary, version: pruneVersion))
        let pending = sweep.pending(force: force)
        if backendName == "slurm" {
            try runOnSlurm(sweep, pending: pending, options: slurm)
            return
        }
        let printer = ProgressPrinter(total: sweep.points.count, pending: pending.count)
        let outcome = try LocalBackend.run(sweep, points: pending, jobs: workers, report: printer.report)
        printer.finish()
        try conclude(sweep, interrupted: outcome.interrupted)
    }

    private func runOnSlurm(_ sweep: Sweep, pending: [SweepPoint], options: SlurmOptions) throws {
        guard !pending.isEmpty else {
            fputs("sweep: all \(sweep.points.count) points already done\n", stderr)
            return try conclude(sweep, interrupted: false)
        }
        let job = try SlurmBackend.submit(sweep, points: pending, options: options)
        fputs("sweep: submitted Slurm job \(job): \(pending.count) tasks (\(sweep.directory)/slurm/sweep.sbatch)\n", stderr)
        if noWait {
            print("sweep: follow it with: prune sweep --status \(sweep.directory)")
            return
        }
        let printer = ProgressPrinter(total: sweep.points.count, pending: pending.count)
        let finished = try SlurmBackend.follow(sweep, job: job, points: pending, report: printer.report)
        printer.finish()
        if !finished {
            fputs("sweep: stopped following; job \(job) goes on (prune sweep --status \(sweep.directory), --cancel to stop it)\n", stderr)
            throw ExitCode(ExitStatus.interrupted)
        }
        try conclude(sweep, interrupted: false)
    }

    /// Gathers the results and prints the summary; the exit status says whether all points ran.
    private func conclude(_ sweep: Sweep, interrupted: Bool) throws {
        let table = try sweep.gather()
        let c = sweep.counts()
        var line = "sweep: \(c.done)/\(sweep.points.count) points done"
        if c.failed > 0 { line += ", \(c.failed) failed" }
        if c.missing > 0 { line += ", \(c.missing) not run" }
        print(line + "; \(table.rows.count) rows in \(sweep.directory)/results.csv")
        if interrupted { throw ExitCode(ExitStatus.interrupted) }
        if c.failed > 0 || c.missing > 0 { throw ExitCode(ExitStatus.failure) }
    }

    private func showStatus(_ directory: String) throws {
        let sweep = try Sweep.open(directory)
        let c = sweep.counts()
        print("sweep \(sweep.directory): \(sweep.points.count) points of \(sweep.script)")
        print("  \(c.done) done, \(c.failed) failed, \(c.missing) not run")
        if let job = sweep.job {
            let active = (try? SlurmBackend.jobActive(job)) ?? false
            print("  Slurm job \(job): " + (active ? "queued or running" : "finished"))
            let detail = SlurmBackend.describe(job)
            if active && !detail.isEmpty { print(detail, terminator: "") }
        }
        for p in sweep.points {
            if case .failed(let why) = sweep.state(p) { print("  point \(p.index) (\(p.label)) failed: \(why)") }
        }
        let table = try sweep.gather()
        print("  \(table.rows.count) rows in \(sweep.directory)/results.csv")
    }

    private func runTask() throws {
        guard runPoint.count == 2, let task = Int(runPoint[1]) else { throw ValidationError("--run-point DIR TASK") }
        let state = try SlurmBackend.runTask(directory: runPoint[0], task: task)
        if case .failed(let why) = state {
            fputs("prune sweep: point failed: \(why)\n", stderr)
            throw ExitCode(ExitStatus.failure)
        }
    }
}
