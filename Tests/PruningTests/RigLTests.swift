// RigL by hand: the cosine drop fraction, drop-and-grow on units and on a hand-set layer (the
// smallest |w| out, the largest |∂L/∂w| in, new weights and their Adam moments at 0), counts
// exact through training with nothing changing after T_end, ERK densities by default, frozen
// entries never grown.
import Testing
import Engine
import NN
import Kernels
@testable import Pruning

/// Every target's mask, weights and optimizer state at the start and after each step (after
/// the pruner's own hook, which must come first in the hooks).
final class MaskRecorder: TrainingHook {
    struct Snapshot { let masks: [[Float]]; let weights: [[Float]]; let state: [[[Float]]] }
    let pruner: Pruner
    var optimizer: Optimizer?
    var snapshots: [Snapshot] = []
    init(_ pruner: Pruner) { self.pruner = pruner }
    func begin(model: Module, optimizer: Optimizer, totalSteps: Int) throws { self.optimizer = optimizer; record() }
    func afterStep(step: Int) throws { record() }
    func record() {
        snapshots.append(Snapshot(masks: pruner.gates.map { $0.mask.array }, weights: pruner.targets.map { $0.weight.array },
                                  state: pruner.targets.map { t in optimizer?.state(of: t.name).map { $0.array } ?? [] }))
    }
}

/// Trains a fresh model for one epoch of `samples` (4 classes) with Adam, recording each step.
func trainRecorded(_ config: PrunerConfig, widths: [Int], samples: Int, batch: Int = 8,
                   stopAfter: Int? = nil) throws -> (Sequential, Pruner, MaskRecorder) {
    let data = try Clusters(dim: widths[0], perClass: samples / 4)
    let net = try model(widths)
    let p = try Pruner(config)
    let recorder = MaskRecorder(p)
    let opt = try Optimizer(.adam(), parameters: net.namedParameters(), lr: 1e-2)
    try NN.fit(net, on: data, optimizer: opt, config: quiet(1, batch: batch), hooks: [p, recorder],
               shouldStop: { stopAfter.map { recorder.snapshots.count > $0 } ?? false })
    return (net, p, recorder)
}

/// One real step on a few samples of two classes (the small models' outputs), so that the optimizer
/// has its state.
func takeOneStep(_ net: Module, _ opt: Optimizer, dim: Int) throws {
    guard let (x, y) = try Clusters(classes: 2, dim: dim, perClass: 4).makeBatches(size: 8, shuffle: false, rng: RNG(seed: 1)).first(where: { _ in true })
    else { return }
    opt.zeroGrad()
    try net(x).crossEntropy(labels: y).backward()
    opt.step()
}

func onSet(_ mask: [Float]) -> Set<Int> { Set(mask.indices.filter { mask[$0] != 0 }) }

