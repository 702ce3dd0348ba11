// Datasets feed the NN training loop.
import Engine
import NN

extension Dataset: BatchSource {
    public func makeBatches(size: Int, shuffle: Bool, rng: RNG) -> AnySequence<(x: Tensor, y: [Int])> {
        // fit() has already rejected batch sizes below 1, the only way Batches can fail.
        guard let batches = try? Batches(self, batchSize: size, shuffle: shuffle, rng: rng) else { return AnySequence([]) }
        return AnySequence(batches)
    }
}
