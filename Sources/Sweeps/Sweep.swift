// A sweep on disk: the plan (script, grid, points) and one folder per point, keyed by content,
// holding the point's log and either its recorded rows or why it failed. Every backend reads
// and writes only this folder, so a cluster's nodes need nothing but the shared directory.
//
//     DIR/sweep.conf            script, working directory, prune binary, version, threads, job
//     DIR/points.csv            one row per point: point, key, seed and the grid's settings
//     DIR/points/KEY/log.txt    what the run printed
//     DIR/points/KEY/result.csv the rows the run recorded (written when it succeeds)
//     DIR/points/KEY/failed.txt how it failed, with the log's last lines
//     DIR/results.csv           every point's rows with its settings and seed as columns
import Engine
import FileIO
import Language
import Bindings
#if canImport(Glibc)
import Glibc
#endif

/// Where a point stands.
public enum PointState: Equatable {
    case done
    case failed(String)
    case missing
}

/// What a sweep needs to run: the script, the grid and where results go.
public struct SweepRequest {
    public var script: String
    public var grid: SweepGrid
    /// The sweep's folder; nil: `sweeps/NAME` in the working directory (NAME: the script's
    /// file name without `.prune`).
    public var out: String?
    /// Threads for each run's math library.
    public var threads: Int
    /// The prune executable the runs use.
    public var binary: String
    public var version: String

    public init(script: String, grid: SweepGrid, out: String? = nil, threads: Int = 1, binary: String, version: String) {
        self.script = script; self.grid = grid; self.out = out; self.threads = threads; self.binary = binary; self.version = version
    }
}

public final class Sweep {
    public let directory: String
    /// The script's absolute path and its text when the sweep was planned.
    public let script: String
    public let scriptText: String
    public let axes: [String]
    public let points: [SweepPoint]
    public let binary: String
    public let workingDirectory: String
    public let threads: Int
    public let version: String
    /// The Slurm job of the last submission.
    public private(set) var job: String?

    init(directory: String, script: String, scriptText: String, axes: [String], points: [SweepPoint], binary: String,
         workingDirectory: String, threads: Int, version: String, job: String?) {
        self.directory = directory; self.script = script; self.scriptText = scriptText; self.axes = axes
        self.points = points; self.binary = binary; self.workingDirectory = workingDirectory
        self.threads = threads; self.version = version; self.job = job
    }

    /// Plans a sweep: reads the script, checks the grid against the settings it reads, and
    /// writes the plan into the sweep's folder (created when missing). Nothing runs yet.
    public static func plan(_ request: SweepRequest) throws -> Sweep {
        let path = Directories.absolute(request.script)
        let text: String
        do {
            let bytes = try WholeFile.readAll(path)
            guard let t = String(validating: bytes, as: UTF8.self) else { throw SweepError("\(request.script) is not UTF-8 text") }
            text = t
        } catch let e as FileError { throw SweepError(e.message) }
        guard let read = SettingsRead.scan(text, file: request.script) else {
            throw SweepError("\(request.script) has syntax errors; run `prune \(request.script)` to see them")
        }
        try request.grid.check(against: read, script: request.script)
        guard request.threads >= 1 else { throw SweepError("threads per run must be at least 1") }
        let name = String((path.split(separator: "/").last ?? "sweep").prefix { $0 != "." })
        let directory = Directories.absolute(request.out ?? "sweeps/\(name.isEmpty ? "sweep" : name)")
        if Directories.exists(directory) && !Directories.isDirectory(directory) {
            throw SweepError("--out \(directory) is a file, not a folder")
        }
        let sweep = Sweep(directory: directory, script: path, scriptText: text, axes: request.grid.axes.map(\.name),
                          points: request.grid.points(script: text, version: request.version), binary: request.binary,
                          workingDirectory: Directories.current, threads: request.threads, version: request.version, job: nil)
        try sweep.save()
        return sweep
    }

