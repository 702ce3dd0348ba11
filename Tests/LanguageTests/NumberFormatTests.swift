// Numbers as prune shows them: significant digits (the `digits` option), table columns in one
// format each (pandas-like), counts with thousands separators, "–" for a missing value, long
// tables as head and tail with a count, and the options belonging to the session that set them.
import Testing
import TestSupport
@testable import Language
@testable import Bindings
import FileIO

@Suite struct NumberFormatTests {
    @Test func significantDigits() {
        #expect(formatNumber(2.0 / 3, digits: 4) == "0.6667")
        #expect(formatNumber(2.0 / 3, digits: 6) == "0.666667")
        #expect(formatNumber(3.14159265, digits: 4) == "3.142")
        #expect(formatNumber(0.5, digits: 4) == "0.5")
        #expect(formatNumber(-12.5, digits: 4) == "-12.5")
        #expect(formatNumber(0.000123456, digits: 4) == "0.0001235")
        #expect(formatNumber(1.23456e-5, digits: 4) == "1.235e-05")
        #expect(formatNumber(1e-5, digits: 4) == "1e-05")
        #expect(formatNumber(123456.7, digits: 4) == "123457")
        #expect(formatNumber(1e15, digits: 4) == "1e+15")
        #expect(formatNumber(60000, digits: 4) == "60000")
        #expect(formatNumber(-0.0, digits: 4) == "0")
        #expect(formatNumber(.nan, digits: 4) == "nan")
        #expect(formatNumber(-.infinity, digits: 4) == "-inf")
    }

    @Test func columnsShareOneFormat() {
        func column(_ xs: [Double], _ digits: Int = 4) -> [String] { let c = NumberColumn(xs, digits: digits); return xs.map(c.format) }
        #expect(column([0.912, 0.8]) == ["0.912", "0.800"])
        #expect(column([0.5, 0.1, 0.03]) == ["0.50", "0.10", "0.03"])
        #expect(column([2.302585, 0.0123]) == ["2.3026", "0.0123"])
        #expect(column([1, 2, 123456]) == ["1", "2", "123,456"])
        #expect(column([1477025.3, 538798.9]) == ["1,477,025", "538,799"])
        #expect(column([1e-5, 0.1]) == ["1e-05", "1e-01"])
        #expect(column([1.5e-5, 0.25]) == ["1.5e-05", "2.5e-01"])
        #expect(column([0.5, -0.0]) == ["0.5", "0.0"])
        #expect(column([0.5, .nan]) == ["0.5", "nan"])
        #expect(column([2.0 / 3], 6) == ["0.666667"])
    }

    @Test func countsHaveSeparators() {
        #expect(thousands(0) == "0")
        #expect(thousands(999) == "999")
        #expect(thousands(1000) == "1,000")
        #expect(thousands(-1234567) == "-1,234,567")
        #expect(thousands(Int.min) == "-9,223,372,036,854,775,808")
    }

    @Test func longTablesShowHeadAndTail() {
        let t = Table()
        for i in 0..<100 { t.add([("i", .number(Double(i))), ("x", i == 3 ? .nil_ : .number(Double(i) / 8))]) }
        var o = DisplayOptions()
        o.rows = 6
        let v = TableView(t, options: o)
        #expect(v.head.count == 3 && v.tail.count == 3 && v.hidden == 94)
        #expect(v.head.map { $0[0] } == ["0", "1", "2"] && v.tail.map { $0[0] } == ["97", "98", "99"])
        #expect(v.footer == "[100 rows × 2 columns, 94 not shown]")
        #expect(v.numeric == [0, 1])
        let all = TableView(t)
        #expect(all.head.count == 10 && all.tail.count == 10 && all.hidden == 80)
        #expect(all.head[3][1] == missingText)
        #expect(all.head[1][1] == "0.125")
    }

    @Test func optionsBelongToTheirSession() throws {
        var a = "", b = ""
        let s = testSession(output: { a += $0 }), t = testSession(output: { b += $0 })
        try s.execute("options(digits=8)\n2 / 3", echo: true)
        try t.execute("2 / 3", echo: true)
        #expect(a == "0.66666667\n")
        #expect(b == "0.6667\n")
        // Outside a session's run: the defaults.
        #expect(formatNumber(2.0 / 3) == "0.6667")
    }

    @Test func theOptionsExampleRuns() throws {
        let b = try #require(Builtins.named("options"))
        var out = ""
        let s = testSession(output: { out += $0 })
        try s.execute(b.example, echo: true)
        #expect(out == "0.666667\n{digits: 4, rows: 60}\n")
    }

    /// The model display and summary show the same layer table: counts with separators, "–"
    /// for a layer without parameters; datasets count their samples the same way.
    @Test func modelDisplayAndSummaryAgree() throws {
        var out = ""
        let s = testSession(output: { out += $0 })
        try s.execute("net = mlp([784, 300, 10])\nnet\nsummary(net)\nsynthetic(classes=2, per_class=600, shape=[4])", echo: true)
        let lines = out.split(separator: "\n").map(String.init)
        let layerRows = lines.filter { $0.hasPrefix("  layers.") }
        #expect(layerRows.count == 8, "\(out)")
        #expect(Array(layerRows[0..<4]) == Array(layerRows[4..<8]))
        #expect(layerRows[0].contains("Flatten") && layerRows[0].contains("  –  "), "\(out)")
        #expect(layerRows.contains { $0.hasSuffix("235,500") })
        #expect(lines.contains { $0.hasPrefix("Dataset synthetic") && $0.contains(": 1,200 samples") }, "\(out)")
    }
}
