// Running a notebook: each cell in turn in one session, with its printed output, figures,
// error and time captured, and the cell cache consulted first. A cell's key is built from its
// source, the previous cell's key, the random generators' state and prune's version (the
// first cell's "previous key" holds the settings, the BLAS kernels and the thread count); the files the cell read are checked
// against the fingerprints stored with its entry. Execution resumes at the first cell whose
// entry is missing or stale, from the stored state after the cell before it.
import Language
import Bindings
import Engine
import FileIO
import Plot

/// How a notebook is run.
public struct NotebookOptions {
    /// The script's path, as errors name it; the cache lives beside it.
    public var file: String
    /// prune's version (part of every key: a new prune recomputes everything).
    public var version: String
    /// The seed of the session's generator at the start (`--seed`).
    public var seed: UInt64
    /// Use and fill the cell cache.
    public var useCache: Bool
    /// The cache directory; nil: `.prune-cache` beside the script.
    public var cacheDirectory: String?
    /// The bound on the cache's size.
    public var maxCacheBytes: Int
    /// Receives one line per cell about what happened (ran, cached, not cacheable …).
    public var log: (String) -> Void
    /// Receives warnings (a damaged or tampered cache, each starting "cache: "); nil: `log` does.
    public var warn: ((String) -> Void)?

    public init(file: String, version: String, seed: UInt64 = 0, useCache: Bool = true, cacheDirectory: String? = nil,
                maxCacheBytes: Int = NotebookCache.defaultMaxBytes, log: @escaping (String) -> Void = { _ in },
                warn: ((String) -> Void)? = nil) {
        self.file = file; self.version = version; self.seed = seed; self.useCache = useCache
        self.cacheDirectory = cacheDirectory; self.maxCacheBytes = maxCacheBytes; self.log = log; self.warn = warn
    }

    func warning(_ text: String) { (warn ?? log)(text) }
}

/// What happened to one cell.
public struct CellOutcome {
    public enum Status: String, Sendable {
        /// Executed in this run.
        case ran
        /// Taken from the cache (its output and figures are the stored ones).
        case cached
        /// Raised an error (the run stopped there).
        case failed
        /// Not executed because an earlier cell failed or the run was interrupted.
        case notRun = "not run"
        /// A Markdown cell.
        case text
    }
    public var cell: NotebookCell
    /// 1-based position among all cells of the file.
    public var number: Int
    /// 1-based position among the code cells (the document's `In [n]`); nil for Markdown.
    public var codeNumber: Int?
    public var status: Status
    public var output = ""
    /// The tables the cell showed, each over the part of `output` that holds its text.
    public var tables: [OutputTable] = []
    /// PNG images, in the order the cell produced them.
    public var figures: [[UInt8]] = []
    /// The error report (location, source line, caret), when the cell failed.
    public var error: String?
    public var seconds: Double = 0
    /// A remark about the cache (values left out of it, why it was not stored): for the log on
    /// stderr, never the document.
    public var note: String?
}

/// A table a cell showed (echoed, or printed on its own): where its text sits in the cell's
/// output (UTF-8 offsets) and its cells as shown, so that documents draw it as a table.
public struct OutputTable {
    public var start: Int
    public var length: Int
    public var view: TableView
}

/// The result of running a notebook.
public struct NotebookResult {
    public var file: String
    public var cells: [CellOutcome]
    /// A cell failed.
    public var failed: Bool { cells.contains { $0.status == .failed && !interrupted } }
    /// Ctrl-C stopped the run.
    public var interrupted = false
    /// Cells executed in this run (not taken from the cache).
    public var executed: Int { cells.filter { $0.status == .ran || $0.status == .failed }.count }
    /// Wall time of the whole run, in seconds.
    public var seconds: Double = 0
}

/// Runs the cells of one notebook file in a session.
public final class NotebookRunner {
    public let session: Session
    public let options: NotebookOptions
    public let source: String
    public let cells: [NotebookCell]
    let cache: NotebookCache?
    var definitions = DefinitionTable()

