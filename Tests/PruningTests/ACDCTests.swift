// AC/DC by hand: the phase plan for given lengths of training, the target exactly in every
// compressed phase and nothing pruned (but what was frozen) in decompressed ones, compression
// ranking every weight, weights that change side restarting at 0 with no optimizer state, and
// the run ending compressed at the target however it ends.
import Testing
import TestSupport
import Engine
import NN
@testable import Pruning

@Suite struct ACDCTests {
    func method(_ settings: [String: Double] = [:]) throws -> ACDC {
        var s = MethodSettings(ACDC.parameters)
        for (k, v) in settings { try s.set(k, .number(v), method: ACDC.name) }
        return ACDC(settings: s)
    }

    /// The plan as letters: w warm-up, C compressed, d decompressed.
    func plan(_ m: ACDC, _ total: Int) -> String {
        String((0..<total).map { step -> Character in
            switch m.phase(at: step, of: total) {
            case .warmup: return "w"
            case .compressed: return "C"
            case .decompressed: return "d"
            }
        })
    }

    @Test func phaseBoundariesByHand() throws {
        let m = try method()
        // The authors' 100 epochs at one step each: dense to 10, compressed 10–15, 20–25, …,
        // 70–75, decompressed 15–20, …, 65–70 and 75–85, compressed 85–100.
        let authors = String(repeating: "w", count: 10) + String(repeating: "CCCCCddddd", count: 6) + "CCCCC"
            + String(repeating: "d", count: 10) + String(repeating: "C", count: 15)
        #expect(plan(m, 100) == authors)
        // 20 steps: warm-up round(2) = 2, phases of round(1) = 1, last dense 2, final round(3) = 3.
        #expect(plan(m, 20) == "ww" + "CdCdCdCdCdCdC" + "dd" + "CCC")
        // 4 steps: no warm-up (round(0.4) = 0), phases of at least 1, final max(1, round(0.6)) = 1.
        #expect(plan(m, 4) == "CdCC")
        #expect(plan(m, 1) == "C")
        // Other lengths: of 40 steps, warm-up 10, phases of 5, no last dense phase, final 10.
        let other = try method(["dense_warmup": 0.25, "phase": 0.125, "last_dense": 0, "last_sparse": 0.25])
        #expect(plan(other, 40) == String(repeating: "w", count: 10) + String(repeating: "CCCCCddddd", count: 2)
            + String(repeating: "C", count: 10))
    }

    @Test func phasesThatDoNotFitAreRefused() throws {
        var c = PrunerConfig(ACDC.self, keep: 0.1)
        try c.set("dense_warmup", 0.5)
        try c.set("last_sparse", 0.6)
        #expect(errorMessage { _ = try Pruner(c) }?.contains("together they must fit in it") == true)
        var s = PrunerConfig(ACDC.self, keep: 0.1)
        s.schedule.kind = .oneshot
        #expect(errorMessage { _ = try Pruner(s) }?.contains("takes no schedule") == true)
    }

    @Test func compressedAtTheTargetDecompressedDenseRegrownFromZero() throws {
        // 20 steps of the default plan; global scope: round(0.3 · 768) = 230 kept over both matrices.
        let c = PrunerConfig(ACDC.self, keep: 0.3)
        #expect(c.scope == .global)
        let (_, p, rec) = try trainRecorded(c, widths: [16, 32, 8, 4], samples: 160)
        let m = try method()
        #expect(rec.snapshots.count == 21)
        var regrown = 0, trained = 0, notRestarted = 0
        // Snapshot s holds the masks step s (from 0) trains with.
        for s in 0..<20 {
            let phase = m.phase(at: s, of: 20), snap = rec.snapshots[s]
            let on = snap.masks.reduce(0) { $0 + onSet($1).count }
            #expect(on == (phase == .compressed ? 230 : 768), "step \(s) (\(phase))")
            guard s > 0 else { continue }
            let before = rec.snapshots[s - 1]
            for l in 0..<2 {
                // Pruned on entering a compressed phase, or back on leaving one: 0, with no state.
                let changed = snap.masks[l].indices.filter { snap.masks[l][$0] != before.masks[l][$0] }
                for j in changed where snap.weights[l][j].bitPattern != 0 || snap.state[l].contains(where: { $0[j] != 0 }) {
                    notRestarted += 1
                }
                if phase == .decompressed && m.phase(at: s - 1, of: 20) == .compressed {
                    #expect(!changed.isEmpty)
                    regrown += changed.count
                    // Where the next step is still dense, the regrown weights train from 0.
                    if m.phase(at: s + 1, of: 20) != .compressed {
                        trained += changed.filter { rec.snapshots[s + 1].weights[l][$0] != 0 }.count
                    }
                }
            }
        }
        #expect(notRestarted == 0)
        #expect(regrown > 0 && trained > 0)
        // The end: compressed at the target, fixed, pruned weights 0.
        #expect(p.gates.reduce(0) { $0 + $1.mask.nonzeroCount } == 230)
        for (t, g) in zip(p.targets, p.gates) { #expect(g.isFixed && t.weight.nonzeroCount <= g.mask.nonzeroCount) }
    }

    @Test func compressingRanksEveryWeightAndDecompressingRestoresTheFrozenMask() throws {
        let net = try model([4, 4, 4, 2])
        let name = "layers.1.weight"
        let frozen = try Tensor.zeros([4, 4])
        for j in 0..<12 { frozen.data[j] = 1 }  // the last row was pruned upstream
        let gate = WeightGate(mask: frozen.copy())
        gate.frozen = true
        try net.setGate(gate, for: name)
        let params = Dictionary(uniqueKeysWithValues: net.namedParameters())
        let w = try #require(params[name])
        w.maskInPlace(by: frozen)
        let start = w.array
        var c = PrunerConfig(ACDC.self, keep: 0.25)  // 4 of 16
        c.include = [name]
        let p = try Pruner(c)
        let opt = try Optimizer(.adam(), parameters: net.namedParameters(), lr: 1e-3)
        // Four steps: C d C C.
        try p.begin(model: net, optimizer: opt, totalSteps: 4)
        let g = p.gates[0]
        let first = onSet(g.mask.array)
        let largest = (0..<12).sorted { Swift.abs(start[$0]) > Swift.abs(start[$1]) }.prefix(4)
        #expect(first == Set(largest))
        try takeOneStep(net, opt, dim: 4)
        let state = opt.state(of: name)
        #expect(state.count == 2)
        for s in state { s.fill(0.7) }  // stale everywhere: only what changes side is cleared
        try p.afterStep(step: 1)
        #expect(g.mask.array == frozen.array, "decompressed: the frozen mask, not ones")
        for j in 0..<12 where !first.contains(j) {
            #expect(w.data[j].bitPattern == 0 && state.allSatisfy { $0.data[j] == 0 }, "entry \(j) comes back from 0")
        }
        for j in first { #expect(state.allSatisfy { $0.data[j] == 0.7 }) }
        // The weights pruned before now weigh the most: compression ranks them with the rest.
        let back = (0..<12).filter { !first.contains($0) }
        for (k, j) in back.enumerated() { w.data[j] = 5 + Float(k) }
        for j in first { w.data[j] = 0.01 }
        try p.afterStep(step: 2)
        let second = Set(back.suffix(4))
        #expect(onSet(g.mask.array) == second)
        for j in first { #expect(w.data[j].bitPattern == 0 && state.allSatisfy { $0.data[j] == 0 }, "entry \(j) pruned") }
        try p.afterStep(step: 3)
        try p.end()
        #expect(onSet(g.mask.array) == second && g.isFixed)
    }

    @Test func anInterruptedRunEndsCompressed() throws {
        let c = PrunerConfig(ACDC.self, keep: 0.3)
        let (_, p, rec) = try trainRecorded(c, widths: [16, 32, 8, 4], samples: 160, stopAfter: 1)
        #expect(rec.snapshots.count == 2, "stopped after step 1, in the warm-up")
        #expect(rec.snapshots[1].masks.allSatisfy { $0.allSatisfy { $0 == 1 } })
        #expect(p.gates.reduce(0) { $0 + $1.mask.nonzeroCount } == 230)
    }
}
