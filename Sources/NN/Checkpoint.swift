// Checkpoints: a model's parameters and buffers in safetensors, under their dotted names.
import Engine

public enum Checkpoint {
    /// Saves every parameter and buffer of `model` to `path` (atomically), with `metadata`.
    /// Pruning masks and scores go beside their parameter as `<name>.mask` and `<name>.scores`.
    /// With `sparse`, each weight whose mask is fixed is stored as its kept values and their
    /// indices instead (Checkpoint+Sparse.swift), so the file shrinks with the density.
    public static func save(_ model: Module, to path: String, metadata: [String: String] = [:], sparse: Bool = false) throws {
        var tensors = (model.namedParameters() + model.namedBuffers()).map { (name: $0.0, tensor: $0.1) }
        var integers: [(name: String, tensor: Safetensors.Int32Tensor)] = []
        var metadata = metadata
        // The architecture, when every layer is one the codec knows, so `load(path)` can
        // rebuild the model itself.
        if metadata[architectureKey] == nil, let spec = try? ModuleCodec.describe(model) { metadata[architectureKey] = spec.text }
        for (name, gate) in model.namedGates() {
            if sparse, gate.isFixed, let i = tensors.firstIndex(where: { $0.name == name }),
               let encoded = encodeSparse(name, weight: tensors[i].tensor, mask: gate.mask) {
                tensors[i] = (name: name + ".values", tensor: encoded.values)
                integers += encoded.integers
                metadata[sparseKey(name)] = encoded.metadata
            } else {
                tensors.append((name: name + ".mask", tensor: gate.mask))
            }
            if let s = gate.scores { tensors.append((name: name + ".scores", tensor: s)) }
            if let r = gate.requestedSparsity { metadata["sparsity." + name] = String(r) }
        }
        try Safetensors.save(tensors, integers: integers,
                             metadata: metadata.merging(["format": "pt", "producer": "prune"]) { a, _ in a }, to: path)
    }

    /// The metadata key holding the model's architecture (`ModuleSpec.text`).
    public static let architectureKey = "architecture"

    /// What a non-strict load left out: tensors of the file the model has no place for (by their
    /// names in the file) and tensors of the model the file did not have (kept as they were).
    public struct Skipped: Equatable, Sendable {
        public var unused: [String] = []
        public var missing: [String] = []
        public var isEmpty: Bool { unused.isEmpty && missing.isEmpty }
        public init(unused: [String] = [], missing: [String] = []) { self.unused = unused; self.missing = missing }
    }

    /// Rebuilds the model a file saved by `save` came from (its architecture is in the
    /// metadata) and loads its weights and masks. Throws, saying so, for a file without one.
    public static func loadModel(from path: String, rng: RNG, warn: (String) -> Void = { _ in }) throws -> Module {
        let (_, metadata) = try Safetensors.load(path)
        let file = path.split(separator: "/").last.map(String.init) ?? path
        guard let text = metadata[architectureKey] else {
            throw NNError("\(file) holds no architecture (Checkpoint.save records one only for layers ModuleCodec knows); build the model and load the weights into it with Checkpoint.load(_:from:)")
        }
        let spec: ModuleSpec
        do { spec = try ModuleSpec(text: text) } catch let e as NNError { throw NNError("\(file): \(e.message)") }
        let model = try ModuleCodec.build(spec, rng: rng, dropoutRNG: rng)
        try load(model, from: path, warn: warn)
        return model
    }

