// A session's state as data: the globals (numbers, strings, lists, records, tables, tensors,
// models, datasets, user functions) and the random generators, written as readable JSON plus
// content-addressed tensor blobs. Sharing survives the round trip (`b = a` stays one list, a
// layer taken from a model stays inside it). Values that cannot be stored (figures, pruners,
// other objects) are left out and named, so the cache can tell whether later code needs them.
import Language
import Bindings
import Engine
import FileIO
import NN
import Data
import Pruning

/// Tensors grouped in one safetensors file named by the hash of their contents.
struct StateBlob {
    var hash: String
    var tensors: [(name: String, tensor: Tensor)]
}

/// A value the state cannot hold.
struct UnstorableValue: Error { var reason: String }

/// The source text of the top-level `def`s of the notebook's cells, read from the script, so
/// that a stored function value is its name and place and comes back by running the script's
/// own `def` again (never code stored in the cache).
struct DefinitionTable {
    /// Key: the function's name, file and where its body starts (see `key(name:position:file:)`).
    var sources: [String: (source: String, firstLine: Int)] = [:]

    /// Where a body starts ("line:column", or "empty").
    static func position(of body: [Stmt]) -> String {
        body.first.map { "\($0.location.line):\($0.location.column)" } ?? "empty"
    }

    static func key(name: String, position: String, file: String) -> String { "\(name)@\(file):\(position)" }

    static func key(name: String, body: [Stmt], file: String) -> String {
        key(name: name, position: position(of: body), file: file)
    }

    /// Records every top-level `def` of a cell: its text runs from its line to the line before
    /// the next top-level statement.
    mutating func record(cell: NotebookCell, file: String) {
        let padded = cell.runnableSource
        let (stmts, errors) = (try? onLargeStack { Parser.parse(padded, file: file) }) ?? ([], [])
        guard errors.isEmpty else { return }
        let lines = padded.split(separator: "\n", omittingEmptySubsequences: false)
        for (i, s) in stmts.enumerated() {
            guard case .def(let name, _, let body) = s.kind else { continue }
            let start = s.location.line
            let end = i + 1 < stmts.count ? stmts[i + 1].location.line - 1 : lines.count
            guard start >= 1, end >= start, end <= lines.count else { continue }
            let text = lines[(start - 1)..<end].joined(separator: "\n")
            sources[DefinitionTable.key(name: name, body: body, file: file)] = (text, start)
        }
    }
}

/// Encodes a session's globals.
struct StateEncoder {
    var definitions: DefinitionTable
    private(set) var blobs: [StateBlob] = []
    private var ids: [ObjectIdentifier: Int] = [:]
    private var keepAlive: [AnyObject] = []
    /// Models inside other stored models: module → (root, dotted path).
    private var owners: [ObjectIdentifier: (root: Module, path: String)] = [:]
    /// Parameters and buffers of stored models: tensor → (root, name).
    private var paramOwners: [ObjectIdentifier: (root: Module, name: String)] = [:]

    init(definitions: DefinitionTable) { self.definitions = definitions }

    /// The state document and the names of globals left out (with why).
    mutating func encode(globals: [(String, Value)], rng: RNG) -> (json: JSON, dropped: [(String, String)]) {
        findOwners(globals.map(\.1))
        var out: [(String, JSON)] = []
        var dropped: [(String, String)] = []
        for (name, value) in globals {
            let saved = (ids, keepAlive, blobs)
            do {
                out.append((name, try encode(value)))
            } catch let e as UnstorableValue {
                (ids, keepAlive, blobs) = saved
                dropped.append((name, e.reason))
            } catch {
                (ids, keepAlive, blobs) = saved
                dropped.append((name, "\(error)"))
            }
        }
        let json = JSON.object([
            ("rng", .array(rng.state.map { .string(String($0)) })),
            ("globals", .object(out)),
        ])
        return (json, dropped)
    }

