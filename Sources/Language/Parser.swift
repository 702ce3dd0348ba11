// The parser: tokens to a syntax tree, by recursive descent with operator precedence from one
// table. It recovers after an error (skipping to the next statement) so that every syntax error
// in a file is reported at once.

/// Parses prune source text.
public struct Parser {
    /// How tightly each binary operator binds: the one table of operator precedence. Higher binds
    /// tighter. Prefix `not` sits at `notPrecedence` and unary minus at `unaryPrecedence`;
    /// postfix call, field and index bind tighter than everything. `^` is right-associative;
    /// `:` (an inclusive range) does not chain.
    ///
    ///     or  <  and  <  not  <  == != < <= > >=  <  :  <  + -  <  * / % @  <  unary -  <  ^  <  postfix
    static let binaryPrecedence: [Token.Kind: (op: BinaryOperator?, precedence: Int)] = [
        .or: (.or, 1),
        .and: (.and, 2),
        // 3: prefix `not`
        .eq: (.eq, 4), .ne: (.ne, 4), .lt: (.lt, 4), .le: (.le, 4), .gt: (.gt, 4), .ge: (.ge, 4),
        .colon: (nil, 5),  // range lo:hi
        .plus: (.add, 6), .minus: (.sub, 6),
        .star: (.mul, 7), .slash: (.div, 7), .percent: (.mod, 7), .at: (.matmul, 7),
        // 8: unary minus
        .caret: (.pow, 9),
    ]
    static let notPrecedence = 3
    static let rangePrecedence = 5
    static let unaryPrecedence = 8
    static let rightAssociative: Set<Token.Kind> = [.caret]

    /// Nesting limits, so hostile input cannot exhaust the stack of the parser or interpreter.
    static let maxExpressionDepth = 200
    static let maxBlockDepth = 100

    struct Failure: Error {}

    var tokens: [Token]
    var pos = 0
    let file: String
    var errors: [ScriptError] = []
    var exprDepth = 0
    var blockDepth = 0
    var loopDepth = 0
    var functionDepth = 0

    init(tokens: [Token], file: String) {
        self.tokens = tokens.isEmpty ? [Token(kind: .eof, location: SourceLocation(line: 1, column: 1))] : tokens
        self.file = file
    }

