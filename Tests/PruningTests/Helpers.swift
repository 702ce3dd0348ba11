// Shared fixtures for the pruning tests: a learnable synthetic task, small models, counting.
import Foundation
import Testing
import Engine
import NN
@testable import Pruning

/// Labelled samples x [n, dim] as a batch source.
class Samples: BatchSource {
    let x: Tensor
    let y: [Int]
    let classes: Int
    var dim: Int { x.shape[1] }
    init(x: Tensor, y: [Int], classes: Int) { self.x = x; self.y = y; self.classes = classes }
    var count: Int { y.count }
    var sampleShape: [Int] { [dim] }
    func makeBatches(size: Int, shuffle: Bool, rng: RNG) -> AnySequence<(x: Tensor, y: [Int])> {
        var order = Array(0..<count)
        var g = rng
        if shuffle { order.shuffle(using: &g) }
        let dim = self.dim
        return AnySequence(stride(from: 0, to: count, by: size).lazy.map { start in
            let idx = order[start..<min(start + size, order.count)]
            let b = Tensor.empty(rows: idx.count, of: self.x)
            for (r, i) in idx.enumerated() { for j in 0..<dim { b.data[r * dim + j] = self.x.data[i * dim + j] } }
            return (x: b, y: idx.map { self.y[$0] })
        })
    }
}

/// A source's samples reshaped, e.g. flat 784 → [1, 28, 28] for a CNN.
final class ReshapedSamples: BatchSource {
    let base: BatchSource, shape: [Int]
    init(_ base: BatchSource, shape: [Int]) { self.base = base; self.shape = shape }
    var count: Int { base.count }
    var sampleShape: [Int] { shape }
    var classes: Int { base.classes }
    func makeBatches(size: Int, shuffle: Bool, rng: RNG) -> AnySequence<(x: Tensor, y: [Int])> {
        let shape = self.shape
        return AnySequence(base.makeBatches(size: size, shuffle: shuffle, rng: rng).lazy.map { b in
            (x: (try? b.x.reshaped([b.y.count] + shape)) ?? b.x, y: b.y)
        })
    }
}

/// Gaussian clusters: `classes` centres in `dim` dimensions, `perClass` noisy samples each.
final class Clusters: Samples {
    init(classes: Int = 4, dim: Int = 20, perClass: Int = 50, seed: UInt64 = 0) throws {
        let rng = RNG(seed: seed), centres = RNG(seed: 1234)
        let c = (0..<classes * dim).map { _ in centres.normal() * 2 }
        let n = classes * perClass
        let x = try Tensor.empty([n, dim])
        var labels: [Int] = []
        for s in 0..<n {
            let k = s % classes
            labels.append(k)
            for j in 0..<dim { x.data[s * dim + j] = c[k * dim + j] + rng.normal() }
        }
        super.init(x: x, y: labels, classes: classes)
    }
}

func model(_ widths: [Int] = [20, 64, 32, 4], seed: UInt64 = 0) throws -> Sequential {
    try Models.mlp(widths, rng: RNG(seed: seed))
}

func sgd(_ net: Module, lr: Float = 0.05, momentum: Float = 0.9, weightDecay: Float = 0) throws -> Optimizer {
    try Optimizer(.sgd(momentum: momentum), parameters: net.namedParameters(), lr: lr, weightDecay: weightDecay)
}

func quiet(_ epochs: Int, batch: Int = 32) -> TrainConfig {
    var c = TrainConfig(epochs: epochs, batchSize: batch)
    c.progress = false
    return c
}

/// Zeros in a tensor.
func zeros(_ t: Tensor) -> Int { t.count - t.nonzeroCount }