    /// Opens a planned sweep from its folder (for --status, --cancel and Slurm's tasks).
    public static func open(_ directory: String) throws -> Sweep {
        let dir = Directories.absolute(directory)
        let confPath = dir + "/sweep.conf"
        guard Directories.exists(confPath) else { throw SweepError("\(directory) is not a sweep folder (no sweep.conf)") }
        let conf: KeyValueFile
        do {
            conf = try KeyValueFile.parse(String(decoding: try WholeFile.readAll(confPath), as: UTF8.self), file: confPath)
        } catch let e as FileError { throw SweepError(e.message) }
        func need(_ key: String) throws -> String {
            guard let v = conf.value(key) else { throw SweepError("\(confPath): '\(key)' is missing") }
            return v
        }
        let script = try need("script")
        let text: String
        do { text = String(decoding: try WholeFile.readAll(dir + "/script.prune"), as: UTF8.self) } catch let e as FileError {
            throw SweepError(e.message)
        }
        let axes = try need("axes").split(separator: ",").map(String.init)
        guard let threads = Int(try need("threads")), threads >= 1 else { throw SweepError("\(confPath): 'threads' must be a whole number ≥ 1") }
        let table: Table
        do { table = try Table.load(csv: dir + "/points.csv") } catch let e as BuiltinError { throw SweepError(e.message) }
        var points: [SweepPoint] = []
        for (i, row) in table.rows.enumerated() {
            guard case .string(let key)? = row["key"], case .number(let seed)? = row["seed"], seed >= 0, seed < 1.8e19 else {
                throw SweepError("\(dir)/points.csv: row \(i + 1) has no key or seed")
            }
            let settings = try axes.map { a -> (name: String, value: String) in
                guard let v = row[a] else { throw SweepError("\(dir)/points.csv: row \(i + 1) has no '\(a)'") }
                return (a, Sweep.text(v))
            }
            points.append(SweepPoint(index: i, settings: settings, seed: UInt64(seed), key: key))
        }
        return Sweep(directory: dir, script: script, scriptText: text, axes: axes, points: points, binary: try need("binary"),
                     workingDirectory: try need("cwd"), threads: threads, version: try need("version"), job: conf.value("job"))
    }

    private func save() throws {
        var conf = KeyValueFile()
        conf.set("script", script)
        conf.set("cwd", workingDirectory)
        conf.set("binary", binary)
        conf.set("version", version)
        conf.set("threads", String(threads))
        conf.set("axes", axes.joined(separator: ","))
        if let job { conf.set("job", job) }
        let table = Table()
        for p in points {
            table.add([("point", .number(Double(p.index))), ("key", .string(p.key)), ("seed", .number(Double(p.seed)))]
                      + p.settings.map { ($0.name, .string($0.value)) })
        }
        do {
            try Directories.make(directory + "/points")
            try WholeFile.write(scriptText, to: directory + "/script.prune")
            try table.save(csv: directory + "/points.csv")
            try WholeFile.write("# A prune sweep (written by prune sweep).\n" + conf.text, to: directory + "/sweep.conf")
        } catch let e as FileError { throw SweepError(e.message) } catch let e as BuiltinError { throw SweepError(e.message) }
    }

    /// Notes the Slurm job that runs the sweep's pending points.
    func setJob(_ id: String) throws {
        job = id
        try save()
    }

    // MARK: - Points

    public func folder(_ p: SweepPoint) -> String { directory + "/points/" + p.key }
    public func log(_ p: SweepPoint) -> String { folder(p) + "/log.txt" }
    func resultFile(_ p: SweepPoint) -> String { folder(p) + "/result.csv" }
    func failureFile(_ p: SweepPoint) -> String { folder(p) + "/failed.txt" }

    public func state(_ p: SweepPoint) -> PointState {
        if Directories.exists(resultFile(p)) { return .done }
        if let bytes = try? WholeFile.readAll(failureFile(p)) { return .failed(String(decoding: bytes, as: UTF8.self)) }
        return .missing
    }

    /// The points a run must (re)run: missing and failed ones, or all of them with `force`.
    public func pending(force: Bool) -> [SweepPoint] {
        force ? points : points.filter { state($0) != .done }
    }

