// Pruners: a method computes the importance of each weight from the current state, and a new
// mask keeps the most important ones; the trainer calls the pruner on its schedule.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import Kernels
import NN

/// The pruning methods (see METHODS.md for their math and the authors' defaults).
public enum PruneMethod: String, Sendable, CaseIterable {
    case random, magnitude, movement
    case softMovement = "soft_movement"
    case l0, taylor, snip, lottery

    /// Methods whose masks come from learned scores trained alongside the weights.
    public var learnsScores: Bool { self == .movement || self == .softMovement || self == .l0 }
    /// Methods whose sparsity is not set directly but follows from a penalty.
    public var setsOwnSparsity: Bool { self == .softMovement || self == .l0 }
}

/// One threshold per matrix, or one across all pruned matrices.
public enum PruneScope: String, Sendable, CaseIterable { case layer, global }

/// Everything a pruner needs to know, with the authors' defaults.
public struct PrunerConfig: Sendable {
    public var method: PruneMethod
    /// Fraction of the weights to keep at the end (nil for soft movement and L0).
    public var keep: Double?
    public var schedule: PruneSchedule
    public var scope: PruneScope = .layer
    /// Glob patterns over dotted parameter names (empty: Linear and Conv weights but the classifier).
    public var include: [String] = []
    public var exclude: [String] = []
    public var seed: UInt64 = 0
    /// The scores' own optimizer: Adam at lr 1e-2 (movement, soft movement), 0.1 for L0 gates.
    public var scoreOptimizer: OptimizerKind = .adam()
    public var scoreLR: Float
    /// Initial score: 0 for movement and soft movement, 2.197 (σ = 0.9) for L0 logits.
    public var scoreInit: Float
    /// Soft movement: the final threshold τ on σ(S) (0.1) and the final penalty λ (400).
    public var threshold: Double = 0.1
    /// Penalty weight: soft movement's λ_final, or L0's λ.
    public var lambda: Double
    /// Soft movement keeps at least this fraction of each matrix.
    public var minKeep: Double = 0.005
    /// Hard-concrete stretch l < 0 < 1 < r and temperature β.
    public var l: Float = -0.1, r: Float = 1.1, beta: Float = 2.0 / 3.0
    /// Batches of data for SNIP and one-shot Taylor importance.
    public var batches: Int
    /// Lottery tickets: pruning rounds, and the step whose weights unpruned weights rewind to
    /// (0: the initialisation).
    public var rounds: Int = 3
    public var rewind: Int = 0

    public init(_ method: PruneMethod, keep: Double?) {
        self.method = method; self.keep = keep
        // Movement's scores move every step, so its authors recompute Top_v at every forward
        // pass; with masks held for 10 steps, fine-tuning on little data ends visibly worse
        // (see tutorials/02). Magnitude follows Zhu & Gupta's Δt of several steps.
        schedule = PruneSchedule(method == .snip ? .oneshot : .cubic,
                                 every: method == .movement || method == .softMovement ? 1 : 10)
        scoreLR = method == .l0 ? 0.1 : 1e-2
        scoreInit = method == .l0 ? 2.197 : 0
        lambda = method == .l0 ? 1 : 400
        batches = method == .snip ? 4 : 16
    }

