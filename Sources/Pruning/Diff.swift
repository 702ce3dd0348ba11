// A model diff (Guo, Rush & Kim 2021): what one task changed in a base model that many tasks
// share, kept apart from it. Sparse changes δ to the base's parameters (θ_task = θ_base + δ),
// plus the tensors the task replaced whole (its new classifier head, and buffers such as
// batch-norm statistics). Saved alone, a diff stores only positions and values.
//
// File layout (safetensors): each changed parameter `w` as the compressed-sparse-row triple of
// sparse checkpoints (w.values, w.col_indices, w.crow_indices; vectors as one row), each replaced
// tensor under its own name, and metadata: prune.kind = "diff", base (the base's fingerprint),
// sparse.w = "csr:<stored shape>", shape.w = the parameter's shape, replaced = the names, head =
// "index,in,out,bias" when the head is new, parameters = the number of entries δ could change.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import FileIO
import NN

public final class ModelDiff {
    /// δ of one parameter: flat indices (ascending) and values, none of them 0.
    public struct Entry: Equatable {
        public let name: String
        public let shape: [Int]
        public let indices: [Int32]
        public let values: [Float]
    }
    /// A new classifier head: the Sequential index it replaces and its size.
    public struct Head: Equatable {
        public let index: Int, inFeatures: Int, outFeatures: Int, bias: Bool
    }

    /// The fingerprint of the base's parameters (`fingerprint(of:excluding:)`).
    public let base: String
    public let entries: [Entry]
    /// Tensors that replace the base's whole (the new head's parameters, buffers).
    public let replaced: [(name: String, tensor: Tensor)]
    public let head: Head?
    /// How many base entries δ could change (the parameters outside a new head).
    public let parameters: Int

    public init(base: String, entries: [Entry], replaced: [(name: String, tensor: Tensor)], head: Head?, parameters: Int) {
        self.base = base; self.entries = entries; self.replaced = replaced; self.head = head; self.parameters = parameters
    }

    /// The number of non-zero entries of δ.
    public var nonzeros: Int { entries.reduce(0) { $0 + $1.values.count } }
    /// Non-zeros over the entries δ could change.
    public var density: Double { Double(nonzeros) / Double(max(parameters, 1)) }
    /// Scalars stored whole (the head, buffers).
    public var replacedCount: Int { replaced.reduce(0) { $0 + $1.tensor.count } }

    /// A fingerprint of `model`'s parameters (names, shapes and bits) except those named in
    /// `excluding`: a diff applies only to the base it was made from.
    public static func fingerprint(of model: Module, excluding: Set<String> = []) -> String {
        var h = ContentHash()
        for (name, p) in model.namedParameters() where !excluding.contains(name) {
            h.add(name)
            for d in p.shape { h.add(UInt64(d)) }
            h.add(UnsafeRawBufferPointer(start: p.data, count: p.count * MemoryLayout<Float>.stride))
        }
        return h.hex
    }

    /// The names of a new head's parameters in `model` (empty without one).
    static func headNames(_ model: Module, head: Head?) -> Set<String> {
        guard let head else { return [] }
        let prefix = "layers.\(head.index)."
        return Set(model.namedParameters().map(\.0).filter { $0.hasPrefix(prefix) })
    }

    /// The task model: a copy of `base` with δ added (θ_base + δ, entry by entry, in Float) and
    /// the replaced tensors written in. Throws when `base` is not the model the diff was made from.
    public func apply(to baseModel: Module) throws -> Module {
        guard baseModel.namedGates().isEmpty else {
            throw PruningError.invalid("the base model has masks; diffs are made from and applied to models without masks")
        }
        let model = try baseModel.clone()
        if let head {
            guard let seq = model as? Sequential, head.index < seq.layers.count, seq.layers[head.index] is Linear else {
                throw PruningError.invalid("the base has no Linear layer at index \(head.index) for the diff's head")
            }
            try seq.replace(at: head.index, with: try Linear(head.inFeatures, head.outFeatures, bias: head.bias, rng: RNG(seed: 0)))
        }
        guard ModelDiff.fingerprint(of: model, excluding: ModelDiff.headNames(model, head: head)) == base else {
            throw PruningError.invalid("this diff was made from another base model (its parameters differ)")
        }
        let tensors = Dictionary(model.namedParameters() + model.namedBuffers(), uniquingKeysWith: { a, _ in a })
        for e in entries {
            guard let p = tensors[e.name], p.shape == e.shape else {
                throw PruningError.invalid("the base has no parameter '\(e.name)' of shape \(describe(shape: e.shape))")
            }
            for (i, v) in zip(e.indices, e.values) {
                let k = Int(i)
                guard k >= 0, k < p.count else { throw PruningError.invalid("index \(k) of '\(e.name)' is outside its \(p.count) entries") }
                p.data[k] = p.data[k] + v
            }
        }
        for (name, t) in replaced {
            guard let p = tensors[name], p.shape == t.shape else {
                throw PruningError.invalid("the model has no tensor '\(name)' of shape \(describe(shape: t.shape))")
            }
            try p.assign(t)
        }
        model.eval()
        return model
    }

