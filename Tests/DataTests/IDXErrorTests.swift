// Malformed files: every one must give an error that names the file, and none may crash.
import Testing
import TestSupport
import Engine
@testable import Data

@Suite("IDX errors")
struct IDXErrorTests {
    /// Loads the train split from `dir` and returns the error message (nil if it loaded).
    func loadError(_ dir: String) -> String? {
        errorMessage { _ = try FashionMNIST.load(.train, directory: dir) }
    }

    @Test func missingFile() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let message = try #require(loadError(dir))
        #expect(message.contains(FashionMNIST.files(.train, directory: dir).images))
        #expect(message.contains("not found; install Debian's dataset-fashion-mnist or set PRUNE_FASHION_MNIST"))
    }

    @Test func missingLabelsOnly() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 3)
        let labels = FashionMNIST.files(.train, directory: dir).labels
        unlinkFile(labels)
        let message = try #require(loadError(dir))
        #expect(message.contains(labels) && message.contains("not found"))
    }

    @Test func plainBytesAreNotGzip() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 3)
        let images = FashionMNIST.files(.train, directory: dir).images
        try writeRaw(idxBytes(magic: IDX.imagesMagic, dims: [3, 4, 3], payload: [UInt8](repeating: 7, count: 36)), to: images)
        let message = try #require(loadError(dir))
        #expect(message.contains(images) && message.contains("not a gzip file"), "\(message)")
    }

    @Test func emptyFileIsNotGzip() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 3)
        let images = FashionMNIST.files(.train, directory: dir).images
        try writeRaw([], to: images)
        let message = try #require(loadError(dir))
        #expect(message.contains(images) && message.contains("not a gzip file"))
    }

    @Test func truncatedGzip() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 50, rows: 8, cols: 8)
        let images = FashionMNIST.files(.train, directory: dir).images
        let whole = try readRaw(images)
        // Cut inside the header, the deflate data, and the CRC/size trailer.
        for cut in [12, whole.count / 2, whole.count - 6, whole.count - 1] {
            try writeRaw(Array(whole[..<cut]), to: images)
            let message = try #require(loadError(dir), "cut at \(cut) of \(whole.count) loaded")
            #expect(message.contains(images) && message.contains("truncated gzip"), "cut \(cut): \(message)")
        }
    }

    @Test func corruptGzip() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 50, rows: 8, cols: 8)
        let images = FashionMNIST.files(.train, directory: dir).images
        var bytes = try readRaw(images)
        // Damage the stored CRC-32: the data inflates but fails its check.
        bytes[bytes.count - 8] ^= 0xFF
        try writeRaw(bytes, to: images)
        let message = try #require(loadError(dir))
        #expect(message.contains(images) && message.contains("corrupt gzip"), "\(message)")
    }

    @Test func badMagic() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 3)
        let (images, labels) = FashionMNIST.files(.train, directory: dir)
        // Labels where images belong: a valid IDX file of the wrong kind.
        try writeGzip(idxBytes(magic: IDX.labelsMagic, dims: [3], payload: [0, 1, 2]), to: images)
        let message = try #require(loadError(dir))
        #expect(message.contains(images) && message.contains("bad IDX magic 0x00000801, expected 0x00000803"), "\(message)")
        try writeIDXPair(dir, n: 3)
        try writeGzip(Array("hello, world".utf8), to: labels)
        let other = try #require(loadError(dir))
        #expect(other.contains(labels) && other.contains("bad IDX magic"), "\(other)")
    }

    @Test func truncatedPayload() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 5)
        let images = FashionMNIST.files(.train, directory: dir).images
        // The header promises 5 images of 4×3; only 4 follow.
        try writeGzip(idxBytes(magic: IDX.imagesMagic, dims: [5, 4, 3], payload: [UInt8](repeating: 1, count: 48)), to: images)
        let message = try #require(loadError(dir))
        #expect(message.contains(images) && message.contains("truncated") && message.contains("60"), "\(message)")
        // A header cut short.
        try writeGzip([0, 0, 8, 3, 0, 0], to: images)
        let short = try #require(loadError(dir))
        #expect(short.contains(images) && short.contains("truncated"), "\(short)")
    }

    @Test func hugeDimensionsAreRejected() throws {
        let bytes = idxBytes(magic: IDX.imagesMagic, dims: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], payload: [1, 2])
        let message = try #require(errorMessage { _ = try IDX.parse(bytes, magic: IDX.imagesMagic, file: "huge.idx") })
        #expect(message.contains("huge.idx"))
    }

    @Test func trailingBytesAreRejected() throws {
        let bytes = idxBytes(magic: IDX.labelsMagic, dims: [2], payload: [1, 2, 3])
        let message = try #require(errorMessage { _ = try IDX.parse(bytes, magic: IDX.labelsMagic, file: "long.idx") })
        #expect(message.contains("long.idx") && message.contains("1 bytes after"))
    }

    @Test func labelCountMismatch() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 5, labelCount: 7)
        let (images, labels) = FashionMNIST.files(.train, directory: dir)
        let message = try #require(loadError(dir))
        #expect(message.contains(images) && message.contains(labels), "\(message)")
        #expect(message.contains("5 images") && message.contains("7 labels"), "\(message)")
    }

    @Test func labelOutOfRange() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 3)
        let labels = FashionMNIST.files(.train, directory: dir).labels
        try writeGzip(idxBytes(magic: IDX.labelsMagic, dims: [3], payload: [0, 12, 1]), to: labels)
        let message = try #require(loadError(dir))
        #expect(message.contains(labels) && message.contains("label 12"), "\(message)")
    }

    @Test func directoryInPlaceOfFile() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let message = try #require(errorMessage { _ = try IDX.read(dir, magic: IDX.labelsMagic) })
        #expect(message.contains(dir))
    }

    /// Random damage to a valid file: whatever happens, it must be an error or a clean load.
    @Test func randomCorruptionNeverCrashes() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 20, rows: 5, cols: 5)
        let images = FashionMNIST.files(.train, directory: dir).images
        let original = try readRaw(images)
        let rng = RNG(seed: 11)
        var failures = 0
        for _ in 0..<300 {
            var bytes = original
            for _ in 0..<(1 + rng.int(below: 4)) {
                bytes[rng.int(below: bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.int(below: 3) == 0 { bytes.removeLast(rng.int(below: bytes.count)) }
            try writeRaw(bytes, to: images + ".x")
            if let message = errorMessage({ _ = try IDX.read(images + ".x", magic: IDX.imagesMagic) }) {
                failures += 1
                #expect(message.contains(images + ".x"), "\(message)")
            }
        }
        unlinkFile(images + ".x")
        // Damage to the gzip header's timestamp or OS byte is harmless; the CRC catches the rest.
        #expect(failures > 150, "only \(failures) of 300 damaged files were rejected")
    }
}