    /// Every model reachable from the globals; models inside another become references.
    private mutating func findOwners(_ values: [Value]) {
        var models: [Module] = []
        var seen = Set<ObjectIdentifier>()
        func walk(_ v: Value, _ depth: Int) {
            guard depth < 64 else { return }
            switch v {
            case .object(let m as Module): if seen.insert(ObjectIdentifier(m)).inserted { models.append(m) }
            case .list(let l): if seen.insert(ObjectIdentifier(l)).inserted { for x in l.items { walk(x, depth + 1) } }
            case .record(let r): if seen.insert(ObjectIdentifier(r)).inserted { for (_, x) in r.pairs { walk(x, depth + 1) } }
            case .table(let t): if seen.insert(ObjectIdentifier(t)).inserted { for row in t.rows { for (_, x) in row { walk(x, depth + 1) } } }
            default: break
            }
        }
        for v in values { walk(v, 0) }
        var inside = Set<ObjectIdentifier>()
        for m in models { for (path, sub) in m.namedModules() where !path.isEmpty { inside.insert(ObjectIdentifier(sub)) } }
        for root in models where !inside.contains(ObjectIdentifier(root)) {
            for (path, sub) in root.namedModules() where !path.isEmpty { owners[ObjectIdentifier(sub)] = (root, path) }
            for (name, t) in root.namedParameters() + root.namedBuffers() { paramOwners[ObjectIdentifier(t)] = (root, name) }
        }
    }

    /// The id of a reference value, and whether it was seen before.
    private mutating func id(_ object: AnyObject) -> (Int, Bool) {
        let key = ObjectIdentifier(object)
        if let k = ids[key] { return (k, true) }
        let k = ids.count
        ids[key] = k
        keepAlive.append(object)
        return (k, false)
    }

    private func ref(_ k: Int) -> JSON { .object([("t", .string("ref")), ("id", .integer(k))]) }

    mutating func encode(_ v: Value) throws -> JSON {
        switch v {
        case .number(let x):
            if x.isFinite { return .double(x) }
            return .object([("t", .string("number")), ("value", .string(x.isNaN ? "nan" : x > 0 ? "inf" : "-inf"))])
        case .string(let s): return .string(s)
        case .bool(let b): return .bool(b)
        case .nil_: return .null
        case .range(let a, let b): return .object([("t", .string("range")), ("lo", .integer(a)), ("hi", .integer(b))])
        case .list(let l):
            let (k, seen) = id(l)
            if seen { return ref(k) }
            return .object([("t", .string("list")), ("id", .integer(k)), ("items", .array(try l.items.map { try encode($0) }))])
        case .record(let r):
            let (k, seen) = id(r)
            if seen { return ref(k) }
            return .object([("t", .string("record")), ("id", .integer(k)),
                            ("fields", .object(try r.pairs.map { ($0.0, try encode($0.1)) }))])
        case .table(let t):
            let (k, seen) = id(t)
            if seen { return ref(k) }
            var rows: [JSON] = []
            for row in t.rows {
                rows.append(.object(try t.columns.compactMap { c in try row[c].map { (c, try encode($0)) } }))
            }
            return .object([("t", .string("table")), ("id", .integer(k)),
                            ("columns", .array(t.columns.map { .string($0) })), ("rows", .array(rows))])
        case .object(let t as Tensor):
            if let owner = paramOwners[ObjectIdentifier(t)] {
                let root = try encode(.model(owner.root))
                return .object([("t", .string("parameter")), ("model", root), ("name", .string(owner.name))])
            }
            let (k, seen) = id(t)
            if seen { return ref(k) }
            let blob = StateStore.blob([(name: "tensor", tensor: t)])
            blobs.append(blob)
            return .object([("t", .string("tensor")), ("id", .integer(k)), ("blob", .string(blob.hash)),
                            ("requires_grad", .bool(t.requiresGrad))])
        case .object(let m as Module):
            if let owner = owners[ObjectIdentifier(m)] {
                let root = try encode(.model(owner.root))
                return .object([("t", .string("submodel")), ("model", root), ("path", .string(owner.path))])
            }
            let (k, seen) = id(m)
            if seen { return ref(k) }
            return try encodeModel(m, id: k)
        case .object(let d as Dataset):
            let (k, seen) = id(d)
            if seen { return ref(k) }
            let blob = StateStore.datasetBlob(d)
            blobs.append(blob)
            var fields: [(String, JSON)] = [("t", .string("dataset")), ("id", .integer(k)), ("name", .string(d.name)),
                                             ("blob", .string(blob.hash)), ("classes", .integer(d.classes)),
                                             ("class_names", .array(d.classNames.map { .string($0) }))]
            if let r = d.valueRange {
                fields.append(("range_lower", .array(r.lower.map { .double(Double($0)) })))
                fields.append(("range_upper", .array(r.upper.map { .double(Double($0)) })))
            }
            return .object(fields)
        case .function(let f):
            switch f.body {
            case .builtin(let b):
                return .object([("t", .string("builtin")), ("name", .string(b.name))])
            case .user(_, let body, let file):
                let (k, seen) = id(f)
                if seen { return ref(k) }
                guard definitions.sources[DefinitionTable.key(name: f.name, body: body, file: file)] != nil else {
                    throw UnstorableValue(reason: "function \(f.name) was not defined at the top level of a cell")
                }
                return .object([("t", .string("function")), ("id", .integer(k)), ("name", .string(f.name)),
                                ("position", .string(DefinitionTable.position(of: body)))])
            }
        case .object(let o):
            throw UnstorableValue(reason: "\(o.scriptTypeName.first.map { "aeiou".contains($0) } == true ? "an" : "a") \(o.scriptTypeName) cannot be stored")
        }
    }