    /// Writes the diff to `path` (atomically) and returns the file's size in bytes.
    @discardableResult
    public func save(to path: String) throws -> Int {
        var tensors: [(name: String, tensor: Tensor)] = []
        var integers: [(name: String, tensor: Safetensors.Int32Tensor)] = []
        var metadata = ["format": "pt", "producer": "prune", "prune.kind": "diff", "base": base, "parameters": String(parameters),
                        "replaced": replaced.map(\.name).joined(separator: ",")]
        if let head { metadata["head"] = "\(head.index),\(head.inFeatures),\(head.outFeatures),\(head.bias ? 1 : 0)" }
        for e in entries where !e.values.isEmpty {
            // Vectors are stored as one row, so every parameter has the sparse-checkpoint layout.
            let stored = e.shape.count >= 2 ? e.shape : [1, e.shape.reduce(1, *)]
            let dense = try Tensor.zeros(stored), mask = try Tensor.zeros(stored)
            for (i, v) in zip(e.indices, e.values) { dense.data[Int(i)] = v; mask.data[Int(i)] = 1 }
            guard let encoded = Checkpoint.encodeSparse(e.name, weight: dense, mask: mask) else {
                throw PruningError.invalid("save: the diff of '\(e.name)' cannot be stored sparsely")
            }
            tensors.append((name: e.name + ".values", tensor: encoded.values))
            integers += encoded.integers
            metadata["sparse." + e.name] = encoded.metadata
            metadata["shape." + e.name] = e.shape.map(String.init).joined(separator: ",")
        }
        tensors += replaced
        try Safetensors.save(tensors, integers: integers, metadata: metadata, to: path)
        var info = stat()
        guard stat(path, &info) == 0 else { throw PruningError.invalid("save: cannot read the size of '\(path)'") }
        return Int(info.st_size)
    }

    /// Reads a diff written by `save`, checking every index.
    public static func load(_ path: String) throws -> ModelDiff {
        let (tensors, integers, metadata) = try Safetensors.load(path, integers: true)
        let file = path.split(separator: "/").last.map(String.init) ?? path
        guard metadata["prune.kind"] == "diff", let base = metadata["base"] else {
            throw PruningError.invalid("\(file): not a diff (ModelDiff.save(to:) writes one); load a model with Checkpoint.load(_:from:)")
        }
        func shape(_ text: String) -> [Int]? {
            let dims = text.split(separator: ",").map { Int($0) }
            return dims.isEmpty || dims.contains(where: { $0 == nil || $0! < 0 }) ? nil : dims.map { $0 ?? 0 }
        }
        let byName = Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        let ints = Dictionary(integers.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        var entries: [Entry] = []
        for key in metadata.keys.sorted() where key.hasPrefix("sparse.") {
            let name = String(key.dropFirst(7))
            guard let format = metadata[key], let full = metadata["shape." + name].flatMap(shape) else {
                throw PruningError.invalid("\(file): '\(name)' has no shape in the metadata")
            }
            let storedText = format.hasPrefix("csr:") ? String(format.dropFirst(4)) : ""
            guard let stored = shape(storedText), stored.reduce(1, *) == full.reduce(1, *), full.reduce(1, *) <= Int(Int32.max) else {
                throw PruningError.invalid("\(file): '\(name)' is stored as '\(format)', which does not hold a parameter of shape \(describe(shape: full))")
            }
            let (dense, mask) = try Checkpoint.decodeSparse(name, shape: stored, format: format, values: byName[name + ".values"],
                                                            integers: ints, file: file)
            var indices: [Int32] = [], values: [Float] = []
            for i in 0..<mask.count where mask.data[i] != 0 && dense.data[i] != 0 { indices.append(Int32(i)); values.append(dense.data[i]) }
            entries.append(Entry(name: name, shape: full, indices: indices, values: values))
        }
        var replaced: [(name: String, tensor: Tensor)] = []
        for name in (metadata["replaced"] ?? "").split(separator: ",").map(String.init) {
            guard let t = byName[name] else { throw PruningError.invalid("\(file): the replaced tensor '\(name)' is missing") }
            replaced.append((name, t))
        }
        var head: Head?
        if let text = metadata["head"] {
            let parts = text.split(separator: ",").compactMap { Int($0) }
            guard parts.count == 4, parts[0] >= 0, parts[1] > 0, parts[2] > 0 else { throw PruningError.invalid("\(file): malformed head '\(text)'") }
            head = Head(index: parts[0], inFeatures: parts[1], outFeatures: parts[2], bias: parts[3] != 0)
        }
        guard let parameters = metadata["parameters"].flatMap({ Int($0) }), parameters >= 0 else {
            throw PruningError.invalid("\(file): the metadata has no parameter count")
        }
        return ModelDiff(base: base, entries: entries, replaced: replaced, head: head, parameters: parameters)
    }
}
