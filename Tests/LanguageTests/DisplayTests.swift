// Display of values: numbers, strings, tensors of several ranks, datasets, objects, tables.
import Testing
import TestSupport
import Engine
import NN
import Data
@testable import Language
@testable import Bindings
@testable import Notebooks

/// A stand-in for the objects later parts add (pruners, figures).
final class Probe: ScriptObject {
    var scriptTypeName: String { "probe" }
    var scriptDisplay: String { "<probe k=3>" }
    func scriptField(_ name: String) -> Value? { name == "k" ? .number(3) : nil }
    var scriptFieldNames: [String] { ["k"] }
}

@Suite struct DisplayTests {
    @Test func numbers() {
        let cases: [(Double, String)] = [(3, "3"), (0.5, "0.5"), (1e-5, "1e-05"), (-0.0, "0"), (2.0 / 3, "0.6667"),
                                         (1e15, "1e+15"), (123456789, "123456789"), (.nan, "nan"), (-.infinity, "-inf"),
                                         (3e-4, "0.0003"), (1234567.5, "1234568"), (3.14159, "3.142")]
        for (x, s) in cases { #expect(formatNumber(x) == s, "\(x)") }
    }

    @Test func strings() {
        #expect(display(.string("a\"b\\c\n")) == "\"a\\\"b\\\\c\\n\"")
        #expect(displayRaw(.string("raw")) == "raw")
        #expect(display(.list(ListRef([.string("x"), .number(1)]))) == "[\"x\", 1]")
    }

    @Test func tensors() throws {
        let t = try Tensor(shape: [2, 2, 2], data: [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(display(.tensor(t)) == "tensor [2, 2, 2] float32 [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]")
        let big = try Tensor.zeros([6, 6, 6])
        #expect(display(.tensor(big)).contains("[[0, 0, …, 0, 0], [0, 0, …, 0, 0], …"))
        #expect(display(.tensor(try Tensor.zeros([0, 3]))) == "tensor [0, 3] float32 []")
        #expect(display(.tensor(try Tensor.ones([2]).requiringGrad())) == "tensor [2] float32 (grad) [1, 1]")
        #expect(display(.tensor(Tensor(0.25))) == "tensor [] float32 0.25")
    }

    @Test func datasetsAndObjects() throws {
        let d = try Dataset(name: "toy", images: try Tensor.zeros([4, 1, 2, 2]), labels: [0, 1, 0, 1])
        #expect(display(.dataset(d)) == d.description)
        #expect(display(.list(ListRef([.dataset(d)]))) == "[<dataset toy, 4 samples>]")
        #expect(display(.object(Probe())) == "<probe k=3>")
        let s = testSession(output: { _ in })
        s.globals["d"] = .dataset(d)
        s.globals["p"] = .object(Probe())
        var out = ""
        s.output = { out += $0 }
        try s.execute("d.count\nd.shape\nd.classes\nlen(d)\nd[1].y\np.k\ntype(p)", echo: true)
        #expect(out == "4\n[1, 2, 2]\n2\n4\n1\n3\n\"probe\"\n")
        #expect(s.completions(for: "p.", cursor: 2) == ["k"])
    }

    @Test func modelsNestedAndLeaf() throws {
        let rng = RNG(seed: 1)
        let lin = try Linear(2, 3, rng: rng)
        #expect(display(.model(lin)) == "model Linear(2 → 3): 9 parameters (weight [3, 2], bias [3])")
        #expect(display(.list(ListRef([.model(lin)]))) == "[<model Linear(2 → 3), 9 parameters>]")
    }

    @Test func longTablesAreAbbreviated() {
        let t = Table()
        for i in 0..<100 { t.add([("i", .number(Double(i)))]) }
        let lines = displayTable(t).split(separator: "\n")
        // Header and rule, the first 10 rows, a row of "…", the last 10, and the count.
        #expect(lines.count == 2 + 10 + 1 + 10 + 1)
        #expect(lines[12] == " …")
        #expect(lines[lines.count - 2] == "99")
        #expect(lines.last == "[100 rows × 1 column, 80 not shown]")
    }
}
