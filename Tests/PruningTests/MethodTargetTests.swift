// Every method through the one protocol: each that takes a target reaches it per layer for
// single weights, N:M groups and blocks; per-layer targets and ERK densities are met; and a
// mask fixed upstream by any method stays exact through transfer.
import Testing
import TestSupport
import Engine
import NN
import Kernels
@testable import Pruning

@Suite struct MethodTargetTests {
    /// Methods whose target counts single weights (channel pruning's counts units: ChannelTests).
    static let targeted = Methods.all.filter { $0.target == .keep && !$0.removesUnits }.map { $0.name }

    /// Prunes a fresh model with `config` the way a user would: training with the pruner (the
    /// method's own procedure where it has one: lottery rounds, SNIP's pruning first).
    func run(_ config: PrunerConfig, widths: [Int] = [32, 48, 24, 4]) throws -> (Sequential, Pruner) {
        let data = try Clusters(dim: widths[0], perClass: 8)
        // Channel scaling trains the scales it is given, basis pruning prunes the bases it is
        // given: the model gets them first.
        var net = try model(widths)
        if config.method == ChannelScaling.self { net = try ChannelScale.insert(net) }
        if config.method == BasisPruning.self { net = try BasisLayer.rewrite(net) }
        if config.method == Gates.self { net = try UnitGate.insert(net) }
        let p = try Pruner(config)
        _ = try PrunedTraining.train(net, on: data, pruner: p, makeOptimizer: { _ in try sgd(net) }, config: quiet(1, batch: 8))
        return (net, p)
    }

    func config(_ name: String, keep: Double?, granularity: Granularity = .element) throws -> PrunerConfig {
        var c = try PrunerConfig(named: name, keep: keep)
        c.granularity = granularity
        // Every matrix against the target (N:M takes no other scope); RigL's ERK and AC/DC's
        // global defaults are checked in their own suites.
        c.scope = .layer
        if c.method.schedules.contains(.cubic) && c.schedule.kind != .oneshot {
            c.schedule = PruneSchedule(.cubic, warmup: 0.1, cooldown: 0.2, every: 2)
        }
        if name == "lottery" { try c.set("rounds", 2) }
        return c
    }

    func kept(_ net: Module, _ name: String) -> Int {
        net.gate(for: name).map { g in (0..<g.mask.count).filter { g.mask.data[$0] != 0 }.count } ?? -1
    }

    @Test(arguments: targeted)
    func elementTargetsToOneWeight(_ method: String) throws {
        for keep in [0.5, 0.1, 0.02] {
            let (net, p) = try run(config(method, keep: keep))
            for t in p.targets {
                let expected = Swift.max(1, Int((keep * Double(t.weight.count)).rounded()))
                #expect(Swift.abs(kept(net, t.name) - expected) <= 1, "\(method) keep \(keep): \(t.name) keeps \(kept(net, t.name)), wants \(expected)")
                #expect(t.weight.nonzeroCount <= kept(net, t.name), "\(method): masked weights are 0")
            }
        }
    }

    @Test(arguments: targeted)
    func nmGroupsKeepExactlyN(_ method: String) throws {
        for (n, m) in [(2, 4), (1, 4), (4, 8)] {
            let (net, p) = try run(config(method, keep: nil, granularity: .nm(n: n, m: m)))
            for t in p.targets {
                guard let g = net.gate(for: t.name) else { Issue.record("no gate"); continue }
                #expect(g.requestedSparsity.map { Swift.abs($0 - (1 - Double(n) / Double(m))) < 1e-12 } == true)
                for group in 0..<(g.mask.count / m) {
                    let on = (0..<m).filter { g.mask.data[group * m + $0] != 0 }.count
                    if on != n { Issue.record("\(method) \(n):\(m): \(t.name) group \(group) keeps \(on)"); break }
                }
            }
        }
    }

    @Test(arguments: targeted)
    func blocksReachTheTargetToHalfABlock(_ method: String) throws {
        for (br, bc) in [(1, 4), (4, 4)] {
            let keep = 0.25
            let (net, p) = try run(config(method, keep: keep, granularity: .block(rows: br, cols: bc)))
            for t in p.targets {
                let target = keep * Double(t.weight.count)
                let k = kept(net, t.name)
                #expect(Swift.abs(Double(k) - target) <= Double(br * bc) / 2, "\(method) \(br)x\(bc): \(t.name) keeps \(k) of target \(target)")
                // Whole blocks: every block is all kept or all pruned.
                guard let g = net.gate(for: t.name) else { continue }
                let rows = t.weight.shape[0], cols = t.weight.count / rows
                for r0 in stride(from: 0, to: rows, by: br) {
                    for c0 in stride(from: 0, to: cols, by: bc) {
                        var seen = Set<Float>()
                        for r in r0..<min(r0 + br, rows) { for c in c0..<min(c0 + bc, cols) { seen.insert(g.mask.data[r * cols + c]) } }
                        if seen.count != 1 { Issue.record("\(method): block at \(r0),\(c0) of \(t.name) is split"); return }
                    }
                }
            }
        }
    }

