// Loading Fashion-MNIST: the real files (when installed) and small well-formed fixtures.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import TestSupport
import Engine
@testable import Data

@Suite("Fashion-MNIST, real files", .enabled(if: fashionMNISTAvailable, "Fashion-MNIST is not installed"))
struct FashionMNISTRealTests {
    @Test func trainSplit() throws {
        let train = try FashionMNIST.load(.train)
        #expect(train.count == 60_000)
        #expect(train.images.shape == [60_000, 1, 28, 28])
        #expect(train.sampleShape == [1, 28, 28])
        #expect(train.classes == 10)
        #expect(train.classNames == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"])
        #expect(train.classCounts() == [Int](repeating: 6000, count: 10))
        #expect(train.description == "Dataset fashion_mnist/train: 60000 samples, 10 classes, shape [1, 28, 28]")
        let stats = train.channelStatistics()
        #expect(abs(stats.mean[0] - 0.2860) < 0.001, "train pixel mean \(stats.mean[0])")
        #expect(abs(stats.std[0] - 0.3530) < 0.001, "train pixel std \(stats.std[0])")
        let pixels = UnsafeBufferPointer(start: train.images.data, count: train.images.count)
        #expect(pixels.min() == 0 && pixels.max() == 1)
        // The first training image is an ankle boot, the second a T-shirt (Zalando's README).
        #expect(Array(train.labels.prefix(2)) == [9, 0])
    }

    @Test func testSplit() throws {
        let test = try FashionMNIST.load(.test)
        #expect(test.count == 10_000)
        #expect(test.images.shape == [10_000, 1, 28, 28])
        #expect(test.classCounts() == [Int](repeating: 1000, count: 10))
        #expect(test.labels.allSatisfy { (0..<10).contains($0) })
        #expect(abs(test.channelStatistics().mean[0] - 0.2868) < 0.001)
    }

    @Test func cacheReturnsTheSameDataset() throws {
        let dir = FashionMNIST.resolveDirectory()
        let a = try FashionMNIST.load(.train)
        let b = try FashionMNIST.load(.train, directory: dir + "/")
        #expect(a === b)
        #expect(try FashionMNIST.load(.test) !== a)
    }

    /// Decoding bypasses the cache here so the time is the real cost of gunzip + conversion.
    @Test func filteredRealData() throws {
        let shoes = try FashionMNIST.load(.test).filtered(classes: [5, 7, 9])
        #expect(shoes.count == 3000)
        #expect(shoes.classNames == ["Sandal", "Sneaker", "Ankle boot"])
        #expect(shoes.classCounts() == [1000, 1000, 1000])
    }
}

@Suite("Fashion-MNIST, fixtures")
struct FashionMNISTFixtureTests {
    @Test func directoryResolution() {
        #expect(FashionMNIST.resolveDirectory("/a", environment: "/b") == "/a")
        #expect(FashionMNIST.resolveDirectory(nil, environment: "/b") == "/b")
        #expect(FashionMNIST.resolveDirectory("", environment: "/b") == "/b")
        #expect(FashionMNIST.resolveDirectory(nil, environment: "") == "/usr/share/datasets/fashion-mnist")
        #expect(FashionMNIST.resolveDirectory(nil, environment: nil) == FashionMNIST.defaultDirectory)
        let (images, labels) = FashionMNIST.files(.test, directory: "/data/")
        #expect(images == "/data/t10k-images-idx3-ubyte.gz")
        #expect(labels == "/data/t10k-labels-idx1-ubyte.gz")
    }

    @Test func loadsAWellFormedFixture() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, split: .test, n: 12, rows: 4, cols: 3)
        let d = try FashionMNIST.load(.test, directory: dir)
        #expect(d.images.shape == [12, 1, 4, 3])
        #expect(d.labels == (0..<12).map { $0 % 10 })
        #expect(d.name == "fashion_mnist/test")
        // Pixel (i, j) of image s was (s + i + j) % 256, stored scaled by 1/255.
        #expect(d.images[11, 0, 3, 2] == Float(11 + 3 + 2) / 255)
        #expect(d.images[0, 0, 0, 0] == 0)
        #expect(try FashionMNIST.load(.test, directory: dir) === d)
    }

    @Test func fullScaleMapsToExactlyOne() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let (images, labels) = FashionMNIST.files(.train, directory: dir)
        try writeGzip(idxBytes(magic: IDX.imagesMagic, dims: [1, 1, 3], payload: [0, 128, 255]), to: images)
        try writeGzip(idxBytes(magic: IDX.labelsMagic, dims: [1], payload: [3]), to: labels)
        let d = try IDX.dataset(images: images, labels: labels, name: "t", classNames: FashionMNIST.classNames)
        #expect(d.images.array == [0, Float(128) / 255, 1])
        #expect(d.labels == [3])
    }

    @Test func emptyFilesGiveAnEmptyDataset() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 0, rows: 28, cols: 28)
        let d = try FashionMNIST.load(.train, directory: dir)
        #expect(d.count == 0)
        #expect(d.sampleShape == [1, 28, 28])
        #expect(Batches(d, batchSize: 4).map { $0.y }.isEmpty)
    }

    @Test func concatenatedGzipMembersAreRead() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let bytes = idxBytes(magic: IDX.labelsMagic, dims: [6], payload: [1, 2, 3, 4, 5, 6])
        try writeGzip(Array(bytes[..<7]), to: dir + "/a.gz")
        try writeGzip(Array(bytes[7...]), to: dir + "/b.gz")
        let joined = try readRaw(dir + "/a.gz") + readRaw(dir + "/b.gz")
        #expect(try IDX.gunzip(joined, file: "joined") == bytes)
    }

    @Test func largeFixtureRoundTrips() throws {
        // Bigger than the read and inflate buffers' first size, to exercise their growth.
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let rng = RNG(seed: 3)
        let payload = (0..<300_000).map { _ in UInt8(truncatingIfNeeded: rng.next() % 7) }
        let bytes = idxBytes(magic: IDX.labelsMagic, dims: [payload.count], payload: payload)
        try writeGzip(bytes, to: dir + "/big.gz")
        let parsed = try IDX.read(dir + "/big.gz", magic: IDX.labelsMagic)
        #expect(parsed.dims == [300_000])
        #expect(parsed.withPayload { Array($0) } == payload)
    }
}