@Suite struct RigLTests {
    @Test func dropFractionFollowsTheCosine() throws {
        // 400 steps, T_end = 0.75 · 400 = 300, ΔT = 100: updates at t = step − 1 = 0, 100, 200.
        func f(_ step: Int) -> Double? { RigL.dropFraction(after: step, every: 100, total: 400, alpha: 0.3, end: 0.75) }
        #expect(try abs(#require(f(1)) - 0.3) < 1e-12)     // (0.3/2)(1 + cos 0)
        #expect(try abs(#require(f(101)) - 0.225) < 1e-12)  // 0.15 · (1 + cos π/3) = 0.15 · 1.5
        #expect(try abs(#require(f(201)) - 0.075) < 1e-12)  // 0.15 · (1 + cos 2π/3) = 0.15 · 0.5
        for step in [0, 2, 50, 100, 102, 200, 301, 400] { #expect(f(step) == nil, "no update after step \(step)") }
        // Four steps with ΔT = 1: T_end = round(3) = 3, so t = 0, 1, 2 and none after step 4.
        let short = (1...4).map { RigL.dropFraction(after: $0, every: 1, total: 4, alpha: 0.3, end: 0.75) }
        #expect(abs((short[0] ?? -1) - 0.3) < 1e-12 && abs((short[1] ?? -1) - 0.225) < 1e-12)
        #expect(abs((short[2] ?? -1) - 0.075) < 1e-12 && short[3] == nil)
    }

    @Test func dropAndGrowByHand() {
        // Active 0–3; the two smallest |w| (1: 0.1, 3: 0.3) leave. Growth ranks 1, 3 and 4–7 by
        // |grad|, 5 is not allowed: 3 (0.7, straight back) and 7 (0.6) come in.
        let kept = RigL.dropAndGrow(active: [true, true, true, true, false, false, false, false],
                                    drop: [0.5, 0.1, 0.9, 0.3, 0, 0, 0, 0], grow: [0.9, 0, 0.9, 0.7, 0.2, 0.8, 0.05, 0.6],
                                    eligible: [true, true, true, true, true, false, true, true], classes: nil, count: 2)
        #expect(kept == [true, false, true, true, false, false, false, true])
        // 2:4 on two groups: 5 (0.1) and 2 (0.2) leave; each group takes back one, by |grad|:
        // 3 (0.8) in the first, 4 (0.7) in the second, though 7 (0.6) beats the rest of the first.
        let nm = RigL.dropAndGrow(active: [true, false, true, false, false, true, true, false],
                                  drop: [0.5, 0, 0.2, 0, 0, 0.1, 0.9, 0], grow: [0, 0.3, 0.4, 0.8, 0.7, 0.05, 0, 0.6],
                                  eligible: Array(repeating: true, count: 8), classes: [0, 0, 0, 0, 1, 1, 1, 1], count: 2)
        #expect(nm == [true, false, false, true, true, false, true, false])
        // Nothing to swap: the mask stays.
        let none = RigL.dropAndGrow(active: [true, false], drop: [1, 0], grow: [0, 1], eligible: [true, true], classes: nil, count: 0)
        #expect(none == [true, false])
    }

    @Test func oneUpdateOnAHandSetLayer() throws {
        // One 4×4 target keeping 8; α = 0.25 at the first update: ⌊0.25 · 8⌋ = 2 out, 2 in.
        let net = try model([4, 4, 4, 2])
        var c = PrunerConfig(RigL.self, keep: 0.5)
        c.scope = .layer; c.include = ["layers.1.weight"]; c.schedule.every = 1
        try c.set("alpha", 0.25)
        let p = try Pruner(c)
        let opt = try Optimizer(.adam(), parameters: net.namedParameters(), lr: 1e-3)
        try p.begin(model: net, optimizer: opt, totalSteps: 8)
        try takeOneStep(net, opt, dim: 4)
        let t = p.targets[0], g = p.gates[0]
        let active = (0..<16).filter { g.mask.data[$0] != 0 }, inactive = (0..<16).filter { g.mask.data[$0] == 0 }
        #expect(active.count == 8)
        // Smallest |w|: the 5th (0.02) and 2nd (0.05) active; largest |grad|: the 2nd (0.9) and 5th (0.8) inactive.
        let wActive: [Float] = [0.8, -0.05, 0.6, 0.7, -0.02, 0.9, 0.5, 0.4]
        let gInactive: [Float] = [0.1, -0.9, 0.2, 0.3, 0.8, 0.05, 0, -0.4]
        let grad = try Tensor.zeros([4, 4])
        for (k, j) in active.enumerated() { t.weight.data[j] = wActive[k]; grad.data[j] = 0.01 }
        // Stale values where the mask is off: whatever comes in must start from nothing.
        for (k, j) in inactive.enumerated() { t.weight.data[j] = 0.33; grad.data[j] = gInactive[k] }
        t.weight.grad = grad
        let state = opt.state(of: t.name)
        #expect(state.count == 2, "Adam's two moments")
        for s in state { s.fill(0.7) }
        try p.afterStep(step: 1)
        let dropped = [active[1], active[4]], grown = [inactive[1], inactive[4]]
        #expect(onSet(g.mask.array) == Set(active).subtracting(dropped).union(grown))
        for j in dropped + grown {
            #expect(t.weight.data[j].bitPattern == 0, "entry \(j) is +0.0")
            for s in state { #expect(s.data[j] == 0, "entry \(j)'s moments are 0") }
        }
        // The weights that stay keep their values and their moments.
        for (k, j) in active.enumerated() where !dropped.contains(j) {
            #expect(t.weight.data[j] == wActive[k])
            for s in state { #expect(s.data[j] == 0.7) }
        }
    }

    @Test func countsStayExactAndNothingChangesAfterTEnd() throws {
        // 16 steps, ΔT = 2, T_end = round(0.5 · 16) = 8: updates after steps 1, 3, 5, 7 (t = 0, 2, 4, 6).
        var c = PrunerConfig(RigL.self, keep: 0.3)
        #expect(c.scope == .erk)
        c.schedule.every = 2
        try c.set("t_end", 0.5)
        let (_, p, rec) = try trainRecorded(c, widths: [16, 32, 8, 4], samples: 128)
        #expect(rec.snapshots.count == 17)
        // ERK by default: the smaller matrix keeps the larger fraction.
        let densities = erkDensities(shapes: [[32, 16], [8, 32]], keep: 0.3)
        #expect(densities[1] > densities[0])
        let counts = zip(densities, [512, 256]).map { Swift.max(1, Int(($0 * Double($1)).rounded())) }
        var changedTotal = 0
        for (s, snap) in rec.snapshots.enumerated() {
            #expect(snap.masks.map { onSet($0).count } == counts, "after step \(s)")
            guard s > 0 else { continue }
            let f = RigL.dropFraction(after: s, every: 2, total: 16, alpha: 0.3, end: 0.5)
            #expect((f != nil) == [1, 3, 5, 7].contains(s))
            for l in 0..<2 {
                let before = onSet(rec.snapshots[s - 1].masks[l]), after = onSet(snap.masks[l])
                let added = after.subtracting(before), removed = before.subtracting(after)
                #expect(added.count == removed.count)
                #expect(added.count <= Int((f ?? 0) * Double(counts[l])), "after step \(s): at most ⌊f·active⌋ swapped")
                changedTotal += added.count
                for j in added {
                    #expect(snap.weights[l][j].bitPattern == 0)
                    for m in snap.state[l] { #expect(m[j] == 0, "grown weight \(j): moments 0") }
                }
            }
        }
        #expect(changedTotal > 0, "the masks did move")
        for (t, g) in zip(p.targets, p.gates) { #expect(t.weight.nonzeroCount <= g.mask.nonzeroCount) }
    }

    @Test func groupsAndBlocksSwapWhole() throws {
        for granularity in [Granularity.nm(n: 2, m: 4), .block(rows: 4, cols: 4)] {
            var c = PrunerConfig(RigL.self, keep: granularity == .nm(n: 2, m: 4) ? nil : 0.25)
            c.scope = .layer; c.granularity = granularity; c.schedule.every = 1
            let (_, p, rec) = try trainRecorded(c, widths: [16, 32, 8, 4], samples: 64)
            let shapes = p.targets.map { $0.weight.shape }
            var changed = 0
            for (s, snap) in rec.snapshots.enumerated() {
                for (l, mask) in snap.masks.enumerated() {
                    if s > 0 { changed += onSet(mask).symmetricDifference(onSet(rec.snapshots[s - 1].masks[l])).count }
                    #expect(onSet(mask).count == onSet(rec.snapshots[0].masks[l]).count, "\(granularity) after step \(s)")
                    let rows = shapes[l][0], cols = mask.count / rows
                    switch granularity {
                    case .nm:
                        for group in 0..<(mask.count / 4) where (0..<4).filter({ mask[group * 4 + $0] != 0 }).count != 2 {
                            Issue.record("after step \(s): group \(group) of layer \(l) is not 2:4")
                        }
                    default:
                        for r in 0..<rows {
                            for col in 0..<cols where mask[r * cols + col] != mask[(r / 4 * 4) * cols + col / 4 * 4] {
                                Issue.record("after step \(s): the block of \(r), \(col) in layer \(l) is split")
                            }
                        }
                    }
                }
            }
            #expect(changed > 0, "\(granularity): the masks did move")
        }
    }

    @Test func frozenEntriesNeverGrow() throws {
        let net = try model([4, 4, 4, 2])
        let name = "layers.1.weight"
        let frozen = try Tensor.zeros([4, 4])
        for j in stride(from: 0, to: 16, by: 2) { frozen.data[j] = 1 }
        let gate = WeightGate(mask: frozen.copy())
        gate.frozen = true
        try net.setGate(gate, for: name)
        var c = PrunerConfig(RigL.self, keep: 0.25)  // 4 of 16, within the 8 allowed
        c.scope = .layer; c.include = [name]; c.schedule.every = 1
        try c.set("alpha", 0.5)
        let p = try Pruner(c)
        try p.begin(model: net, optimizer: try sgd(net), totalSteps: 8)
        let t = p.targets[0], g = p.gates[0]
        for step in 1...4 {
            // The forbidden entries have by far the largest gradients; of the allowed, 14 and 12.
            let grad = try Tensor.zeros([4, 4])
            for j in 0..<16 { grad.data[j] = j % 2 == 1 ? 100 : Float(j) * 0.01 }
            t.weight.grad = grad
            try p.afterStep(step: step)
            let on = onSet(g.mask.array)
            #expect(on.count == 4 && on.allSatisfy { $0 % 2 == 0 }, "after step \(step): \(on.sorted())")
            if step == 1 { #expect(on.isSuperset(of: [12, 14])) }
        }
    }
}
