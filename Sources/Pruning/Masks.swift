// The mask operations users apply to whole models: the report of what is pruned, the overall
// sparsity, freezing masks, baking them into the weights, and copying them between models.
import Engine
import NN

public enum Masks {
    /// The report over the default prunable weights plus every masked parameter.
    public static func report(_ model: Module) -> PruningReport {
        let gates = Dictionary(model.namedGates(), uniquingKeysWith: { a, _ in a })
        let chosen = Set(Targets.defaultNames(model)).union(gates.keys)
        let modules = Dictionary(model.namedModules(), uniquingKeysWith: { a, _ in a })
        var layers: [LayerReport] = []
        for (name, p) in model.namedParameters() where chosen.contains(name) {
            let gate = gates[name]
            let nnz = nonzeros(p, gate)
            let path = name.lastIndex(of: ".").map { String(name[..<$0]) } ?? ""
            var dense: Int?, sparse: Int?
            if let layer = modules[path], name.hasSuffix("weight"), layer is Linear || layer is Conv2d {
                let positions = layer.positionsPerSample ?? (layer is Linear ? 1 : nil)
                if let positions { dense = 2 * p.count * positions; sparse = 2 * nnz * positions }
            }
            layers.append(LayerReport(name: name, shape: p.shape, parameters: p.count, requested: gate?.requestedSparsity,
                                      achieved: p.count == 0 ? 0 : 1 - Double(nnz) / Double(p.count), nonzeros: nnz,
                                      method: gate?.method, denseFLOPs: dense, sparseFLOPs: sparse))
        }
        return PruningReport(layers: layers)
    }

    /// Non-zeros of W ⊙ M.
    static func nonzeros(_ p: Tensor, _ gate: WeightGate?) -> Int {
        guard let gate, !gate.isFixed else { return p.nonzeroCount }
        var c = 0
        for i in 0..<p.count where p.data[i] != 0 && gate.mask.data[i] != 0 { c += 1 }
        return c
    }

    /// Sparsity over the model's prunable weights (the report's total).
    public static func sparsity(_ model: Module) -> Double { report(model).achieved }

    /// Makes every mask fixed and frozen: later training keeps pruned weights at exactly 0 and
    /// later pruners only remove more. Returns the number of masks.
    @discardableResult
    public static func freeze(_ model: Module) throws -> Int {
        let params = Dictionary(model.namedParameters(), uniquingKeysWith: { a, _ in a })
        let gates = model.namedGates()
        for (name, gate) in gates {
            if let p = params[name] { gate.makeFixed(p) }
            gate.frozen = true
        }
        return gates.count
    }

    /// Makes the zeros permanent (W ← W ⊙ M) and removes the masks and scores.
    @discardableResult
    public static func bake(_ model: Module) throws -> Int {
        try freeze(model)
        let gates = model.namedGates()
        for (name, _) in gates { try model.setGate(nil, for: name) }
        return gates.count
    }

    /// Copies every mask of `source` onto the parameter of the same name in `target` (fixed and
    /// frozen, the weights zeroed where the mask is 0): an upstream mask carried downstream.
    @discardableResult
    public static func copy(from source: Module, to target: Module) throws -> Int {
        let gates = source.namedGates()
        guard !gates.isEmpty else { throw PruningError.invalid("the source model has no masks") }
        let params = Dictionary(target.namedParameters(), uniquingKeysWith: { a, _ in a })
        for (name, gate) in gates {
            guard let p = params[name] else { throw PruningError.invalid("the target model has no parameter '\(name)'") }
            guard p.shape == gate.mask.shape else {
                throw PruningError.invalid("'\(name)' is \(describe(shape: gate.mask.shape)) in the source but \(describe(shape: p.shape)) in the target")
            }
        }
        for (name, gate) in gates {
            let mask = source.namedParameters().first { $0.0 == name }.map { gate.fixedMask(weight: $0.1) } ?? gate.mask.copy()
            let g = WeightGate(mask: mask, method: gate.method)
            g.frozen = true
            g.requestedSparsity = gate.requestedSparsity
            try target.setGate(g, for: name)
        }
        return gates.count
    }
}
