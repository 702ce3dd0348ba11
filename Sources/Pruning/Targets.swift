// Which parameters a pruner prunes: Linear and Conv weights by default, chosen by name pattern
// otherwise.
import Engine
import NN

/// A prunable parameter: its dotted name and tensor.
public struct PruneTarget {
    public let name: String
    public let weight: Tensor
    /// The layer that owns it (for FLOP counts).
    public let layer: Module
}

public enum Targets {
    /// The dotted names of the weights pruned by default: every Linear and Conv2d weight except
    /// the final classifier (the last Linear layer of the model). Biases, norms, embeddings and
    /// positional parameters are left alone unless asked for by pattern.
    public static func defaultNames(_ model: Module) -> [String] {
        let weighted = model.namedModules().filter { $0.1 is Linear || $0.1 is Conv2d }
        let head = classifier(model)
        return weighted.filter { $0.0 != head }.map { $0.0.isEmpty ? "weight" : $0.0 + ".weight" }
    }

    /// The path of the final classifier (`Module.classifier`): none for a model without a head
    /// (a bare text encoder). For a BERT classifier the defaults are thus the
    /// encoder's query, key, value, attention-output and feed-forward weights, the matrices
    /// Movement Pruning prunes, and not its embeddings.
    public static func classifier(_ model: Module) -> String? { model.classifier?.path }

    /// The targets chosen by `include` (glob patterns over dotted parameter names; empty: the
    /// defaults) minus those matching `exclude`. Every pattern must match some parameter.
    public static func select(_ model: Module, include: [String], exclude: [String]) throws -> [PruneTarget] {
        let params = model.namedParameters()
        for pattern in include + exclude where !params.contains(where: { globMatch($0.0, pattern) }) {
            let names = params.map(\.0)
            throw PruningError.invalid("the pattern '\(pattern)' matches no parameter of the model (it has \(names.prefix(6).joined(separator: ", "))\(names.count > 6 ? ", …" : ""))")
        }
        let chosen: Set<String>
        if include.isEmpty {
            chosen = Set(defaultNames(model))
        } else {
            chosen = Set(params.map(\.0).filter { name in include.contains { globMatch(name, $0) } })
        }
        let modules = Dictionary(model.namedModules(), uniquingKeysWith: { a, _ in a })
        var targets: [PruneTarget] = []
        for (name, p) in params where chosen.contains(name) && !exclude.contains(where: { globMatch(name, $0) }) {
            let path = name.lastIndex(of: ".").map { String(name[..<$0]) } ?? ""
            guard let layer = modules[path] else { continue }
            targets.append(PruneTarget(name: name, weight: p, layer: layer))
        }
        if targets.isEmpty {
            throw PruningError.invalid("nothing to prune: no parameter is selected (include \(include), exclude \(exclude))")
        }
        return targets
    }
}
