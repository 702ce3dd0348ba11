// Batches: coverage of every sample once per epoch, shapes, dropLast, and seeded order.
import Testing
import Engine
import NN
@testable import Data

@Suite("Batches")
struct BatchesTests {
    /// The sample ids of every batch of one pass.
    func epoch(_ batches: Batches) -> [[Int]] {
        batches.map { batch in
            let size = batch.x.count / max(batch.y.count, 1)
            return (0..<batch.y.count).map { Int(batch.x.data[$0 * size]) }
        }
    }

    @Test func unshuffledIsDatasetOrder() throws {
        let d = try syntheticDataset(classes: 4, perClass: 25)
        let batches = Batches(d, batchSize: 32)
        #expect(batches.count == 4)
        let ids = epoch(batches)
        #expect(ids.map(\.count) == [32, 32, 32, 4])
        #expect(ids.flatMap { $0 } == Array(0..<100))
    }

    @Test func batchesMatchTheirSamples() throws {
        let d = try syntheticDataset(classes: 4, perClass: 25, channels: 3)
        for (x, y) in Batches(d, batchSize: 16, shuffle: true, rng: RNG(seed: 1)) {
            #expect(x.shape == [y.count, 3, 2, 2])
            #expect(!x.requiresGrad && !x.isRecorded)
            for b in 0..<y.count {
                let id = Int(x.data[b * 12])
                #expect(y[b] == id % 4)
                #expect((0..<12).allSatisfy { x.data[b * 12 + $0] == Float(id) }, "sample copied whole")
            }
        }
    }

    @Test func shuffledCoversEverySampleOncePerEpoch() throws {
        let d = try syntheticDataset(classes: 4, perClass: 25)
        let batches = Batches(d, batchSize: 7, shuffle: true, rng: RNG(seed: 9))
        var previous: [Int] = []
        for _ in 0..<3 {
            let order = epoch(batches).flatMap { $0 }
            #expect(order.count == 100)
            #expect(order.sorted() == Array(0..<100))
            #expect(order != Array(0..<100))
            #expect(order != previous, "each epoch has a new order")
            previous = order
        }
    }

    @Test func sameSeedSameOrder() throws {
        let d = try syntheticDataset()
        let a = Batches(d, batchSize: 10, shuffle: true, rng: RNG(seed: 42))
        let b = Batches(d, batchSize: 10, shuffle: true, rng: RNG(seed: 42))
        let c = Batches(d, batchSize: 10, shuffle: true, rng: RNG(seed: 43))
        let first = epoch(a)
        #expect(first == epoch(b))
        #expect(epoch(a) == epoch(b), "second epochs agree too")
        #expect(epoch(c) != first)
    }

    @Test func dropLastSkipsThePartialBatch() throws {
        let d = try syntheticDataset(classes: 4, perClass: 25)
        let batches = Batches(d, batchSize: 32, shuffle: true, rng: RNG(seed: 3), dropLast: true)
        #expect(batches.count == 3)
        let ids = epoch(batches)
        #expect(ids.map(\.count) == [32, 32, 32])
        #expect(Set(ids.flatMap { $0 }).count == 96)
        let exact = Batches(d, batchSize: 25, dropLast: true)
        #expect(exact.count == 4 && epoch(exact).flatMap { $0 } == Array(0..<100))
        let tooBig = Batches(d, batchSize: 101, dropLast: true)
        #expect(tooBig.count == 0 && epoch(tooBig).isEmpty)
    }

    @Test func nonPositiveBatchSizeIsOne() throws {
        let d = try syntheticDataset(classes: 2, perClass: 2)
        for size in [0, -3] {
            let batches = Batches(d, batchSize: size)
            #expect(batches.batchSize == 1 && batches.count == 4)
            #expect(epoch(batches) == [[0], [1], [2], [3]])
        }
    }

    @Test func datasetIsABatchSource() throws {
        let d = try syntheticDataset()
        let source: any BatchSource = d
        #expect(source.count == 100 && source.sampleShape == [1, 2, 2] && source.classes == 4)
        let ids = source.makeBatches(size: 30, shuffle: true, rng: RNG(seed: 4)).flatMap { batch in
            (0..<batch.y.count).map { Int(batch.x.data[$0 * 4]) }
        }
        #expect(ids.sorted() == Array(0..<100))
    }

    @Test(.enabled(if: fashionMNISTAvailable, "Fashion-MNIST is not installed"))
    func realTrainingSetEpoch() throws {
        let train = try FashionMNIST.load(.train)
        var seen = [Int](repeating: 0, count: 10)
        var samples = 0
        for (x, y) in Batches(train, batchSize: 256, shuffle: true, rng: RNG(seed: 0)) {
            #expect(x.shape.dropFirst() == [1, 28, 28])
            samples += y.count
            for label in y { seen[label] += 1 }
        }
        #expect(samples == 60_000)
        #expect(seen == [Int](repeating: 6000, count: 10))
    }
}
