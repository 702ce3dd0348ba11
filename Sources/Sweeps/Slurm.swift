// The Slurm backend: the sweep's pending points become one job array (`sbatch --array=0-K%M`);
// array task i runs `prune sweep --run-point DIR i`, which reads the plan from the shared
// folder and writes the point's results there. The submitting machine follows the job with
// squeue (and sacct where accounting exists) and gathers the same results.csv as the local
// backend.
import Engine
import FileIO
#if canImport(Glibc)
import Glibc
#endif

/// Resources for the job array, from flags or a sweep file's [slurm] section.
public struct SlurmOptions: Equatable {
    public var partition: String?
    /// Wall time per task (`--time`, e.g. 00:30:00).
    public var time: String?
    /// Memory per task (`--mem`, e.g. 4G).
    public var memory: String?
    public var cpusPerTask: Int = 1
    /// Tasks running at once (`%M` of --array); nil: as many as Slurm allows.
    public var maxRunning: Int?
    public var jobName: String = "prune-sweep"
    /// Further `#SBATCH` options, verbatim (`--account=x`, `--qos=y`).
    public var extra: [String] = []

    public init() {}

    /// Applies one `key = value` of a [slurm] section or flag; `what` names it in errors.
    public mutating func set(_ key: String, _ value: String, what: String) throws {
        func checked(_ v: String) throws -> String {
            guard !v.isEmpty, !v.contains(where: { $0.isNewline }) else { throw SweepError("\(what): '\(key)' needs a one-line value") }
            return v
        }
        switch key {
        case "partition": partition = try checked(value)
        case "time": time = try checked(value)
        case "mem", "memory": memory = try checked(value)
        case "job-name", "job_name": jobName = try checked(value)
        case "cpus-per-task", "cpus_per_task":
            guard let n = Int(value), n >= 1, n <= 4096 else { throw SweepError("\(what): cpus-per-task must be a whole number ≥ 1") }
            cpusPerTask = n
        case "max-running", "max_running":
            guard let n = Int(value), n >= 1 else { throw SweepError("\(what): max-running must be a whole number ≥ 1") }
            maxRunning = n
        case "sbatch":
            let v = try checked(value)
            guard v.hasPrefix("--") else { throw SweepError("\(what): sbatch options start with -- (e.g. sbatch = --account=lab)") }
            extra.append(v)
        default:
            let known = ["partition", "time", "mem", "cpus-per-task", "max-running", "job-name", "sbatch"]
            throw SweepError("\(what): unknown Slurm setting '\(key)' (known: \(known.joined(separator: ", ")))")
        }
    }
}

public enum SlurmBackend {
    /// The array script for `count` tasks of the sweep in `directory`.
    public static func script(directory: String, binary: String, count: Int, options: SlurmOptions) -> String {
        var array = "0-\(max(count, 1) - 1)"
        if let m = options.maxRunning { array += "%\(m)" }
        var lines = [
            "#!/bin/bash",
            "# A prune sweep as a Slurm job array: task i runs the i-th pending point listed in",
            "# slurm/array.txt. Written by `prune sweep --backend slurm`; each submission rewrites it.",
            "#SBATCH --job-name=\(options.jobName)",
            "#SBATCH --array=\(array)",
            "#SBATCH --cpus-per-task=\(options.cpusPerTask)",
            "#SBATCH --output=\(directory)/slurm/task-%a.out",
        ]
        if let p = options.partition { lines.append("#SBATCH --partition=\(p)") }
        if let t = options.time { lines.append("#SBATCH --time=\(t)") }
        if let m = options.memory { lines.append("#SBATCH --mem=\(m)") }
        for e in options.extra { lines.append("#SBATCH \(e)") }
        lines.append("exec \(shellQuoted(binary)) sweep --run-point \(shellQuoted(directory)) \"$SLURM_ARRAY_TASK_ID\"")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Slurm reads `#SBATCH --output=` without shell quoting and expands `%` in it.
    static func checkFolder(_ directory: String) throws {
        if let c = directory.first(where: { $0.isWhitespace || "'\"%\\".contains($0) }) {
            throw SweepError("the sweep folder \(directory) holds '\(c)', which #SBATCH lines cannot hold; choose another --out")
        }
    }

    /// Writes the array script and the task list, submits it with sbatch and returns the job id.
    public static func submit(_ sweep: Sweep, points: [SweepPoint], options: SlurmOptions) throws -> String {
        try checkFolder(sweep.directory)
        let folder = sweep.directory + "/slurm"
        let scriptPath = folder + "/sweep.sbatch"
        do {
            try Directories.make(folder)
            try WholeFile.write(points.map { String($0.index) }.joined(separator: "\n") + "\n", to: folder + "/array.txt")
            try WholeFile.write(script(directory: sweep.directory, binary: sweep.binary, count: points.count, options: options), to: scriptPath)
        } catch let e as FileError { throw SweepError(e.message) }
        for p in points { sweep.abandon(p) }
        let (ending, output) = try Subprocess.capture(["sbatch", "--parsable", scriptPath])
        let id = String(output.split(separator: "\n").last.map { $0.prefix { $0 != ";" } } ?? "")
        guard ending.succeeded, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw SweepError("sbatch failed (\(ending.description)): \(output.trimmingCharacters(" \n"))")
        }
        try sweep.setJob(id)
        return id
    }

