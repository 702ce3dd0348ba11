// Dataset operations on a synthetic dataset whose pixels record each sample's origin.
import Testing
import TestSupport
import Engine
@testable import Data

@Suite("Dataset")
struct DatasetTests {
    @Test func initChecksItsArguments() throws {
        let x = try Tensor.zeros([3, 1, 2, 2])
        #expect(throws: DataError.self) { try Dataset(name: "d", images: x, labels: [0, 1]) }
        #expect(throws: DataError.self) { try Dataset(name: "d", images: x, labels: [0, 1, 5], classes: 3) }
        #expect(throws: DataError.self) { try Dataset(name: "d", images: x, labels: [0, 1, -1]) }
        #expect(throws: DataError.self) { try Dataset(name: "d", images: x, labels: [0, 1, 2], classes: 3, classNames: ["a"]) }
        #expect(throws: DataError.self) { try Dataset(name: "d", images: try Tensor.zeros([3]), labels: [0, 1, 2]) }
        let d = try Dataset(name: "d", images: x, labels: [0, 2, 1])
        #expect(d.classes == 3 && d.classNames == ["0", "1", "2"])
    }

    @Test func descriptionAndShape() throws {
        let d = try syntheticDataset(classes: 4, perClass: 25)
        #expect(d.count == 100)
        #expect(d.sampleShape == [1, 2, 2])
        #expect(d.sampleSize == 4)
        #expect(d.description == "Dataset synthetic: 100 samples, 4 classes, shape [1, 2, 2]")
        #expect(d.classCounts() == [25, 25, 25, 25])
    }

    @Test func subsetKeepsOrderAndRepeats() throws {
        let d = try syntheticDataset()
        let s = try d.subset(indices: [7, 3, 3, 99])
        #expect(sampleIDs(s) == [7, 3, 3, 99])
        #expect(s.labels == [3, 3, 3, 3])
        #expect(s.classes == 4 && s.classNames == d.classNames)
        #expect(!s.images.requiresGrad && !s.images.isRecorded)
        #expect(throws: DataError.self) { try d.subset(indices: [100]) }
        #expect(throws: DataError.self) { try d.subset(indices: [-1]) }
        #expect(try d.subset(indices: []).count == 0)
    }

