// Diff pruning (Guo, Rush & Kim 2021, arXiv 2012.07463): the pretrained weights stay fixed and a
// task learns a sparse difference, θ_task = θ_pre + δ with δ = z ⊙ w, z hard-concrete gates
// (the L0 method's math, with the authors' stretch l = −1.5, r = 1.5 and no temperature) under
// an expected-L0 penalty λ·Σ σ(α − log(−l/r)); then δ is projected by magnitude to exactly the
// target number of entries and those entries alone are fine-tuned. The structured variant adds
// one gate per parameter tensor, z_τ ⊙ z_g(τ).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import NN

/// Diff pruning's settings, with the authors' defaults.
public struct DiffSettings: Sendable {
    /// The fraction of the shared parameters δ may change (0.005: 0.5%).
    public var keep: Double = 0.005
    /// One extra gate per parameter tensor.
    public var structured = false
    public var l: Float = -1.5, r: Float = 1.5
    /// λ of the expected-L0 penalty (summed over all entries, as the authors do).
    public var lambda: Double = 1.25e-7
    /// The gate logits α start here (σ(5) ≈ 0.993: every gate open); w starts at 0.
    public var initialLogit: Float = 5
    /// Adam learning rate of the gate logits (ours: the L0 authors' 0.1).
    public var logitLR: Float = 0.1
    /// Epochs of fine-tuning the kept entries after the projection.
    public var finetuneEpochs = 1
    public init() {}

    public func check() throws {
        guard PrunerConfig.isValidKeep(keep) else { throw PruningError.invalid("diff pruning: keep must be in (0, 1], got \(keep)") }
        guard l < 0, r > 1 else { throw PruningError.invalid("diff pruning: the stretch needs l < 0 and r > 1, got \(l), \(r)") }
        guard lambda.isFinite, lambda >= 0 else { throw PruningError.invalid("diff pruning: lambda must be ≥ 0, got \(lambda)") }
        guard finetuneEpochs >= 0 else { throw PruningError.invalid("diff pruning: fine-tuning epochs must be ≥ 0, got \(finetuneEpochs)") }
    }
}

/// The forward pass of a parameter under diff pruning: θ_pre + z ⊙ w (· z_g), with stochastic
/// gates in training and their deterministic value at evaluation; after the projection (no
/// logits left) θ_pre + w ⊙ M, so only the kept entries receive gradients.
final class DiffGate: GateTransform {
    let pretrained: Tensor
    let l: Float, r: Float
    /// The structured variant's one logit for the whole tensor ([1]).
    var groupLogit: Tensor?
    let rng: RNG

    init(pretrained: Tensor, l: Float, r: Float, groupLogit: Tensor?, rng: RNG) {
        self.pretrained = pretrained; self.l = l; self.r = r; self.groupLogit = groupLogit; self.rng = rng
    }

    var name: String { "diff" }
    var settings: [String: Double] { ["l": Double(l), "r": Double(r)] }

    func noise(_ n: Int, shape: [Int]) throws -> Tensor {
        let u = try Tensor.zeros(shape)
        rng.fillUniform(u.data, count: n, low: 1e-4, span: 1 - 2e-4)
        return u
    }

    func apply(_ w: Tensor, gate: WeightGate, training: Bool) throws -> Tensor {
        guard let logits = gate.scores else { return try pretrained + Tensor.gated(w, mask: gate.mask) }
        var delta = try Tensor.hardConcreteGated(w, logits: logits, noise: training ? noise(w.count, shape: w.shape) : nil,
                                                 l: l, r: r, beta: 1)
        if let g = groupLogit {
            let one = try Tensor(shape: [1], repeating: 1)
            let z = try Tensor.hardConcreteGated(one, logits: g, noise: training ? noise(1, shape: [1]) : nil, l: l, r: r, beta: 1)
            delta = try delta * z
        }
        return try pretrained + delta
    }

    /// The deterministic δ = z ⊙ w (· z_g) at evaluation, without recording.
    func delta(_ w: Tensor, gate: WeightGate) -> Tensor {
        let d = w.copy()
        if let logits = gate.scores { d.multiplyInPlace(by: Tensor.hardConcreteMask(logits: logits, l: l, r: r)) }
        if let g = groupLogit {
            // Held in a constant: the pointer of a temporary tensor may outlive its storage.
            let gateValue = Tensor.hardConcreteMask(logits: g, l: l, r: r)
            let z = gateValue.array[0]
            for i in 0..<d.count { d.data[i] *= z }
        }
        if gate.scores == nil { d.maskInPlace(by: gate.mask) }
        return d
    }

