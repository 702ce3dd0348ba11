// Movement pruning's fused step (Kernels/Movement.swift, Pruning/FusedMovement.swift) must give
// exactly what the unfused kernels give: every weight, score, mask entry and optimizer moment,
// bit for bit, for each weight optimizer, both scopes, and masks recomputed every step or not.
import Testing
import Engine
import NN
import Kernels
@testable import Pruning

@Suite struct FusedMovementTests {
    struct Run {
        var tensors: [String: [UInt32]] = [:]
        var fusedSteps = 0, steps = 0
        var hints: [TopKHint] = []
    }

    /// Trains a fresh model with movement pruning, fused or not, and records its final state.
    func train(fused: Bool, optimizer kind: OptimizerKind, weightDecay: Float = 0, scope: PruneScope = .layer,
               every: Int = 1, widths: [Int] = [100, 200, 50, 4], clip: Float? = nil, validate: Bool = false,
               epochs: Int = 2, batch: Int = 4, perClass: Int = 10) throws -> Run {
        let data = try Clusters(dim: widths[0], perClass: perClass)
        let net = try model(widths)
        let lr: Float = { if case .sgd = kind { return 0.05 } else { return 1e-3 } }()
        let opt = try Optimizer(kind, parameters: net.namedParameters(), lr: lr, weightDecay: weightDecay,
                                schedule: .cosine(total: 200))
        var config = PrunerConfig(Movement.self, keep: 0.1)
        config.schedule = PruneSchedule(.cubic, warmup: 0.1, cooldown: 0.2, every: every)
        config.scope = scope
        let p = try Pruner(config)
        p.fusesUpdates = fused
        var tc = quiet(epochs, batch: batch)
        tc.clipNorm = clip
        var run = Run()
        try fit(net, on: data, optimizer: opt, config: tc, validation: validate ? data : nil, hooks: [p],
                afterStep: { _ in run.steps += 1; if p.fusedRun != nil { run.fusedSteps += 1 } })
        func bits(_ t: Tensor) -> [UInt32] { t.array.map(\.bitPattern) }
        for (name, t) in net.namedParameters() {
            run.tensors[name] = bits(t)
            for (j, s) in opt.state(of: name).enumerated() { run.tensors[name + ".state\(j)"] = bits(s) }
        }
        for (t, g) in zip(p.targets, p.gates) {
            run.tensors[t.name + ".mask"] = bits(g.mask)
            if let s = g.scores {
                run.tensors[t.name + ".scores"] = bits(s)
                for (j, m) in (p.scoreOptimizer?.state(of: t.name + ".scores") ?? []).enumerated() {
                    run.tensors[t.name + ".scores.state\(j)"] = bits(m)
                }
            }
        }
        run.hints = p.hints
        return run
    }

    func expectSame(_ a: Run, _ b: Run, _ what: String) {
        #expect(a.tensors.keys.sorted() == b.tensors.keys.sorted(), "\(what): same tensors")
        for (name, x) in a.tensors {
            let y = b.tensors[name] ?? []
            let differing = zip(x, y).filter { $0 != $1 }.count
            #expect(x.count == y.count && differing == 0, "\(what): \(name) differs in \(differing) of \(x.count) entries")
        }
    }

    static let optimizers: [OptimizerKind] = [.sgd(momentum: 0.9), .sgd(momentum: 0), .sgd(momentum: 0.9, nesterov: true),
                                              .adam(), .adamw()]

