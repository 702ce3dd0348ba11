// Where tutorials write: plots/ beside tutorials/ (from the script's own path, wherever prune was
// started), or --set out=DIR; a quick run writes to plots/quick/, never over the committed
// full-run figures. Checked on every tutorial's own lines, and here() on its own.
import Foundation
import Testing
import TestSupport
@testable import Language
@testable import Bindings
@testable import Notebooks

@Suite struct TutorialOutputTests {
    static let tutorials = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tutorials").path
    static let names = ((try? FileManager.default.contentsOfDirectory(atPath: tutorials)) ?? []).filter { $0.hasSuffix(".prune") }.sorted()

    /// The folder a tutorial's `out` names with these settings: its `quick` and `out` lines run
    /// as they would in the tutorial (same file name, so here() sees the same folder).
    func out(_ name: String, settings: [String: String]) throws -> String {
        let path = TutorialOutputTests.tutorials + "/" + name
        let source = try String(contentsOfFile: path, encoding: .utf8)
        let lines = source.split(separator: "\n").filter { $0.hasPrefix("quick = ") || $0.hasPrefix("out = ") }
        #expect(lines.count == 2, "\(name) defines quick and out once each: \(lines)")
        let s = testSession(output: { _ in }, settings: settings)
        guard case .string(let o)? = try s.execute(lines.joined(separator: "\n") + "\nout", file: path) else { return "" }
        return o
    }

    @Test func tutorialsWriteBesideThemselvesAndQuickRunsNeverOverwriteThePlots() throws {
        #expect(TutorialOutputTests.names.count >= 7)
        let plots = TutorialOutputTests.tutorials + "/../plots"
        for name in TutorialOutputTests.names {
            #expect(try out(name, settings: [:]) == plots, "\(name)")
            #expect(try out(name, settings: ["quick": "true"]) == plots + "/quick", "\(name)")
            #expect(try out(name, settings: ["quick": "true", "out": "/tmp/x"]) == "/tmp/x", "\(name)")
            // Every file a tutorial writes goes under out (or /tmp): no path of its own to plots/.
            let source = try String(contentsOfFile: TutorialOutputTests.tutorials + "/" + name, encoding: .utf8)
            let code = source.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
            #expect(!code.contains { $0.contains("\"plots/") || $0.contains("\"plots\"") }, "\(name) writes to plots/ directly")
        }
    }

    @Test func hereIsTheScriptsFolder() throws {
        let s = testSession(output: { _ in })
        func here(_ arg: String, in file: String) throws -> String? {
            if case .string(let p)? = try s.execute("here(\(arg))", file: file) { return p }
            return nil
        }
        #expect(try here("\"../plots\"", in: "tutorials/01.prune") == "tutorials/../plots")
        #expect(try here("", in: "/work/x/a.prune") == "/work/x")
        #expect(try here("\"/abs/p\"", in: "tutorials/01.prune") == "/abs/p")
        #expect(try here("\"a.png\"", in: "/a.prune") == "/a.png")
        // At the prompt and in a script without a folder: relative to the current folder.
        #expect(try here("\"plots\"", in: "<stdin>:3") == "plots")
        #expect(try here("\"plots\"", in: "script.prune") == "plots")
        #expect(try here("", in: "<command line>") == ".")
    }
}