    private mutating func encodeModel(_ m: Module, id k: Int) throws -> JSON {
        let spec: ModuleSpec
        do { spec = try ModuleCodec.describe(m) } catch let e as LibraryError { throw UnstorableValue(reason: e.message) }
        var tensors = (m.namedParameters() + m.namedBuffers()).map { (name: $0.0, tensor: $0.1) }
        var gates: [(String, JSON)] = []
        for (name, gate) in m.namedGates() {
            tensors.append((name: name + ".mask", tensor: gate.mask))
            if let s = gate.scores { tensors.append((name: name + ".scores", tensor: s)) }
            let transform: JSON = gate.transform.map { t in
                .object([("name", .string(t.name)), ("settings", .object(t.settings.sorted { $0.key < $1.key }.map { ($0.key, .double($0.value)) }))])
            } ?? .null
            gates.append((name, .object([
                ("transform", transform), ("frozen", .bool(gate.frozen)), ("method", .string(gate.method)),
                ("sparsity", gate.requestedSparsity.map { .double($0) } ?? .null),
            ])))
        }
        let blob = StateStore.blob(tensors)
        blobs.append(blob)
        let modules = m.namedModules()
        return .object([
            ("t", .string("model")), ("id", .integer(k)), ("spec", StateStore.specJSON(spec)), ("blob", .string(blob.hash)),
            ("training", .array(modules.map { .bool($0.1.training) })),
            ("positions", .array(modules.map { $0.1.positionsPerSample.map { .integer($0) } ?? .null })),
            ("requires_grad", .array(m.namedParameters().map { .bool($0.1.requiresGrad) })),
            ("gates", .object(gates)),
        ])
    }
}

/// Decodes a state document back into values. Functions come from `definitions` (the
/// script's text), so a stored state can only name code the script has.
struct StateDecoder {
    let session: Session
    /// The notebook whose `def`s the definitions table holds.
    let file: String
    /// Loads the tensors of a blob by hash.
    let loadBlob: (String) throws -> [String: Tensor]
    let definitions: DefinitionTable
    private var objects: [Int: Value] = [:]

    init(session: Session, file: String, definitions: DefinitionTable, loadBlob: @escaping (String) throws -> [String: Tensor]) {
        self.session = session; self.file = file; self.definitions = definitions; self.loadBlob = loadBlob
    }

    struct Malformed: Error, CustomStringConvertible { var description: String }

    /// The globals (in stored order) and the session generator's state.
    mutating func decode(_ json: JSON) throws -> (globals: [(String, Value)], rng: [UInt64]) {
        func words(_ j: JSON?) throws -> [UInt64] {
            guard let a = j?.array, a.count == 4 else { throw Malformed(description: "random state") }
            return try a.map { guard let s = $0.string, let w = UInt64(s) else { throw Malformed(description: "random state") }; return w }
        }
        guard let g = json["globals"]?.pairs else { throw Malformed(description: "no globals") }
        var out: [(String, Value)] = []
        for (name, v) in g { out.append((name, try decode(v))) }
        return (out, try words(json["rng"]))
    }

    private mutating func remember(_ j: JSON, _ v: Value) -> Value {
        if let k = j["id"]?.int { objects[k] = v }
        return v
    }