    public init(source: String, session: Session, options: NotebookOptions) {
        self.source = source
        self.session = session
        self.options = options
        self.cells = Notebook.cells(source)
        self.cache = options.useCache
            ? NotebookCache(directory: options.cacheDirectory ?? NotebookCache.directory(forScript: options.file), maxBytes: options.maxCacheBytes)
            : nil
    }

    /// Runs every cell (from the cache where it is valid), stopping at the first error.
    public func render() -> NotebookResult {
        run(through: cells.count, live: false)
    }

    /// Brings the session to the state before code cell `number` (1-based, the document's
    /// `In [n]`) and runs that cell, its output going to the session live. Throws the cell's error.
    public func runCell(_ number: Int) throws {
        let code = cells.indices.filter { cells[$0].kind == .code }
        guard code.indices.contains(number - 1) else {
            throw BuiltinError("run: \(options.file) has \(code.count) code cell\(code.count == 1 ? "" : "s"), no cell \(number)")
        }
        let result = run(through: code[number - 1] + 1, live: true)
        if let failed = result.cells.first(where: { $0.status == .failed }) {
            if let n = failed.codeNumber, n < number {
                throw BuiltinError("run: cell In [\(n)] of \(options.file) failed before In [\(number)] could run:\n" + (failed.error ?? ""))
            }
            if let e = lastError { throw e }
        }
        if result.interrupted, let e = lastError { throw e }
    }

    /// The error of the last failed cell, as thrown.
    private var lastError: Error?

    // MARK: - The run

    /// Where the run stands before a cell: the key of everything before it and the session's
    /// generator. (The language draws only from the session's generator, never from the
    /// process-wide `RNG.global`, which other code in the process may be using meanwhile.)
    private struct Stage {
        var key: String
        var rng: [UInt64]
    }

