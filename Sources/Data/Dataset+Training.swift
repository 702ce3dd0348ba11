// Datasets feed the NN training loop.
import Engine
import NN

extension Dataset: BatchSource {
    public func makeBatches(size: Int, shuffle: Bool, rng: RNG) -> AnySequence<(x: Tensor, y: [Int])> {
        // fit() reports batch sizes below 1 to the user; Batches treats them as 1 rather than fail.
        AnySequence(Batches(self, batchSize: size, shuffle: shuffle, rng: rng))
    }
    public var augments: Bool { augmentation != nil }
}
