// The lexer: source text to tokens. It also decides where statements end: a newline ends one
// except inside brackets and after an operator or comma that needs more on the next line.

/// One token with the location of its first character.
public struct Token: CustomStringConvertible {
    public enum Kind: String, Sendable {
        case number, string, name, newline, eof
        case semicolon = ";", comma = ",", dot = ".", colon = ":", assign = "="
        case lparen = "(", rparen = ")", lbracket = "[", rbracket = "]", lbrace = "{", rbrace = "}"
        case plus = "+", minus = "-", star = "*", slash = "/", caret = "^", percent = "%", at = "@"
        case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
        case and, or, not, if_ = "if", elseif, else_ = "else", end, for_ = "for", in_ = "in"
        case while_ = "while", def, return_ = "return", break_ = "break", continue_ = "continue"
        case true_ = "true", false_ = "false", nil_ = "nil"
    }
    /// A piece of a string literal: text, or the tokens of a `${…}` interpolation.
    public enum Piece {
        case text(String)
        /// The tokens end with the closing `}` then `.eof`; `closed` is false when the lexer
        /// reported an error inside (then the parser says nothing more about it).
        case code([Token], SourceLocation, closed: Bool)
    }
    public var kind: Kind
    public var location: SourceLocation
    /// The identifier's name (for `.name`).
    public var text: String = ""
    /// The value (for `.number`).
    public var number: Double = 0
    /// The pieces (for `.string`).
    public var pieces: [Piece] = []

    public var description: String {
        switch kind {
        case .number: return "number \(formatNumber(number))"
        case .string: return "string"
        case .name: return "'\(text)'"
        case .newline: return "end of line"
        case .eof: return "end of input"
        default: return "'\(kind.rawValue)'"
        }
    }
}

/// Turns source text into tokens, collecting errors instead of stopping at the first.
public struct Lexer {
    /// Reserved words.
    public static let keywords: [String: Token.Kind] = [
        "and": .and, "or": .or, "not": .not, "if": .if_, "elseif": .elseif, "else": .else_, "end": .end,
        "for": .for_, "in": .in_, "while": .while_, "def": .def, "return": .return_, "break": .break_,
        "continue": .continue_, "true": .true_, "false": .false_, "nil": .nil_,
    ]
    /// Keywords that only begin or continue a statement: seeing one inside brackets means a
    /// bracket was left open, so the lexer closes them all (and the parser reports it) rather
    /// than swallowing the rest of the file.
    static let statementKeywords: Set<Token.Kind> = [.if_, .elseif, .else_, .end, .for_, .while_, .def, .return_, .break_, .continue_]
    /// Tokens after which a newline does not end the statement.
    static let continuesLine: Set<Token.Kind> = [
        .comma, .dot, .colon, .assign, .plus, .minus, .star, .slash, .caret, .percent, .at,
        .eq, .ne, .lt, .le, .gt, .ge, .and, .or, .not,
    ]

    let chars: [Unicode.Scalar]
    let file: String
    var pos = 0
    var line = 1
    var column = 1
    var interpolationDepth = 0
    static let maxInterpolationDepth = 32
    public private(set) var errors: [ScriptError] = []

    public init(_ source: String, file: String = "<input>") {
        chars = Array(source.unicodeScalars)
        self.file = file
    }

    /// All tokens, ending with `.eof`.
    public static func tokenize(_ source: String, file: String = "<input>") -> (tokens: [Token], errors: [ScriptError]) {
        var lx = Lexer(source, file: file)
        let tokens = lx.tokens(insideInterpolation: false)
        return (tokens, lx.errors)
    }

    var here: SourceLocation { SourceLocation(line: line, column: column) }
    func peek(_ k: Int = 0) -> Unicode.Scalar? { pos + k < chars.count ? chars[pos + k] : nil }

    mutating func advance() {
        guard pos < chars.count else { return }
        if chars[pos] == "\n" { line += 1; column = 1 } else { column += 1 }
        pos += 1
    }

