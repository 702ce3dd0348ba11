// Storing a session's state: every storable kind of value round-trips, sharing is kept, models
// come back with their architecture, weights and masks; what cannot be stored is named.
import Testing
import TestSupport
import Engine
import FileIO
import NN
@testable import Language
@testable import Bindings
@testable import Notebooks
import Pruning

/// Encodes the session's globals and decodes them into a fresh session, blobs kept in memory.
/// `decodeWith` is the definition table of the script the state is restored for (by default
/// the one it was stored with); `tamper` edits the stored text's JSON.
private func roundTrip(_ s: Session, definitions: DefinitionTable = DefinitionTable(), decodeWith: DefinitionTable? = nil,
                       into t: Session = testSession(output: { _ in }), tamper: (JSON) -> JSON = { $0 }) throws -> (Session, [(String, String)]) {
    var enc = StateEncoder(definitions: definitions)
    let names = s.globalNames, g = s.globals
    let (json, dropped) = enc.encode(globals: names.compactMap { n in g[n].map { (n, $0) } }, rng: s.rng)
    var blobs: [String: [String: Tensor]] = [:]
    for b in enc.blobs { blobs[b.hash] = Dictionary(b.tensors.map { ($0.name, $0.tensor.copy()) }, uniquingKeysWith: { a, _ in a }) }
    // Through text, as the cache stores it.
    guard let parsed = (try? JSON.parse(json.text)).map(tamper) else { throw BuiltinError("state JSON does not parse") }
    var dec = StateDecoder(session: t, file: "nb.prune", definitions: decodeWith ?? definitions) { h in
        guard let b = blobs[h] else { throw BuiltinError("no blob \(h)") }
        return b
    }
    let (globals, rng) = try dec.decode(parsed)
    t.globals = Dictionary(globals, uniquingKeysWith: { a, _ in a })
    t.rng.state = rng
    return (t, dropped)
}

/// A session that ran the one cell of `notebook`, and the definition table of that cell.
private func sessionRunning(_ notebook: String) throws -> (Session, DefinitionTable) {
    let cell = Notebook.cells(notebook)[0]
    let s = testSession(output: { _ in })
    try s.execute(cell.runnableSource, file: "nb.prune")
    var defs = DefinitionTable()
    defs.record(cell: cell, file: "nb.prune")
    return (s, defs)
}

/// A stored state in which every function claims `source` as its code (a "source" member
/// added, or replaced where there is one). Also used by NotebookCacheCorruptionTests.
func forgingFunctionSources(_ j: JSON, _ source: String) -> JSON {
    switch j {
    case .array(let a): return .array(a.map { forgingFunctionSources($0, source) })
    case .object(let pairs):
        var out = pairs.map { ($0.0, forgingFunctionSources($0.1, source)) }
        if j["t"]?.string == "function" {
            out.removeAll { $0.0 == "source" }
            out.append(("source", .string(source)))
        }
        return .object(out)
    default: return j
    }
}

private func eval(_ s: Session, _ code: String) throws -> String {
    guard let v = try s.execute(code, file: "t.prune") else { return "" }
    return display(v)
}

@Suite struct NotebookStateTests {
    @Test func plainValuesAndSharingRoundTrip() throws {
        let s = testSession(output: { _ in })
        try s.execute("""
            n = 1.5
            big = 1e300 * 1e300
            s = "text"
            b = true
            z = nil
            r = 2:5
            xs = [1, "a", [2, 3]]
            ys = xs
            rec = {lr: 0.1, tags: xs}
            t = table()
            add(t, a=1, b="x")
            add(t, a=2)
            """, file: "t.prune")
        let (u, dropped) = try roundTrip(s)
        #expect(dropped.isEmpty)
        for name in ["n", "big", "s", "b", "r", "xs", "rec", "t"] {
            #expect(try eval(u, name) == eval(s, name), "\(name)")
        }
        try u.execute("push(ys, 4)", file: "t.prune")
        #expect(try eval(u, "len(xs)") == "4")
        #expect(try eval(u, "len(rec.tags)") == "4")
        #expect(u.globalNames.contains("z") || u.globals["z"] == nil)
    }

    @Test func tensorsModelsMasksAndLayersRoundTrip() throws {
        let s = testSession(output: { _ in })
        try s.execute("""
            seed(3)
            d = fashion_mnist("test", limit=50)
            net = mlp([784, 16, 10])
            prune(net, pruner("magnitude", keep=0.3))
            first = net.layers[1]
            w = first.weight
            """, file: "t.prune")
        let (u, dropped) = try roundTrip(s)
        #expect(dropped.isEmpty)
        #expect(try eval(u, "accuracy(net, d)") == eval(s, "accuracy(net, d)"))
        #expect(try eval(u, "sum(net.layers[3].weight)") == eval(s, "sum(net.layers[3].weight)"))
        #expect(try eval(u, "sparsity(net)") == eval(s, "sparsity(net)"))
        // The layer and the weight still belong to the restored model.
        try u.execute("w[0, 0] = 100", file: "t.prune")
        #expect(try eval(u, "net.layers[1].weight[0, 0]") == "100")
        #expect(try eval(u, "first.weight[0, 0]") == "100")
        guard case .object(let m as Module)? = u.globals["net"], case .object(let original as Module)? = s.globals["net"] else { Issue.record("no model"); return }
        #expect(!m.namedGates().isEmpty)
        #expect(m.namedGates().map(\.0) == original.namedGates().map(\.0))
        #expect(m.namedGates().map { $0.1.mask.array } == original.namedGates().map { $0.1.mask.array })
        #expect(s.rng.state == u.rng.state)
    }

