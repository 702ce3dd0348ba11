// Fuzzing the language front to back: random token soups and mutations (characters and tokens
// inserted, deleted, swapped) of the golden scripts are parsed and run in-process with a step
// budget. Nothing may crash or hang; errors are fine.
//
// The suite runs 5,000 cases; raise it with
//     PRUNE_FUZZ_COUNT=100000 scripts/test --filter Fuzz
// (PRUNE_FUZZ_SEED picks another sequence of cases.)
import Foundation
import Testing
import Engine
@testable import Script

/// A small deterministic generator (SplitMix64), so every failure can be replayed.
struct FuzzRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
}

enum Fuzz {
    static let vocabulary: [String] = [
        "x", "y", "xs", "t", "f", "g", "net", "r", "i", "n", "print", "len", "range", "copy", "tensor", "zeros", "table",
        "add", "push", "str", "keys", "help", "vars", "time", "param", "type", "randn", "sum", "mean", "abs",
        "0", "1", "2", "-1", "0.5", "3e-4", "1e308", "100", "\"s\"", "\"${x}\"", "\"a${", "\"", "true", "false", "nil",
        "if", "elseif", "else", "end", "for", "in", "while", "def", "return", "break", "continue", "and", "or", "not",
        "+", "-", "*", "/", "^", "%", "@", "==", "!=", "<", "<=", ">", ">=", "=", ":", ",", ".", ";", "(", ")", "[", "]",
        "{", "}", "\n", "\n", "\n", " ", "#", "?", "$", "\\",
    ]
    static let characters: [Character] = Array("()[]{},.;:=+-*/^%@<>!\"#$\\ \n\t0123456789abcxyz_")

    /// Splits source into rough tokens (words, numbers, single symbols, whitespace runs).
    static func roughTokens(_ s: String) -> [String] {
        var out: [String] = []
        var cur = ""
        func flush() { if !cur.isEmpty { out.append(cur); cur = "" } }
        for c in s {
            if c.isLetter || c.isNumber || c == "_" { cur.append(c) } else { flush(); out.append(String(c)) }
        }
        flush()
        return out
    }

    static func mutate(_ source: String, _ rng: inout FuzzRandom) -> String {
        var chars = Array(source)
        var toks = roughTokens(source)
        let rounds = 1 + rng.below(4)
        let byToken = rng.below(2) == 0
        for _ in 0..<rounds {
            if byToken {
                guard !toks.isEmpty else { toks.append(rng.pick(vocabulary)); continue }
                let i = rng.below(toks.count)
                switch rng.below(5) {
                case 0: toks.remove(at: i)
                case 1: toks.insert(rng.pick(vocabulary), at: i)
                case 2: let j = rng.below(toks.count); toks.swapAt(i, j)
                case 3: toks[i] = rng.pick(vocabulary)
                default: toks.insert(toks[i], at: rng.below(toks.count))
                }
            } else {
                guard !chars.isEmpty else { chars.append(rng.pick(characters)); continue }
                let i = rng.below(chars.count)
                switch rng.below(4) {
                case 0: chars.remove(at: i)
                case 1: chars.insert(rng.pick(characters), at: i)
                case 2: let j = rng.below(chars.count); chars.swapAt(i, j)
                default: chars[i] = rng.pick(characters)
                }
            }
        }
        return byToken ? toks.joined() : String(chars)
    }

    static func soup(_ rng: inout FuzzRandom) -> String {
        let n = 1 + rng.below(60)
        return (0..<n).map { _ in rng.pick(vocabulary) }.joined(separator: rng.below(3) == 0 ? "" : " ")
    }

    /// Golden scripts, split into cells (smaller inputs mutate into more varied programs).
    static func corpus() -> [String] {
        var out: [String] = []
        for name in Golden.files() {
            let src = Golden.source(name)
            out.append(src)
            out += Golden.cells(src).map(\.1).filter { $0.count > 20 }
        }
        return out
    }

    /// Parses and runs one case with bounded work; returns how it ended.
    static func run(_ source: String) -> String {
        let session = Session(output: { _ in })
        session.maxElements = 100_000
        // Builtins that touch files or load data sets are out of bounds here.
        for name in ["save", "load", "fashion_mnist", "digits", "export", "plot", "savefig", "run", "include"] {
            if Builtins.named(name) != nil { session.globals[name] = .nil_ }
        }
        var steps = 0
        let deadline = monotonicSeconds() + 2
        session.interruptCheck = {
            steps += 1
            return steps > 5_000 || (steps % 64 == 0 && monotonicSeconds() > deadline)
        }
        _ = Session.isIncomplete(source)
        _ = session.completions(for: source, cursor: source.count / 2)
        do {
            try session.execute(source, file: "fuzz.prune", echo: true)
            return "ok"
        } catch let e as ScriptErrors {
            for err in e.errors { _ = err.render(source: source) }
            return "syntax"
        } catch let e as ScriptError {
            _ = e.render(source: source)
            return e.isInterrupt ? "budget" : "runtime"
        } catch {
            return "other: \(error)"
        }
    }
}

@Suite struct FuzzTests {
    @Test func fuzzMutationsAndSoups() {
        let env = ProcessInfo.processInfo.environment
        let count = env["PRUNE_FUZZ_COUNT"].flatMap(Int.init) ?? 5_000
        let seed = env["PRUNE_FUZZ_SEED"].flatMap(UInt64.init) ?? 12345
        let corpus = Fuzz.corpus()
        #expect(!corpus.isEmpty)
        var rng = FuzzRandom(state: seed)
        var outcomes: [String: Int] = [:]
        var slowest = (0.0, "")
        let start = monotonicSeconds()
        for i in 0..<count {
            let source = i % 4 == 0 ? Fuzz.soup(&rng) : Fuzz.mutate(rng.pick(corpus), &rng)
            let t0 = monotonicSeconds()
            let outcome = Fuzz.run(source)
            let dt = monotonicSeconds() - t0
            if dt > slowest.0 { slowest = (dt, source) }
            outcomes[outcome.hasPrefix("other") ? "other" : outcome, default: 0] += 1
            #expect(!outcome.hasPrefix("other"), "case \(i): \(outcome)\n\(source)")
        }
        let total = monotonicSeconds() - start
        print("fuzz: \(count) cases in \(cFormat("%.1f", total)) s: \(outcomes.sorted { $0.key < $1.key }); slowest \(cFormat("%.3f", slowest.0)) s")
        #expect(slowest.0 < 10, "slowest case:\n\(slowest.1)")
    }
}
