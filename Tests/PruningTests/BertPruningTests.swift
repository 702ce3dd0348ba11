// Pruning a BERT encoder as Movement Pruning does: the default targets are the query, key,
// value, attention-output and both feed-forward weights of every layer (not the embeddings nor
// the head), and transfer fine-tunes a classifier on a token-id dataset while each method prunes
// exactly those.
import Testing
import Engine
import NN
import Data
@testable import Pruning

@Suite struct BertPruningTests {
    static func encoder(seed: UInt64 = 1) throws -> BertModel {
        var c = BertConfig()
        c.vocabSize = 30; c.hiddenSize = 16; c.layers = 2; c.heads = 2; c.intermediateSize = 32; c.maxPositions = 16
        c.hiddenDropout = 0.1; c.attentionDropout = 0.1
        return try BertModel(c, rng: RNG(seed: seed), dropoutRNG: RNG(seed: seed + 1))
    }

    /// Sequences of 4–8 real tokens padded to 8 with [PAD] = 0, [CLS] = 1 first, [SEP] = 2 last:
    /// label 1 when token 7 occurs.
    static func task(count: Int = 64, seed: UInt64 = 3) throws -> Dataset {
        let rng = RNG(seed: seed), l = 8
        var ids = [Float](repeating: 0, count: count * l), labels: [Int] = []
        for s in 0..<count {
            let n = 4 + rng.int(below: 5)
            ids[s * l] = 1
            let label = s % 2
            for j in 1..<(n - 1) { ids[s * l + j] = Float(8 + rng.int(below: 22)) }
            if label == 1 { ids[s * l + 1 + rng.int(below: n - 2)] = 7 }
            ids[s * l + n - 1] = 2
            labels.append(label)
        }
        return try Dataset(name: "tokens", images: try Tensor(shape: [count, l], data: ids), labels: labels)
    }

    static let paperTargets: [String] = (0..<2).flatMap { i in
        ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
         "intermediate.dense", "output.dense"].map { "encoder.layer.\(i).\($0).weight" }
    }

    @Test func defaultTargetsAreTheEncodersLinearWeights() throws {
        let bare = try Self.encoder()
        #expect(Targets.defaultNames(bare) == Self.paperTargets)
        let net = try Models.bertClassifier(bare, classes: 2, rng: RNG(seed: 0), dropoutRNG: RNG(seed: 0))
        #expect(Targets.defaultNames(net) == Self.paperTargets.map { "layers.0." + $0 })
        #expect(Targets.classifier(net) == "layers.2")
    }

    func adamw(_ m: Module, _ steps: Int) throws -> Optimizer {
        try Optimizer(.adamw(), parameters: m.namedParameters(), lr: 3e-3, weightDecay: 0.01)
    }

    @Test(arguments: ["magnitude", "movement", "soft_movement", "l0"])
    func transferWhilePruningPrunesTheEncoder(method: String) throws {
        let up = try Self.encoder()
        let before = up.namedParameters().map(\.1.array)
        let penalised = method == "soft_movement" || method == "l0"
        var c = try PrunerConfig(named: method, keep: penalised ? nil : 0.3)
        if penalised { try c.set("lambda", method == "l0" ? 5 : 2000) }
        c.seed = 1
        let (adapted, history) = try Transfer.adapt(up, to: try Self.task(), config: TransferConfig(mode: .full),
                                                    pruner: try Pruner(c), makeOptimizer: adamw, train: quiet(2, batch: 16))
        #expect(history.epochs.count == 2)
        #expect(up.namedParameters().map(\.1.array) == before, "the upstream encoder changed")
        #expect(adapted.namedGates().map(\.0).sorted() == Self.paperTargets.map { "layers.0." + $0 }.sorted())
        // The penalised methods reach the sparsity their penalty gives (none yet in 8 steps);
        // the others their target.
        if !penalised {
            #expect(Swift.abs(Masks.sparsity(adapted) - 0.7) < 0.01)
        }
    }

    @Test func linearProbeOnABareEncoder() throws {
        let up = try Self.encoder()
        let (adapted, _) = try Transfer.adapt(up, to: try Self.task(), config: TransferConfig(mode: .linear),
                                              makeOptimizer: adamw, train: quiet(3, batch: 16))
        let head = try #require((adapted as? Sequential)?.layers.last as? Linear)
        #expect(head.outFeatures == 2 && head.inFeatures == 16)
        // The body did not train.
        let body = try #require((adapted as? Sequential)?.layers.first as? BertModel)
        #expect(body.namedParameters().map(\.1.array) == up.namedParameters().map(\.1.array))
    }
}
