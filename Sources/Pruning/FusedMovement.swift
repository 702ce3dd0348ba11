// Movement pruning in one pass per matrix and step: the pruner takes over the updates of its
// gated weights from the optimizer, and after each step updates the weights, the scores and
// the mask together (Kernels/Movement.swift), with the optimizers' own rules and state. With
// masks re-selected every step (movement's default), a mask is not stored while training: it
// is implied by the scores and the last selection's cut, and written out when training ends or
// something needs it.
import Engine
import Kernels
import KernelsAVX512
import NN

/// The fused path while a training run uses it.
final class FusedRun {
    let optimizer: Optimizer
    let scoreOptimizer: Optimizer
    /// Per selection (one per matrix, or one for a global threshold): whether its mask is all
    /// ones from a selection that kept everything (nothing to redo while that holds).
    var keptAll: [Bool]
    /// Per selection: whether its masks are implied by the cut (`TopKHint.cut`) rather than
    /// stored, and whether the stored masks are behind it.
    let implied: Bool
    var stale: [Bool]
    /// Per target: its weight's and its scores' positions in their optimizers.
    let indices: [(weight: Int?, scores: Int?)]
    init(optimizer: Optimizer, scoreOptimizer: Optimizer, selections: Int, implied: Bool, names: [String]) {
        self.optimizer = optimizer; self.scoreOptimizer = scoreOptimizer; self.implied = implied
        keptAll = Array(repeating: false, count: selections)
        stale = Array(repeating: false, count: selections)
        indices = names.map { (optimizer.index(of: $0), scoreOptimizer.index(of: $0 + ".scores")) }
    }

    /// The weight's and the scores' updates of target `i` at the last step, with their state.
    func rules(_ i: Int) -> (weight: (rule: UpdateRule, first: Tensor?, second: Tensor?)?,
                             scores: (rule: UpdateRule, first: Tensor?, second: Tensor?)?) {
        (indices[i].weight.flatMap(optimizer.lastRule(at:)), indices[i].scores.flatMap(scoreOptimizer.lastRule(at:)))
    }
}

extension Pruner {
    /// The fused state of target `i`'s gate, when it has one.
    func fused(_ i: Int) -> FusedGate? { (gates[i].transform as? StraightThroughGate)?.fused }

    /// Gradients a failed step left behind are not the next step's.
    func clearFusedGradients() {
        guard fusedRun != nil else { return }
        for i in gates.indices { fused(i)?.gradient = nil }
    }

    /// Turns the fused path on when this run allows it (movement calls it): Adam on the scores,
    /// single-weight granularity, no frozen upstream mask to respect, every gated weight trained
    /// by `optimizer`, and no gradient clipping. Otherwise the unfused kernels run.
    func startFused(optimizer: Optimizer) {
        stopFused()
        guard fusesUpdates, config.granularity == .element, let so = scoreOptimizer, !targets.isEmpty,
              allowed.allSatisfy({ $0 == nil }),
              gates.allSatisfy({ $0.transform is StraightThroughGate && $0.scores != nil }) else { return }
        switch so.kind {
        case .adam, .adamw: break
        case .sgd: return
        }
        guard optimizer.delegate(targets.map(\.name)) else { return }
        for (t, g) in zip(targets, gates) {
            let masked = Tensor.empty(like: t.weight)
            gateForward(t.weight.data, g.mask.data, masked.data, masked.count)
            (g.transform as? StraightThroughGate)?.fused = FusedGate(masked: masked)
        }
        fusedRun = FusedRun(optimizer: optimizer, scoreOptimizer: so, selections: selections.count,
                            implied: config.schedule.every == 1, names: targets.map(\.name))
    }

    /// The selections: one per matrix, or one across all of them.
    var selections: [[Int]] { config.scope == .global ? [Array(gates.indices)] : gates.indices.map { [$0] } }

    /// Hands the weights' updates back to the optimizer, with every mask written out.
    func stopFused() {
        guard let run = fusedRun else { return }
        for s in selections.indices { writeMasks(s, run: run) }
        run.optimizer.undelegateAll()
        for g in gates { (g.transform as? StraightThroughGate)?.fused = nil }
        fusedRun = nil
    }