    private func run(through last: Int, live: Bool) -> NotebookResult {
        let start = monotonicSeconds()
        var outcomes = cells.enumerated().map { i, c in CellOutcome(cell: c, number: i + 1, status: c.kind == .code ? .notRun : .text) }
        var codeCount = 0
        for i in outcomes.indices where cells[i].kind == .code { codeCount += 1; outcomes[i].codeNumber = codeCount }
        let labels = outcomes.map { "In [\($0.codeNumber ?? $0.number)]" }
        let name = { (i: Int) in labels[i] }
        let code = cells.indices.filter { cells[$0].kind == .code && $0 < last }
        // At the prompt, variables already defined could leak into the cells' results: the
        // cache is then only read, not written.
        let storeEntries = !live || session.globalNames.isEmpty
        session.rng.reseed(options.seed)

        // 1. The longest run of valid entries from the start.
        // The BLAS kernels and the thread count are in the key too: they change the rounding, and
        // over a training run rounding changes the numbers a cell prints.
        var stage = Stage(key: ContentHash.of(["prune notebook", options.version, "blas \(BLAS.coreName)", "threads \(BLAS.threads)"]
                                              + session.settings.keys.sorted().map { "\($0)=\(session.settings[$0] ?? "")" }),
                          rng: session.rng.state)
        let initial = stage
        // Entries, their figures and (below) their blobs are checked against their hashes; a
        // mismatch ends the walk there with a warning, so that cell runs again.
        let stop = { [session] in session.interruptCheck() }
        var valid: [(index: Int, prekey: String, meta: JSON, figures: [[UInt8]])] = []
        if let cache {
            walk: for i in code where i < last - 1 || !live {
                let pre = prekey(stage, cells[i])
                switch cache.entry(pre, shouldStop: stop) {
                case .missing:
                    break walk
                case .damaged(let why):
                    options.warning("cache: the entry of \(name(i)) is damaged (\(why)); running from that cell")
                    break walk
                case .found(let meta):
                    guard filesUnchanged(meta), let next = nextStage(meta) else { break walk }
                    guard let figures = storedFigures(meta, key: pre, cache: cache) else {
                        options.warning("cache: a figure of \(name(i)) is missing or damaged; running from that cell")
                        break walk
                    }
                    valid.append((i, pre, meta, figures))
                    stage = next
                }
            }
        }
        if stop() { return interruptedResult(outcomes, start: start) }

        // 2. The latest valid entry whose state can be restored and suits the cells after it.
        var restored = 0
        if !live && !valid.isEmpty && valid.count == code.count {
            // Every cell is cached: nothing runs, so no state needs restoring.
            restored = valid.count
        } else if let cache {
            for j in stride(from: valid.count, to: 0, by: -1) {
                if stop() { return interruptedResult(outcomes, start: start) }
                let (index, pre, meta, _) = valid[j - 1]
                guard let state = meta["state"], state != .null else { continue }
                let dropped = (meta["dropped"]?.array ?? []).compactMap { $0.array?.first?.string }
                let later = code.filter { $0 > index }.map { cells[$0] }
                if !dropped.isEmpty {
                    let used = NotebookNames.used(in: later)
                    if dropped.contains(where: used.contains) { continue }
                }
                let t0 = monotonicSeconds()
                for k in 0..<j { definitions.record(cell: cells[valid[k].index], file: options.file) }
                if restore(state, cache: cache) {
                    cache.touch(pre)
                    restored = j
                    options.log("restored the state after \(name(index)) from the cache (\(formatSeconds(monotonicSeconds() - t0)))")
                    break
                }
                definitions = DefinitionTable()
            }
        }
        for k in 0..<restored {
            let (index, pre, meta, figures) = valid[k]
            outcomes[index].status = .cached
            outcomes[index].output = meta["output"]?.string ?? ""
            outcomes[index].tables = OutputTable.decode(meta["tables"], output: outcomes[index].output)
            outcomes[index].seconds = meta["seconds"]?.number ?? 0
            outcomes[index].figures = figures
            outcomes[index].note = meta["note"]?.string
            cache?.touch(pre)
            options.log("\(name(index))\(titleSuffix(cells[index])): cached")
        }
        // Execution resumes after the last restored cell, or at the top when nothing could be
        // restored (not after the last valid entry: those cells run again).
        stage = restored > 0 ? (nextStage(valid[restored - 1].meta) ?? initial) : initial

        // 3. Execute the rest.
        var interrupted = false
        for i in code.dropFirst(restored) {
            let cell = cells[i]
            let pre = prekey(stage, cell)
            let forward = live && i == last - 1
            let run = execute(cell, forward: forward)
            outcomes[i].output = run.output
            outcomes[i].tables = run.tables
            outcomes[i].figures = run.figures
            outcomes[i].seconds = run.seconds
            if run.interrupted {
                interrupted = true
                outcomes[i].status = .failed
                outcomes[i].error = run.error ?? "interrupted"
                options.log("\(name(i))\(titleSuffix(cell)): interrupted after \(formatSeconds(run.seconds))")
                break
            }
            if let error = run.error {
                outcomes[i].status = .failed
                outcomes[i].error = error
                options.log("\(name(i))\(titleSuffix(cell)): failed after \(formatSeconds(run.seconds))")
                break
            }
            outcomes[i].status = .ran
            definitions.record(cell: cell, file: options.file)
            let files = run.files.filter { cache == nil || !$0.hasPrefix(cache?.directory ?? "") }.map { ($0, InputFiles.fingerprint($0)) }
            let key = ContentHash.of([pre] + files.flatMap { [$0.0, $0.1] })
            var note: String?
            if let cache, storeEntries {
                note = store(cell: cell, number: i + 1, pre: pre, key: key, files: files, run: run, cache: cache)
                outcomes[i].note = note
            }
            options.log("\(name(i))\(titleSuffix(cell)): ran in \(formatSeconds(run.seconds))" + (note.map { "; \($0)" } ?? ""))
            stage = Stage(key: key, rng: session.rng.state)
        }
        if !interrupted { cache?.evict(shouldStop: stop) }
        var result = NotebookResult(file: options.file, cells: outcomes)
        result.interrupted = interrupted
        result.seconds = monotonicSeconds() - start
        return result
    }

