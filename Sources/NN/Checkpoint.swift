// Checkpoints: a model's parameters and buffers in safetensors, under their dotted names.
import Engine

public enum Checkpoint {
    /// Saves every parameter and buffer of `model` to `path` (atomically), with `metadata`.
    public static func save(_ model: Module, to path: String, metadata: [String: String] = [:]) throws {
        let tensors = (model.namedParameters() + model.namedBuffers()).map { (name: $0.0, tensor: $0.1) }
        try Safetensors.save(tensors, metadata: metadata.merging(["format": "pt", "producer": "prune"]) { a, _ in a }, to: path)
    }

    /// Loads parameters and buffers saved by `save` into `model`, in place. Every tensor of the
    /// model must be in the file with the same shape; extra tensors in the file are an error
    /// unless `strict` is false. Nothing is changed when any check fails.
    @discardableResult
    public static func load(_ model: Module, from path: String, strict: Bool = true) throws -> [String: String] {
        let (tensors, metadata) = try Safetensors.load(path)
        var byName: [String: Tensor] = [:]
        for (name, t) in tensors { byName[name] = t }
        let targets = model.namedParameters() + model.namedBuffers()
        let file = path.split(separator: "/").last.map(String.init) ?? path
        var missing: [String] = []
        for (name, t) in targets {
            guard let src = byName[name] else { missing.append(name); continue }
            guard src.shape == t.shape else {
                throw EngineError("\(file): '\(name)' has shape \(describe(shape: src.shape)) in the file but \(describe(shape: t.shape)) in the model")
            }
        }
        if !missing.isEmpty {
            throw EngineError("\(file): missing \(missing.count) tensor(s) the model needs: \(missing.prefix(5).joined(separator: ", "))\(missing.count > 5 ? ", …" : "")")
        }
        let known = Set(targets.map(\.0))
        let extra = tensors.map(\.name).filter { !known.contains($0) }
        if strict && !extra.isEmpty {
            throw EngineError("\(file): \(extra.count) tensor(s) the model does not have: \(extra.prefix(5).joined(separator: ", "))\(extra.count > 5 ? ", …" : "")")
        }
        for (name, t) in targets { if let src = byName[name] { try t.assign(src) } }
        return metadata
    }
}