    /// A model whose gates are still learned (training stopped midway) comes back with the same
    /// transforms, found by name through the method registry, and computes the same outputs.
    @Test func learnedGatesRoundTripByTransformName() throws {
        let s = testSession(output: { _ in })
        try s.execute("""
            seed(1)
            d = fashion_mnist("test", limit=40)
            net = mlp([784, 12, 10])
            """, file: "t.prune")
        guard case .object(let net as Module)? = s.globals["net"] else { Issue.record("no model"); return }
        for (name, method) in [("layers.1.weight", L0.self as any PruningMethod.Type), ("layers.1.bias", STR.self)] {
            var c = PrunerConfig(method, keep: nil)
            c.include = [name]
            try Pruner(c).attach(to: net)
        }
        let (u, dropped) = try roundTrip(s)
        #expect(dropped.isEmpty)
        guard case .object(let m as Module)? = u.globals["net"] else { Issue.record("no model"); return }
        #expect(m.namedGates().map { $0.1.transform?.name } == ["hard_concrete", "soft_threshold"])
        #expect((m.gate(for: "layers.1.weight")?.transform as? HardConcreteGate)?.l == -0.1)
        #expect(try eval(u, "accuracy(net, d)") == eval(s, "accuracy(net, d)"))
    }

    @Test func datasetsRoundTrip() throws {
        let s = testSession(output: { _ in })
        try s.execute("d = fashion_mnist(\"test\", classes=[5, 7], limit=30)", file: "t.prune")
        let (u, _) = try roundTrip(s)
        #expect(try eval(u, "d") == eval(s, "d"))
        #expect(try eval(u, "sum(d.images)") == eval(s, "sum(d.images)"))
        #expect(try eval(u, "d.class_names") == eval(s, "d.class_names"))
    }

    @Test func functionsAreStoredBySource() throws {
        let (s, defs) = try sessionRunning("# %% A\ndef twice(v)\n  return 2 * v\nend\nf = twice\n")
        let (u, dropped) = try roundTrip(s, definitions: defs)
        #expect(dropped.isEmpty)
        #expect(try eval(u, "twice(21)") == "42")
        #expect(try eval(u, "f(4)") == "8")
        #expect(try eval(u, "print") == eval(s, "print"))
    }

    /// A cache travels with its notebook and can be edited: functions come back from the
    /// script's own text (the definition table), never from code stored in the cache.
    @Test func functionsComeBackFromTheScriptNotFromTheCache() throws {
        let (s, defs) = try sessionRunning("# %% A\ndef twice(v)\n  return 2 * v\nend\n")
        let forge = { forgingFunctionSources($0, "print(\"foreign code ran\")\ndef twice(v)\n  return 3 * v\nend") }
        var printed = ""
        let (u, _) = try roundTrip(s, definitions: defs, into: testSession(output: { printed += $0 }), tamper: forge)
        #expect(try eval(u, "twice(21)") == "42")
        #expect(printed.isEmpty, "\(printed)")
        // The script no longer defines it (say the cell was edited): the state is refused.
        printed = ""
        #expect(throws: (any Error).self) {
            _ = try roundTrip(s, definitions: defs, decodeWith: DefinitionTable(), into: testSession(output: { printed += $0 }), tamper: forge)
        }
        #expect(printed.isEmpty, "\(printed)")
    }

    @Test func unstorableValuesAreNamedNotFatal() throws {
        let s = testSession(output: { _ in })
        try s.execute("""
            p = pruner("magnitude", keep=0.5)
            kept = [1, 2]
            mixed = [kept, p]
            """, file: "t.prune")
        let (u, dropped) = try roundTrip(s)
        #expect(Set(dropped.map(\.0)) == ["p", "mixed"])
        #expect(try eval(u, "kept") == "[1, 2]")
    }

    @Test func moduleCodecRebuildsEveryReadyModel() throws {
        let rng = RNG(seed: 1)
        let models: [Module] = [try Models.mlp([784, 20, 10], rng: rng), try Models.cnn(rng: rng), try Models.lenet5(rng: rng),
                                try Models.resnet(widths: [4, 8], blocks: 2, rng: rng),
                                try Models.vit(dim: 16, depth: 2, heads: 2, rng: rng),
                                try Sequential([Dropout(0.2, rng: rng), Residual(Linear(4, 4, rng: rng)), LayerNorm(4), Embedding(3, 4, rng: rng), AvgPool2d(2)])]
        for m in models {
            let spec = try ModuleCodec.describe(m)
            let rebuilt = try ModuleCodec.build(spec, rng: RNG(seed: 9), dropoutRNG: rng)
            #expect(try ModuleCodec.describe(rebuilt) == spec)
            #expect(rebuilt.namedParameters().map(\.0) == m.namedParameters().map(\.0))
            #expect(rebuilt.namedParameters().map(\.1.shape) == m.namedParameters().map(\.1.shape))
            #expect(rebuilt.namedBuffers().map(\.0) == m.namedBuffers().map(\.0))
            #expect(StateStore.spec(StateStore.specJSON(spec)) == spec)
        }
    }

    @Test func unknownLayersAreRefused() {
        final class Custom: Module {}
        #expect(throws: NNError.self) { try ModuleCodec.describe(Sequential([Custom()])) }
    }
}
