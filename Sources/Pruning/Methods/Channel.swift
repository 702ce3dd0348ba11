// Channel (structured) pruning: whole neurons and convolution channels, each with every slice
// that produces or reads it (Structure.swift), ranked by one score per unit. The masks follow
// the pruner's schedule like element masks; `compact` then builds the smaller model.
//
// Criteria: the L1 or L2 norm of the unit's producing weights (Li et al. 2017), the batch-norm
// scale |γ| (network slimming, Liu et al. 2017), first-order Taylor (Σ over steps of (Σ_unit
// g·w)², Molchanov et al. 2019) and movement with one score per group (−Σ over steps of Σ_unit
// g·w; the future work of Sanh et al. 2020).
import Engine
import NN

public final class Channel: PruningMethod {
    public static let name = "channel"
    public static let summary = "removes whole neurons and channels (with their batch-norm entries and readers), ranked per unit"
    public static let reference = "Li et al. 2017 (arXiv 1608.08710); Liu et al. 2017 (arXiv 1708.06519)"
    public static let parameters: [MethodParameter] = [
        .choice("criterion", "l1", ["l1", "l2", "bn", "taylor", "movement"],
                "the unit's score: L1/L2 norm of its weights, batch-norm scale |γ|, Taylor (Σ(Σg·w)²) or movement (−ΣΣg·w)", displayed: true),
        .integer("batches", 16, 1...1_000_000, "batches of data for one-shot Taylor or movement"),
    ]
    public static let defaultSchedule = PruneSchedule(.cubic, every: 10)
    public static let removesUnits = true

    let criterion: String
    let batches: Int
    /// Which of the traced groups this pruner ranks (basis pruning takes only the bases).
    let admits: (UnitGroup) -> Bool
    /// The unit groups the pruner's targets produce, and their gated slices.
    public private(set) var groups: [UnitGroup] = []
    /// Per group, the score accumulated from gradients (Taylor, movement).
    var accumulated: [[Double]] = []

    public convenience init(settings: MethodSettings) {
        self.init(criterion: settings.text("criterion"), batches: settings.int("batches"))
    }

    /// A channel pruner over the groups `admits` accepts. Besides the user's criteria,
    /// "alpha" ranks by the first-order term of the gates alone, Σ over steps |Σ_unit α·∂L/∂α|
    /// (basis pruning's importance).
    init(criterion: String, batches: Int, admits: @escaping (UnitGroup) -> Bool = { _ in true }, label: String? = nil) {
        self.criterion = criterion
        self.batches = batches
        self.admits = admits
        self.label = label ?? "channel with criterion \"\(criterion)\""
    }

    /// How errors name this pruner.
    let label: String

    public func validate(_ config: PrunerConfig) throws {
        if config.granularity != .element {
            throw PruningError.invalid("channel pruning removes whole units; it takes no granularity")
        }
    }

    var usesGradients: Bool { criterion == "taylor" || criterion == "movement" || criterion == "alpha" }

    /// Finds the groups whose producing layer is one of the targets and gates every slice.
    public func attached(_ pruner: Pruner) throws {
        guard let model = pruner.model else { return }
        let targeted = Set(pruner.targets.map(\.name))
        groups = try Structure.groups(model).filter { g in admits(g) && g.producers.contains { targeted.contains($0.name) } }
        guard !groups.isEmpty else {
            throw PruningError.structure("channel pruning found no neurons or channels among the pruned layers (\(pruner.targets.map(\.name).joined(separator: ", ")))")
        }
        if criterion == "bn", let g = groups.first(where: { $0.scales.isEmpty }) {
            throw PruningError.structure("criterion \"bn\" ranks by batch-norm scales, but \(g.name) has no batch norm after it")
        }
        let params = Dictionary(model.namedParameters(), uniquingKeysWith: { a, _ in a })
        for g in groups {
            for s in g.producers + g.gates + g.consumers where model.gate(for: s.name) == nil {
                guard let p = params[s.name] else { continue }
                try model.setGate(WeightGate(mask: Tensor.ones(p.shape), method: Self.name), for: s.name)
            }
        }
        accumulated = groups.map { [Double](repeating: 0, count: $0.units) }
    }

    public func afterBackward(_ pruner: Pruner, step: Int) throws {
        guard usesGradients, let model = pruner.model else { return }
        accumulate(model)
    }

    /// Adds this backward pass's per-unit first-order terms to the accumulated scores.
    func accumulate(_ model: Module) {
        let params = Dictionary(model.namedParameters(), uniquingKeysWith: { a, _ in a })
        for (k, g) in groups.enumerated() {
            var dot = [Double](repeating: 0, count: g.units)
            for s in criterion == "alpha" ? g.gates : g.producers + g.gates {
                guard let p = params[s.name], let grad = p.grad, p.count % g.units == 0 else { continue }
                let row = p.count / g.units, w = p.data, gd = grad.data
                for u in 0..<g.units {
                    var sum: Double = 0
                    for i in (u * row)..<((u + 1) * row) { sum += Double(w[i] * gd[i]) }
                    dot[u] += sum
                }
            }
            for u in 0..<g.units {
                switch criterion {
                case "taylor": accumulated[k][u] += dot[u] * dot[u]
                case "alpha": accumulated[k][u] += Swift.abs(dot[u])
                default: accumulated[k][u] -= dot[u]
                }
            }
        }
    }

