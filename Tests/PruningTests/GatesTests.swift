// Architecture pruning by subset selection: the gate's relaxed Bernoulli samples by hand, the
// pruner closing the units the classifier never reads, and the extracted architecture.
import Testing
#if canImport(Glibc)
import Glibc
#endif
import Engine
import NN
@testable import Pruning

@Suite struct GatesTests {
    /// Evaluation: 1[a > 0]·open. Training: σ((a + log s − log(1 − s))/τ)·open with s drawn
    /// from the gate's generator, one per unit.
    @Test func gateMultipliersByHand() throws {
        let g = try UnitGate(4)
        let logits: [Float] = [2, -1, 0.5, 0]
        for u in 0..<4 { g.logits.data[u] = logits[u] }
        g.open.data[2] = 0
        g.eval()
        #expect(try g.multipliers().array == [1, 0, 0, 0])
        g.train(true)
        g.temperature = 0.5
        g.noise = RNG(seed: 5)
        let z = try g.multipliers()
        let draws = RNG(seed: 5)
        for u in 0..<4 {
            let s = Double(draws.uniform())
            let expected = (u == 2 ? 0 : 1) / (1 + Float(Glibc.exp(-(Double(logits[u]) + Glibc.log(s) - Glibc.log(1 - s)) / 0.5)))
            #expect(abs(z.data[u] - expected) < 1e-5, "unit \(u): \(z.data[u]) vs \(expected)")
        }
        // The output is the input times the multipliers on the channel axis.
        let x = try Tensor(shape: [1, 4, 1, 1], data: [1, 2, 3, 4])
        g.eval()
        #expect(try g(x).array == [1, 0, 0, 0])
    }

    /// Hidden units 0 and 1 compute ReLU(±w·x + b) along the direction between the two class
    /// means and the frozen classifier reads only them: the prior closes the other four, the
    /// two that carry the answer stay open, and the extracted architecture has two hidden
    /// units, re-initialised.
    @Test func gatesCloseTheUnitsNothingReads() throws {
        let data = try Clusters(classes: 2, dim: 8, perClass: 40)
        var means = [[Float]](repeating: [Float](repeating: 0, count: 8), count: 2)
        for i in 0..<data.count { for j in 0..<8 { means[data.y[i]][j] += data.x.data[i * 8 + j] / 40 } }
        let w = (0..<8).map { means[1][$0] - means[0][$0] }
        let b = -(0..<8).reduce(Float(0)) { $0 + w[$1] * (means[0][$1] + means[1][$1]) / 2 }
        let net = try model([8, 6, 2], seed: 3)
        let hidden = try #require(net.layers[1] as? Linear), head = try #require(net.layers[3] as? Linear)
        for j in 0..<8 { hidden.weight.data[j] = w[j]; hidden.weight.data[8 + j] = -w[j] }
        hidden.bias?.data[0] = b; hidden.bias?.data[1] = -b
        for i in 0..<head.weight.count { head.weight.data[i] = 0 }
        head.weight.data[0 * 6 + 1] = 1; head.weight.data[1 * 6 + 0] = 1
        head.bias?.data[0] = 0; head.bias?.data[1] = 0
        let gated = try UnitGate.insert(net)
        let trainable = gated.namedParameters().filter { $0.1.requiresGrad }.map(\.0)
        #expect(trainable == ["layers.2.logits", "layers.4.weight", "layers.4.bias"])
        // Only the gates train here, so that nothing but the prior acts on units 2-5.
        for (name, p) in gated.namedParameters() where name.hasPrefix("layers.4.") { p.requiresGrad = false }
        var config = PrunerConfig(Gates.self, keep: nil)
        try config.set("lambda", 0.5)
        let p = try Pruner(config)
        let opt = try Optimizer(.adam(), parameters: gated.namedParameters(), lr: 0.1)
        _ = try fit(gated, on: data, optimizer: opt, config: quiet(15, batch: 16), hooks: [p])
        let gate = try #require(gated.layers[2] as? UnitGate)
        #expect((0..<6).map { gate.open.data[$0] } == [1, 1, 0, 0, 0, 0], "logits \((0..<6).map { gate.logits.data[$0] })")
        let arch = try #require(try Structure.architecture(gated, seed: 1) as? Sequential)
        #expect(arch.layers.count == 4)
        let small = try #require(arch.layers[1] as? Linear)
        #expect(small.outFeatures == 2)
        #expect(arch.namedParameters().allSatisfy { $0.1.requiresGrad })
        // Fresh weights, not the upstream ones.
        let original = try #require(net.layers[1] as? Linear)
        #expect(small.weight.data[0] != original.weight.data[0])
        // A model without gates is refused.
        #expect { try Pruner(config).attach(to: try model([8, 6, 2])) } throws: { e in "\(e)".contains("UnitGate.insert") }
    }
}