    /// The array task `task` of a submitted sweep: runs its point here.
    public static func runTask(directory: String, task: Int) throws -> PointState {
        let sweep = try Sweep.open(directory)
        let list: [UInt8]
        do { list = try WholeFile.readAll(sweep.directory + "/slurm/array.txt") } catch let e as FileError { throw SweepError(e.message) }
        let indices = String(decoding: list, as: UTF8.self).split(separator: "\n").compactMap { Int($0) }
        guard task >= 0, task < indices.count, indices[task] >= 0, indices[task] < sweep.points.count else {
            throw SweepError("task \(task) is not in \(sweep.directory)/slurm/array.txt (\(indices.count) tasks)")
        }
        guard chdir(sweep.workingDirectory) == 0 else {
            throw SweepError("cannot enter the sweep's working directory \(sweep.workingDirectory)")
        }
        return try sweep.run(sweep.points[indices[task]])
    }

    /// Whether the job still has tasks queued or running, by squeue.
    public static func jobActive(_ id: String) throws -> Bool {
        let (ending, output) = try Subprocess.capture(["squeue", "-h", "-j", id, "-o", "%i %T"])
        if !ending.succeeded {
            // squeue forgets finished jobs ("Invalid job id specified").
            if output.contains("Invalid job id") { return false }
            throw SweepError("squeue failed (\(ending.description)): \(output.trimmingCharacters(" \n"))")
        }
        return !output.trimmingCharacters(" \n").isEmpty
    }

    /// The job's task states from squeue, with sacct's where accounting is on.
    public static func describe(_ id: String) -> String {
        var out = ""
        if let (ending, text) = try? Subprocess.capture(["squeue", "-h", "-j", id, "-o", "%i %T %M"]), ending.succeeded {
            let lines = text.split(separator: "\n")
            out += lines.isEmpty ? "job \(id): no task queued or running\n" : lines.map { "  \($0)" }.joined(separator: "\n") + "\n"
        }
        if let (ending, text) = try? Subprocess.capture(["sacct", "-n", "-P", "-j", id, "-o", "JobID,State,ExitCode"]), ending.succeeded,
           !text.isEmpty {
            out += text.split(separator: "\n").map { "  sacct: \($0)" }.joined(separator: "\n") + "\n"
        }
        return out
    }

    /// Cancels the sweep's job.
    public static func cancel(_ sweep: Sweep) throws -> String {
        guard let job = sweep.job else { throw SweepError("\(sweep.directory) has no Slurm job (it ran locally or was never submitted)") }
        let (ending, output) = try Subprocess.capture(["scancel", job])
        guard ending.succeeded else { throw SweepError("scancel \(job) failed: \(output.trimmingCharacters(" \n"))") }
        return job
    }

    /// Follows the job until no task is left, reporting progress from the points' folders.
    /// Returns false when `stop` ended the wait first (the job goes on).
    public static func follow(_ sweep: Sweep, job: String, points: [SweepPoint], poll seconds: Double = 1,
                              stop: () -> Bool = { Interrupt.requested }, report: (SweepEvent) -> Void) throws -> Bool {
        var seen: [String: PointState] = [:]
        let started = monotonicSeconds()
        while true {
            let active = try jobActive(job)
            var done = 0, failed = 0
            for p in points {
                let s = sweep.state(p)
                if s != .missing && seen[p.key] == nil {
                    seen[p.key] = s
                    report(.finished(p, s, seconds: monotonicSeconds() - started))
                }
                if s == .done { done += 1 } else if case .failed = s { failed += 1 }
            }
            report(.progress(SweepProgress(total: points.count, done: done, running: active ? points.count - done - failed : 0,
                                           failed: failed, eta: nil)))
            if !active { return true }
            let until = monotonicSeconds() + seconds
            while monotonicSeconds() < until {
                if stop() { return false }
                usleep(50_000)
            }
        }
    }
}
