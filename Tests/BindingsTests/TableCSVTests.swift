// CSV export and import of results tables: types round-trip, quoting follows RFC 4180, and
// malformed files give errors with their line.
import Testing
@testable import Language
@testable import Bindings
@testable import Notebooks

@Suite struct TableCSVTests {
    @Test func roundTripKeepsTypes() throws {
        let t = Table()
        t.add([("method", .string("magnitude")), ("keep", .number(0.1)), ("acc", .number(0.8765432101234)), ("ok", .bool(true))])
        t.add([("method", .string("a,\"b\"\nc")), ("keep", .number(1)), ("acc", .nil_), ("ok", .bool(false))])
        t.add([("method", .string("12")), ("keep", .number(-.infinity)), ("acc", .number(1e-12)), ("ok", .string("true"))])
        let text = try t.csv()
        #expect(text.hasPrefix("method,keep,acc,ok\nmagnitude,0.1,0.8765432101234,true\n\"a,\"\"b\"\"\nc\",1,,false\n\"12\",-inf,1e-12,\"true\"\n"))
        let back = try Table.parseCSV(text, file: "t.csv")
        #expect(back.columns == t.columns)
        #expect(back.rows.count == 3)
        for (a, b) in zip(t.rows, back.rows) {
            for c in t.columns { #expect(display(a[c] ?? .nil_) == display(b[c] ?? .nil_), "column \(c)") }
        }
    }

    @Test func readsWhatSpreadsheetsWrite() throws {
        let t = try Table.parseCSV("a,b\r\n1, x \r\n\"q\",2\r\n", file: "s.csv")
        #expect(t.rows.count == 2)
        #expect(display(t.rows[0]["a"] ?? .nil_) == "1" && display(t.rows[0]["b"] ?? .nil_) == "\" x \"")
        #expect(display(t.rows[1]["a"] ?? .nil_) == "\"q\"")
    }

    @Test func malformedFilesSayWhere() {
        let cases: [(String, String)] = [
            ("", "f.csv: empty file"),
            ("a,b\n1,2,3\n", "f.csv:2: 3 fields, but the header has 2"),
            ("a,b\n1,\"2\n", "f.csv:2: a quoted field is not closed"),
            ("a,a\n", "f.csv:1: column 'a' appears twice"),
            ("a,,b\n", "f.csv:1: column 2 has no name"),
            ("a\nx\"y\n", "f.csv:2: a quote inside an unquoted field"),
            ("a\n\"x\"y\n", "f.csv:2: text after a closing quote"),
        ]
        for (text, expected) in cases {
            do {
                _ = try Table.parseCSV(text, file: "f.csv")
                Issue.record("no error for \(text.debugDescription)")
            } catch {
                #expect("\(error)".contains(expected), "\(error) should contain \(expected)")
            }
        }
    }

    @Test func cellsCSVCannotHoldAreRefused() {
        let t = Table()
        t.add([("x", .list(ListRef([])))])
        #expect(throws: BuiltinError.self) { _ = try t.csv() }
    }
}