    mutating func decode(_ j: JSON) throws -> Value {
        switch j {
        case .null: return .nil_
        case .bool(let b): return .bool(b)
        case .integer, .number:
            guard let x = j.number else { throw Malformed(description: "number") }
            return .number(x)
        case .string(let s): return .string(s)
        case .array: throw Malformed(description: "bare array")
        case .object:
            guard let t = j["t"]?.string else { throw Malformed(description: "value without a type") }
            switch t {
            case "number":
                switch j["value"]?.string {
                case "inf": return .number(.infinity)
                case "-inf": return .number(-.infinity)
                default: return .number(.nan)
                }
            case "range":
                guard let a = j["lo"]?.int, let b = j["hi"]?.int else { throw Malformed(description: "range") }
                return .range(a, b)
            case "ref":
                guard let k = j["id"]?.int, let v = objects[k] else { throw Malformed(description: "dangling reference") }
                return v
            case "list":
                let l = ListRef([])
                _ = remember(j, .list(l))
                for item in j["items"]?.array ?? [] { l.items.append(try decode(item)) }
                return .list(l)
            case "record":
                let r = RecordRef()
                _ = remember(j, .record(r))
                for (k, v) in j["fields"]?.pairs ?? [] { r[k] = try decode(v) }
                return .record(r)
            case "table":
                let table = Table()
                _ = remember(j, .table(table))
                table.columns = (j["columns"]?.array ?? []).compactMap(\.string)
                for row in j["rows"]?.array ?? [] {
                    var r: [String: Value] = [:]
                    for (k, v) in row.pairs ?? [] { r[k] = try decode(v) }
                    table.rows.append(r)
                }
                return .table(table)
            case "tensor":
                guard let hash = j["blob"]?.string, let t = try loadBlob(hash)["tensor"] else { throw Malformed(description: "tensor blob") }
                t.requiresGrad = j["requires_grad"]?.bool ?? false
                return remember(j, .tensor(t))
            case "parameter":
                guard case .object(let m as Module) = try decode(j["model"] ?? .null), let name = j["name"]?.string,
                      let p = (m.namedParameters() + m.namedBuffers()).first(where: { $0.0 == name })?.1 else {
                    throw Malformed(description: "parameter reference")
                }
                return .tensor(p)
            case "submodel":
                guard case .object(let m as Module) = try decode(j["model"] ?? .null), let path = j["path"]?.string, let sub = m.module(at: path) else {
                    throw Malformed(description: "layer reference")
                }
                return .model(sub)
            case "model":
                return remember(j, .model(try decodeModel(j)))
            case "dataset":
                guard let hash = j["blob"]?.string, let name = j["name"]?.string, let classes = j["classes"]?.int else {
                    throw Malformed(description: "dataset")
                }
                let tensors = try loadBlob(hash)
                guard let images = tensors["images"], let labels = tensors["labels"] else { throw Malformed(description: "dataset blob") }
                let names = (j["class_names"]?.array ?? []).compactMap(\.string)
                var range: ValueRange?
                if let lo = j["range_lower"]?.array, let hi = j["range_upper"]?.array {
                    range = ValueRange(lower: lo.compactMap(\.number).map(Float.init), upper: hi.compactMap(\.number).map(Float.init))
                }
                let d = try Dataset(name: name, images: images, labels: labels.array.map { Int($0) }, classes: classes, classNames: names,
                                    valueRange: range)
                StateStore.rememberDataset(d, hash: hash)
                return remember(j, .dataset(d))
            case "builtin":
                guard let name = j["name"]?.string, let v = session.builtinValue(name) else { throw Malformed(description: "builtin") }
                return v
            case "function":
                guard let name = j["name"]?.string, let position = j["position"]?.string,
                      let def = definitions.sources[DefinitionTable.key(name: name, position: position, file: file)],
                      def.firstLine >= 1 else {
                    throw Malformed(description: "function \(j["name"]?.string ?? "") is not defined where the state says in \(file)")
                }
                // Running the script's `def` again gives an equal function; the globals are set afterwards.
                let padded = String(repeating: "\n", count: def.firstLine - 1) + def.source
                try session.execute(padded, file: file)
                guard case .function(let f)? = session.globals[name], case .user(_, let body, _) = f.body,
                      DefinitionTable.position(of: body) == position else {
                    throw Malformed(description: "function \(name)")
                }
                return remember(j, .function(f))
            default:
                throw Malformed(description: "unknown value type '\(t)'")
            }
        }
    }

