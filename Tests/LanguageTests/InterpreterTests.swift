// The interpreter through Session: results, echo, globals, interrupts, calls from Swift,
// builtin call checking, did-you-mean, rendering of runtime errors with their call chain.
import FileIO
import Foundation
import Testing
import TestSupport
import Engine
@testable import Language
@testable import Bindings
@testable import Notebooks

/// A session that collects its output.
@Suite struct InterpreterTests {
    @Test func executeReturnsTheLastExpression() throws {
        let c = Captured()
        let v = try c.run("x = 2\nx * 21", echo: false)
        guard case .number(let n)? = v else { Issue.record("not a number"); return }
        #expect(n == 42)
        #expect(c.text.isEmpty)
        #expect(try c.run("y = 1", echo: false) == nil)
    }

    @Test func echoSkipsNilAndSilencedValues() throws {
        let c = Captured()
        try c.run("1\nprint(\"p\")\n2;\nnil\n\"s\"")
        #expect(c.text == "1\np\n\"s\"\n")
    }

    @Test func globalsRoundTrip() throws {
        let c = Captured()
        try c.run("a = 1\nb = [1, 2]")
        #expect(Set(c.session.globals.keys) == ["a", "b"])
        c.session.globals["z"] = .number(7)
        try c.run("z + a")
        #expect(c.text == "8\n")
        #expect(c.session.globalNames.contains("z"))
    }

    @Test func syntaxErrorsAreThrownTogether() {
        let c = Captured()
        do {
            try c.run("x = (1\ny = 2 +\nz = *")
            Issue.record("no error")
        } catch let e as ScriptErrors {
            #expect(e.errors.count >= 1)
        } catch {
            Issue.record("wrong error \(error)")
        }
    }

