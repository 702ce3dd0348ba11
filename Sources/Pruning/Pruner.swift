// Pruners: the machinery every method shares. A pruner selects the target matrices of a model,
// installs the method's gates on them, follows the schedule, turns importance into masks under
// the layer distribution, granularity and frozen bounds, and keeps the optimizer bound to the
// masks. What a method computes lives in Methods/, one file per method.
import Engine
import Kernels
import NN

/// A pruner: installs masks on the chosen parameters of a model and updates them while it
/// trains (as a `TrainingHook`) or once (`pruneOnce`).
public final class Pruner: TrainingHook {
    public let config: PrunerConfig
    /// The method's instance for this pruner (its state lives there).
    public let method: any PruningMethod
    public private(set) var targets: [PruneTarget] = []
    public private(set) var gates: [WeightGate] = []
    /// Masks that were frozen before this pruner attached: pruned entries there stay pruned.
    public private(set) var allowed: [Tensor?] = []
    /// Draws for methods that need randomness, reseeded from `config.seed` on every attach.
    public private(set) var rng = RNG(seed: 0)
    public private(set) weak var model: Module?
    public private(set) var optimizer: Optimizer?
    /// The optimizer of the gates' scores, for methods that learn scores.
    public private(set) var scoreOptimizer: Optimizer?
    public private(set) var totalSteps = 0
    /// The last kept fraction applied (magnitude skips recomputing an unchanged target).
    public internal(set) var lastKeep: Double?
    /// Where each selection's threshold was last time (one per matrix, or one for global scope):
    /// scores move little between steps, so the next top-k is found in one pass around it.
    var hints: [TopKHint] = []
    public internal(set) var currentKeep: Double = 1
    /// Per target, the fraction it keeps at the end when the targets differ by layer (per-layer
    /// targets or ERK); nil when every matrix keeps the same (or one global threshold decides).
    public private(set) var layerFinal: [Double]?
    /// The overall kept fraction at the end (nil for methods that reach their own).
    public private(set) var overallKeep: Double?
    /// The data of the training run in progress (`PrunedTraining` sets it), for methods that
    /// estimate from data at their pruning steps (WoodFisher, OBD); nil otherwise.
    public internal(set) var trainingData: BatchSource?
    /// Movement pruning updates each gated weight, its scores and its mask in one fused pass
    /// (`Kernels/Movement.swift`) when the training allows it. The results are bit-identical to
    /// the unfused kernels, which `false` selects (tests and benchmarks compare the two).
    public var fusesUpdates = true
    /// The fused path's state while it is active.
    var fusedRun: FusedRun?
    /// The masks recorded while training (Pruner+Log.swift), reset when training begins.
    public internal(set) var maskLog = PrunerLog()

    public init(_ config: PrunerConfig) throws {
        try config.validate()
        self.config = config
        method = config.method.init(settings: config.settings)
        try method.validate(config)
    }

    public var methodName: String { config.method.name }
    public var settings: MethodSettings { config.settings }

    /// Selects the targets in `model` and installs this pruner's gates (all ones to start, or the
    /// frozen mask already there).
    public func attach(to model: Module) throws {
        if self.model === model && !targets.isEmpty { return }
        let targets = try Targets.select(model, include: config.include, exclude: config.exclude)
        try checkGranularity(targets)
        // Checked before any gate is installed, so that a bad target leaves the model untouched.
        let (finals, overall) = try distribute(targets)
        rng = RNG(seed: config.seed)
        var gates: [WeightGate] = [], allowed: [Tensor?] = []
        for t in targets {
            let previous = model.gate(for: t.name)
            let frozen = previous.flatMap { $0.frozen ? $0.mask.copy() : nil }
            let gate = try method.makeGate(t, mask: frozen?.copy() ?? Tensor.ones(like: t.weight), pruner: self)
            gate.frozen = frozen != nil
            gates.append(gate); allowed.append(frozen)
        }
        for (t, g) in zip(targets, gates) { try model.setGate(g, for: t.name) }
        self.model = model; self.targets = targets; self.gates = gates; self.allowed = allowed
        layerFinal = finals; overallKeep = overall
        lastKeep = nil; currentKeep = 1
        hints = []
        try method.attached(self)
    }