    /// The command line that runs one point.
    public func arguments(_ p: SweepPoint) -> [String] {
        var args = [binary, script, "--threads", String(threads), "--seed", String(p.seed), "--set", "seed=\(p.seed)"]
        for s in p.settings { args += ["--set", "\(s.name)=\(s.value)"] }
        return args + ["--record", resultFile(p)]
    }

    /// Clears a point's earlier outcome and starts its run (output to its log).
    public func start(_ p: SweepPoint) throws -> Subprocess {
        do { try Directories.make(folder(p)) } catch let e as FileError { throw SweepError(e.message) }
        unlink(resultFile(p)); unlink(failureFile(p)); unlink(log(p))
        return try Subprocess.spawn(arguments(p), log: log(p), ownGroup: true)
    }

    /// Records how a finished run ended; returns the point's state.
    @discardableResult
    public func finish(_ p: SweepPoint, _ ending: Subprocess.Ending) -> PointState {
        if ending.succeeded && Directories.exists(resultFile(p)) { return .done }
        let why = ending.succeeded ? "it ended without writing its results" : ending.description
        let message = "\(why); the end of its log (\(log(p))):\n" + tail(of: log(p), lines: 8)
        try? WholeFile.write(message, to: failureFile(p))
        return .failed(message)
    }

    /// Forgets a run that was stopped (Ctrl-C): it is neither done nor failed.
    public func abandon(_ p: SweepPoint) {
        unlink(resultFile(p)); unlink(failureFile(p))
    }

    /// Runs one point to the end in this process's place (a Slurm array task).
    public func run(_ p: SweepPoint) throws -> PointState {
        let child = try start(p)
        return finish(p, child.wait())
    }

    // MARK: - Results

    /// Gathers every finished point's rows into one table, the point's settings and seed first,
    /// and writes it to DIR/results.csv.
    @discardableResult
    public func gather() throws -> Table {
        let table = Table()
        for p in points where state(p) == .done {
            let rows: Table
            do { rows = try Table.load(csv: resultFile(p)) } catch let e as BuiltinError { throw SweepError(e.message) }
            let fixed: [(String, Value)] = p.settings.map { ($0.name, Session.settingValue($0.value)) } + [("seed", .number(Double(p.seed)))]
            for row in rows.rows {
                // A column the script records under a setting's name (or seed) replaces the
                // point's value: the script knows what it did (e.g. its own seed column).
                table.add(fixed.map { (name, value) in (name, row[name] ?? value) }
                          + rows.columns.filter { c in !fixed.contains { $0.0 == c } }.compactMap { c in row[c].map { (c, $0) } })
            }
        }
        if table.columns.isEmpty { table.columns = axes + ["seed"] }
        do { try table.save(csv: directory + "/results.csv") } catch let e as BuiltinError { throw SweepError(e.message) }
        return table
    }

    /// Counts of points by state.
    public func counts() -> (done: Int, failed: Int, missing: Int) {
        var c = (done: 0, failed: 0, missing: 0)
        for p in points {
            switch state(p) {
            case .done: c.done += 1
            case .failed: c.failed += 1
            case .missing: c.missing += 1
            }
        }
        return c
    }

    static func text(_ v: Value) -> String {
        switch v {
        case .string(let s): return s
        case .number(let x): return Table.number(x)
        case .bool(let b): return b ? "true" : "false"
        default: return ""
        }
    }
}

/// The last `lines` lines of a text file, indented, for failure reports.
func tail(of path: String, lines: Int) -> String {
    guard let bytes = try? WholeFile.readAll(path) else { return "    (no log)" }
    var all = String(decoding: bytes.suffix(64 * 1024), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    while all.last?.isEmpty == true { all.removeLast() }
    return all.suffix(lines).map { "    " + $0 }.joined(separator: "\n")
}

/// `text` quoted for a POSIX shell when it needs quoting.
func shellQuoted(_ text: String) -> String {
    let safe = text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "/._-=+:,@%".unicodeScalars.contains($0)) }
    if safe && !text.isEmpty { return text }
    var out = "'"
    for c in text { out += c == "'" ? "'\\''" : String(c) }
    return out + "'"
}