    /// Checks the settings, with messages that name the problem.
    public func validate() throws {
        if method.setsOwnSparsity {
            if keep != nil {
                throw EngineError("\(method.rawValue) reaches the sparsity its penalty gives (set lambda=, and threshold= for soft_movement); it takes no keep= or sparsity=")
            }
        } else {
            guard let keep else { throw EngineError("\(method.rawValue) needs keep= (the fraction of weights kept) or sparsity=") }
            guard keep > 0, keep <= 1, keep.isFinite else {
                throw EngineError("keep must be in (0, 1], got \(keep) (sparsity = 1 − keep must be in [0, 1))")
            }
        }
        guard schedule.warmup >= 0, schedule.cooldown >= 0, schedule.warmup + schedule.cooldown < 1 else {
            throw EngineError("warmup and cooldown are fractions of the run, each ≥ 0, with warmup + cooldown < 1; got \(schedule.warmup) and \(schedule.cooldown)")
        }
        guard schedule.every >= 1 else { throw EngineError("every must be ≥ 1 step, got \(schedule.every)") }
        if method == .snip && schedule.kind != .oneshot {
            throw EngineError("snip prunes once, at initialisation: its schedule must be \"oneshot\"")
        }
        if method.learnsScores && schedule.kind == .oneshot {
            throw EngineError("\(method.rawValue) learns its scores while training: use schedule \"constant\", \"linear\" or \"cubic\"")
        }
        if method == .lottery && schedule.kind != .oneshot && schedule.kind != .cubic {
            throw EngineError("lottery prunes between training rounds; it takes no schedule (got \"\(schedule.kind.rawValue)\")")
        }
        guard threshold > 0, threshold < 1 else { throw EngineError("threshold must be in (0, 1), got \(threshold)") }
        guard lambda >= 0, lambda.isFinite else { throw EngineError("lambda must be ≥ 0, got \(lambda)") }
        guard scoreLR > 0, scoreLR.isFinite else { throw EngineError("score_lr must be > 0, got \(scoreLR)") }
        guard batches >= 1 else { throw EngineError("batches must be ≥ 1, got \(batches)") }
        guard rounds >= 1 else { throw EngineError("rounds must be ≥ 1, got \(rounds)") }
        guard rewind >= 0 else { throw EngineError("rewind must be a step ≥ 0, got \(rewind)") }
        guard l < 0, r > 1, beta > 0 else { throw EngineError("hard concrete needs l < 0, r > 1 and beta > 0") }
    }
}

/// A pruner: installs masks on the chosen parameters of a model and updates them while it
/// trains (as a `TrainingHook`) or once (`pruneOnce`).
public final class Pruner: TrainingHook {
    public let config: PrunerConfig
    public private(set) var targets: [PruneTarget] = []
    public private(set) var gates: [WeightGate] = []
    /// Masks that were frozen before this pruner attached: pruned entries there stay pruned.
    var allowed: [Tensor?] = []
    /// Random importance, drawn once so that gradual random masks are nested.
    var randomScores: [Tensor] = []
    /// Scratch space for |w|.
    var magnitudes: [Tensor] = []
    /// Taylor importance accumulated since the last mask update.
    var accumulated: [Tensor] = []
    weak var model: Module?
    var optimizer: Optimizer?
    var scoreOptimizer: Optimizer?
    var totalSteps = 0
    /// The last kept fraction applied (to skip recomputing an unchanged magnitude mask).
    var lastKeep: Double?
    /// Where each selection's threshold was last time (one per matrix, or one for global scope):
    /// scores move little between steps, so the next top-k is found in one pass around it.
    var hints: [TopKHint] = []
    public internal(set) var currentKeep: Double = 1
    /// Movement pruning updates each gated weight, its scores and its mask in one fused pass
    /// (`Kernels/Movement.swift`) when the training allows it. The results are bit-identical to
    /// the unfused kernels, which `false` selects (tests and benchmarks compare the two).
    public var fusesUpdates = true
    /// The fused path's state while it is active.
    var fusedRun: FusedRun?

    public init(_ config: PrunerConfig) throws {
        try config.validate()
        self.config = config
    }

    public var method: PruneMethod { config.method }

