// Fuzzing the language front to back: random token soups and mutations (characters and tokens
// inserted, deleted, swapped) of the golden scripts are parsed and run in-process with a step
// budget. Nothing may crash or hang; errors are fine.
//
// The same for every builtin (iterating the builtin table) and the tensor operators, called with
// bad values: nil, strings, negative, zero, huge, NaN and infinite numbers, empty and deeply
// nested lists, huge ranges and shapes. Runtime errors must point into the script.
//
// The suite runs 5,000 mutation cases and 2,000 builtin cases; raise both with
//     PRUNE_FUZZ_COUNT=100000 scripts/test --filter Fuzz
// (PRUNE_FUZZ_SEED picks another sequence of cases.)
import FileIO
import Foundation
import Testing
import TestSupport
import Engine
@testable import Language
@testable import Bindings
@testable import Notebooks

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

    /// Builtins that touch files or load data sets: out of bounds for the mutation fuzz.
    static let fileBuiltins = ["save", "load", "fashion_mnist", "digits", "export", "plot", "savefig", "run", "include"]

    /// Parses and runs one case with bounded work; returns how it ended: "ok", "syntax",
    /// "runtime", "budget", "unlocated: …" (a runtime error without a place in the source) or
    /// "other: …" (anything else thrown).
    static func run(_ source: String, disabling disabled: [String] = fileBuiltins) -> String {
        let session = testSession(output: { _ in })
        session.maxElements = 100_000
        session.warn = { _ in }
        for name in disabled where Builtins.named(name) != nil { session.globals[name] = .nil_ }
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
            if e.isInterrupt { return "budget" }
            guard e.file == "fuzz.prune", e.location.line >= 1 else { return "unlocated: \(e)" }
            return "runtime"
        } catch {
            return "other: \(error)"
        }
    }
}

/// Calls of every builtin, and of the tensor operators, with bad values.
enum BuiltinFuzz {
    /// Values no builtin should crash on, as source text. `deep` is a list nested 2,000 deep
    /// (defined before each call).
    static let badValues: [String] = [
        "nil", "\"s\"", "\"\"", "-1", "0", "1e308", "-1e308", "0/0", "1/0", "-1/0", "0.5", "10^15", "true", "{}", "[]",
        "[[]]", String(repeating: "[", count: 30) + String(repeating: "]", count: 30), "deep", "[1, \"a\", nil]",
        "0:10^12", "-10^12:10^12", "[10^9, 10^9]", "[0, 10^14, 10^14]", "[-1, 2]", "[0/0, 1/0]", "zeros([0, 100000])",
        "zeros([100000, 0])", "table()", "print", "randn([3, 3])",
    ]
    static let prefix = "deep = []; for i in 1:2000 deep = [deep] end\n"
    /// Builtins that load a data set: only values that fail before anything is read.
    static let loaders: Set<String> = ["fashion_mnist", "digits"]
    static let fastFailing = ["\"s\"", "-1", "0", "1e308", "0/0", "true", "{}", "[10^9, 10^9]"]

    /// Whether a string argument could make `b` write (or run) a file.
    static func takesPaths(_ b: Builtin) -> Bool {
        b.name == "run" || b.params.contains { ["file", "path", "to"].contains($0.name) }
    }

    /// Every single-fault call: each bad value as the first argument, as the first two, and
    /// as each keyword.
    static func calls() -> [String] {
        var out: [String] = []
        for b in Builtins.all {
            if loaders.contains(b.name) {
                out += fastFailing.map { "\(b.name)(\($0))" }
                continue
            }
            for v in badValues {
                if v.hasPrefix("\"") && takesPaths(b) { continue }
                out.append("\(b.name)(\(v))")
                out.append("\(b.name)(\(v), \(v))")
                for p in b.params { out.append("\(b.name)(\(p.name)=\(v))") }
            }
        }
        return out
    }

    /// The tensor operators on extreme shapes.
    static func operatorCalls() -> [String] {
        let shapes = ["[]", "[0]", "[1]", "[3]", "[100000, 1]", "[1, 100000]", "[0, 100000]", "[100000, 0]", "[2, 0, 3]",
                      "[40000, 40000, 0]", "[1, 1, 1, 1, 1, 1, 1, 1]"]
        var out: [String] = []
        for a in shapes { for b in shapes { for op in ["+", "-", "*", "/", "@", ">", "==", "^", "%"] {
            out.append("zeros(\(a)) \(op) ones(\(b))")
        } } }
        for a in shapes { for f in ["sum", "mean", "max", "min", "abs", "transpose", "shape", "len", "str", "copy"] {
            out.append("\(f)(zeros(\(a)))")
            out.append("\(f)(zeros(\(a)), axis=0)")
        } }
        return out
    }

    /// A random call with bad values in two places.
    static func combination(_ rng: inout FuzzRandom) -> String {
        let builtins = Builtins.all.filter { !loaders.contains($0.name) && !$0.params.isEmpty }
        let b = rng.pick(builtins)
        let values = takesPaths(b) ? badValues.filter { !$0.hasPrefix("\"") } : badValues
        let p = rng.pick(b.params), q = rng.pick(b.params)
        let args = p.name == q.name ? "\(p.name)=\(rng.pick(values))" : "\(p.name)=\(rng.pick(values)), \(q.name)=\(rng.pick(values))"
        return rng.below(2) == 0 ? "\(b.name)(\(args))" : "\(b.name)(\(rng.pick(values)), \(args))"
    }
}

@Suite struct FuzzTests {
    /// Every builtin and operator with bad values: no crash, no hang, and every runtime error
    /// located in the script. The suite runs a sample of 2,000 of the fixed cases; with
    /// PRUNE_FUZZ_COUNT set, all of them and random two-fault calls up to that count.
    @Test func fuzzBuiltinsAndOperatorsWithBadValues() {
        let env = ProcessInfo.processInfo.environment
        let requested = env["PRUNE_FUZZ_COUNT"].flatMap(Int.init)
        var rng = FuzzRandom(state: env["PRUNE_FUZZ_SEED"].flatMap(UInt64.init) ?? 777)
        let fixed = BuiltinFuzz.calls() + BuiltinFuzz.operatorCalls()
        var cases: [String]
        if let requested {
            cases = fixed
            while cases.count < requested { cases.append(BuiltinFuzz.combination(&rng)) }
        } else {
            let stride = Swift.max(1, fixed.count / 2_000)
            cases = Swift.stride(from: rng.below(stride), to: fixed.count, by: stride).map { fixed[$0] }
        }
        var outcomes: [String: Int] = [:]
        var slowest = (0.0, "")
        let start = monotonicSeconds()
        for (i, call) in cases.enumerated() {
            let t0 = monotonicSeconds()
            let outcome = Fuzz.run(BuiltinFuzz.prefix + call, disabling: [])
            let dt = monotonicSeconds() - t0
            if dt > slowest.0 { slowest = (dt, call) }
            let kind = outcome.hasPrefix("other") || outcome.hasPrefix("unlocated") ? String(outcome.prefix { $0 != ":" }) : outcome
            outcomes[kind, default: 0] += 1
            #expect(!outcome.hasPrefix("other") && !outcome.hasPrefix("unlocated"), "case \(i): \(outcome)\n\(call)")
        }
        print("builtin fuzz: \(cases.count) of \(fixed.count) fixed cases in \(cFormat("%.1f", monotonicSeconds() - start)) s: \(outcomes.sorted { $0.key < $1.key }); slowest \(cFormat("%.3f", slowest.0)) s: \(slowest.1)")
        #expect(slowest.0 < 10, "slowest case: \(slowest.1)")
    }

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
