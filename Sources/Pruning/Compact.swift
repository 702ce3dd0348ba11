// compact(net): the physically smaller dense model. Every unit whose producing slices are all
// zero (its weight row, bias, batch-norm scale and shift) outputs exactly zero, so removing it
// with the slices that read it leaves the outputs unchanged. The new model has fewer channels and
// neurons, the same layer names, and the remaining masks (an element mask inside a kept unit
// stays).
import FileIO
import Engine
import NN

/// What `compact` removed, per group.
public struct Compaction {
    public let model: Module
    /// Per group: its name, units before and after.
    public let groups: [(name: String, before: Int, after: Int)]
}

extension Structure {
    /// For each unit of `group`: whether it is removed (every producing slice exactly zero).
    /// Masks must be fixed (learned masks are fixed first by finishing the pruner).
    public static func deadUnits(_ model: Module, _ group: UnitGroup) throws -> [Bool] {
        let params = Dictionary(model.namedParameters(), uniquingKeysWith: { a, _ in a })
        let gates = Dictionary(model.namedGates(), uniquingKeysWith: { a, _ in a })
        var dead = [Bool](repeating: true, count: group.units)
        var silenced = [Bool](repeating: false, count: group.units)
        for slice in group.gates {
            guard let t = params[slice.name], t.count == group.units else { continue }
            for u in 0..<group.units where t.data[u] == 0 { silenced[u] = true }
        }
        for slice in group.producers {
            guard let t = params[slice.name] else { throw PruningError.structure("the model has no parameter \(slice.name)") }
            if let g = gates[slice.name], !g.isFixed {
                throw PruningError.structure("the mask of \(slice.name) is still learned (\(g.method)); finish the pruner (fix its masks) before compacting")
            }
            guard t.rank >= 1, t.shape[0] == group.units else {
                throw PruningError.structure("\(slice.name) has \(t.rank >= 1 ? t.shape[0] : 0) rows, not the \(group.units) units of \(group.name)")
            }
            let row = t.count / group.units
            let d = t.data
            for u in 0..<group.units where dead[u] {
                for i in (u * row)..<((u + 1) * row) where d[i] != 0 { dead[u] = false; break }
            }
        }
        return zip(dead, silenced).map { $0 || $1 }
    }

    /// The smaller model: removed units and every slice that reads them are gone.
    public static func compact(_ model: Module) throws -> Compaction {
        guard let seq = model as? Sequential else { _ = try groups(model); throw PruningError.structure("compact needs a Sequential model") }
        let groups = try groups(model)
        for (name, g) in model.namedGates() where !g.isFixed {
            throw PruningError.structure("the mask of \(name) is still learned (\(g.method)); finish the pruner (fix its masks) before compacting")
        }
        // The kept indices of every (parameter or buffer, axis) a group slices.
        var kept: [String: [Int]] = [:]
        func key(_ name: String, _ axis: Int) -> String { "\(name)#\(axis)" }
        var summary: [(name: String, before: Int, after: Int)] = []
        for g in groups {
            let dead = try deadUnits(model, g)
            var units = (0..<g.units).filter { !dead[$0] }
            // A layer keeps at least one unit (its output is zero anyway): no empty tensors.
            if units.isEmpty { units = [0] }
            summary.append((g.name, g.units, units.count))
            for s in g.producers + g.gates + g.buffers + g.consumers {
                let indices = units.flatMap { u in (u * s.span)..<((u + 1) * s.span) }
                if let earlier = kept[key(s.name, s.axis)], earlier != indices {
                    throw PruningError.structure("\(s.name) is sliced two ways along axis \(s.axis); the tracer does not understand this model")
                }
                kept[key(s.name, s.axis)] = indices
            }
        }
        func size(_ name: String, _ axis: Int, _ original: Int) -> Int { kept[key(name, axis)]?.count ?? original }

        // The same architecture with the new sizes.
        var layers: [ModuleSpec] = []
        for (i, layer) in seq.layers.enumerated() {
            let path = "layers.\(i)"
            var spec = try ModuleCodec.describe(layer)
            switch layer {
            case let l as Linear:
                spec.numbers["in"] = Double(size(path + ".weight", 1, l.inFeatures))
                spec.numbers["out"] = Double(size(path + ".weight", 0, l.outFeatures))
            case let c as Conv2d:
                spec.numbers["in"] = Double(size(path + ".weight", 1, c.inChannels))
                spec.numbers["out"] = Double(size(path + ".weight", 0, c.outChannels))
            case let bn as BatchNorm:
                spec.numbers["features"] = Double(size(path + ".weight", 0, bn.features))
            case let s as ChannelScale:
                spec.numbers["features"] = Double(size(path + ".scale", 0, s.features))
            case let g as UnitGate:
                spec.numbers["features"] = Double(size(path + ".open", 0, g.features))
            case let b as BasisLayer:
                spec.numbers["outputs"] = Double(size(path + ".coefficients", 0, b.outputs))
                if var child = spec.children.first {
                    let inputs = (b.basis as? Linear)?.inFeatures ?? (b.basis as? Conv2d)?.inChannels ?? 0
                    child.numbers["in"] = Double(size(path + ".basis.weight", 1, inputs))
                    child.numbers["out"] = Double(size(path + ".basis.weight", 0, b.bases))
                    spec.children = [child]
                }
            case let b as BasicBlock:
                let inC = size(path + ".conv1.weight", 1, b.conv1.inChannels), mid = size(path + ".conv1.weight", 0, b.conv1.outChannels)
                let out = size(path + ".conv2.weight", 0, b.conv2.outChannels)
                spec.numbers["in"] = Double(inC); spec.numbers["out"] = Double(out)
                spec.numbers["mid"] = mid == out ? nil : Double(mid)
                spec.numbers["projection"] = b.shortcut != nil && b.conv1.stride == 1 && inC == out ? 1 : nil
            default: break
            }
            layers.append(spec)
        }
        let small = try ModuleCodec.build(ModuleSpec(kind: "Sequential", children: layers), rng: RNG(seed: 0), dropoutRNG: RNG(seed: 0))

        // Copy the kept slices of every parameter, buffer and mask.
        func cut(_ t: Tensor, _ name: String) throws -> Tensor {
            var r = t
            for axis in 0..<t.rank { if let idx = kept[key(name, axis)] { r = try r.indexSelect(axis: axis, idx) } }
            return r
        }
        let old = Dictionary(model.namedParameters() + model.namedBuffers(), uniquingKeysWith: { a, _ in a })
        for (name, t) in small.namedParameters() + small.namedBuffers() {
            guard let source = old[name] else { throw PruningError.structure("compact: the smaller model has \(name), the model does not") }
            let piece = try cut(source, name)
            guard piece.shape == t.shape else {
                throw PruningError.structure("compact: \(name) would be \(piece.shape), the smaller layer has \(t.shape)")
            }
            try t.assign(piece)
            t.requiresGrad = source.requiresGrad
        }
        for (name, g) in model.namedGates() {
            let gate = WeightGate(mask: try cut(g.mask, name), scores: try g.scores.map { try cut($0, name) }, method: g.method)
            gate.frozen = g.frozen; gate.requestedSparsity = g.requestedSparsity
            try small.setGate(gate, for: name)
        }
        small.train(model.training)
        return Compaction(model: small, groups: summary)
    }
}