    /// One score per unit of every group (higher is more important).
    func unitScores(_ model: Module) -> [[Double]] {
        if usesGradients { return accumulated }
        let params = Dictionary(model.namedParameters(), uniquingKeysWith: { a, _ in a })
        return groups.map { g in
            var score = [Double](repeating: 0, count: g.units)
            let names = criterion == "bn" ? g.scales : g.producers.filter { $0.name.hasSuffix(".weight") && !g.scales.contains($0.name) }.map(\.name)
            for name in names {
                guard let p = params[name], p.count % g.units == 0 else { continue }
                let row = p.count / g.units, w = p.data
                for u in 0..<g.units {
                    for i in (u * row)..<((u + 1) * row) {
                        let x = Double(w[i])
                        score[u] += criterion == "l2" ? x * x : Swift.abs(x)
                    }
                }
            }
            return score
        }
    }

    public func updateMasks(_ pruner: Pruner, keep: Double) throws {
        guard let model = pruner.model else { return }
        let scores = unitScores(model)
        let keptUnits = try choose(scores, keep: keep, pruner: pruner, model: model)
        try write(keptUnits, model: model, pruner: pruner, keep: keep)
        if usesGradients { accumulated = groups.map { [Double](repeating: 0, count: $0.units) } }
        pruner.lastKeep = keep; pruner.currentKeep = keep
    }

    /// Per group, which units stay: the top `keep` of each group (layer scope), or the top
    /// `keep` of all units by their score relative to their group's mean (global scope). Units
    /// already removed stay removed; every group keeps at least one unit.
    func choose(_ scores: [[Double]], keep: Double, pruner: Pruner, model: Module) throws -> [[Bool]] {
        let alive = try groups.map { g -> [Bool] in try Structure.deadUnits(model, g).map { !$0 } }
        var kept = alive.map { $0.map { _ in false } }
        func rank(_ k: Int, _ u: Int) -> Double { alive[k][u] ? scores[k][u] : -.infinity }
        switch pruner.config.scope {
        case .global:
            var all: [(Double, Int, Int)] = []
            for (k, g) in groups.enumerated() {
                let live = (0..<g.units).filter { alive[k][$0] }
                let mean = live.map { scores[k][$0] }.reduce(0, +) / Double(Swift.max(live.count, 1))
                for u in live { all.append((mean != 0 ? scores[k][u] / Swift.abs(mean) : scores[k][u], k, u)) }
            }
            let total = groups.reduce(0) { $0 + $1.units }
            let count = Swift.min(all.count, Swift.max(groups.count, Int((keep * Double(total)).rounded())))
            all.sort { $0.0 != $1.0 ? $0.0 > $1.0 : ($0.1, $0.2) < ($1.1, $1.2) }
            for (_, k, u) in all.prefix(count) { kept[k][u] = true }
        default:
            let keeps = pruner.layerKeeps(keep)
            for (k, g) in groups.enumerated() {
                let fraction = pruner.targets.firstIndex { t in g.producers.contains { $0.name == t.name } }.map { keeps[$0] } ?? keep
                let count = Swift.max(1, Int((fraction * Double(g.units)).rounded()))
                let order = (0..<g.units).sorted { rank(k, $0) != rank(k, $1) ? rank(k, $0) > rank(k, $1) : $0 < $1 }
                for u in order.prefix(count) where alive[k][u] { kept[k][u] = true }
            }
        }
        for k in kept.indices where !kept[k].contains(true) { kept[k][0] = true }
        return kept
    }

    /// Writes the units' masks into every slice and zeroes the removed slices.
    func write(_ kept: [[Bool]], model: Module, pruner: Pruner, keep: Double) throws {
        let params = Dictionary(model.namedParameters(), uniquingKeysWith: { a, _ in a })
        let gates = Dictionary(model.namedGates(), uniquingKeysWith: { a, _ in a })
        var masks: [String: Tensor] = [:]
        for (k, g) in groups.enumerated() {
            for s in g.producers + g.gates + g.consumers {
                guard gates[s.name] != nil, let p = params[s.name] else { continue }
                let m: Tensor
                if let existing = masks[s.name] { m = existing } else { m = Tensor.ones(like: p); masks[s.name] = m }
                let outer = p.shape.prefix(s.axis).reduce(1, *)
                let extent = p.shape[s.axis], inner = p.shape.dropFirst(s.axis + 1).reduce(1, *)
                for u in 0..<g.units where !kept[k][u] {
                    for o in 0..<outer {
                        for a in (u * s.span)..<Swift.min(extent, (u + 1) * s.span) {
                            let base = (o * extent + a) * inner
                            for i in 0..<inner { m.data[base + i] = 0 }
                        }
                    }
                }
            }
        }
        for (name, m) in masks {
            guard let gate = gates[name], let p = params[name] else { continue }
            // Only shrink: what an earlier update or a frozen upstream mask removed stays removed.
            for i in 0..<m.count where gate.mask.data[i] == 0 { m.data[i] = 0 }
            try gate.mask.assign(m)
            gate.requestedSparsity = 1 - keep
            p.maskInPlace(by: gate.mask)
        }
    }

    /// One-shot: scores from the weights, or from `batches` batches of data for the gradient
    /// criteria; then the masks.
    public func pruneNow(_ pruner: Pruner, data: BatchSource?, batchSize: Int, keep: Double) throws {
        guard let model = pruner.model else { return }
        if usesGradients {
            guard let data else { throw PruningError.needsData(method: label) }
            let wasTraining = model.training
            model.eval()
            defer { model.train(wasTraining); model.zeroGrad() }
            accumulated = groups.map { [Double](repeating: 0, count: $0.units) }
            var seen = 0
            for (x, y) in data.makeBatches(size: batchSize, shuffle: true, rng: RNG(seed: pruner.config.seed)) {
                if seen >= batches { break }
                model.zeroGrad()
                try model(x).crossEntropy(labels: y).backward()
                accumulate(model)
                seen += 1
            }
        }
        try updateMasks(pruner, keep: keep)
    }
}