    /// Folds θ_pre + δ into `w`; every entry counts as kept.
    func fix(_ w: Tensor, gate: WeightGate) {
        let d = delta(w, gate: gate)
        for i in 0..<w.count { w.data[i] = pretrained.data[i] + d.data[i] }
        gate.mask.fill(1)
    }

    func copy() -> GateTransform {
        DiffGate(pretrained: pretrained.copy(), l: l, r: r, groupLogit: groupLogit?.copy().requiringGrad(groupLogit?.requiresGrad ?? false),
                 rng: RNG(seed: rng.next()))
    }
}

/// Trains the gate logits beside the model's optimizer and adds the expected-L0 penalty.
final class DiffPenalty: TrainingHook {
    let gates: [(gate: WeightGate, transform: DiffGate)]
    let settings: DiffSettings
    var optimizer: Optimizer?

    init(gates: [(gate: WeightGate, transform: DiffGate)], settings: DiffSettings) { self.gates = gates; self.settings = settings }

    var logits: [(String, Tensor)] {
        gates.enumerated().flatMap { i, g in
            [g.gate.scores.map { ("\(i).logits", $0) }, g.transform.groupLogit.map { ("\(i).group", $0) }].compactMap { $0 }
        }
    }

    func begin(model: Module, optimizer: Optimizer, totalSteps: Int) throws {
        self.optimizer = try Optimizer(.adam(), parameters: logits, lr: settings.logitLR)
    }

    /// λ·Σ P(δᵢ ≠ 0), with P(zᵢ ≠ 0) = σ(αᵢ − log(−l/r)) (times the group's in the structured variant).
    func loss(_ loss: Tensor, x: Tensor, logits: Tensor, labels: [Int], step: Int) throws -> Tensor {
        guard settings.lambda > 0 else { return loss }
        let shift = Float(log(Double(-settings.l / settings.r)))
        var total: Tensor?
        for (gate, transform) in gates {
            guard let a = gate.scores else { continue }
            var open = (shift == 0 ? a : a - shift).sigmoid().sum()
            if let g = transform.groupLogit { open = try open * (shift == 0 ? g : g - shift).sigmoid().sum() }
            total = try total.map { try $0 + open } ?? open
        }
        guard let total else { return loss }
        return try loss + total * Float(settings.lambda)
    }

    func afterStep(step: Int) throws {
        GradMode.noGrad { optimizer?.step() }
        optimizer?.zeroGrad()
    }
}