    @Test func perLayerTargetsAndERKAreMet() throws {
        var c = PrunerConfig(Magnitude.self, keep: 0.3)
        c.layerKeep = [("layers.1.*", 0.05)]
        let (net, p) = try run(c)
        #expect(Swift.abs(kept(net, "layers.1.weight") - Int((0.05 * 32 * 48).rounded())) <= 1)
        #expect(Swift.abs(kept(net, "layers.3.weight") - Int((0.3 * 48 * 24).rounded())) <= 1)
        #expect(p.layerFinal == [0.05, 0.3])

        var e = PrunerConfig(Magnitude.self, keep: 0.2)
        e.scope = .erk
        let (enet, ep) = try run(e)
        let expected = erkDensities(shapes: [[48, 32], [24, 48]], keep: 0.2)
        for (t, d) in zip(ep.targets, expected) {
            #expect(Swift.abs(kept(enet, t.name) - Int((d * Double(t.weight.count)).rounded())) <= 1, "\(t.name) density \(d)")
        }
        // ERK's formula: the smaller matrix keeps the larger fraction, and the total is the target.
        #expect(expected[1] > expected[0])
        let total = ep.targets.reduce(0) { $0 + kept(enet, $1.name) }
        #expect(Swift.abs(Double(total) - 0.2 * Double(48 * 32 + 24 * 48)) <= 2)
    }

    @Test func granularityErrorsNameTheLayer() throws {
        var c = PrunerConfig(Magnitude.self, keep: nil)
        c.granularity = .nm(n: 2, m: 4)
        let net = try model([30, 16, 4])
        #expect(errorMessage { try Pruner(c).pruneOnce(net, data: nil) }?.contains("'layers.1.weight' [16, 30] has rows of 30") == true)
        c.granularity = .nm(n: 2, m: 4); c.keep = 0.3
        #expect(errorMessage { _ = try Pruner(c) }?.contains("2:4 keeps 0.5") == true)
        var typo = PrunerConfig(Magnitude.self, keep: 0.5)
        typo.layerKeep = [("layer.1.*", 0.1)]
        #expect(errorMessage { try Pruner(typo).pruneOnce(net, data: nil) }?.contains("'layer.1.*' matches no pruned matrix") == true)
        #expect(net.namedGates().isEmpty, "a rejected pruner installs no masks")
        var s = PrunerConfig(SoftMovement.self, keep: nil)
        s.granularity = .block(rows: 4, cols: 4)
        #expect(errorMessage { _ = try Pruner(s) }?.contains("prunes single weights") == true)
    }

    /// Whatever made the mask, full fine-tuning downstream keeps it exactly: same mask, pruned
    /// weights +0.0 after every step.
    @Test(arguments: Methods.names)
    func masksStayExactThroughTransfer(_ method: String) throws {
        var c = try config(method, keep: Methods.named(method)?.target == .keep ? 0.2 : nil)
        if method == "soft_movement" || method == "l0" { try c.set("lambda", method == "l0" ? 5 : 2000) }
        if method == "channel_scaling" { try c.set("lambda", 0.05); try c.set("threshold", 0.5) }
        let (up, _) = try run(c)
        let masks = Dictionary(uniqueKeysWithValues: up.namedGates().map { ($0.0, $0.1.mask.copy()) })
        #expect(!masks.isEmpty)
        let task = try Clusters(classes: 3, dim: 32, perClass: 8, seed: 9)
        let (down, _) = try Transfer.adapt(up, to: task, config: TransferConfig(mode: .full),
                                           makeOptimizer: { m, _ in try Optimizer(.adam(), parameters: m.namedParameters(), lr: 1e-2) },
                                           train: quiet(2, batch: 8))
        let params = Dictionary(uniqueKeysWithValues: down.namedParameters())
        // Transfer replaces the classifier: a mask on its columns (channel pruning masks the
        // inputs that read removed units) goes with it; those inputs are 0 anyway.
        let head = Targets.classifier(up).map { $0 + ".weight" }
        for (name, mask) in masks where name != head {
            guard let g = down.gate(for: name), let w = params[name] else { Issue.record("\(method): \(name) lost its mask"); continue }
            #expect(g.mask.array == mask.array, "\(method): \(name)'s mask changed")
            for i in 0..<w.count where mask.data[i] == 0 {
                if w.data[i].bitPattern != 0 { Issue.record("\(method): \(name)[\(i)] = \(w.data[i])"); break }
            }
        }
    }
}