    /// Loads parameters and buffers saved by `save` into `model`, in place. Every tensor of the
    /// model must be in the file with the same shape; extra tensors in the file are an error
    /// unless `strict` is false. Masks in the file (`<name>.mask`, with `<name>.scores`) become
    /// the model's fixed masks, replacing any it had. Nothing is changed when any check fails.
    /// A requested sparsity in the metadata (`sparsity.<name>`) that is not a number in [0, 1]
    /// is ignored, and `warn` is told why.
    ///
    /// `rename` maps each name in the file to the model's name for it (PyTorch's `0.weight` to
    /// `layers.1.weight`). With `strict` false, a tensor of the model the file lacks keeps its
    /// value; `skipped` is told what was left out either way.
    @discardableResult
    public static func load(_ model: Module, from path: String, strict: Bool = true,
                            rename: ((String) throws -> String)? = nil,
                            skipped: ((Skipped) -> Void)? = nil,
                            warn: (String) -> Void = { _ in }) throws -> [String: String] {
        var (tensors, integers, metadata) = try Safetensors.load(path, integers: true)
        var originalName: [String: String] = [:]
        if let rename {
            var seen: [String: String] = [:]
            for i in tensors.indices {
                let new = try rename(tensors[i].name)
                if let other = seen[new] {
                    throw NNError("\(path.split(separator: "/").last.map(String.init) ?? path): '\(other)' and '\(tensors[i].name)' are both renamed to '\(new)'")
                }
                seen[new] = tensors[i].name
                originalName[new] = tensors[i].name
                tensors[i].name = new
            }
            for i in integers.indices { integers[i].name = try rename(integers[i].name) }
        }
        var byName: [String: Tensor] = [:]
        for (name, t) in tensors { byName[name] = t }
        let targets = model.namedParameters() + model.namedBuffers()
        let file = path.split(separator: "/").last.map(String.init) ?? path
        // Weights saved sparsely become the dense weight and its mask, as a dense file has them.
        var known = Set<String>()
        let integersByName = Dictionary(integers.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        for (name, t) in targets where byName[name] == nil {
            guard let format = metadata[sparseKey(name)] else { continue }
            let (weight, mask) = try decodeSparse(name, shape: t.shape, format: format, values: byName[name + ".values"],
                                                  integers: integersByName, file: file)
            byName[name] = weight
            byName[name + ".mask"] = mask
            known.formUnion([name + ".values", name + ".col_indices", name + ".crow_indices"])
        }
        var missing: [String] = []
        for (name, t) in targets {
            guard let src = byName[name] else { missing.append(name); continue }
            guard src.shape == t.shape else {
                throw NNError("\(file): '\(name)' has shape \(describe(shape: src.shape)) in the file but \(describe(shape: t.shape)) in the model")
            }
        }
        if !missing.isEmpty && strict {
            throw NNError("\(file): missing \(missing.count) tensor(s) the model needs: \(missing.prefix(5).joined(separator: ", "))\(missing.count > 5 ? ", …" : "")")
        }
        // Masks and scores of parameters the model has, checked before anything changes.
        let paramShapes = Dictionary(model.namedParameters().map { ($0.0, $0.1.shape) }, uniquingKeysWith: { a, _ in a })
        var gates: [(String, WeightGate)] = []
        known.formUnion(targets.map(\.0))
        for (name, shape) in paramShapes.sorted(by: { $0.key < $1.key }) {
            guard let mask = byName[name + ".mask"] else { continue }
            guard mask.shape == shape else {
                throw NNError("\(file): '\(name).mask' has shape \(describe(shape: mask.shape)) but the parameter has \(describe(shape: shape))")
            }
            for i in 0..<mask.count where mask.data[i] != 0 && mask.data[i] != 1 {
                throw NNError("\(file): '\(name).mask' holds \(mask.data[i]); a mask holds only 0 and 1")
            }
            let scores = byName[name + ".scores"]
            if let scores, scores.shape != shape {
                throw NNError("\(file): '\(name).scores' has shape \(describe(shape: scores.shape)) but the parameter has \(describe(shape: shape))")
            }
            let gate = WeightGate(mask: mask.copy(), scores: scores?.copy(), method: "loaded")
            if let text = metadata["sparsity." + name] {
                if let r = Double(text), r >= 0, r <= 1 {
                    gate.requestedSparsity = r
                } else {
                    warn("\(file): ignoring metadata 'sparsity.\(name)' = '\(text)': a requested sparsity is a number in [0, 1]")
                }
            }
            gates.append((name, gate))
            known.insert(name + ".mask"); if scores != nil { known.insert(name + ".scores") }
        }
        let extra = (tensors.map(\.name) + integers.map(\.name)).filter { !known.contains($0) }
        if strict && !extra.isEmpty {
            throw NNError("\(file): \(extra.count) tensor(s) the model does not have: \(extra.prefix(5).joined(separator: ", "))\(extra.count > 5 ? ", …" : "")")
        }
        skipped?(Skipped(unused: extra.map { originalName[$0] ?? $0 }, missing: missing))
        for (name, t) in targets { if let src = byName[name] { try t.assign(src) } }
        for (name, _) in model.namedGates() { try model.setGate(nil, for: name) }
        for (name, gate) in gates { try model.setGate(gate, for: name) }
        return metadata
    }
}