    @Test(arguments: optimizers)
    func fusedEqualsUnfusedBitForBit(kind: OptimizerKind) throws {
        for scope in PruneScope.allCases {
            let wd: Float = { if case .sgd(0, _) = kind { return 0 } else { return 1e-2 } }()
            let fused = try train(fused: true, optimizer: kind, weightDecay: wd, scope: scope)
            let plain = try train(fused: false, optimizer: kind, weightDecay: wd, scope: scope)
            #expect(fused.fusedSteps == fused.steps && fused.steps > 0, "the fused path ran every step")
            #expect(plain.fusedSteps == 0)
            #expect(fused.hints.contains { $0.windowed > 0 } && fused.hints.contains { $0.full > 0 },
                    "both the one-pass window and the fresh selection were used")
            expectSame(fused, plain, "\(kind) \(scope)")
        }
    }

    /// Masks held for several steps, evaluation between epochs (the forward pass reads the
    /// maintained W ⊙ M), and a matrix large enough to be split into parts.
    @Test func heldMasksValidationAndLargeMatrices() throws {
        let fused = try train(fused: true, optimizer: .sgd(momentum: 0.9), every: 3, validate: true)
        let plain = try train(fused: false, optimizer: .sgd(momentum: 0.9), every: 3, validate: true)
        #expect(fused.fusedSteps == fused.steps)
        expectSame(fused, plain, "every 3")
        #expect(Parallel.taskCount(400 * 400) > 1, "the first matrix is split")
        let wideFused = try train(fused: true, optimizer: .adam(), widths: [400, 400, 4], epochs: 1, batch: 8, perClass: 25)
        let widePlain = try train(fused: false, optimizer: .adam(), widths: [400, 400, 4], epochs: 1, batch: 8, perClass: 25)
        #expect(wideFused.fusedSteps == wideFused.steps)
        expectSame(wideFused, widePlain, "split matrix")
    }

    /// Where the CPU has AVX-512 the pass runs on sixteen lanes; on eight it trains the same model,
    /// bit for bit (a split matrix, so that pieces end in fewer than sixteen elements).
    @Test func sixteenAndEightLanesTrainAlike() throws {
        guard AVX512.available else { return }
        let saved = AVX512.enabled
        defer { AVX512.enabled = saved }
        AVX512.enabled = false
        let narrow = try train(fused: true, optimizer: .adam(), widths: [400, 403, 4], epochs: 1, batch: 8, perClass: 25)
        AVX512.enabled = true
        let wide = try train(fused: true, optimizer: .adam(), widths: [400, 403, 4], epochs: 1, batch: 8, perClass: 25)
        #expect(wide.fusedSteps == wide.steps && narrow.fusedSteps == narrow.steps)
        expectSame(wide, narrow, "16 and 8 lanes")
    }

    /// Gradient clipping reads every gradient before the step, so the fused path stands aside.
    @Test func clippingKeepsTheUnfusedPath() throws {
        let clipped = try train(fused: true, optimizer: .sgd(momentum: 0.9), clip: 0.5)
        #expect(clipped.fusedSteps == 0)
        expectSame(clipped, try train(fused: false, optimizer: .sgd(momentum: 0.9), clip: 0.5), "clipped")
    }

    /// After training the masks are fixed and the weights behind them zero, as without fusing;
    /// the model trains on with plain steps.
    @Test func trainingEndsWithFixedMasks() throws {
        let data = try Clusters(dim: 100, perClass: 10)
        let net = try model([100, 200, 50, 4])
        let p = try Pruner(PrunerConfig(Movement.self, keep: 0.1))
        try fit(net, on: data, optimizer: try sgd(net), config: quiet(1, batch: 4), hooks: [p])
        #expect(p.fusedRun == nil)
        for (t, g) in zip(p.targets, p.gates) {
            #expect(g.isFixed)
            #expect(abs(g.sparsity - 0.9) <= 1.0 / Double(g.mask.count) + 1e-9)
            for i in 0..<g.mask.count where g.mask.data[i] == 0 { #expect(t.weight.data[i] == 0) }
        }
        let opt = try sgd(net)
        #expect(opt.delegated.isEmpty)
        try fit(net, on: data, optimizer: opt, config: quiet(1, batch: 4))
        for (t, g) in zip(p.targets, p.gates) {
            for i in 0..<g.mask.count where g.mask.data[i] == 0 { #expect(t.weight.data[i].bitPattern == 0) }
        }
    }
}