    mutating func error(_ loc: SourceLocation, _ message: String, incomplete: Bool = false) {
        errors.append(ScriptError(file: file, location: loc, message: message, incomplete: incomplete))
    }

    /// Lexes up to the end of input, or (inside `${…}`) up to the unmatched `}`, which it consumes.
    mutating func tokens(insideInterpolation: Bool) -> [Token] {
        var out: [Token] = []
        var brackets: [Token.Kind] = []
        func lastContinues() -> Bool { out.last.map { Lexer.continuesLine.contains($0.kind) } ?? false }
        while true {
            // Whitespace and comments.
            while let c = peek() {
                if c == " " || c == "\t" || c == "\r" { advance() } else if c == "#" {
                    while let d = peek(), d != "\n" { advance() }
                } else { break }
            }
            let start = here
            guard let c = peek() else {
                if insideInterpolation {
                    error(start, "unterminated string interpolation: '${' needs a matching '}'", incomplete: true)
                } else {
                    if let open = brackets.last {
                        error(start, "unexpected end of input: '\(open.rawValue)' is never closed", incomplete: true)
                    } else if lastContinues(), let last = out.last {
                        error(start, "unexpected end of input after \(last)", incomplete: true)
                    } else if let last = out.last, last.kind != .newline, last.kind != .semicolon {
                        // The parser then sees the end of input only where a statement may end.
                        out.append(Token(kind: .newline, location: start))
                    }
                }
                out.append(Token(kind: .eof, location: start))
                return out
            }
            if c == "\n" {
                advance()
                if insideInterpolation || !brackets.isEmpty || lastContinues() { continue }
                if let last = out.last, last.kind != .newline, last.kind != .semicolon {
                    out.append(Token(kind: .newline, location: start))
                }
                continue
            }
            if isDigit(c) { out.append(number(start)); continue }
            if isIdentStart(c) {
                var s = ""
                while let d = peek(), isIdentStart(d) || isDigit(d) { s.unicodeScalars.append(d); advance() }
                if let kw = Lexer.keywords[s] {
                    if Lexer.statementKeywords.contains(kw) && !brackets.isEmpty && !insideInterpolation {
                        brackets.removeAll()
                        out.append(Token(kind: .newline, location: start))
                    }
                    out.append(Token(kind: kw, location: start))
                } else {
                    out.append(Token(kind: .name, location: start, text: s))
                }
                continue
            }
            if c == "\"" { out.append(string(start)); continue }
            advance()
            let next = peek()
            var kind: Token.Kind
            switch c {
            case "(": kind = .lparen; brackets.append(.lparen)
            case "[": kind = .lbracket; brackets.append(.lbracket)
            case "{": kind = .lbrace; brackets.append(.lbrace)
            case ")", "]", "}":
                kind = c == ")" ? .rparen : (c == "]" ? .rbracket : .rbrace)
                if brackets.isEmpty {
                    // The `}` that closes `${…}`: the parser expects it after the expression.
                    if insideInterpolation && c == "}" { return out + [Token(kind: .rbrace, location: start), Token(kind: .eof, location: here)] }
                } else {
                    brackets.removeLast()
                }
            case ",": kind = .comma
            case ";": kind = .semicolon
            case ".": kind = .dot
            case ":": kind = .colon
            case "+": kind = .plus
            case "-": kind = .minus
            case "*": kind = .star
            case "/": kind = .slash
            case "^": kind = .caret
            case "%": kind = .percent
            case "@": kind = .at
            case "=": if next == "=" { advance(); kind = .eq } else { kind = .assign }
            case "!":
                if next == "=" { advance(); kind = .ne } else { error(start, "unexpected character '!' (write 'not' for negation)"); continue }
            case "<": if next == "=" { advance(); kind = .le } else { kind = .lt }
            case ">": if next == "=" { advance(); kind = .ge } else { kind = .gt }
            case "&", "|":
                if next == c { advance() }
                error(start, "unexpected '\(c)' (write '\(c == "&" ? "and" : "or")')")
                continue
            default:
                error(start, "unexpected character '\(c.escaped(asASCII: false))'")
                continue
            }
            out.append(Token(kind: kind, location: start))
        }
    }