    @Test func runtimeErrorRendering() {
        let c = Captured()
        let source = "def g(v)\n  return v + \"x\"\nend\ndef f(v)\n  return g(v)\nend\nf(1)\n"
        do {
            try c.run(source)
            Issue.record("no error")
        } catch let e as ScriptError {
            #expect(e.render(source: source) == """
            test.prune:2:12: error: cannot apply '+' to number and string (write "…${x}…" to put a value in a string)
              return v + "x"
                       ^
              in g() called at test.prune:5:10
              in f() called at test.prune:7:1

            """)
        } catch {
            Issue.record("wrong error \(error)")
        }
    }

    @Test func errorInAFunctionFromAnEarlierInputShowsItsOwnLine() {
        let c = Captured()
        _ = try? c.session.execute("def bad()\n  return nope\nend", file: "<repl 1>")
        do {
            try c.session.execute("bad()", file: "<repl 2>")
        } catch let e as ScriptError {
            let text = e.render(source: "bad()")
            #expect(text.contains("return nope"))
            #expect(e.file == "<repl 1>")
        } catch {
            Issue.record("wrong error \(error)")
        }
    }

    @Test func interruptStopsLoops() {
        let c = Captured()
        var polls = 0
        c.session.interruptCheck = { polls += 1; return polls > 1000 }
        do {
            try c.run("while true; end")
            Issue.record("not interrupted")
        } catch let e as ScriptError {
            #expect(e.isInterrupt)
            #expect(e.message == "interrupted")
        } catch {
            Issue.record("wrong error \(error)")
        }
    }

    @Test func settingsAndParam() throws {
        let c = Captured()
        c.session.settings = ["epochs": "7", "quick": "true", "name": "run1", "lr": "3e-4"]
        try c.run("param(\"epochs\", 1)\nparam(\"quick\", false)\nparam(\"name\")\nparam(\"lr\")\nparam(\"missing\", 5)")
        #expect(c.text == "7\ntrue\n\"run1\"\n0.0003\n5\n")
    }

    @Test func timePrintsAndReturns() throws {
        let c = Captured()
        try c.run("v = time(1 + 2)\nv")
        let lines = c.text.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("time: ") && lines[0].hasSuffix(" s"))
        #expect(lines[1] == "3")
    }

    @Test func seedReproduces() throws {
        let c = Captured()
        try c.run("seed(3); a = randn([4]); seed(3); b = randn([4]); sum(a == b)")
        #expect(c.text == "4\n")
    }

    @Test func callFromSwift() throws {
        let c = Captured()
        try c.run("def add(a, b=10); return a + b; end")
        guard let f = c.session.globals["add"] else { Issue.record("no add"); return }
        let v = try c.session.call(f, [.number(1)], keywords: [("b", .number(2))])
        guard case .number(3) = v else { Issue.record("wrong value \(display(v))"); return }
        let len = try c.session.call(.function(Function(name: "len", body: .builtin(Builtins.named("len")!))), [.string("abc")])
        #expect(display(len) == "3")
    }

    @Test func tensorFromValues() throws {
        let s = testSession()
        let t = try s.tensor(from: .list(ListRef([.list(ListRef([.number(1), .number(2)])), .range(3, 4)])), what: "x")
        #expect(t.shape == [2, 2])
        #expect(t.array == [1, 2, 3, 4])
        #expect(throws: (any Error).self) { try s.tensor(from: .string("a"), what: "x") }
    }

    @Test func didYouMean() {
        #expect(closest("nett", ["net", "new", "len"]) == "net")
        #expect(closest("lrr", ["lr", "epochs"]) == "lr")
        #expect(closest("x", ["y"]) == nil)
        #expect(closest("epoch", ["epochs", "lr"]) == "epochs")
        #expect(closest("completely", ["different"]) == nil)
        #expect(levenshtein("kitten", "sitting") == 3)
    }

    @Test func builtinKeywordCheckingWithSuggestion() {
        let c = Captured()
        do {
            try c.run("range(3, stepp=1)")
        } catch let e as ScriptError {
            #expect(e.message == "unknown keyword 'stepp' for range (did you mean 'step'?)")
            #expect(e.location == SourceLocation(line: 1, column: 10))
        } catch { Issue.record("wrong error") }
    }

    @Test func trainKeywordSuggestion() {
        guard Builtins.named("train") != nil else { return }
        let c = Captured()
        do {
            try c.run("net = 1\ntrain(net, nil, lrr=0.1)")
        } catch let e as ScriptError {
            #expect(e.message == "unknown keyword 'lrr' for train (did you mean 'lr'?)")
            #expect(e.location == SourceLocation(line: 2, column: 17))
        } catch { Issue.record("wrong error") }
    }

    @Test func helpAndVars() throws {
        let c = Captured()
        try c.run("help()")
        #expect(c.text.contains("core:"))
        #expect(c.text.contains("print"))
        c.text = ""
        try c.run("help(range)")
        #expect(c.text.hasPrefix("range(a, b=nil, step=1)\n"))
        #expect(c.text.contains("example:"))
        c.text = ""
        try c.run("help(\"len\")")
        #expect(c.text.hasPrefix("len(x)"))
        c.text = ""
        try c.run("xs = [1, 2]\nname = \"n\"\nvars()")
        #expect(c.text == "name  type    value\n----  ------  ------\nxs    list    [1, 2]\nname  string  \"n\"\n")
    }

    @Test func everyBuiltinIsDocumented() {
        var seen = Set<String>()
        for b in Builtins.all {
            #expect(!seen.contains(b.name), "builtin \(b.name) is defined twice")
            seen.insert(b.name)
            #expect(!b.summary.isEmpty, "\(b.name) has no summary")
            #expect(!b.example.isEmpty, "\(b.name) has no example")
            #expect(Builtins.named(b.name) != nil)
        }
    }

    @Test func coreExamplesRun() {
        for b in Builtins.core {
            let c = Captured()
            #expect(throws: Never.self, "example of \(b.name)") { try c.run(b.example) }
        }
    }

    @Test func deepRecursionIsBounded() {
        let c = Captured()
        // Deep nesting inside deep recursion: must end with an error, not a crash.
        let expr = String(repeating: "(", count: 150) + "r(n + 1)" + String(repeating: " + 1)", count: 150)
        do {
            try c.run("def r(n)\n  if n > 1000; return 0; end\n  return \(expr)\nend\nr(0)")
            Issue.record("no error")
        } catch let e as ScriptError {
            #expect(e.message.contains("stack overflow"))
            #expect(e.callChain.count <= 30)
        } catch { Issue.record("wrong error") }
    }

    @Test func copyIsDeep() throws {
        let c = Captured()
        try c.run("a = {xs: [1, [2]], t: tensor([1, 2])}\nb = copy(a)\nb.xs[1][0] = 9\nb.t[0] = 5\na\nb.xs")
        #expect(c.text == "{xs: [1, [2]], t: tensor [2] float32 [1, 2]}\n[1, [9]]\n")
    }

    @Test func modelsDisplayAndCopy() throws {
        guard Builtins.named("mlp") != nil else { return }
        let c = Captured()
        try c.run("net = mlp([4, 3, 2])\nnet.params\nlen(net.layers)\nnet[\"layers.1.weight\"].shape\nm = copy(net)\nm[\"layers.1.weight\"][0, 0] = 100\nnet[\"layers.1.weight\"][0, 0] == 100")
        let lines = c.text.split(separator: "\n")
        #expect(lines.first == "23")
        #expect(lines.last == "false")
        c.text = ""
        try c.run("net")
        #expect(c.text.hasPrefix("model Sequential"))
        #expect(c.text.contains("Linear(4 → 3)"))
        #expect(c.text.contains("weight [3, 4], bias [3]"))
    }

    @Test func selfContainingValuesDoNotCrash() throws {
        let c = Captured()
        try c.run("a = [1]\npush(a, a)\nb = copy(a)\nb[1][0]", echo: false)
    }

    @Test func cyclesAreCopiedAndCompareWithAnError() {
        let c = Captured()
        #expect(throws: ScriptError.self) { try c.run("a = [1]\npush(a, a)\nb = copy(a)\nb[1][1][1][0]\na == b") }
        #expect(c.text == "1\n")
        c.text = ""
        #expect(throws: Never.self) { try c.run("r = {}\nr.self = r\nr") }
        #expect(c.text == "{self: {…}}\n")
    }

    @Test func deeplyNestedInterpolationIsAnError() {
        var s = "1"
        for _ in 0..<60 { s = "\"${" + s + "}\"" }
        let (_, errors) = Parser.parse("x = " + s)
        #expect(errors.contains { $0.message.contains("nested too deeply") })
    }

    @Test func copyOfConvolutionalModels() throws {
        guard Builtins.named("cnn") != nil, Builtins.named("lenet5") != nil else { return }
        let c = Captured()
        try c.run("a = cnn()\nb = copy(a)\nb.params == a.params\nb[0].weight[0, 0, 0, 0] = 9\na[0].weight[0, 0, 0, 0] == 9\nlen(copy(lenet5()).layers) == len(lenet5().layers)")
        #expect(c.text == "true\nfalse\ntrue\n")
    }

    /// Not a timed test (timings belong in benchmarks): run with PRUNE_BENCH=1 to see how long a
    /// loop of a million scalar additions takes.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PRUNE_BENCH"] != nil))
    func millionAdditions() throws {
        for (name, source) in [("for, globals", "s = 0\nfor i in 1:1000000; s = s + i; end"),
                               ("while, globals", "i = 0; s = 0\nwhile i < 1000000; i = i + 1; s = s + i; end"),
                               ("for, locals", "def f(n)\n  s = 0\n  for i in 1:n; s = s + i; end\n  return s\nend\nf(1000000)")] {
            let session = testSession(output: { _ in })
            let t0 = monotonicSeconds()
            try session.execute(source)
            print("1M additions (\(name)): \(cFormat("%.1f", (monotonicSeconds() - t0) * 1000)) ms")
        }
    }

    @Test func functionsMoveBetweenSessions() throws {
        let a = Captured(), b = Captured()
        try a.run("k = 1\nunused = 0\ndef f(x); return x + k; end")
        b.session.globals = ["k": .number(100), "g": a.session.globals["f"]!]
        try b.run("g(1)")
        #expect(b.text == "101\n")
    }
}
