// Language-level hardening (issue 25): CSV headers with a byte-order mark, errors from builtins
// that call other builtins located at the user's call, and limits on what builtins return.
import Testing
import TestSupport
import Engine
@testable import Language
@testable import Bindings
@testable import Notebooks

@Suite struct HardeningScriptTests {
    @Test func csvByteOrderMarkIsNotPartOfTheFirstColumn() throws {
        let t = try Table.parseCSV("\u{FEFF}a,b\n1,2\n", file: "bom.csv")
        #expect(t.columns == ["a", "b"])
        #expect(display(t.rows[0]["a"] ?? .nil_) == "1")
    }

    @Test func errorsOfNestedBuiltinCallsPointAtTheUsersCall() throws {
        let c = Captured()
        let source = "d = synthetic(classes=2, per_class=2, shape=[1, 4, 4])\nshow(d, cols=-1)"
        do {
            try c.run(source)
            Issue.record("show(cols=-1) did not fail")
        } catch let e as ScriptError {
            let text = e.render(source: source)
            #expect(text.hasPrefix("test.prune:2:1: error: "), "\(text)")
            #expect(!text.contains("<call>") && !text.contains("images: images:"), "\(text)")
        }
    }

    @Test func builtinsCannotReturnStringsPastTheLimit() throws {
        let c = Captured()
        c.session.maxElements = 1000
        do {
            try c.run("s = \"abcdefgh\"\nfor i in 1:20\n  s = str([s, s])\nend")
            Issue.record("str doubling was not stopped")
        } catch let e as ScriptError {
            #expect(e.message.contains("too long"), "\(e.message)")
            #expect(e.location.line == 3, "\(e)")
        }
    }

    @Test func rangesExpandOnlyUpToTheLimit() throws {
        let c = Captured()
        c.session.maxElements = 1000
        for code in ["sum(0:5000)", "mean(0:5000)", "max(1:5000)", "zeros(1:5000)", "tensor(1:5000)"]  {
            do {
                try c.run(code)
                Issue.record("\(code) expanded a range past the limit")
            } catch let e as ScriptError {
                #expect(e.location.line >= 1, "\(code): \(e)")
            }
        }
        try c.run("sum(1:1000)")
        #expect(c.text.hasSuffix("500500\n"), "\(c.text)")
    }
}