public enum DiffPruning {
    /// Diff-prunes `model` (a copy of `upstream` whose head, if new, is at `newHead`) on `task`:
    /// gated training for `train.epochs`, the projection to ⌈keep·n⌉ entries by |δ|, fine-tuning of
    /// those for `settings.finetuneEpochs`. Returns the diff and the task model rebuilt from
    /// `upstream` with it (bit for bit what `diff.apply(to: upstream)` gives), with both phases'
    /// history.
    public static func train(_ model: Sequential, upstream: Module, newHead: Int?, on task: BatchSource, settings: DiffSettings,
                             makeOptimizer: (_ model: Module, _ steps: Int) throws -> Optimizer, train: TrainConfig,
                             validation: BatchSource? = nil, hooks: [TrainingHook] = [],
                             shouldStop: @escaping () -> Bool = { Interrupt.requested }) throws -> (model: Module, diff: ModelDiff, history: History) {
        try settings.check()
        guard model.namedGates().isEmpty else {
            throw TransferError.diffOfMaskedModel
        }
        let head: ModelDiff.Head? = try newHead.map { index in
            guard let linear = model.layers[index] as? Linear else { throw PruningError.invalid("diff pruning: layer \(index) is not a Linear head") }
            return ModelDiff.Head(index: index, inFeatures: linear.inFeatures, outFeatures: linear.outFeatures, bias: linear.bias != nil)
        }
        let headNames = ModelDiff.headNames(model, head: head)
        let shared = model.namedParameters().filter { !headNames.contains($0.0) && $0.1.requiresGrad }
        let n = shared.reduce(0) { $0 + $1.1.count }
        guard n > 0 else { throw PruningError.invalid("diff pruning: the model has no shared parameters to change") }
        let rng = RNG(seed: train.seed ^ 0xD1FF)
        var gated: [(name: String, gate: WeightGate, transform: DiffGate)] = []
        for (name, p) in shared {
            let transform = DiffGate(pretrained: p.copy(), l: settings.l, r: settings.r,
                                     groupLogit: settings.structured ? try Tensor(shape: [1], repeating: settings.initialLogit).requiringGrad() : nil,
                                     rng: RNG(seed: rng.next()))
            let gate = WeightGate(mask: Tensor(like: p, repeating: 1), scores: try Tensor(shape: p.shape, repeating: settings.initialLogit).requiringGrad(),
                                  method: "diff", transform: transform)
            p.fill(0)                                        // w starts at 0: the model starts as θ_pre
            try model.setGate(gate, for: name)
            gated.append((name, gate, transform))
        }
        // Phase 1: gates and w together under the penalty.
        var history = try fit(model, on: task, optimizer: makeOptimizer(model, plannedSteps(samples: task.count, config: train)),
                              config: train, validation: validation,
                              hooks: hooks + [DiffPenalty(gates: gated.map { ($0.gate, $0.transform) }, settings: settings)],
                              shouldStop: shouldStop)
        // The projection: exactly k = round(keep·n) entries (fewer only where δ is 0), by |δ|.
        let params = Dictionary(model.namedParameters(), uniquingKeysWith: { a, _ in a })
        let deltas = gated.map { g in g.transform.delta(params[g.name] ?? Tensor(0), gate: g.gate) }
        let k = max(1, Int((settings.keep * Double(n)).rounded()))
        let kept = topMagnitude(deltas, k: k)
        for ((name, gate, transform), (d, m)) in zip(gated, zip(deltas, kept)) {
            guard let w = params[name] else { continue }
            d.maskInPlace(by: m)
            try w.assign(d)
            try gate.mask.assign(m)
            gate.scores = nil
            transform.groupLogit = nil
        }
        // Phase 2: only the kept entries of δ train (θ_pre + w ⊙ M).
        if settings.finetuneEpochs > 0 && !history.interrupted {
            var config = train
            config.epochs = settings.finetuneEpochs
            config.seed = train.seed &+ 1
            let run = try fit(model, on: task, optimizer: makeOptimizer(model, plannedSteps(samples: task.count, config: config)),
                              config: config, validation: validation, hooks: hooks, shouldStop: shouldStop)
            TrainingRun.append(run, to: &history)
        }
        var entries: [ModelDiff.Entry] = []
        for (name, gate, _) in gated {
            guard let w = params[name] else { continue }
            var indices: [Int32] = [], values: [Float] = []
            for i in 0..<w.count where gate.mask.data[i] != 0 && w.data[i] != 0 { indices.append(Int32(i)); values.append(w.data[i]) }
            if !values.isEmpty { entries.append(ModelDiff.Entry(name: name, shape: w.shape, indices: indices, values: values)) }
        }
        let replaced = model.namedParameters().filter { headNames.contains($0.0) }.map { (name: $0.0, tensor: $0.1.copy()) }
            + model.namedBuffers().map { (name: $0.0, tensor: $0.1.copy()) }
        let diff = ModelDiff(base: ModelDiff.fingerprint(of: upstream, excluding: headNames), entries: entries,
                             replaced: replaced, head: head, parameters: n)
        return (try diff.apply(to: upstream), diff, history)
    }

    /// 0/1 masks keeping the k entries of largest |value| over all tensors together (ties: the
    /// earlier entry), never an entry that is 0.
    static func topMagnitude(_ tensors: [Tensor], k: Int) -> [Tensor] {
        var all: [(Float, Int, Int)] = []
        for (t, x) in tensors.enumerated() {
            for i in 0..<x.count where x.data[i] != 0 { all.append((abs(x.data[i]), t, i)) }
        }
        all.sort { $0.0 != $1.0 ? $0.0 > $1.0 : ($0.1, $0.2) < ($1.1, $1.2) }
        let masks = tensors.map { Tensor.zeros(like: $0) }
        for (_, t, i) in all.prefix(k) { masks[t].data[i] = 1 }
        return masks
    }
}