    /// Parses a whole program; every syntax error is returned, with the statements that parsed.
    public static func parse(_ source: String, file: String = "<input>") -> (statements: [Stmt], errors: [ScriptError]) {
        let (tokens, lexErrors) = Lexer.tokenize(source, file: file)
        var p = Parser(tokens: tokens, file: file)
        let program = p.parseBlock(until: [])
        // A line with a lexical error (a stray character, a bad escape) gets no further parse
        // errors: they would only be echoes of it.
        let badLines = Set(lexErrors.filter { !$0.isIncompleteInput }.map(\.location.line))
        var errors = lexErrors + p.errors.filter { !badLines.contains($0.location.line) || $0.isIncompleteInput }
        errors.sort { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) }
        return (program, errors)
    }

    /// Parses a single expression (for tests and tools).
    public static func parseExpression(_ source: String, file: String = "<input>") throws -> Expr {
        let (tokens, lexErrors) = Lexer.tokenize(source, file: file)
        if !lexErrors.isEmpty { throw ScriptErrors(lexErrors) }
        var p = Parser(tokens: tokens, file: file)
        p.skipNewlines()
        let e = try? p.expression()
        p.skipNewlines()
        guard let e, p.current.kind == .eof else {
            if p.errors.isEmpty { p.report(p.current.location, "unexpected \(p.current) after the expression") }
            throw ScriptErrors(p.errors)
        }
        return e
    }

    // MARK: - Token helpers

    var current: Token { tokens[min(pos, tokens.count - 1)] }
    func peekKind(_ k: Int = 1) -> Token.Kind { tokens[min(pos + k, tokens.count - 1)].kind }
    mutating func advance() { if pos < tokens.count - 1 { pos += 1 } }
    mutating func accept(_ k: Token.Kind) -> Bool {
        if current.kind == k { advance(); return true }
        return false
    }
    mutating func skipNewlines() { while current.kind == .newline { advance() } }

    /// Records an error; `incomplete` when it is only that the input ended.
    mutating func report(_ loc: SourceLocation, _ message: String, incomplete: Bool = false) {
        // One error per spot: a cascade from the same token says nothing new.
        if let last = errors.last, last.location == loc { return }
        errors.append(ScriptError(file: file, location: loc, message: message, incomplete: incomplete))
    }

    /// Reports an error at the current token and unwinds to the statement level.
    mutating func fail(_ message: String) -> Failure {
        report(current.location, message, incomplete: current.kind == .eof)
        return Failure()
    }

    mutating func expect(_ k: Token.Kind, _ what: String) throws {
        if !accept(k) { throw fail("expected \(what), found \(current)") }
    }

    mutating func expectName(_ what: String) throws -> String {
        guard current.kind == .name else { throw fail("expected \(what), found \(current)") }
        defer { advance() }
        return current.text
    }

    // MARK: - Statements

    static let blockEnds: Set<Token.Kind> = [.end, .else_, .elseif]

    /// block := { statement (NEWLINE | ';') } — up to one of `until` (not consumed) or the end.
    mutating func parseBlock(until: Set<Token.Kind>) -> [Stmt] {
        var out: [Stmt] = []
        while true {
            while current.kind == .newline || current.kind == .semicolon { advance() }
            let k = current.kind
            if k == .eof || until.contains(k) { return out }
            if Parser.blockEnds.contains(k) {
                report(current.location, "unexpected '\(k.rawValue)'" + (k == .end ? " (no block is open)" : " outside an 'if'"))
                advance()
                continue
            }
            let before = pos
            if let s = statement() { out.append(s) } else { synchronize() }
            if pos == before { advance() }
        }
    }

    /// After an error: skips to the next statement boundary (a block keyword stays, so blocks
    /// still close where they should).
    mutating func synchronize() {
        while true {
            switch current.kind {
            case .eof, .end, .else_, .elseif: return
            case .newline, .semicolon: advance(); return
            default: advance()
            }
        }
    }

    /// After a statement: a separator, or a block keyword / the end (not consumed).
    mutating func endOfStatement() throws {
        switch current.kind {
        case .newline, .semicolon: advance()
        case .eof, .end, .else_, .elseif: break
        default: throw fail("expected a new line or ';' after the statement, found \(current)")
        }
    }

    /// statement := if | for | while | def | return | break | continue | simple
    mutating func statement() -> Stmt? {
        let loc = current.location
        do {
            switch current.kind {
            case .if_: return try ifStatement()
            case .for_: return try forStatement()
            case .while_: return try whileStatement()
            case .def: return try defStatement()
            case .return_:
                advance()
                if functionDepth == 0 { report(loc, "'return' outside a function") }
                var value: Expr?
                if ![.newline, .semicolon, .eof, .end, .else_, .elseif].contains(current.kind) { value = try expression() }
                try endOfStatement()
                return Stmt(.return_(value), loc)
            case .break_, .continue_:
                let isBreak = current.kind == .break_
                advance()
                if loopDepth == 0 { report(loc, "'\(isBreak ? "break" : "continue")' outside a loop") }
                try endOfStatement()
                return Stmt(isBreak ? .break_ : .continue_, loc)
            default: return try simpleStatement()
            }
        } catch {
            return nil
        }
    }

    /// simple := expr [ '=' expr ] [';']   — a trailing ';' silences the value at the prompt.
    mutating func simpleStatement() throws -> Stmt {
        let loc = current.location
        let e = try expression()
        if current.kind == .assign {
            let eqLoc = current.location
            advance()
            let value = try expression()
            switch e.kind {
            case .name, .field, .index: break
            default:
                report(eqLoc, "cannot assign to this expression (only to a name, a field `r.x` or an index `xs[0]`)")
            }
            try endOfStatement()
            return Stmt(.assign(e, value), loc)
        }
        let silent = current.kind == .semicolon
        try endOfStatement()
        return Stmt(.expression(e, silent: silent), loc)
    }

    /// Enters a nested block, with a depth limit.
    mutating func nested<T>(_ body: (inout Parser) throws -> T) throws -> T {
        blockDepth += 1
        defer { blockDepth -= 1 }
        if blockDepth > Parser.maxBlockDepth { throw fail("blocks are nested too deeply (more than \(Parser.maxBlockDepth))") }
        return try body(&self)
    }

    /// Parses a block body up to `end` (or another of `until`), reporting a missing `end`
    /// (incomplete input at the end of the text) against the statement that opened it.
    mutating func body(until: Set<Token.Kind>, opener: String, at loc: SourceLocation) -> [Stmt] {
        let b = parseBlock(until: until)
        if current.kind == .eof {
            report(current.location, "expected 'end' to close '\(opener)' at line \(loc.line)", incomplete: true)
        }
        return b
    }

    /// Stands for a block statement whose header had an error (already reported): the block
    /// itself parsed, so the statement after it must not be skipped.
    func placeholder(_ loc: SourceLocation) -> Stmt { Stmt(.if_([], else_: nil), loc) }

    /// header := expr [NEWLINE | ';']   — a block header may be followed directly by its first statement.
    mutating func header() throws -> Expr {
        let e = try expression()
        if current.kind == .newline || current.kind == .semicolon { advance() }
        return e
    }

    /// Parses a block header expression; on error, reports and skips to the header's end so the
    /// body is still parsed (and its `end` matched).
    mutating func recoveringHeader() -> Expr? {
        do { return try header() } catch {
            synchronize()
            return nil
        }
    }

    /// if := 'if' expr block { 'elseif' expr block } [ 'else' block ] 'end'
    mutating func ifStatement() throws -> Stmt {
        let loc = current.location
        return try nested { p in
            p.advance()
            var branches: [(Expr, [Stmt])] = []
            var elseBlock: [Stmt]?
            let cond = p.recoveringHeader()
            let first = p.body(until: [.elseif, .else_, .end], opener: "if", at: loc)
            if let cond { branches.append((cond, first)) }
            while p.current.kind == .elseif || (p.current.kind == .else_ && p.peekKind() == .if_) {
                if p.current.kind == .else_ {
                    // `else if`: reported, then read as `elseif` so the `end`s still match.
                    p.advance()
                    p.report(p.current.location, "write 'elseif', not 'else if'")
                }
                p.advance()
                let c = p.recoveringHeader()
                let b = p.body(until: [.elseif, .else_, .end], opener: "if", at: loc)
                if let c { branches.append((c, b)) }
            }
            if p.accept(.else_) {
                elseBlock = p.body(until: [.end], opener: "if", at: loc)
            }
            try p.expect(.end, "'end' to close 'if' at line \(loc.line)")
            try p.endOfStatement()
            if branches.isEmpty { return p.placeholder(loc) }
            return Stmt(.if_(branches, else_: elseBlock), loc)
        }
    }

    /// for := 'for' NAME 'in' expr block 'end'
    mutating func forStatement() throws -> Stmt {
        let loc = current.location
        return try nested { p in
            p.advance()
            var name: String?
            var iterable: Expr?
            do {
                name = try p.expectName("a loop variable name after 'for'")
                try p.expect(.in_, "'in' after the loop variable")
                iterable = try p.header()
            } catch {
                p.synchronize()
            }
            p.loopDepth += 1
            let b = p.body(until: [.end], opener: "for", at: loc)
            p.loopDepth -= 1
            try p.expect(.end, "'end' to close 'for' at line \(loc.line)")
            try p.endOfStatement()
            guard let name, let iterable else { return p.placeholder(loc) }
            return Stmt(.for_(name, iterable, b), loc)
        }
    }

    /// while := 'while' expr block 'end'
    mutating func whileStatement() throws -> Stmt {
        let loc = current.location
        return try nested { p in
            p.advance()
            let cond = p.recoveringHeader()
            p.loopDepth += 1
            let b = p.body(until: [.end], opener: "while", at: loc)
            p.loopDepth -= 1
            try p.expect(.end, "'end' to close 'while' at line \(loc.line)")
            try p.endOfStatement()
            guard let cond else { return p.placeholder(loc) }
            return Stmt(.while_(cond, b), loc)
        }
    }

    /// def := 'def' NAME '(' [ param { ',' param } ] ')' block 'end'
    /// param := NAME [ '=' expr ]   — parameters with defaults come last.
    mutating func defStatement() throws -> Stmt {
        let loc = current.location
        return try nested { p in
            p.advance()
            var name: String?
            var params: [Parameter] = []
            do {
                name = try p.expectName("a function name after 'def'")
                try p.expect(.lparen, "'(' after the function name")
                while p.current.kind != .rparen {
                    let ploc = p.current.location
                    let pname = try p.expectName("a parameter name")
                    var def: Expr?
                    if p.accept(.assign) { def = try p.expression() }
                    if params.contains(where: { $0.name == pname }) { p.report(ploc, "duplicate parameter '\(pname)'") }
                    if def == nil, params.last?.defaultValue != nil {
                        p.report(ploc, "parameter '\(pname)' without a default follows one with a default")
                    }
                    params.append(Parameter(name: pname, defaultValue: def))
                    if !p.accept(.comma) { break }
                }
                try p.expect(.rparen, "')' after the parameters")
                if p.current.kind == .newline || p.current.kind == .semicolon { p.advance() }
            } catch {
                p.synchronize()
            }
            let (savedLoops, savedFunctions) = (p.loopDepth, p.functionDepth)
            p.loopDepth = 0
            p.functionDepth += 1
            let b = p.body(until: [.end], opener: "def", at: loc)
            (p.loopDepth, p.functionDepth) = (savedLoops, savedFunctions)
            try p.expect(.end, "'end' to close 'def' at line \(loc.line)")
            try p.endOfStatement()
            guard let name else { return p.placeholder(loc) }
            return Stmt(.def(name, params, b), loc)
        }
    }
}
