// Lexer and parser: token locations, precedence, recovery, incomplete-input detection.
import Testing
@testable import Language
@testable import Bindings
@testable import Notebooks

@Suite struct LexerTests {
    @Test func tokenLocations() {
        let (tokens, errors) = Lexer.tokenize("x = 12.5\n  foo(\"s\")")
        #expect(errors.isEmpty)
        let kinds = tokens.map(\.kind)
        #expect(kinds == [.name, .assign, .number, .newline, .name, .lparen, .string, .rparen, .newline, .eof])
        #expect(tokens[2].location == SourceLocation(line: 1, column: 5))
        #expect(tokens[2].number == 12.5)
        #expect(tokens[4].location == SourceLocation(line: 2, column: 3))
        #expect(tokens[6].location == SourceLocation(line: 2, column: 7))
    }

    @Test func newlinesInsideBracketsAndAfterOperators() {
        let kinds = Lexer.tokenize("f(1,\n 2) +\n 3\ny").tokens.map(\.kind)
        #expect(kinds == [.name, .lparen, .number, .comma, .number, .rparen, .plus, .number, .newline, .name, .newline, .eof])
    }

    @Test func numbers() {
        let toks = Lexer.tokenize("1 0.5 3e-4 2E3 1_000").tokens.filter { $0.kind == .number }.map(\.number)
        #expect(toks == [1, 0.5, 3e-4, 2000, 1000])
    }

    @Test func commentsAndKeywords() {
        let kinds = Lexer.tokenize("if x # comment\nend").tokens.map(\.kind)
        #expect(kinds == [.if_, .name, .newline, .end, .newline, .eof])
    }

    @Test func interpolationTokens() {
        let (tokens, errors) = Lexer.tokenize("\"a ${x + 1} b\"")
        #expect(errors.isEmpty)
        guard case .code(let inner, let loc, let closed) = tokens[0].pieces[1] else { Issue.record("no code piece"); return }
        #expect(closed)
        #expect(loc == SourceLocation(line: 1, column: 6))
        #expect(inner.map(\.kind) == [.name, .plus, .number, .rbrace, .eof])
    }

    @Test func errorsAreCollected() {
        let errors = Lexer.tokenize("a ? b ! c\n\"bad \\q escape\"").errors
        #expect(errors.map(\.message).count == 3)
        #expect(errors[0].location == SourceLocation(line: 1, column: 3))
        #expect(errors[2].message.contains("unknown escape"))
    }
}

@Suite struct ParserTests {
    func parse(_ s: String) throws -> Expr { try Parser.parseExpression(s) }

    @Test func precedenceTable() throws {
        #expect(formatExpr(try parse("1 + 2 * 3")) == "(1 + (2 * 3))")
        #expect(formatExpr(try parse("2 ^ 3 ^ 2")) == "(2 ^ (3 ^ 2))")
        #expect(formatExpr(try parse("-2 ^ 2")) == "-(2 ^ 2)")
        #expect(formatExpr(try parse("-a * b")) == "(-a * b)")
        #expect(formatExpr(try parse("not a == b and c")) == "(not (a == b) and c)")
        #expect(formatExpr(try parse("a or b and c")) == "(a or (b and c))")
        #expect(formatExpr(try parse("0:n - 1")) == "0:(n - 1)")
        #expect(formatExpr(try parse("a @ b + c")) == "((a @ b) + c)")
        #expect(formatExpr(try parse("x.y[1](2)")) == "x.y[1](2)")
        #expect(formatExpr(try parse("t[0, :, 1:, :2, a:b]")) == "t[0, :, 1:, :2, a:b]")
        #expect(formatExpr(try parse("f(x, lr=0.1)")) == "f(x, lr=0.1)")
        #expect(formatExpr(try parse("{a: 1, b: [2]}")) == "{a: 1, b: [2]}")
    }

    @Test func locations() throws {
        let e = try parse("foo(1) + bar.baz")
        guard case .binary(_, let lhs, let rhs) = e.kind else { Issue.record("not binary"); return }
        #expect(e.location == SourceLocation(line: 1, column: 8))
        #expect(lhs.location == SourceLocation(line: 1, column: 1))
        #expect(rhs.location == SourceLocation(line: 1, column: 14))
    }

    @Test func statements() {
        let (stmts, errors) = Parser.parse("""
        x = 1
        if x; y = 2; elseif z; y = 3; else; y = 4; end
        for i in 0:3
          continue
        end
        while false; break; end
        def f(a, b=2)
          return a + b
        end
        f(1);
        """)
        #expect(errors.isEmpty)
        #expect(stmts.count == 6)
        guard case .expression(_, let silent) = stmts[5].kind else { Issue.record("not an expression"); return }
        #expect(silent)
        guard case .def(let name, let params, let body) = stmts[4].kind else { Issue.record("not a def"); return }
        #expect(name == "f")
        #expect(params.map(\.name) == ["a", "b"])
        #expect(body.count == 1)
    }

    @Test func recoversAndReportsEveryError() {
        let (stmts, errors) = Parser.parse("x = 1 +* 2\ny = )\nz = [1, 2\nif true\n  w = 1 +\nend\nok = 1")
        #expect(errors.map(\.location.line) == [1, 2, 4, 6])
        #expect(errors.allSatisfy { !$0.isIncompleteInput })
        #expect(stmts.count == 2)  // the if (with an empty body) and ok = 1
    }

    @Test func blockKeywordClosesOpenBrackets() {
        let (stmts, errors) = Parser.parse("f(1,\nend\nx = 2")
        #expect(errors.count == 1)  // the open call (the stray end at the same spot adds nothing)
        #expect(stmts.count == 1)
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        let (_, errors) = Parser.parse(deep)
        #expect(errors.contains { $0.message.contains("nested too deeply") })
        let blocks = String(repeating: "if true\n", count: 500) + String(repeating: "end\n", count: 500)
        #expect(Parser.parse(blocks).errors.contains { $0.message.contains("nested too deeply") })
        let long = (0..<5000).map { "\($0)" }.joined(separator: " + ")
        #expect(Parser.parse(long).errors.contains { $0.message.contains("too long") })
        let minus = String(repeating: "-", count: 5000) + "1"
        #expect(!Parser.parse(minus).errors.isEmpty)
    }

    @Test func incompleteInput() {
        for s in ["if x", "for i in 1:3\n  print(i)", "def f()", "x = [1, 2", "f(1,", "\"abc", "x = 1 +", "while true\n if x\n end",
                  "{a: 1,", "\"${x", "if x\n  y = (1 +"] {
            #expect(Session.isIncomplete(s), "\(s) should be incomplete")
        }
        for s in ["x = 1", "if x\nend", "f(1)", "x = (1 +* 2", "end", "\"abc\"", "if x ==== 2", "", "# comment", "print(\"a\")\n"] {
            #expect(!Session.isIncomplete(s), "\(s) should be complete (or wrong)")
        }
    }

    @Test func renderedError() {
        let source = "x = 1\ny = x +* 2\n"
        let (_, errors) = Parser.parse(source, file: "t.prune")
        #expect(errors.count == 1)
        let text = errors[0].render(source: source)
        #expect(text == "t.prune:2:8: error: expected an expression, found '*'\ny = x +* 2\n       ^\n")
    }
}