    /// Selects the targets in `model` and installs this pruner's masks (all ones to start).
    public func attach(to model: Module) throws {
        if self.model === model && !targets.isEmpty { return }
        let targets = try Targets.select(model, include: config.include, exclude: config.exclude)
        let rng = RNG(seed: config.seed)
        var gates: [WeightGate] = [], allowed: [Tensor?] = [], randomScores: [Tensor] = []
        for t in targets {
            let previous = model.gate(for: t.name)
            let frozen = previous.flatMap { $0.frozen ? $0.mask.copy() : nil }
            let mask = frozen?.copy() ?? Tensor.ones(t.weight.shape)
            let gate: WeightGate
            switch config.method {
            case .movement, .softMovement:
                gate = WeightGate(kind: .straightThrough, mask: mask,
                                  scores: Tensor(shape: t.weight.shape, repeating: config.scoreInit).requiringGrad(),
                                  method: config.method.rawValue)
            case .l0:
                gate = WeightGate(kind: .hardConcrete(l: config.l, r: config.r, beta: config.beta), mask: mask,
                                  scores: Tensor(shape: t.weight.shape, repeating: config.scoreInit).requiringGrad(),
                                  method: config.method.rawValue)
                gate.rng = RNG(seed: rng.next())
            default:
                gate = WeightGate(kind: .fixed, mask: mask, method: config.method.rawValue)
            }
            gate.frozen = frozen != nil
            gates.append(gate); allowed.append(frozen)
            if config.method == .random { randomScores.append(Tensor.uniform(t.weight.shape, low: 0, high: 1, rng: rng)) }
        }
        for (t, g) in zip(targets, gates) { try model.setGate(g, for: t.name) }
        self.model = model; self.targets = targets; self.gates = gates
        self.allowed = allowed; self.randomScores = randomScores
        accumulated = config.method == .taylor ? targets.map { Tensor.zeros($0.weight.shape) } : []
        lastKeep = nil; currentKeep = 1
        hints = []
    }

    // MARK: Training hook

    public func begin(model: Module, optimizer: Optimizer, totalSteps: Int) throws {
        try attach(to: model)
        self.optimizer = optimizer
        self.totalSteps = totalSteps
        let scores = zip(targets, gates).compactMap { t, g in g.scores.map { (t.name + ".scores", $0) } }
        scoreOptimizer = scores.isEmpty ? nil : try Optimizer(config.scoreOptimizer, parameters: scores, lr: config.scoreLR)
        // The mask at step 0: one-shot pruning happens here unless prune() already did it
        // (methods that learn scores never run one-shot, see `validate`).
        if config.schedule.kind != .oneshot || lastKeep == nil {
            if config.schedule.kind == .oneshot && (config.method == .taylor || config.method == .snip) {
                throw EngineError("\(config.method.rawValue) with schedule \"oneshot\" needs data: prune(net, p, data=...) before training")
            }
            try updateMasks(keep: keep(at: 0))
        }
        optimizer.bindMasks(model)
        startFused(optimizer: optimizer)
    }

    public func loss(_ loss: Tensor, x: Tensor, logits: Tensor, labels: [Int], step: Int) throws -> Tensor {
        // A new step: gradients a failed step left behind are not this step's.
        if fusedRun != nil { for g in gates { g.fused?.gradient = nil } }
        switch config.method {
        case .softMovement:
            let tau = softThreshold(at: step - 1)
            let lambda = Float(config.lambda * tau / config.threshold)
            guard lambda > 0 else { return loss }
            return try loss + penalty(shift: 0) * lambda
        case .l0:
            guard config.lambda > 0 else { return loss }
            let shift = config.beta * Float(log(Double(-config.l / config.r)))
            return try loss + penalty(shift: shift) * Float(config.lambda)
        default:
            return loss
        }
    }

    /// Mean over matrices of mean(σ(S − shift)): the soft-movement and expected-L0 penalties.
    func penalty(shift: Float) throws -> Tensor {
        var total: Tensor?
        for g in gates {
            guard let s = g.scores else { continue }
            let term = (shift == 0 ? s : s - shift).sigmoid().mean()
            total = try total.map { try $0 + term } ?? term
        }
        return (total ?? Tensor(0)) * (1 / Float(max(gates.count, 1)))
    }

    public func afterBackward(step: Int) throws {
        guard config.method == .taylor else { return }
        for (t, acc) in zip(targets, accumulated) { addSaliency(t.weight, into: acc) }
    }

    public func afterStep(step: Int) throws {
        if let so = scoreOptimizer {
            GradMode.noGrad { so.step() }
            so.zeroGrad()
        }
        if fusedRun != nil { return try fusedStep(step: step) }
        guard config.schedule.updates(after: step, total: totalSteps) else { return }
        try updateMasks(keep: keep(at: step))
    }

    public func end() throws {
        stopFused()
        try finalize()
        if let model { optimizer?.bindMasks(model) }
    }

    // MARK: Masks

    /// The kept fraction the schedule asks for at step `t` (0-based).
    public func keep(at t: Int) -> Double {
        config.schedule.value(at: t, total: totalSteps, initial: 1, final: config.keep ?? 1)
    }