    func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
    func isIdentStart(_ c: Unicode.Scalar) -> Bool { c == "_" || c.properties.isAlphabetic }

    /// NUMBER := DIGITS ['.' DIGITS] [('e'|'E') ['+'|'-'] DIGITS], digits may contain '_'.
    mutating func number(_ start: SourceLocation) -> Token {
        var s = ""
        func digits(_ lx: inout Lexer) {
            while let d = lx.peek(), lx.isDigit(d) || d == "_" {
                if d != "_" { s.unicodeScalars.append(d) }
                lx.advance()
            }
        }
        digits(&self)
        if peek() == ".", let d = peek(1), isDigit(d) {
            s += "."; advance(); digits(&self)
        }
        if let e = peek(), e == "e" || e == "E" {
            if let d = peek(1), isDigit(d) {
                s += "e"; advance(); digits(&self)
            } else if let sign = peek(1), sign == "+" || sign == "-", let d = peek(2), isDigit(d) {
                s += "e"; advance(); s.unicodeScalars.append(sign); advance(); digits(&self)
            }
        }
        if let d = peek(), isIdentStart(d) {
            error(here, "unexpected '\(d)' after a number")
        }
        return Token(kind: .number, location: start, number: Double(s) ?? .nan)
    }

    /// STRING := '"' { char | escape | '${' expr '}' } '"'; strings may span lines.
    mutating func string(_ start: SourceLocation) -> Token {
        advance()  // opening quote
        var pieces: [Token.Piece] = []
        var text = ""
        while true {
            guard let c = peek() else {
                error(start, "unterminated string", incomplete: true)
                break
            }
            if c == "\"" { advance(); break }
            if c == "\\" {
                let escLoc = here
                advance()
                guard let e = peek() else { continue }
                advance()
                switch e {
                case "n": text += "\n"
                case "t": text += "\t"
                case "r": text += "\r"
                case "0": text += "\0"
                case "\\": text += "\\"
                case "\"": text += "\""
                case "$": text += "$"
                case "\n": break  // a backslash at the end of a line joins the lines
                case "u":
                    if peek() == "{" {
                        advance()
                        var hex = ""
                        while let h = peek(), h != "}", h != "\"", hex.count < 8 { hex.unicodeScalars.append(h); advance() }
                        if peek() == "}" { advance() }
                        if let v = UInt32(hex, radix: 16), let u = Unicode.Scalar(v) { text.unicodeScalars.append(u) } else {
                            error(escLoc, "invalid unicode escape '\\u{\(hex)}'")
                        }
                    } else {
                        error(escLoc, "invalid unicode escape: write \\u{hex}")
                    }
                default: error(escLoc, "unknown escape '\\\(e.escaped(asASCII: false))' in string")
                }
                continue
            }
            if c == "$" && peek(1) == "{" {
                advance(); advance()
                if interpolationDepth >= Lexer.maxInterpolationDepth {
                    error(start, "string interpolations are nested too deeply")
                    while let d = peek(), d != "\"" { advance() }
                    continue
                }
                interpolationDepth += 1
                defer { interpolationDepth -= 1 }
                if !text.isEmpty { pieces.append(.text(text)); text = "" }
                let codeStart = here
                let errorCount = errors.count
                let toks = tokens(insideInterpolation: true)
                let closed = toks.count >= 2 && toks[toks.count - 2].kind == .rbrace && errors.count == errorCount
                pieces.append(.code(toks, codeStart, closed: closed))
                if pos >= chars.count && !closed { break }  // already reported as unterminated
                continue
            }
            text.unicodeScalars.append(c)
            advance()
        }
        if !text.isEmpty || pieces.isEmpty { pieces.append(.text(text)) }
        return Token(kind: .string, location: start, pieces: pieces)
    }
}
