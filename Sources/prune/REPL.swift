// The prune> prompt, on GNU readline's callback interface.
//
// Readline reads keys only when poll() says stdin has some, so nothing blocks inside readline
// and no signal handler longjmps: SIGINT stays with Engine's Interrupt handler (a flag). At the
// prompt the loop sees the flag and clears the line; during a command the interpreter and the
// training loop poll the same flag and stop, and the session's variables survive.
import CReadline
import Engine
import FileIO
import Language
import Bindings
import Notebooks
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class REPL {
    static let prompt = "prune> "
    static let continuationPrompt = "  ...> "

    let options: RunOptions
    let session: Session
    let history: HistoryFile?
    /// Commands run so far; errors name the input `<stdin>:N`.
    private(set) var commandNumber = 0
    /// The session line the next command starts on.
    private var sessionLine = 1
    private var lastHistoryEntry: String?

    init(options: RunOptions) {
        self.options = options
        self.session = makeSession(options)
        self.history = HistoryFile.resolve()
    }

    /// Runs the prompt until Ctrl-D; returns the exit status (0).
    func run() -> Int32 {
        setUpReadline()
        if !options.quiet {
            writeOut("prune \(pruneVersion): type help for help, Ctrl-D to quit.\n")
        }
        while let command = readCommand() {
            runCommand(command)
        }
        promptWrite("\n")
        return ExitStatus.success
    }

    // MARK: Reading commands

    private func setUpReadline() {
        REPL.current = self
        prune_rl_set_name("prune")
        // SIGINT stays with Interrupt's handler; readline only ever runs inside
        // rl_callback_read_char, between which the loop polls the flag.
        rl_catch_signals = 0
        rl_catch_sigwinch = 0
        rl_change_environment = 0
        // With stdout redirected (`prune > log`), the prompt and the line being edited go to
        // the terminal on stderr.
        if isatty(1) == 0 && isatty(2) != 0 { rl_outstream = stderr }
        installCompletion()
        stifle_history(Int32(HistoryFile.limit))
        if let history {
            let entries = history.load()
            for entry in entries.suffix(HistoryFile.limit) { add_history(entry) }
            lastHistoryEntry = entries.last
        }
    }

    /// One whole command: lines are read, with the continuation prompt, until the session says
    /// the input is complete. Nil at end of input (Ctrl-D).
    func readCommand() -> String? {
        var pending = ""
        while true {
            switch readLine(prompt: pending.isEmpty ? REPL.prompt : REPL.continuationPrompt) {
            case .endOfInput:
                return nil
            case .interrupted:
                // Ctrl-C at the prompt forgets the line (and any unfinished block).
                pending = ""
            case .line(let line):
                pending = pending.isEmpty ? line : pending + "\n" + line
                if pending.allSatisfy({ $0.isWhitespace }) { pending = ""; continue }
                if Session.isIncomplete(pending) { continue }
                return pending
            }
        }
    }

    enum LineResult { case line(String), interrupted, endOfInput }

    // State shared with readline's C callbacks (which cannot capture).
    nonisolated(unsafe) static var current: REPL?
    nonisolated(unsafe) static var received: LineResult?

    /// Reads one line with `prompt`, polling for Ctrl-C while waiting for keys.
    func readLine(prompt: String) -> LineResult {
        Interrupt.reset()
        PromptSignals.install()
        defer { PromptSignals.uninstall() }
        REPL.received = nil
        rl_callback_handler_install(prompt) { cLine in
            if let cLine {
                REPL.received = .line(String(cString: cLine))
                free(cLine)
            } else {
                REPL.received = .endOfInput
            }
            // Leaves the terminal as it was before the prompt while the command runs.
            rl_callback_handler_remove()
        }
        while true {
            if let r = REPL.received { return r }
            var pfd = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let n = poll(&pfd, 1, 100)
            let pollErrno = errno
            PromptSignals.handlePending()
            if Interrupt.requested {
                Interrupt.reset()
                // Show the whole line, mark it ^C, and start afresh on the next line.
                rl_point = rl_end
                rl_redisplay()
                prune_rl_discard_line()
                rl_callback_handler_remove()
                promptWrite("^C\n")
                return .interrupted
            }
            if n > 0 {
                if pfd.revents & Int16(POLLIN) != 0 {
                    rl_callback_read_char()
                } else if pfd.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
                    // The terminal went away.
                    rl_callback_handler_remove()
                    return .endOfInput
                }
            } else if n < 0 && pollErrno != EINTR {
                rl_callback_handler_remove()
                return .endOfInput
            }
        }
    }

    /// Writes to where readline draws the prompt.
    func promptWrite(_ s: String) {
        fflush(stdout)
        fputs(s, rl_outstream ?? stdout)
        fflush(rl_outstream ?? stdout)
    }

    // MARK: Running commands

    func runCommand(_ command: String) {
        // Errors name the line of the session where the command starts: `<stdin>:6`.
        commandNumber = sessionLine
        sessionLine += command.split(separator: "\n", omittingEmptySubsequences: false).count
        remember(command)
        if runBuiltinCommand(command) { return }
        Interrupt.reset()
        lastSessionOutput = ""
        do {
            // The last value shown is kept in `ans`, as in MATLAB and Julia.
            if let v = try session.execute(command, file: "<stdin>:\(commandNumber)", echo: true), !command.trimmingSpaces.hasSuffix(";") {
                if case .nil_ = v {} else { session.setGlobal("ans", v) }
            }
        } catch {
            _ = report(error, source: command)
        }
        Interrupt.reset()
        fflush(stdout)
    }

    /// Adds the command to readline's history and the history file (not twice in a row).
    private func remember(_ command: String) {
        guard command != lastHistoryEntry else { return }
        lastHistoryEntry = command
        add_history(command)
        history?.append(command)
    }

    /// The prompt's own commands: `help`, `help name`, `?name`, `vars` (run as the builtins
    /// help() and vars()), and `exit`/`quit`. Returns false when `command` is none of them (it
    /// is then run as code); a variable of the same name wins over the command.
    private func runBuiltinCommand(_ command: String) -> Bool {
        let t = command.trimmingSpaces
        let isName = { (s: String) in !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } }
        let word = t.prefix { !$0.isWhitespace }
        if session.globalNames.contains(String(word)) { return false }
        var code: String?
        if t == "help" || t == "vars" {
            code = t + "()"
        } else if t == "exit" || t == "quit" {
            exit(ExitStatus.success)
        } else if t.hasPrefix("?") {
            let name = String(t.dropFirst()).trimmingSpaces
            code = name.isEmpty ? "help()" : "help(\(quoted(name)))"
        } else if word == "help", case let name = String(t.dropFirst(4)).trimmingSpaces, isName(name) {
            code = "help(\(quoted(name)))"
        }
        guard let code else { return false }
        Interrupt.reset()
        do {
            try session.execute(code, file: "<stdin>:\(commandNumber)", echo: false)
        } catch let e as ScriptError {
            // The error is about the name asked for, not the help() call written for it.
            writeErr(e.isInterrupt ? "interrupted\n" : e.message + "\n")
        } catch {
            writeErr("\(error)\n")
        }
        fflush(stdout)
        return true
    }

}

/// Ctrl-Z and window resizes at the prompt. Readline's own handlers are off (they would also
/// take SIGINT), so the loop does what they would: give the terminal back before stopping and
/// take it again on `fg`, and re-read the window size.
enum PromptSignals {
    nonisolated(unsafe) static let flags: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 2)
        p.initialize(repeating: 0, count: 2)
        return p
    }()

    static func install() {
        _ = flags
        signal(SIGTSTP) { _ in PromptSignals.flags[0] = 1 }
        signal(SIGWINCH) { _ in PromptSignals.flags[1] = 1 }
    }

    static func uninstall() {
        signal(SIGTSTP, SIG_DFL)
        signal(SIGWINCH, SIG_DFL)
    }

    static func handlePending() {
        if flags[1] != 0 {
            flags[1] = 0
            rl_resize_terminal()
        }
        if flags[0] != 0 {
            flags[0] = 0
            rl_deprep_terminal()
            signal(SIGTSTP, SIG_DFL)
            raise(SIGTSTP)              // stopped here until `fg`
            signal(SIGTSTP) { _ in PromptSignals.flags[0] = 1 }
            rl_prep_terminal(1)
            rl_forced_update_display()
        }
    }
}
