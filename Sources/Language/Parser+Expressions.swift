// The expression half of the parser: precedence climbing over `Parser.binaryPrecedence`, then
// postfix calls, fields and subscripts, then primaries (literals, names, lists, records, strings
// with `${…}` interpolation).

extension Parser {
    /// expr := binary(1)
    mutating func expression(noRange: Bool = false) throws -> Expr {
        try binary(minPrecedence: 1, noRange: noRange)
    }

    /// binary(p) := prefix { OP binary(p' ) }   for each OP of precedence ≥ p in `binaryPrecedence`
    /// prefix    := 'not' binary(3) | '-' binary(8) | postfix
    mutating func binary(minPrecedence: Int, noRange: Bool) throws -> Expr {
        exprDepth += 1
        defer { exprDepth -= 1 }
        if exprDepth > Parser.maxExpressionDepth {
            throw fail("expression is nested too deeply (more than \(Parser.maxExpressionDepth) levels)")
        }
        let loc = current.location
        var lhs: Expr
        if current.kind == .not {
            advance()
            lhs = Expr(.unary(.not, try binary(minPrecedence: Parser.notPrecedence, noRange: noRange)), loc)
        } else if current.kind == .minus {
            advance()
            let operand = try binary(minPrecedence: Parser.unaryPrecedence, noRange: noRange)
            if case .number(let x) = operand.kind { lhs = Expr(.number(-x), loc) } else { lhs = Expr(.unary(.neg, operand), loc) }
        } else {
            lhs = try postfix()
        }
        var chain = 0
        while let (op, prec) = Parser.binaryPrecedence[current.kind], prec >= minPrecedence {
            if current.kind == .colon && noRange { break }
            let opKind = current.kind, opLoc = current.location
            advance()
            if current.kind == .assign && current.location.line == opLoc.line && current.location.column == opLoc.column + 1 {
                throw fail("'\(opKind.rawValue)=' is not an operator: write x = x \(opKind.rawValue) y")
            }
            chain += 1
            if exprDepth + chain > Parser.maxExpressionDepth * 4 {
                throw fail("expression is too long (more than \(Parser.maxExpressionDepth * 4) operators in a row)")
            }
            let rhs = try binary(minPrecedence: Parser.rightAssociative.contains(opKind) ? prec : prec + 1, noRange: noRange)
            if let op {
                lhs = Expr(.binary(op, lhs, rhs), opLoc)
            } else {
                lhs = Expr(.range(lhs, rhs), opLoc)
                if current.kind == .colon && !noRange {
                    throw fail("a range has two bounds, lo:hi (use range(a, b, step) for a step)")
                }
            }
        }
        return lhs
    }

    /// postfix := primary { '(' args ')' | '.' NAME | '[' subscripts ']' }
    mutating func postfix() throws -> Expr {
        var e = try primary()
        var chain = 0
        while true {
            let loc = current.location
            switch current.kind {
            case .lparen:
                advance()
                // A call is located at its callee, so errors point at the function's name.
                e = Expr(.call(e, try arguments()), e.location)
            case .dot:
                advance()
                let nameLoc = current.location
                let name = try expectName("a field name after '.'")
                e = Expr(.field(e, name), nameLoc)
            case .lbracket:
                advance()
                e = Expr(.index(e, try subscripts()), loc)
            default:
                return e
            }
            chain += 1
            if chain > Parser.maxExpressionDepth { throw fail("expression is too long (more than \(Parser.maxExpressionDepth) calls, fields or indices in a row)") }
        }
    }

    /// args := [ arg { ',' arg } [','] ] ')'      arg := NAME '=' expr | expr
    mutating func arguments() throws -> [Argument] {
        var args: [Argument] = []
        while current.kind != .rparen {
            let loc = current.location
            if current.kind == .name && peekKind() == .assign {
                let name = current.text
                advance(); advance()
                if args.contains(where: { $0.name == name }) { report(loc, "keyword argument '\(name)' given twice") }
                args.append(Argument(name: name, value: try expression(), location: loc))
            } else {
                let v = try expression()
                if args.contains(where: { $0.name != nil }) { report(loc, "positional argument after keyword arguments") }
                args.append(Argument(name: nil, value: v, location: loc))
            }
            if !accept(.comma) { break }
        }
        try expect(.rparen, "')' or ',' in the argument list")
        return args
    }