    /// The result when Ctrl-C came while the cache was being read: nothing ran.
    private func interruptedResult(_ outcomes: [CellOutcome], start: Double) -> NotebookResult {
        options.log("interrupted while reading the cache")
        var result = NotebookResult(file: options.file, cells: outcomes)
        result.interrupted = true
        result.seconds = monotonicSeconds() - start
        return result
    }

    /// The figures an entry records, each checked against its hash; nil when one is missing or
    /// does not match.
    private func storedFigures(_ meta: JSON, key: String, cache: NotebookCache) -> [[UInt8]]? {
        var out: [[UInt8]] = []
        for f in meta["figures"]?.array ?? [] {
            guard let name = f["name"]?.string, let hash = f["hash"]?.string,
                  let png = cache.figure(key, name, hash: hash) else { return nil }
            out.append(png)
        }
        return out
    }

    private func prekey(_ stage: Stage, _ cell: NotebookCell) -> String {
        ContentHash.of([stage.key, cell.text] + stage.rng.map { String($0) })
    }

    private func nextStage(_ meta: JSON) -> Stage? {
        func words(_ j: JSON?) -> [UInt64]? {
            guard let a = j?.array, a.count == 4 else { return nil }
            let w = a.compactMap { $0.string.flatMap { UInt64($0) } }
            return w.count == 4 ? w : nil
        }
        guard let key = meta["key"]?.string, let rng = words(meta["rng_after"]) else { return nil }
        return Stage(key: key, rng: rng)
    }

    private func filesUnchanged(_ meta: JSON) -> Bool {
        (meta["files"]?.array ?? []).allSatisfy { f in
            guard let pair = f.array, pair.count == 2, let path = pair[0].string, let fp = pair[1].string else { return false }
            return InputFiles.fingerprint(path) == fp
        }
    }

    /// Replaces the session's globals and generators with a stored state; false (session
    /// untouched) when it cannot be read.
    private func restore(_ state: JSON, cache: NotebookCache) -> Bool {
        var decoder = StateDecoder(session: session, file: options.file, definitions: definitions, loadBlob: cache.loadBlob)
        let before = session.globals
        do {
            let (globals, rng) = try decoder.decode(state)
            var dict = before
            for (k, v) in globals { dict[k] = v }
            session.globals = dict
            session.rng.state = rng
            if let d = state["display"] {
                if let digits = d["digits"]?.int, DisplayOptions.digitsRange.contains(digits) { session.displayOptions.digits = digits }
                if let rows = d["rows"]?.int, rows >= DisplayOptions.minRows { session.displayOptions.rows = rows }
            }
            return true
        } catch {
            session.globals = before
            options.warning("cache: cannot restore a stored state (\(error)); running the cells again")
            return false
        }
    }