    /// Per-layer final fractions (per-layer targets, ERK) and the overall fraction they make.
    func distribute(_ targets: [PruneTarget]) throws -> ([Double]?, Double?) {
        let sizes = targets.map { Double($0.weight.count) }, total = sizes.reduce(0, +)
        if !config.layerKeep.isEmpty {
            for (pattern, _) in config.layerKeep where !targets.contains(where: { globMatch($0.name, pattern) }) {
                throw PruningError.invalid("the per-layer target '\(pattern)' matches no pruned matrix (they are \(targets.map(\.name).joined(separator: ", ")))")
            }
            let keeps = try targets.map { t -> Double in
                if let hit = config.layerKeep.first(where: { globMatch(t.name, $0.pattern) }) { return hit.keep }
                guard let keep = config.keep else {
                    throw PruningError.invalid("no per-layer target matches '\(t.name)' and no overall target is given")
                }
                return keep
            }
            return (keeps, zip(keeps, sizes).reduce(0) { $0 + $1.0 * $1.1 } / Swift.max(total, 1))
        }
        guard let keep = config.finalKeep else { return (nil, nil) }
        if config.scope == .erk { return (erkDensities(shapes: targets.map { $0.weight.shape }, keep: keep), keep) }
        return (nil, keep)
    }

    /// N:M groups must tile every row.
    func checkGranularity(_ targets: [PruneTarget]) throws {
        guard case let .nm(n, m) = config.granularity else { return }
        for t in targets {
            let row = t.weight.shape.dropFirst().reduce(1, *)
            guard t.weight.shape.count >= 2, row % m == 0 else {
                throw PruningError.invalid("\(n):\(m) needs the rows of every pruned matrix to be a multiple of \(m) long, but '\(t.name)' \(describe(shape: t.weight.shape)) has rows of \(row); leave it out")
            }
        }
    }

    // MARK: Training hook

    public func begin(model: Module, optimizer: Optimizer, totalSteps: Int) throws {
        try attach(to: model)
        self.optimizer = optimizer
        self.totalSteps = totalSteps
        let scores = zip(targets, gates).compactMap { t, g in g.scores.map { (t.name + ".scores", $0) } }
        if let (kind, lr) = method.scoreOptimizer(), !scores.isEmpty {
            // The scores follow the weights' learning-rate schedule (warm-up, decay), as in the
            // authors' code, where both are groups of one optimizer under one scheduler: with a
            // constant score rate, masks kept changing while the weights' rate had decayed to 0.
            scoreOptimizer = try Optimizer(kind, parameters: scores, lr: lr, schedule: optimizer.schedule)
        } else {
            scoreOptimizer = nil
        }
        // The mask at step 0: one-shot pruning happens here unless prune() already did it.
        if config.schedule.kind != .oneshot {
            try updateMasks(keep: keep(at: 0))
        } else if lastKeep == nil {
            try pruneNow(data: trainingData, batchSize: 128, keep: config.finalKeep ?? 1)
        }
        optimizer.bindMasks(model)
        try method.begin(self, optimizer: optimizer)
        maskLog = PrunerLog()
        recordMasks(step: 0, force: true)
    }

    public func loss(_ loss: Tensor, x: Tensor, logits: Tensor, labels: [Int], step: Int) throws -> Tensor {
        try method.loss(loss, pruner: self, step: step)
    }

    public func afterBackward(step: Int) throws { try method.afterBackward(self, step: step) }

    public func afterStep(step: Int) throws {
        if let so = scoreOptimizer {
            GradMode.noGrad { so.step() }
            so.zeroGrad()
        }
        try method.afterStep(self, step: step)
        if config.schedule.updates(after: step, total: totalSteps) || config.method.learnsWhileTraining { recordMasks(step: step) }
    }

    public func end() throws {
        try method.end(self)
        try finalize()
        recordMasks(step: stepsTaken, force: true)
        if let model { optimizer?.bindMasks(model) }
    }

    // MARK: Masks

    /// The overall kept fraction the schedule asks for at step `t` (0-based).
    public func keep(at t: Int) -> Double {
        config.schedule.value(at: t, total: totalSteps, initial: 1, final: overallKeep ?? config.finalKeep ?? 1)
    }

    /// Optimizer steps taken so far in this run.
    public var stepsTaken: Int { optimizer?.stepCount ?? 0 }

    /// Recomputes the masks when the schedule says so after step `step`: the default of
    /// `PruningMethod.afterStep`.
    public func scheduledUpdate(after step: Int) throws {
        guard config.schedule.updates(after: step, total: totalSteps) else { return }
        try updateMasks(keep: keep(at: step))
    }

    /// Recomputes every mask for the overall kept fraction `keep`.
    public func updateMasks(keep: Double) throws {
        currentKeep = keep
        try method.updateMasks(self, keep: keep)
    }

    /// Each target's kept fraction when the whole keeps `keep`: the same for all, or moved from
    /// 1 towards each layer's own target in proportion (so that a schedule ends on every
    /// layer's target at once).
    public func layerKeeps(_ keep: Double) -> [Double] {
        guard let finals = layerFinal, let overall = overallKeep else { return Array(repeating: keep, count: targets.count) }
        guard overall < 1 else { return finals.map { _ in 1 } }
        let progress = Swift.min(1, Swift.max(0, (1 - keep) / (1 - overall)))
        return finals.map { 1 - progress * (1 - $0) }
    }

