// Script errors with a location, rendered as `file.prune:12:7: error: message`, the source line,
// and a caret under the spot.

/// An error in a script: where it happened, what went wrong, and (at run time) the chain of
/// user-function calls that led there.
public struct ScriptError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var location: SourceLocation
    public var message: String
    /// Innermost call last: ("f", location of the call).
    public var callChain: [(function: String, location: SourceLocation)] = []
    /// The error means "the input stopped too early" (the REPL then reads another line).
    public var isIncompleteInput = false
    /// The error is a Ctrl-C stop (`Session.interruptCheck`), not a mistake: the CLI exits 130.
    public var isInterrupt = false
    /// The text of the file the error is in, when it differs from what the caller has at hand
    /// (an error inside a function defined by an earlier REPL input); `render` prefers it.
    public var sourceText: String?

    public init(file: String, location: SourceLocation, message: String, incomplete: Bool = false) {
        self.file = file; self.location = location; self.message = message; self.isIncompleteInput = incomplete
    }

    public var description: String { "\(file):\(location.line):\(location.column): error: \(message)" }

    /// The full report: the error line, the source line with a caret, and the call chain.
    /// `file:line:column`; at the prompt (`<stdin>:N`, the command starting on line N of the
    /// session) the line of the session, `<stdin>:N+line-1`, the column being shown by the caret.
    func place(_ loc: SourceLocation) -> String {
        if file.hasPrefix("<stdin>:"), let start = Int(file.dropFirst("<stdin>:".count)) {
            return "<stdin>:\(start + loc.line - 1)"
        }
        return "\(file):\(loc.line):\(loc.column)"
    }

    public func render(source: String, color: Bool = false) -> String {
        let red = color ? "\u{1B}[1;31m" : "", bold = color ? "\u{1B}[1m" : "", reset = color ? "\u{1B}[0m" : ""
        var out = "\(bold)\(place(location)):\(reset) \(red)error:\(reset) \(message)\n"
        let lines = (sourceText ?? source).split(separator: "\n", omittingEmptySubsequences: false)
        if location.line >= 1 && location.line <= lines.count {
            let text = String(lines[location.line - 1])
            out += text + "\n"
            let pad = text.prefix(max(0, location.column - 1)).map { $0 == "\t" ? "\t" : " " }.joined()
            out += pad + "\(red)^\(reset)\n"
        }
        for (fn, loc) in callChain.reversed() {
            out += "  in \(fn)() called at \(place(loc))\n"
        }
        return out
    }
}

/// Every syntax error of one source text, reported together (the parser recovers after each).
public struct ScriptErrors: Error, CustomStringConvertible {
    public var errors: [ScriptError]
    public init(_ errors: [ScriptError]) { self.errors = errors }
    /// True when the only problem is that the input stopped early (the REPL reads more).
    public var isIncompleteInput: Bool { !errors.isEmpty && errors.allSatisfy(\.isIncompleteInput) }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
    /// All errors rendered one after another.
    public func render(source: String, color: Bool = false) -> String {
        errors.map { $0.render(source: source, color: color) }.joined()
    }
}