    /// Stores the state after a cell; returns a note for the document when something was left
    /// out or the entry could not be written.
    private func store(cell: NotebookCell, number: Int, pre: String, key: String, files: [(String, String)],
                       run: CellRun, cache: NotebookCache) -> String? {
        var encoder = StateEncoder(definitions: definitions)
        let names = session.globalNames
        let globals = session.globals
        let (encoded, dropped) = encoder.encode(globals: names.compactMap { n in globals[n].map { (n, $0) } }, rng: session.rng)
        // The display options (options(digits=...)) belong to the state a later cell starts from.
        var state = encoded
        if case .object(var pairs) = state {
            let o = session.displayOptions
            pairs.append(("display", .object([("digits", .integer(o.digits)), ("rows", .integer(o.rows))])))
            state = .object(pairs)
        }
        let note = dropped.isEmpty ? nil
            : "not in the cached state: " + dropped.map { "\($0.0) (\($0.1))" }.joined(separator: ", ")
        let figureNames = run.figures.indices.map { "fig-\($0 + 1).png" }
        let meta = JSON.object([
            ("format", .integer(NotebookCache.format)),
            ("key", .string(key)), ("prekey", .string(pre)),
            ("cell", .integer(number)), ("title", cell.title.map { .string($0) } ?? .null),
            ("files", .array(files.map { .array([.string($0.0), .string($0.1)]) })),
            ("rng_after", .array(session.rng.state.map { .string(String($0)) })),
            ("seconds", .double(run.seconds)), ("output", .string(run.output)),
            ("tables", .array(run.tables.map(\.json))),
            ("figures", .array(zip(figureNames, run.figures).map {
                .object([("name", .string($0.0)), ("hash", .string(NotebookCache.figureHash($0.1)))])
            })),
            ("note", note.map { .string($0) } ?? .null),
            ("dropped", .array(dropped.map { .array([.string($0.0), .string($0.1)]) })),
            ("blobs", .array(Array(Set(encoder.blobs.map(\.hash))).sorted().map { .string($0) })),
            ("state", state),
        ])
        var unique: [String: StateBlob] = [:]
        for b in encoder.blobs { unique[b.hash] = b }
        do {
            try cache.store(key: pre, meta: meta, figures: Array(zip(figureNames, run.figures)).map { (name: $0.0, bytes: $0.1) },
                            blobs: unique.keys.sorted().compactMap { unique[$0] })
        } catch {
            return "not cached: \(error)"
        }
        return note
    }

    private func titleSuffix(_ cell: NotebookCell) -> String { cell.title.map { " (\($0))" } ?? "" }

    // MARK: - One cell

    struct CellRun {
        var output = ""
        var tables: [OutputTable] = []
        var figures: [[UInt8]] = []
        var error: String?
        var interrupted = false
        var seconds: Double = 0
        var files: [String] = []
    }

    /// Runs one cell, capturing what it prints (also passing it on when `forward`), the figures
    /// it shows or writes, the files it reads and its error.
    private func execute(_ cell: NotebookCell, forward: Bool) -> CellRun {
        let capture = NotebookCapture()
        let previousOutput = session.output
        let previousPresent = session.present
        session.present = { [session] v in capture.show(v, in: session) }
        session.output = { text in
            capture.text += text
            if forward { previousOutput(text) }
        }
        let token = NotebookCapture.push(capture, for: session)
        defer {
            session.output = previousOutput
            session.present = previousPresent
            NotebookCapture.pop(token, for: session)
        }
        var run = CellRun()
        let t0 = monotonicSeconds()
        let padded = cell.runnableSource
        lastError = nil
        do {
            let ((), files) = try onLargeStack { try InputFiles.collect { try self.executeEchoing(padded, capture: capture) } }
            run.files = files
            if session.interruptCheck() {
                run.interrupted = true
                run.error = "interrupted"
            }
        } catch let e as ScriptErrors {
            run.error = e.render(source: source)
            lastError = e
        } catch let e as ScriptError {
            lastError = e
            if e.isInterrupt { run.interrupted = true; run.error = "interrupted" } else { run.error = e.render(source: source) }
        } catch {
            lastError = error
            run.error = "\(options.file): error: \(error)\n"
        }
        run.seconds = monotonicSeconds() - t0
        run.output = capture.text
        run.tables = capture.tables
        run.figures = capture.figures.map(\.png)
        return run
    }

    /// `Session.execute` with echo, except that a figure value is shown as an image and a
    /// table as a table.
    private func executeEchoing(_ source: String, capture: NotebookCapture) throws {
        try session.execute(source, file: options.file, echo: true) { [session] v in
            if case .object(let fig as FigureObject) = v {
                capture.add(fig)
            } else if case .nil_ = v {
            } else {
                capture.show(v, in: session)
            }
        }
    }
}