    /// The masks keep the top `keep` by `importance` (per layer, or across layers), never
    /// reviving what the bound forbids: the current mask for methods whose masks only shrink,
    /// else only a frozen upstream mask. Fixed gates' weights are zeroed where masked.
    public func select(_ importance: [Tensor], keep: Double) throws {
        try select(importance, keep: keep, bound: config.method.masksOnlyShrink ? gates.map { $0.mask } : allowed)
    }

    /// `select` with an explicit bound per target (nil: none).
    public func select(_ importance: [Tensor], keep: Double, bound: [Tensor?]) throws {
        lastKeep = keep; currentKeep = keep
        let keeps = layerKeeps(keep)
        try Selection.masks(importance, gates: gates, targets: targets, keeps: keeps, overall: keep, scope: config.scope,
                            granularity: config.granularity, bound: bound, hints: &hints)
        for (i, (t, g)) in zip(targets, gates).enumerated() {
            g.requestedSparsity = 1 - (config.scope == .global ? keep : keeps[i])
            // The optimizer holds these same mask tensors and zeroes the state of newly pruned
            // weights in its next step; the weights must be 0 before the next forward pass.
            if g.isFixed { t.weight.maskInPlace(by: g.mask) }
        }
    }

    /// Target `i`'s weights whose mask changed from `previous` start over: 0 (+0.0) with no
    /// momentum or Adam moments, whether they left (the optimizer would clear their state only at
    /// its next step) or came in (new weights start from nothing, as RigL's and AC/DC's authors do).
    public func restartChanged(_ i: Int, from previous: Tensor) {
        let t = targets[i], mask = gates[i].mask
        let state = optimizer?.state(of: t.name) ?? []
        for j in 0..<Swift.min(mask.count, previous.count) where mask.data[j] != previous.data[j] {
            t.weight.data[j] = 0
            for s in state where s.count == mask.count { s.data[j] = 0 }
        }
    }

    /// Runs `body` on the model in evaluation mode (BatchNorm statistics and dropout untouched)
    /// with every target's gradient on, for methods that rank by gradients on data; afterwards
    /// the mode and the gradient flags are as before and the gradients cleared. Nil without a model.
    func withTargetGradients<T>(_ body: (Module) throws -> T) rethrows -> T? {
        guard let model else { return nil }
        let wasTraining = model.training, flags = targets.map { $0.weight.requiresGrad }
        model.eval()
        for t in targets { t.weight.requiresGrad = true }
        defer {
            model.train(wasTraining)
            for (t, f) in zip(targets, flags) { t.weight.requiresGrad = f }
            model.zeroGrad()
        }
        model.zeroGrad()
        return try body(model)
    }

    /// Ends training: masks become fixed (W ⊙= M), learned scores are kept for inspection.
    public func finalize() throws {
        guard let model else { return }
        for (t, g) in zip(targets, gates) where model.gate(for: t.name) === g { g.makeFixed(t.weight) }
    }

    /// Prunes once to the target: from the weights alone, or from `data` for methods that rank
    /// by gradients. `keepOverride` sets another target (lottery rounds).
    public func pruneOnce(_ model: Module, data: BatchSource?, batchSize: Int = 128, keepOverride: Double? = nil) throws {
        guard !config.method.learnsWhileTraining else { throw PruningError.learnsWhileTraining(method: methodName) }
        try attach(to: model)
        try pruneNow(data: data, batchSize: batchSize, keep: keepOverride ?? overallKeep ?? 1)
        maskLog = PrunerLog()
        recordMasks(step: 0, force: true)
    }

    func pruneNow(data: BatchSource?, batchSize: Int, keep: Double) throws {
        guard !config.method.learnsWhileTraining else { throw PruningError.learnsWhileTraining(method: methodName) }
        try method.pruneNow(self, data: data, batchSize: batchSize, keep: keep)
    }

    /// One-shot pruning by the method's importance: the default of `PruningMethod.pruneNow`.
    public func selectOnce(data: BatchSource?, batchSize: Int, keep: Double) throws {
        let importance = try method.oneShotImportance(self, data: data, batchSize: batchSize)
        lastKeep = nil
        try select(importance, keep: keep, bound: zip(gates, allowed).map { g, a in a?.copy() ?? g.mask.copy() })
        try method.pruned(self)
        for (t, g) in zip(targets, gates) where g.isFixed { t.weight.maskInPlace(by: g.mask) }
    }
}