    @Test func filteredRelabelsInTheGivenOrder() throws {
        let d = try syntheticDataset()
        let f = try d.filtered(classes: [2, 0])
        #expect(f.count == 50)
        #expect(f.classes == 2)
        #expect(f.classNames == ["c2", "c0"])
        // Original order is kept; class 2 → 0 and class 0 → 1.
        #expect(Array(sampleIDs(f).prefix(4)) == [0, 2, 4, 6])
        #expect(Array(f.labels.prefix(4)) == [1, 0, 1, 0])
        for (id, y) in zip(sampleIDs(f), f.labels) { #expect(y == (id % 4 == 2 ? 0 : 1)) }
    }

    @Test func filteredWithoutRelabel() throws {
        let d = try syntheticDataset()
        let f = try d.filtered(classes: [3, 1], relabel: false)
        #expect(f.count == 50)
        #expect(f.classes == 4 && f.classNames == d.classNames)
        #expect(Set(f.labels) == [1, 3])
        for (id, y) in zip(sampleIDs(f), f.labels) { #expect(y == id % 4) }
    }

    @Test func filteredRejectsBadClasses() throws {
        let d = try syntheticDataset()
        #expect(throws: DataError.self) { try d.filtered(classes: []) }
        #expect(throws: DataError.self) { try d.filtered(classes: [4]) }
        #expect(throws: DataError.self) { try d.filtered(classes: [-1]) }
        #expect(throws: DataError.self) { try d.filtered(classes: [1, 1]) }
    }

    @Test func perClassDrawsExactlyNAndIsSeeded() throws {
        let d = try syntheticDataset(classes: 4, perClass: 25)
        let a = try d.perClass(10, seed: 1)
        #expect(a.count == 40)
        #expect(a.classCounts() == [10, 10, 10, 10])
        #expect(Set(sampleIDs(a)).count == 40, "no sample drawn twice")
        #expect(sampleIDs(a) == sampleIDs(a).sorted(), "original order kept")
        for (id, y) in zip(sampleIDs(a), a.labels) { #expect(y == id % 4) }
        #expect(sampleIDs(try d.perClass(10, seed: 1)) == sampleIDs(a))
        #expect(sampleIDs(try d.perClass(10, seed: 2)) != sampleIDs(a))
        #expect(try d.perClass(25, seed: 0).count == 100)
        #expect(try d.perClass(0, seed: 0).count == 0)
    }

    @Test func perClassFailsWhenAClassIsShort() throws {
        let d = try syntheticDataset(classes: 4, perClass: 25)
        let message = try #require(errorMessage { _ = try d.perClass(26, seed: 0) })
        #expect(message.contains("class 0 (c0) has 25 samples"), "\(message)")
        #expect(throws: DataError.self) { try d.perClass(-1, seed: 0) }
    }

    @Test func splitIsStratifiedDisjointAndSeeded() throws {
        let d = try syntheticDataset(classes: 4, perClass: 25)
        let (a, b) = try d.split(fraction: 0.8, seed: 5)
        #expect(a.count == 80 && b.count == 20)
        #expect(a.classCounts() == [20, 20, 20, 20])
        #expect(b.classCounts() == [5, 5, 5, 5])
        let ia = sampleIDs(a), ib = sampleIDs(b)
        #expect(Set(ia).isDisjoint(with: ib))
        #expect(Set(ia).union(ib) == Set(0..<100))
        #expect(ia == ia.sorted() && ib == ib.sorted())
        let (a2, _) = try d.split(fraction: 0.8, seed: 5)
        #expect(sampleIDs(a2) == ia)
        let (a3, _) = try d.split(fraction: 0.8, seed: 6)
        #expect(sampleIDs(a3) != ia)
        #expect(a.name == "synthetic[:0.8]" && b.name == "synthetic[0.8:]")
    }

    @Test func splitEdgesAndErrors() throws {
        let d = try syntheticDataset()
        #expect(try d.split(fraction: 0, seed: 0).0.count == 0)
        #expect(try d.split(fraction: 1, seed: 0).1.count == 0)
        #expect(throws: DataError.self) { try d.split(fraction: 1.5, seed: 0) }
        #expect(throws: DataError.self) { try d.split(fraction: -0.1, seed: 0) }
        #expect(throws: DataError.self) { try d.split(fraction: .nan, seed: 0) }
    }

    @Test func normalizedScalar() throws {
        let d = try syntheticDataset(classes: 2, perClass: 2)
        let n = try d.normalized(mean: 1, std: 2)
        // Sample s is filled with s: (s − 1) / 2.
        #expect(n.images.array == (0..<4).flatMap { s in [Float](repeating: (Float(s) - 1) / 2, count: 4) })
        #expect(n.labels == d.labels && n.classNames == d.classNames)
        #expect(d.images[1, 0, 0, 0] == 1, "the original is untouched")
        #expect(throws: DataError.self) { try d.normalized(mean: 0, std: 0) }
        #expect(throws: DataError.self) { try d.normalized(mean: .nan, std: 1) }
    }

    @Test func normalizedPerChannelAndStatistics() throws {
        let x = try Tensor(shape: [2, 2, 1, 2], data: [0, 2, 10, 30, 4, 6, 50, 70])
        let d = try Dataset(name: "two channels", images: x, labels: [0, 1])
        let stats = d.channelStatistics()
        #expect(stats.mean == [3, 40])
        #expect(abs(stats.std[0] - Float(5).squareRoot()) < 1e-5)
        #expect(abs(stats.std[1] - Float(500).squareRoot()) < 1e-4)
        let n = try d.normalized(mean: stats.mean, std: stats.std)
        let after = n.channelStatistics()
        for c in 0..<2 {
            #expect(abs(after.mean[c]) < 1e-5)
            #expect(abs(after.std[c] - 1) < 1e-5)
        }
        #expect(throws: DataError.self) { try d.normalized(mean: [0], std: [1]) }
    }
}
