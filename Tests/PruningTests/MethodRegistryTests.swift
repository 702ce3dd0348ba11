// The method registry and the declarations every method makes: well-formed parameters, the
// README's method table current, settings checked against their domains, errors that name the
// problem in the library's words.
import Foundation
import Testing
import Engine
import NN
@testable import Pruning

@Suite struct MethodRegistryTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md")

    /// The README's method table is `Methods.markdownTable()`; with PRUNE_WRITE_METHOD_TABLE=1
    /// (scripts/method-table) this test writes it instead of checking it.
    @Test func readmeMethodTableIsCurrent() throws {
        let text = try String(contentsOf: Self.readme, encoding: .utf8)
        let begin = "<!-- methods:begin -->\n", end = "<!-- methods:end -->"
        guard let b = text.range(of: begin), let e = text.range(of: end), b.upperBound <= e.lowerBound else {
            Issue.record("README.md has no methods:begin/end markers"); return
        }
        let table = Methods.markdownTable()
        if ProcessInfo.processInfo.environment["PRUNE_WRITE_METHOD_TABLE"] == "1" {
            let updated = String(text[..<b.upperBound]) + table + String(text[e.lowerBound...])
            try updated.write(to: Self.readme, atomically: true, encoding: .utf8)
            return
        }
        #expect(String(text[b.upperBound..<e.lowerBound]) == table, "README's method table is stale: run scripts/method-table")
    }

    @Test func declarationsAreWellFormed() throws {
        let shared: Set = ["method", "keep", "sparsity", "schedule", "scope", "granularity", "every", "warmup", "cooldown",
                           "include", "exclude", "seed"]
        #expect(Set(Methods.names).count == Methods.all.count, "method names are unique")
        for m in Methods.all {
            let names = m.parameters.map(\.name)
            #expect(Set(names).count == names.count, "\(m.name): parameter names are unique")
            #expect(Set(names).isDisjoint(with: shared), "\(m.name): no parameter shadows a shared keyword")
            for p in m.parameters {
                #expect(throws: Never.self, "\(m.name).\(p.name)'s default lies in its domain") { try p.check(p.defaultValue) }
                #expect(!p.help.isEmpty, "\(m.name).\(p.name) has help")
            }
            #expect(!m.summary.isEmpty)
            // Every method builds a pruner with its defaults (a target where it takes one).
            #expect(throws: Never.self) { _ = try Pruner(PrunerConfig(m, keep: m.target == .keep ? 0.5 : nil)) }
            #expect(m.schedules.isEmpty || m.schedules.contains(m.defaultSchedule.kind), "\(m.name)'s default schedule is one it accepts")
        }
    }

    @Test func settingsAreCheckedAgainstTheirDomains() throws {
        var c = PrunerConfig(SoftMovement.self, keep: nil)
        try c.set("lambda", 10)
        #expect(c.settings.number("lambda") == 10 && c.settings.explicit == ["lambda"])
        #expect(throws: PruningError.invalidParameter(name: "threshold", value: .number(1), expected: "in (0, 1)")) { try c.set("threshold", 1) }
        #expect(throws: PruningError.invalidParameter(name: "lambda", value: .number(-1), expected: "≥ 0")) { try c.set("lambda", -1) }
        #expect(throws: PruningError.invalidParameter(name: "score_optimizer", value: .text("rmsprop"), expected: "one of \"adam\", \"sgd\"")) {
            try c.set("score_optimizer", "rmsprop")
        }
        var l = PrunerConfig(Lottery.self, keep: 0.5)
        #expect(throws: PruningError.invalidParameter(name: "rounds", value: .number(2.5), expected: "a whole number in 1...100")) { try l.set("rounds", 2.5) }
        #expect(throws: PruningError.unknownParameter(name: "lambda", method: "lottery", known: ["rounds", "rewind"])) { try l.set("lambda", 1) }
        #expect(throws: PruningError.unknownMethod("magnitde", known: Methods.names)) { _ = try PrunerConfig(named: "magnitde", keep: 0.5) }
    }

    @Test func libraryErrorsSpeakNoScriptSyntax() throws {
        let net = try model()
        var messages: [String] = []
        func record(_ body: () throws -> Void) { do { try body() } catch { messages.append("\(error)") } }
        record { _ = try Pruner(PrunerConfig(Magnitude.self, keep: nil)) }
        record { _ = try Pruner(PrunerConfig(SoftMovement.self, keep: 0.1)) }
        record { try Pruner(PrunerConfig(Taylor.self, keep: 0.5)).pruneOnce(net, data: nil) }
        record { try Pruner(PrunerConfig(Movement.self, keep: 0.5)).pruneOnce(net, data: nil) }
        record { var c = PrunerConfig(Movement.self, keep: 0.5); c.schedule.kind = .oneshot; _ = try Pruner(c) }
        record { var c = PrunerConfig(SNIP.self, keep: 0.5); c.schedule.kind = .cubic; _ = try Pruner(c) }
        #expect(messages.count == 6)
        for m in messages { #expect(!m.contains("=") && !m.contains("(net"), "\(m)") }
    }
}