    private func decodeModel(_ j: JSON) throws -> Module {
        guard let specJSON = j["spec"], let spec = StateStore.spec(specJSON), let hash = j["blob"]?.string else {
            throw Malformed(description: "model")
        }
        let m = try ModuleCodec.build(spec, rng: RNG(seed: 0), dropoutRNG: session.rng)
        let tensors = try loadBlob(hash)
        for (name, t) in m.namedParameters() + m.namedBuffers() {
            guard let src = tensors[name], src.shape == t.shape else { throw Malformed(description: "model weights '\(name)'") }
            try t.assign(src)
        }
        for (flag, (_, p)) in zip(j["requires_grad"]?.array ?? [], m.namedParameters()) { p.requiresGrad = flag.bool ?? true }
        let modules = m.namedModules()
        for (flag, (_, sub)) in zip(j["training"]?.array ?? [], modules) { sub.train(flag.bool ?? true) }
        for (pos, (_, sub)) in zip(j["positions"]?.array ?? [], modules) { sub.positionsPerSample = pos.int }
        for (name, g) in j["gates"]?.pairs ?? [] {
            guard let mask = tensors[name + ".mask"] else { throw Malformed(description: "mask of '\(name)'") }
            var transform: GateTransform?
            if let t = g["transform"], let tname = t["name"]?.string {
                var settings: [String: Double] = [:]
                for (k, v) in t["settings"]?.pairs ?? [] { if let x = v.number { settings[k] = x } }
                guard let restored = Methods.restoreTransform(name: tname, settings: settings, rng: session.rng) else {
                    throw Malformed(description: "mask transform '\(tname)' of '\(name)'")
                }
                transform = restored
            }
            let gate = WeightGate(mask: mask, scores: tensors[name + ".scores"], method: g["method"]?.string ?? "mask", transform: transform)
            gate.frozen = g["frozen"]?.bool ?? false
            gate.requestedSparsity = g["sparsity"]?.number
            try m.setGate(gate, for: name)
        }
        return m
    }
}

/// Blob hashing and the module-spec JSON form.
enum StateStore {
    static func blob(_ tensors: [(name: String, tensor: Tensor)]) -> StateBlob {
        var h = ContentHash()
        for (name, t) in tensors {
            h.add(name)
            for d in t.shape { h.add(UInt64(d)) }
            h.add(UnsafeRawBufferPointer(start: t.data, count: t.count * MemoryLayout<Float>.size))
        }
        return StateBlob(hash: h.hex, tensors: tensors)
    }

    /// Datasets are immutable, so their hash is remembered (a few recent ones) instead of being
    /// recomputed over hundreds of megabytes after every cell.
    nonisolated(unsafe) private static var datasetHashes: [(Dataset, String)] = []
    private static let lock = NotebookLock()

    static func rememberDataset(_ d: Dataset, hash: String) {
        lock.locked {
            datasetHashes.removeAll { $0.0 === d }
            datasetHashes.append((d, hash))
            if datasetHashes.count > 16 { datasetHashes.removeFirst() }
        }
    }

    static func knownHash(_ d: Dataset) -> String? { lock.locked { datasetHashes.first(where: { $0.0 === d })?.1 } }

    static func datasetBlob(_ d: Dataset) -> StateBlob {
        let labels = Tensor(vector: d.labels.map(Float.init))
        let tensors: [(name: String, tensor: Tensor)] = [(name: "images", tensor: d.images), (name: "labels", tensor: labels)]
        if let known = knownHash(d) { return StateBlob(hash: known, tensors: tensors) }
        let blob = blob(tensors)
        rememberDataset(d, hash: blob.hash)
        return blob
    }

    static func specJSON(_ s: ModuleSpec) -> JSON {
        var pairs: [(String, JSON)] = [("kind", .string(s.kind))]
        if !s.numbers.isEmpty { pairs.append(("numbers", .object(s.numbers.keys.sorted().map { ($0, .double(s.numbers[$0] ?? 0)) }))) }
        if !s.texts.isEmpty { pairs.append(("texts", .object(s.texts.keys.sorted().map { ($0, .string(s.texts[$0] ?? "")) }))) }
        if !s.children.isEmpty { pairs.append(("children", .array(s.children.map(specJSON)))) }
        return .object(pairs)
    }

    static func spec(_ j: JSON) -> ModuleSpec? {
        guard let kind = j["kind"]?.string else { return nil }
        var s = ModuleSpec(kind: kind)
        for (k, v) in j["numbers"]?.pairs ?? [] { s.numbers[k] = v.number }
        for (k, v) in j["texts"]?.pairs ?? [] { s.texts[k] = v.string }
        for c in j["children"]?.array ?? [] {
            guard let child = spec(c) else { return nil }
            s.children.append(child)
        }
        return s
    }
}