/// Size and speed of a model before and after `compact`, on real inputs.
public struct CompactionCost: Sendable {
    public var parameters: Int
    /// Multiply-adds × 2 per sample of the Linear and Conv2d layers, computed densely.
    public var flops: Int
    /// Median seconds of one forward pass in evaluation mode, by batch size.
    public var latency: [(batch: Int, seconds: Double)]

    /// Measures `model` on `batch` (the first rows for the smaller batch sizes).
    public static func measure(_ model: Module, batch: Tensor, sizes: [Int] = [1, 128]) throws -> CompactionCost {
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        var latency: [(Int, Double)] = []
        try GradMode.noGrad {
            for n in sizes where n <= batch.shape[0] {
                let x = try batch.sliced(axis: 0, start: 0, end: n)
                _ = try model(x)
                var times: [Double] = []
                let deadline = monotonicSeconds() + 0.3
                repeat {
                    let t0 = monotonicSeconds()
                    _ = try model(x)
                    times.append(monotonicSeconds() - t0)
                } while monotonicSeconds() < deadline && times.count < 200
                times.sort()
                latency.append((n, times[times.count / 2]))
            }
        }
        return CompactionCost(parameters: model.parameterCount, flops: counted(model), latency: latency)
    }

    /// Dense FLOPs per sample of `model` (2 × multiply-adds of its Linear and Conv2d layers and
    /// of basis layers' mixing), after one forward pass of `sample` [1, ...] sets the positions.
    public static func flops(_ model: Module, sample: Tensor) throws -> Int {
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        try GradMode.noGrad { _ = try model(sample) }
        return counted(model)
    }

    /// FLOPs per sample from the positions the last forward pass recorded.
    static func counted(_ model: Module) -> Int {
        var flops = 0
        for (_, m) in model.namedModules() {
            switch m {
            case let l as Linear: flops += 2 * l.weight.count * (m.positionsPerSample ?? 1)
            case let c as Conv2d: flops += 2 * c.weight.count * (m.positionsPerSample ?? 1)
            // The mixing of basis responses: a 1×1 convolution (or a product) over the bases.
            case let b as BasisLayer: flops += 2 * b.coefficients.count * (b.basis.positionsPerSample ?? 1)
            default: continue
            }
        }
        return flops
    }
}

extension Structure {
    /// The sub-network a gates pruner chose (Colombo & Gao): `model` compacted to its open
    /// units, without its gate layers, freshly initialised from `seed`: an architecture to
    /// train from scratch, not a set of weights.
    public static func architecture(_ model: Module, seed: UInt64) throws -> Module {
        guard let small = try compact(model).model as? Sequential else { throw PruningError.structure("compact did not give a Sequential model") }
        let layers = small.layers.filter { !($0 is UnitGate) }
        let spec = ModuleSpec(kind: "Sequential", children: try layers.map { try ModuleCodec.describe($0) })
        return try ModuleCodec.build(spec, rng: RNG(seed: seed), dropoutRNG: RNG(seed: seed &+ 1))
    }
}