    /// subscripts := sub { ',' sub } ']'      sub := expr | [expr] ':' [expr]   (a half-open slice)
    mutating func subscripts() throws -> [Subscript] {
        var subs: [Subscript] = []
        repeat {
            if current.kind == .rbracket && !subs.isEmpty { break }
            var lo: Expr?
            if current.kind != .colon { lo = try expression(noRange: true) }
            if accept(.colon) {
                var hi: Expr?
                if current.kind != .comma && current.kind != .rbracket { hi = try expression(noRange: true) }
                subs.append(.slice(lo, hi))
            } else if let lo {
                subs.append(.index(lo))
            }
        } while accept(.comma)
        try expect(.rbracket, "']' or ',' in the index")
        return subs
    }

    /// primary := NUMBER | STRING | 'true' | 'false' | 'nil' | NAME | '(' expr ')'
    ///          | '[' [ expr { ',' expr } [','] ] ']' | '{' [ key ':' expr { ',' key ':' expr } [','] ] '}'
    /// key := NAME | STRING
    mutating func primary() throws -> Expr {
        let tok = current
        let loc = tok.location
        switch tok.kind {
        case .number: advance(); return Expr(.number(tok.number), loc)
        case .string: advance(); return Expr(.string(try stringParts(tok)), loc)
        case .true_: advance(); return Expr(.bool(true), loc)
        case .false_: advance(); return Expr(.bool(false), loc)
        case .nil_: advance(); return Expr(.nil_, loc)
        case .name: advance(); return Expr(.name(tok.text), loc)
        case .lparen:
            advance()
            let e = try expression()
            try expect(.rparen, "')'")
            return e
        case .lbracket:
            advance()
            var items: [Expr] = []
            while current.kind != .rbracket {
                items.append(try expression())
                if !accept(.comma) { break }
            }
            try expect(.rbracket, "']' or ',' in the list")
            return Expr(.list(items), loc)
        case .lbrace:
            advance()
            var pairs: [(String, Expr)] = []
            while current.kind != .rbrace {
                let kloc = current.location
                var key: String
                if current.kind == .name {
                    key = current.text
                } else if current.kind == .string, current.pieces.count == 1, case .text(let s) = current.pieces[0] {
                    key = s
                } else if let kw = Lexer.keywords.first(where: { $0.value == current.kind })?.key {
                    key = kw
                } else {
                    throw fail("expected a field name in the record, found \(current)")
                }
                advance()
                try expect(.colon, "':' after the field name '\(key)'")
                if pairs.contains(where: { $0.0 == key }) { report(kloc, "field '\(key)' given twice") }
                pairs.append((key, try expression()))
                if !accept(.comma) { break }
            }
            try expect(.rbrace, "'}' or ',' in the record")
            return Expr(.record(pairs), loc)
        case .eof:
            throw fail("unexpected end of input: expected an expression")
        default:
            throw fail("expected an expression, found \(tok)")
        }
    }

    /// A string token's pieces; each `${…}` is parsed as one expression.
    mutating func stringParts(_ tok: Token) throws -> [StringPart] {
        var parts: [StringPart] = []
        for piece in tok.pieces {
            switch piece {
            case .text(let s): parts.append(.text(s))
            case .code(let toks, let loc, let closed):
                guard closed else { continue }  // the lexer reported it
                var sub = Parser(tokens: toks, file: file)
                sub.exprDepth = exprDepth
                if sub.current.kind == .rbrace {
                    report(loc, "empty interpolation '${}' in string")
                    continue
                }
                if let e = try? sub.expression(), sub.current.kind == .rbrace {
                    parts.append(.expr(e))
                } else {
                    if sub.errors.isEmpty { sub.report(sub.current.location, "expected '}' after the interpolated expression, found \(sub.current)") }
                    errors += sub.errors
                }
            }
        }
        return parts
    }
}
