// `prune render FILE.prune -o out.html|out.md`: runs a notebook once (from its cell cache where
// valid) and writes the document; `prune cache clear [FILE|DIR]` empties a cell cache.
import ArgumentParser
import Engine
import Language
import Bindings
import Notebooks
#if canImport(Glibc)
import Glibc
#endif

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune render",
        abstract: "Run a .prune notebook and write a document with its code, output, figures, errors and times.",
        discussion: """
            Cells follow the jupytext percent format: '# %%' starts a code cell (a title may follow), \
            '# %% [markdown]' a text cell of '#'-prefixed Markdown lines. After each cell the session's \
            state is stored in .prune-cache/ beside the script; a later render re-runs only from the first \
            cell whose code, predecessors or input files changed. The document is written even when a cell \
            fails; the exit status is then 1 (130 when interrupted).
            """)

    @ArgumentParser.Argument(help: ArgumentHelp("The notebook, a .prune script.", valueName: "FILE"))
    var file: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The document to write: .html or .md (default: FILE with .html).", valueName: "PATH"))
    var output: String?

    @Option(name: .customLong("set"), parsing: .unconditionalSingleValue, help: ArgumentHelp("Set a script parameter, read by param(\"name\") (repeatable).", valueName: "name=value"))
    var settings: [String] = []

    @Option(name: .long, help: "Random seed.")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Put the figures inside the HTML instead of image files beside it.")
    var embed = false

    @Flag(name: .customLong("no-cache"), help: "Run every cell; neither read nor write the cell cache.")
    var noCache = false

    @Option(name: .customLong("cache-size"), help: ArgumentHelp("Bound the cell cache to this many megabytes (default 2048, or PRUNE_CACHE_MAX_MB).", valueName: "MB"))
    var cacheSize: Int?

    @Option(name: .long, help: "Number of threads for the math library.")
    var threads: Int = 2

    @Flag(name: .shortAndLong, help: "No log lines on stderr.")
    var quiet = false

    func validate() throws {
        if let output, NotebookDocument.format(forPath: output) == nil {
            throw ValidationError("-o must name a .html or .md file, got '\(output)'")
        }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let cacheSize, cacheSize < 0 { throw ValidationError("--cache-size must be at least 0") }
        _ = try parsedSettings(settings)
    }

    func run() throws {
        BLAS.setThreads(threads)
        Interrupt.installHandler()
        guard let source = readScriptFile(file) else { throw ExitCode(ExitStatus.usage) }
        let target = output ?? defaultOutput(file)
        let format = NotebookDocument.format(forPath: target) ?? .html
        let session = Session(output: { _ in }, settings: try parsedSettings(settings), seed: seed)
        let quiet = self.quiet
        var options = NotebookOptions(file: file, version: pruneVersion, seed: seed, useCache: !noCache,
                                      log: { line in if !quiet { writeErr("render: \(line)\n") } },
                                      warn: { line in writeErr("render: warning: \(line)\n") })
        if let cacheSize { options.maxCacheBytes = cacheSize << 20 }
        Interrupt.reset()
        let result = NotebookRunner(source: source, session: session, options: options).render()
        // Ctrl-C before any cell had a result (while the cache was read): an empty document
        // would only replace a good one.
        if result.interrupted && !result.cells.contains(where: { [.ran, .cached, .failed].contains($0.status) }) {
            writeErr("render: interrupted before any cell ran; \(target) not written\n")
            throw ExitCode(ExitStatus.interrupted)
        }
        do {
            try NotebookDocument.write(result, to: target, format: format, embed: embed, version: pruneVersion)
        } catch {
            writeErr("prune: error: \(error)\n")
            throw ExitCode(ExitStatus.failure)
        }
        if !quiet {
            let cached = result.cells.filter { $0.status == .cached }.count
            writeErr("render: wrote \(target) (\(result.executed) cell\(result.executed == 1 ? "" : "s") ran, \(cached) from the cache)\n")
        }
        if result.interrupted { throw ExitCode(ExitStatus.interrupted) }
        if result.failed {
            if let failed = result.cells.first(where: { $0.status == .failed }), let e = failed.error { writeErr(e) }
            throw ExitCode(ExitStatus.failure)
        }
    }

    private func defaultOutput(_ file: String) -> String {
        (file.hasSuffix(".prune") ? String(file.dropLast(".prune".count)) : file) + ".html"
    }
}

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune cache",
        abstract: "Manage notebook cell caches: 'prune cache clear [FILE|DIR]' deletes the .prune-cache beside a script (or in a directory, by default the current one).")

    @ArgumentParser.Argument(help: ArgumentHelp("clear", valueName: "ACTION"))
    var action: String

    @ArgumentParser.Argument(help: ArgumentHelp("A .prune script or a directory (default: the current directory).", valueName: "FILE|DIR"))
    var target: String?

    func validate() throws {
        guard action == "clear" else { throw ValidationError("unknown cache action '\(action)' (the action is: clear)") }
    }

    func run() throws {
        let t = target ?? "."
        var info = stat()
        let isDir = stat(t, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
        let dir = t.hasSuffix(".prune-cache") ? t : isDir ? (t.hasSuffix("/") ? t + ".prune-cache" : t + "/.prune-cache") : NotebookCache.directory(forScript: t)
        do {
            let bytes = try NotebookCache(directory: dir).clear()
            writeOut("cleared \(dir) (\(bytes >> 20) MB)\n")
        } catch {
            writeErr("prune: error: \(error)\n")
            throw ExitCode(ExitStatus.failure)
        }
    }
}

/// `--set name=value` pairs as a dictionary; a later `--set` of the same name wins.
func parsedSettings(_ settings: [String]) throws -> [String: String] {
    var out: [String: String] = [:]
    for s in settings {
        guard let eq = s.firstIndex(of: "="), eq != s.startIndex else {
            throw ValidationError("--set expects name=value, got '\(s)'")
        }
        out[String(s[..<eq])] = String(s[s.index(after: eq)...])
    }
    return out
}

/// Runs `prune render …` or `prune cache …` when the first argument names one (a script file
/// literally called "render" can still be run as ./render); returns false otherwise.
func runSubcommandIfAsked() -> Bool {
    Notebook.version = pruneVersion
    let args = Array(CommandLine.arguments.dropFirst())
    guard let first = args.first else { return false }
    let rest = Array(args.dropFirst())
    switch first {
    case "render": runCommand(RenderCommand.self, rest)
    case "cache": runCommand(CacheCommand.self, rest)
    case "sweep": runCommand(SweepCommand.self, rest)
    default: return false
    }
}

/// Parses `args` (nil: the process's arguments) as `type`, runs it and exits: 0 when it
/// returns, 2 for a bad command line (ArgumentParser would say 64, EX_USAGE; prune's usage
/// errors exit with 2 like most Unix tools), and the command's own status otherwise. The one
/// place exit codes of commands are decided.
func runCommand<C: ParsableCommand>(_ type: C.Type, _ args: [String]? = nil) -> Never {
    do {
        var command = try type.parseAsRoot(args)
        try command.run()
        Glibc.exit(0)
    } catch {
        if type.exitCode(for: error) == .validationFailure {
            fputs(type.fullMessage(for: error) + "\n", stderr)
            Glibc.exit(ExitStatus.usage)
        }
        type.exit(withError: error)
    }
}
