// Running a whole script (a file, stdin or -e CODE) in a fresh session.
import Engine
import Language
import Bindings
import Notebooks
#if canImport(Glibc)
import Glibc
#endif

/// What the command line passes to every session.
struct RunOptions {
    var settings: [String: String]
    var seed: UInt64
    var quiet: Bool
    /// Where `--record` writes the rows the script recorded.
    var record: String? = nil
}

/// A session whose output goes to stdout.
func makeSession(_ options: RunOptions) -> Session {
    Session(output: { text in
        writeOut(text)
        if !text.isEmpty { lastSessionOutput = text }
    }, settings: options.settings, seed: options.seed)
}

/// The last text a session printed (so an interrupt already announced by train is not
/// announced twice).
nonisolated(unsafe) var lastSessionOutput = ""

/// Runs `source` named `name` (the name errors show) and returns the exit status. `echo`
/// prints the values of expression statements, as the prompt does.
func runSource(_ source: String, name: String, echo: Bool, options: RunOptions) -> Int32 {
    let session = makeSession(options)
    Interrupt.reset()
    var status = execute(source, name: name, echo: echo, in: session)
    if status == ExitStatus.success, let path = options.record { status = writeRecords(session, to: path) }
    fflush(stdout)
    return status
}

/// Writes the rows the script recorded (`--record FILE`); a script that recorded nothing fails,
/// so a sweep point never counts as done without a result.
func writeRecords(_ session: Session, to path: String) -> Int32 {
    guard !session.records.rows.isEmpty else {
        writeErr("prune: error: the script recorded no result for --record \(path): call record(name=value, ...)\n")
        return ExitStatus.failure
    }
    do { try session.records.save(csv: path) } catch {
        writeErr("prune: error: \(error)\n")
        return ExitStatus.failure
    }
    return ExitStatus.success
}

/// Runs one piece of source in `session`, reporting errors on stderr; returns the exit status
/// the failure means (0 when it ran to the end).
func execute(_ source: String, name: String, echo: Bool, in session: Session) -> Int32 {
    lastSessionOutput = ""
    do {
        _ = try session.execute(source, file: name, echo: echo)
        // Ctrl-C during the last statement (a training run stops early and returns).
        return Interrupt.requested ? ExitStatus.interrupted : ExitStatus.success
    } catch {
        return report(error, source: source)
    }
}

/// Prints an error from `Session.execute` on stderr (with the caret under the spot) and returns
/// the matching exit status.
func report(_ error: Error, source: String) -> Int32 {
    let color = useColor(fd: 2)
    switch error {
    case let e as ScriptErrors:
        writeErr(e.render(source: source, color: color))
        return ExitStatus.failure
    case let e as ScriptError:
        if e.isInterrupt {
            if !lastSessionOutput.hasPrefix("interrupted") { writeErr("interrupted\n") }
            return ExitStatus.interrupted
        }
        writeErr(e.render(source: source, color: color))
        return ExitStatus.failure
    default:
        writeErr("prune: error: \(error)\n")
        return ExitStatus.failure
    }
}