    /// After the optimizers' `step()` (which left the gated weights and the scores alone): every
    /// matrix's fused update in one job on the pool, then the new masks where the schedule asks
    /// for them.
    func fusedStep(step: Int) throws {
        guard let run = fusedRun else { return }
        let update = config.schedule.updates(after: step, total: totalSteps)
        let keep = self.keep(at: step)
        let keeps = config.scope == .global ? [keep] : layerKeeps(keep)
        let selections = self.selections
        if hints.count != selections.count { hints = Array(repeating: TopKHint(), count: selections.count) }
        // Per selection: its size, k when this step selects, the window, the mask the pass reads,
        // and whether every member took the fused path.
        var plans: [(total: Int, k: Int?, window: KeyWindow?, current: CurrentMask, complete: Bool)] = []
        var tasks: [MovementTask] = [], taskSelection: [Int] = []
        var gradients: [Tensor] = []     // alive until the pass has read them
        for (s, members) in selections.enumerated() {
            let total = members.reduce(0) { $0 + gates[$1].mask.count }
            let k = Swift.max(1, Int((keeps[s] * Double(total)).rounded()))
            let selecting = update && !(k >= total && run.keptAll[s])
            let window = selecting && k < total ? hints[s].window(k: k) : nil
            let current: CurrentMask = run.implied ? hints[s].cut.map { .implied(cut: $0) } ?? .stored : .stored
            plans.append((total, selecting ? k : nil, window, current, true))
            var offset = 0
            for i in members {
                let t = targets[i], g = gates[i], n = g.mask.count
                guard let state = fused(i), let scores = g.scores else { continue }
                defer { state.gradient = nil; offset += n }
                let rules = run.rules(i)
                guard let grad = state.gradient, t.weight.grad == nil, let (rule, wf, ws) = rules.weight,
                      let (scoreRule, sf, ss) = rules.scores, let sf, let ss, case .adam = scoreRule else {
                    if run.stale[s], let cut = hints[s].cut {
                        writeMask(cut: cut, scores: scores.data, offset: offset, n, into: g.mask.data)
                    }
                    unfusedStep(i, run: run)
                    plans[s].complete = false
                    continue
                }
                gradients.append(grad)
                let buffers = MovementBuffers(weight: t.weight.data, gradient: grad.data, weightFirst: wf?.data,
                                              weightSecond: ws?.data, scores: scores.data, scoreFirst: sf.data,
                                              scoreSecond: ss.data, mask: g.mask.data, masked: state.masked.data, count: n)
                tasks.append(MovementTask(buffers, rule: rule, scoreRule: scoreRule, current: current, window: window, offset: offset))
                taskSelection.append(s)
            }
        }
        var found = Array(repeating: WindowCount(), count: selections.count)
        for (t, f) in fusedMovementSteps(tasks).enumerated() { found[taskSelection[t]].add(f) }
        withExtendedLifetime(gradients) {}
        for (s, members) in selections.enumerated() {
            let plan = plans[s]
            guard let k = plan.k else { continue }
            for i in members { gates[i].requestedSparsity = 1 - keeps[s] }
            run.keptAll[s] = k >= plan.total
            let buffers = members.compactMap { i in
                fused(i).map { (weight: UnsafePointer(targets[i].weight.data), mask: gates[i].mask.data,
                                      masked: $0.masked.data, count: gates[i].mask.count) }
            }
            let storing = plan.current == .stored
            if let window = plan.window, plan.complete,
               resolveWindow(found[s], window: window, k: k, buffers: buffers, storing: storing, hint: &hints[s]) {
                if !storing { run.stale[s] = true }
                continue
            }
            // No window, or the threshold moved out of it: select afresh and rewrite W ⊙ M.
            let values = members.map { i in (UnsafePointer(gates[i].scores?.data ?? gates[i].mask.data), gates[i].mask.count) }
            topKMasks(values: values, allowed: members.map { _ in nil }, k: k, masks: members.map { gates[$0].mask.data },
                      hint: &hints[s], missed: plan.complete ? plan.window : nil)
            run.stale[s] = false
            for b in buffers { gateForward(b.weight, b.mask, b.masked, b.count) }
        }
        currentKeep = keep
        lastKeep = keep
    }

    /// Writes out the masks of selection `s` when they are only implied by its cut.
    func writeMasks(_ s: Int, run: FusedRun) {
        guard run.stale[s], s < hints.count, let cut = hints[s].cut else { return }
        var offset = 0
        for i in selections[s] {
            let g = gates[i]
            if let scores = g.scores { writeMask(cut: cut, scores: scores.data, offset: offset, g.mask.count, into: g.mask.data) }
            offset += g.mask.count
        }
        run.stale[s] = false
    }

    /// One matrix's step with the unfused kernels (its stored mask up to date): when no gradient
    /// reached W ⊙ M this step, or the weight also received one of its own (it is used outside
    /// its mask).
    func unfusedStep(_ i: Int, run: FusedRun) {
        let t = targets[i], g = gates[i], n = g.mask.count
        guard let state = fused(i), let scores = g.scores else { return }
        var dw: Tensor?, ds: Tensor?
        if let grad = state.gradient {
            let w = Tensor.empty(like: t.weight), s = Tensor.empty(like: t.weight)
            gateBackward(grad.data, t.weight.data, g.mask.data, w.data, s.data, n)
            dw = w; ds = s
        }
        if let own = t.weight.grad { dw = dw.map { $0.adding(own) } ?? own }
        t.weight.grad = nil
        let rules = run.rules(i)
        if let dw, let (rule, f, s) = rules.weight {
            applyRule(rule, t.weight.data, dw.data, f?.data, s?.data, n)
        }
        if let ds, let (rule, f, s) = rules.scores {
            applyRule(rule, scores.data, ds.data, f?.data, s?.data, n)
        }
        gateForward(t.weight.data, g.mask.data, state.masked.data, n)
    }
}

/// The fused pass over one step's matrices: on sixteen lanes where the CPU has AVX-512
/// (`AVX512.enabled`), on eight otherwise; bit-identical either way.
public func fusedMovementSteps(_ tasks: [MovementTask]) -> [WindowCount] {
    AVX512.enabled ? movementSteps(tasks, piece: movementPiece16) : movementSteps(tasks)
}