    /// Soft movement's threshold τ(t), from 0 to τ_final on the same schedule.
    func softThreshold(at t: Int) -> Double {
        config.schedule.value(at: t, total: totalSteps, initial: 0, final: config.threshold)
    }

    /// Recomputes every mask for the kept fraction `keep`.
    func updateMasks(keep: Double) throws {
        currentKeep = keep
        switch config.method {
        case .l0:
            return
        case .softMovement:
            let tau = softThreshold(at: lastStepSeen)
            for g in gates { softMask(g, tau: tau) }
            return
        case .magnitude, .lottery:
            // Pruned weights are already 0 and stay so: an unchanged target changes nothing.
            if lastKeep == keep { return }
        default: break
        }
        lastKeep = keep
        let importance = try self.importance()
        // Gradual methods on fixed masks only remove weights: the current mask bounds the next
        // (selection reads each entry's bound before writing it, so the mask is its own bound).
        let monotone = !config.method.learnsScores
        select(importance, keep: keep, allowed: zip(gates, allowed).map { g, a in monotone ? g.mask : a })
        for (t, g) in zip(targets, gates) {
            g.requestedSparsity = 1 - keep
            // The optimizer holds these same mask tensors and zeroes the state of newly pruned
            // weights in its next step; the weights must be 0 before the next forward pass.
            if g.kind == .fixed { t.weight.maskInPlace(by: g.mask) }
        }
        if config.method == .taylor { for a in accumulated { a.fill(0) } }
    }

    var lastStepSeen: Int { optimizer?.stepCount ?? 0 }

    /// Higher is more important.
    func importance() throws -> [Tensor] {
        switch config.method {
        case .magnitude, .lottery:
            // |w| into buffers kept between updates.
            if magnitudes.count != targets.count { magnitudes = targets.map { Tensor.empty($0.weight.shape) } }
            for (t, m) in zip(targets, magnitudes) { for i in 0..<m.count { m.data[i] = Swift.abs(t.weight.data[i]) } }
            return magnitudes
        case .random: return randomScores
        case .taylor: return accumulated
        case .movement: return gates.map { $0.scores ?? Tensor.zeros($0.mask.shape) }
        case .snip, .softMovement, .l0:
            throw EngineError("\(config.method.rawValue) does not rank weights this way")
        }
    }

    /// Top-k by importance, per matrix or across all, never reviving what `allowed` forbids.
    func select(_ importance: [Tensor], keep: Double, allowed: [Tensor?]) {
        switch config.scope {
        case .layer:
            if hints.count != gates.count { hints = Array(repeating: TopKHint(), count: gates.count) }
            for (i, g) in gates.enumerated() {
                let n = g.mask.count
                let k = Swift.max(1, Int((keep * Double(n)).rounded()))
                topKMasks(values: [(UnsafePointer(importance[i].data), n)], allowed: [allowed[i].map { UnsafePointer($0.data) }],
                          k: k, masks: [g.mask.data], hint: &hints[i])
            }
        case .global:
            if hints.count != 1 { hints = [TopKHint()] }
            let total = gates.reduce(0) { $0 + $1.mask.count }
            let k = Swift.max(1, Int((keep * Double(total)).rounded()))
            topKMasks(values: zip(importance, gates).map { (UnsafePointer($0.data), $1.mask.count) },
                      allowed: allowed.map { $0.map { UnsafePointer($0.data) } }, k: k, masks: gates.map { $0.mask.data },
                      hint: &hints[0])
        }
    }

    /// Soft movement: M = 1[σ(S) > τ], keeping at least `minKeep` of the matrix.
    func softMask(_ g: WeightGate, tau: Double) {
        guard let s = g.scores else { return }
        let n = s.count
        let cut = tau <= 0 ? -Float.infinity : Float(log(tau / (1 - tau)))
        var kept = 0
        for i in 0..<n { let on: Float = s.data[i] > cut ? 1 : 0; g.mask.data[i] = on; kept += Int(on) }
        let floor = Swift.max(1, Int((config.minKeep * Double(n)).rounded(.up)))
        if kept < floor {
            topKMasks(values: [(UnsafePointer(s.data), n)], allowed: [nil], k: floor, masks: [g.mask.data])
        }
        g.requestedSparsity = nil
    }

