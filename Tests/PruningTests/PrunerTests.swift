// Pruners: achieved sparsity equals the requested one, targets by pattern, learned masks,
// lottery tickets, and the errors that name the problem.
import Testing
import TestSupport
import Engine
import NN
import Kernels
@testable import Pruning

@Suite struct PrunerTests {
    static let sparsities: [Double] = [0, 0.1, 0.5, 0.9, 0.99, 0.999]

    /// Pruned weights of each target must be within one of round(sparsity · n).
    func expectExact(_ net: Module, _ pruner: Pruner, sparsity: Double, _ what: String) {
        for t in pruner.targets {
            let n = t.weight.count
            let pruned = Masks.report(net).layers.first { $0.name == t.name }.map { $0.parameters - $0.nonzeros } ?? -1
            #expect(Swift.abs(Double(pruned) - sparsity * Double(n)) <= 1,
                    "\(what) at sparsity \(sparsity): \(t.name) has \(pruned) of \(n) pruned")
            if let gate = net.gate(for: t.name) {
                #expect(gate.requestedSparsity.map { Swift.abs($0 - sparsity) < 1e-9 } ?? false)
                // The mask and the weights agree: every masked weight is exactly 0.
                for i in 0..<n where gate.mask.data[i] == 0 { if t.weight.data[i] != 0 { Issue.record("\(t.name)[\(i)] not zero"); break } }
            }
        }
    }

    @Test(arguments: ["magnitude", "random", "taylor", "snip"])
    func oneShotAchievesRequestedSparsity(_ method: String) throws {
        let data = try Clusters(dim: 100, perClass: 20)
        for s in Self.sparsities {
            let net = try model([100, 200, 50, 4])
            var config = try PrunerConfig(named: method, keep: 1 - s)
            config.schedule.kind = .oneshot
            let p = try Pruner(config)
            try p.pruneOnce(net, data: data, batchSize: 20)
            expectExact(net, p, sparsity: s, method)
        }
    }

    @Test(arguments: ["magnitude", "movement", "random", "taylor"])
    func gradualAchievesRequestedSparsity(_ method: String) throws {
        let data = try Clusters(dim: 100, perClass: 10)
        for s in Self.sparsities {
            let net = try model([100, 200, 50, 4])
            var config = try PrunerConfig(named: method, keep: 1 - s)
            config.schedule = PruneSchedule(.cubic, warmup: 0.1, cooldown: 0.2, every: 2)
            let p = try Pruner(config)
            try fit(net, on: data, optimizer: try sgd(net), config: quiet(1, batch: 4), hooks: [p])
            expectExact(net, p, sparsity: s, method)
        }
    }

    /// Movement recomputes Top_v(S) every step with a one-pass selection around the last
    /// threshold; the masks it ends with must be exactly a fresh top-k of the final scores.
    @Test(arguments: [PruneScope.layer, .global])
    func movementMasksAreTheExactTopKOfTheScores(scope: PruneScope) throws {
        let data = try Clusters(dim: 100, perClass: 10)
        let net = try model([100, 200, 50, 4])
        var config = PrunerConfig(Movement.self, keep: 0.2)
        config.schedule = PruneSchedule(.cubic, warmup: 0.1, cooldown: 0.2, every: 1)
        config.scope = scope
        let p = try Pruner(config)
        try fit(net, on: data, optimizer: try sgd(net), config: quiet(2, batch: 4), hooks: [p])
        #expect(p.hints.contains { $0.windowed > 0 }, "the one-pass selection was used")
        let scores = p.gates.map { $0.scores! }
        let counts = scores.map(\.count)
        var expected = counts.map { [Float](repeating: 0, count: $0) }
        let pointers = expected.map { e -> UnsafeMutablePointer<Float> in
            let q = UnsafeMutablePointer<Float>.allocate(capacity: e.count); q.initialize(from: e, count: e.count); return q
        }
        defer { for q in pointers { q.deallocate() } }
        switch scope {
        case .layer, .erk:
            for (i, s) in scores.enumerated() {
                topKMasks(values: [(UnsafePointer(s.data), s.count)], allowed: [nil], k: Int((0.2 * Double(s.count)).rounded()),
                          masks: [pointers[i]])
            }
        case .global:
            topKMasks(values: scores.map { (UnsafePointer($0.data), $0.count) }, allowed: scores.map { _ in nil },
                      k: Int((0.2 * Double(counts.reduce(0, +))).rounded()), masks: pointers)
        }
        for i in scores.indices { expected[i] = Array(UnsafeBufferPointer(start: pointers[i], count: counts[i])) }
        #expect(p.gates.map { $0.mask.array } == expected)
    }

    @Test func globalScopeMeetsTheTotalAndSharesOneThreshold() throws {
        let net = try model([100, 200, 50, 4])
        // Scale the second layer up so that one global threshold prunes the first layer more.
        let w2 = net.namedParameters().first { $0.0 == "layers.3.weight" }!.1
        for i in 0..<w2.count { w2.data[i] *= 10 }
        let before = Dictionary(uniqueKeysWithValues: net.namedParameters().map { ($0.0, $0.1.copy()) })
        var config = PrunerConfig(Magnitude.self, keep: 0.2)
        config.scope = .global
        let p = try Pruner(config)
        try p.pruneOnce(net, data: nil)
        let total = p.targets.reduce(0) { $0 + $1.weight.count }
        let kept = p.targets.reduce(0) { $0 + $1.weight.nonzeroCount }
        #expect(Swift.abs(kept - Int((0.2 * Double(total)).rounded())) <= 1)
        let r = Masks.report(net).layers
        #expect(r[0].achieved > r[1].achieved)
        // One threshold: every kept |w| is ≥ every pruned |w|, across both layers.
        var minKept = Float.infinity, maxPruned: Float = 0
        for t in p.targets {
            let g = net.gate(for: t.name)!, b = before[t.name]!
            for i in 0..<t.weight.count {
                if g.mask.data[i] != 0 { minKept = min(minKept, Swift.abs(b.data[i])) } else { maxPruned = max(maxPruned, Swift.abs(b.data[i])) }
            }
        }
        #expect(minKept >= maxPruned)
    }

    @Test func defaultTargetsSkipClassifierBiasesAndNorms() throws {
        let net = try model()
        #expect(Targets.defaultNames(net) == ["layers.1.weight", "layers.3.weight"])
        let cnn = try Models.cnn(classes: 10, rng: RNG(seed: 0))
        let names = Targets.defaultNames(cnn)
        #expect(names.count == 3 && names.allSatisfy { $0.hasSuffix(".weight") })
        let selected = try Targets.select(net, include: ["*.bias"], exclude: ["*.5.bias"])
        #expect(selected.map(\.name) == ["layers.1.bias", "layers.3.bias"])
        let withHead = try Targets.select(net, include: ["*.weight"], exclude: [])
        #expect(withHead.count == 3)
    }

    @Test func wrongArgumentsNameTheProblem() throws {
        let net = try model()
        #expect(errorMessage { _ = try Pruner(PrunerConfig(Magnitude.self, keep: 0)) }?.contains("keep must be in (0, 1]") == true)
        #expect(errorMessage { _ = try Pruner(PrunerConfig(Magnitude.self, keep: 1.5)) }?.contains("keep must be in (0, 1]") == true)
        #expect(errorMessage { _ = try Pruner(PrunerConfig(Magnitude.self, keep: nil)) }?.contains("needs a target") == true)
        #expect(errorMessage { _ = try Pruner(PrunerConfig(SoftMovement.self, keep: 0.1)) }?.contains("takes no target") == true)
        var c = PrunerConfig(Magnitude.self, keep: 0.5)
        c.include = ["encoder.*"]
        #expect(errorMessage { try Pruner(c).pruneOnce(net, data: nil) }?.contains("'encoder.*' matches no parameter") == true)
        #expect(errorMessage { try Pruner(PrunerConfig(Taylor.self, keep: 0.5)).pruneOnce(net, data: nil) }?.contains("needs data") == true)
        #expect(errorMessage { try Pruner(PrunerConfig(Movement.self, keep: 0.5)).pruneOnce(net, data: nil) }?.contains("while training") == true)
        var snip = PrunerConfig(SNIP.self, keep: 0.5)
        snip.schedule.kind = .cubic
        #expect(errorMessage { _ = try Pruner(snip) }?.contains("oneshot") == true)
        // A mask of the wrong shape.
        #expect(errorMessage { try net.setGate(WeightGate(mask: try Tensor.ones([3, 3])), for: "layers.1.weight") }?.contains("shape") == true)
        #expect(errorMessage { try net.setGate(WeightGate(mask: try Tensor.ones([3, 3])), for: "layers.9.weight") }?.contains("no parameter named 'layers.9.weight'") == true)
    }

    @Test func softMovementReachesItsOwnSparsityAndReportsIt() throws {
        let data = try Clusters(perClass: 40)
        let net = try model()
        var config = PrunerConfig(SoftMovement.self, keep: nil)
        try config.set("lambda", 2000)
        try config.set("score_lr", 0.1)
        config.schedule = PruneSchedule(.cubic, warmup: 0, cooldown: 0.2, every: 1)
        let p = try Pruner(config)
        try fit(net, on: data, optimizer: try sgd(net), config: quiet(4, batch: 16), hooks: [p])
        let r = Masks.report(net)
        #expect(r.achieved > 0.05, "soft movement pruned \(r.achieved)")
        #expect(r.layers.allSatisfy { $0.requested == nil })
        // At least 0.5% of each matrix stays.
        for l in r.layers where l.method != nil { #expect(l.nonzeros >= Int((0.005 * Double(l.parameters)).rounded(.up))) }
        for (name, g) in net.namedGates() { #expect(g.isFixed, "\(name)") }
    }

    @Test func l0LearnsBinaryMasksFoldedIntoTheWeights() throws {
        let data = try Clusters(perClass: 40)
        let net = try model()
        var config = PrunerConfig(L0.self, keep: nil)
        try config.set("lambda", 5)
        let p = try Pruner(config)
        let acc0 = try evaluate(net, on: data).accuracy
        try fit(net, on: data, optimizer: try sgd(net), config: quiet(4, batch: 16), hooks: [p])
        for (_, g) in net.namedGates() {
            #expect(g.isFixed)
            #expect(g.mask.array.allSatisfy { $0 == 0 || $0 == 1 })
        }
        #expect(Masks.sparsity(net) > 0)
        #expect(try evaluate(net, on: data).accuracy > acc0)
    }

    @Test func lotteryTicketReachesTargetAfterRoundsWithRewinding() throws {
        let data = try Clusters(perClass: 20)
        let net = try model()
        var config = PrunerConfig(Lottery.self, keep: 0.25)
        try config.set("rounds", 2)
        try config.set("rewind", 3)
        let p = try Pruner(config)
        let h = try PrunedTraining.train(net, on: data, pruner: p, makeOptimizer: { _ in try sgd(net) }, config: quiet(1, batch: 20))
        #expect(h.epochs.count == 3)                   // two pruning rounds and the final ticket
        #expect(h.epochs.map(\.epoch) == [1, 2, 3])
        expectExact(net, p, sparsity: 0.75, "lottery")
    }

    @Test func lotteryRewindsSurvivorsToTheirEarlyValues() throws {
        // With lr 0 after the rewind point nothing moves, so a ticket with rewind = 0 must hold
        // exactly the initial weights where it is unpruned.
        let data = try Clusters(perClass: 10)
        let net = try model()
        let initial = Dictionary(uniqueKeysWithValues: net.namedParameters().map { ($0.0, $0.1.copy()) })
        var config = PrunerConfig(Lottery.self, keep: 0.5)
        try config.set("rounds", 1)
        let p = try Pruner(config)
        var calls = 0
        _ = try PrunedTraining.train(net, on: data, pruner: p, makeOptimizer: { _ in
            calls += 1
            return try sgd(net, lr: calls == 1 ? 0.1 : 0)
        }, config: quiet(1, batch: 20))
        for t in p.targets {
            let g = net.gate(for: t.name)!, w0 = initial[t.name]!
            for i in 0..<t.weight.count where g.mask.data[i] != 0 { #expect(t.weight.data[i] == w0.data[i]) }
        }
    }

    @Test(arguments: ["movement", "soft_movement", "l0"])
    func learnedScoresFollowTheLearningRateSchedule(method: String) throws {
        // A schedule whose factor is 0 at every step: neither the weights nor the scores move.
        let data = try Clusters(perClass: 10)
        let net = try model()
        let p = try Pruner(try PrunerConfig(named: method, keep: method == "movement" ? 0.5 : nil))
        _ = try PrunedTraining.train(net, on: data, pruner: p, makeOptimizer: { _ in
            try Optimizer(.adam(), parameters: net.namedParameters(), lr: 1e-2, schedule: .cosine(total: 0))
        }, config: quiet(1, batch: 8))
        #expect(p.scoreOptimizer?.schedule == .cosine(total: 0))
        for t in p.targets {
            let s = try #require(net.gate(for: t.name)?.scores)
            let initial: Float = method == "l0" ? 2.197 : 0    // the methods' default init
            #expect(s.array.allSatisfy { $0 == initial }, "\(method): scores of \(t.name) moved under a zero learning rate")
        }
    }

    @Test func distillationMixesTeacherAndTaskLoss() throws {
        let rng = RNG(seed: 5)
        let teacher = try model(seed: 1), x = try Tensor.randn([8, 20], rng: rng)
        let logits = try Tensor.randn([8, 4], rng: rng), labels = [0, 1, 2, 3, 0, 1, 2, 3]
        let ce = try logits.crossEntropy(labels: labels)
        let kd = try Loss.klDivergence(student: logits, teacher: try teacher(x), temperature: 2)
        let d = try Distillation(teacher: teacher, temperature: 2, alpha: 0.25)
        let mixed = try d.loss(ce, x: x, logits: logits, labels: labels, step: 1)
        #expect(Swift.abs(mixed.item - (0.25 * kd.item + 0.75 * ce.item)) < 1e-5)
        #expect(errorMessage { _ = try Distillation(teacher: teacher, alpha: 2) }?.contains("alpha") == true)
    }
}