    /// Ends training: masks become fixed (W ⊙= M), learned scores are kept for inspection.
    public func finalize() throws {
        guard let model else { return }
        if config.method == .movement, gates.contains(where: { $0.kind == .straightThrough }) {
            try updateMasks(keep: keep(at: lastStepSeen))
        }
        for (t, g) in zip(targets, gates) where model.gate(for: t.name) === g {
            switch g.kind {
            case .fixed: break
            case .straightThrough:
                if config.method == .softMovement { softMask(g, tau: softThreshold(at: lastStepSeen)) }
            case let .hardConcrete(l, r, _):
                guard let s = g.scores else { break }
                let m = Tensor.hardConcreteMask(logits: s, l: l, r: r)
                t.weight.multiplyInPlace(by: m)
                for i in 0..<m.count { g.mask.data[i] = m.data[i] > 0 ? 1 : 0 }
            }
            g.kind = .fixed
            g.scores?.requiresGrad = false
            g.scores?.grad = nil
            t.weight.maskInPlace(by: g.mask)
        }
    }

    /// Prunes once to the target: magnitude and random from the weights alone, Taylor and SNIP
    /// from `batches` batches of `data` (gradients of the cross-entropy, no update).
    public func pruneOnce(_ model: Module, data: BatchSource?, batchSize: Int = 128, keepOverride: Double? = nil) throws {
        guard !config.method.learnsScores else {
            throw EngineError("\(config.method.rawValue) learns its scores while training: use train(net, data, pruner=p)")
        }
        try attach(to: model)
        if config.method == .taylor || config.method == .snip {
            guard let data else {
                throw EngineError("\(config.method.rawValue) computes importance from gradients: pass data=")
            }
            accumulated = try saliency(model, data: data, batchSize: batchSize)
        }
        let keep = keepOverride ?? config.keep ?? 1
        lastKeep = nil
        let importance: [Tensor] = config.method == .snip ? accumulated : try self.importance()
        let allowed = zip(gates, self.allowed).map { g, a in a?.copy() ?? g.mask.copy() }
        select(importance, keep: keep, allowed: allowed)
        for (t, g) in zip(targets, gates) {
            g.requestedSparsity = 1 - keep
            t.weight.maskInPlace(by: g.mask)
        }
        lastKeep = keep; currentKeep = keep
        if config.method == .taylor { accumulated = [] }
    }

    /// SNIP: |w ⊙ Σ_b g_b|; Taylor: Σ_b |w ⊙ g_b|, over the first `batches` batches.
    func saliency(_ model: Module, data: BatchSource, batchSize: Int) throws -> [Tensor] {
        let acc = targets.map { Tensor.zeros($0.weight.shape) }
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining); model.zeroGrad() }
        let flags = targets.map { $0.weight.requiresGrad }
        for t in targets { t.weight.requiresGrad = true }
        defer { for (t, f) in zip(targets, flags) { t.weight.requiresGrad = f } }
        var seen = 0
        model.zeroGrad()
        for (x, y) in data.makeBatches(size: batchSize, shuffle: true, rng: RNG(seed: config.seed)) {
            if seen >= config.batches { break }
            if config.method == .taylor { model.zeroGrad() }
            let loss = try model(x).crossEntropy(labels: y)
            try loss.backward()
            if config.method == .taylor { for (t, a) in zip(targets, acc) { addSaliency(t.weight, into: a) } }
            seen += 1
        }
        // SNIP: the gradient summed over the batches, once.
        if config.method == .snip { for (t, a) in zip(targets, acc) { addSaliency(t.weight, into: a) } }
        return acc
    }
}

/// acc += |w ⊙ ∂L/∂w|, the first-order saliency of each weight (nothing without a gradient).
func addSaliency(_ w: Tensor, into acc: Tensor) {
    guard let g = w.grad else { return }
    let wd = w.data, gd = g.data, a = acc.data
    for i in 0..<acc.count { a[i] += Swift.abs(wd[i] * gd[i]) }
}
