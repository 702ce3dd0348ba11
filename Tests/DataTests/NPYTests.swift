// NumPy files: the fixtures NumPy wrote (scripts/torch_fixtures.py) in several dtypes and
// layouts, stored and deflated .npz archives, and damaged files reported, never trusted.
import Foundation
import Testing
import Engine
@testable import Data

/// Tests/BindingsTests/fixtures/torch/<name>, written by scripts/torch_fixtures.py.
func torchFixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("BindingsTests/fixtures/torch/\(name)").path
}

@Suite struct NPYTests {
    @Test func readsDtypesAndLayouts() throws {
        let expected: [Float] = (0..<12).map { Float($0) / 4 }
        let f8 = try NPY.read(torchFixture("f8.npy"))
        #expect(f8.shape == [3, 4])
        #expect(f8.array == expected)
        let fortran = try NPY.read(torchFixture("fortran.npy"))
        #expect(fortran.shape == [3, 4])
        #expect(fortran.array == expected, "column-major data comes back in row-major order")
        #expect(try NPY.read(torchFixture("i8_big.npy")).array == [-3, 0, 7, 1_048_576] as [Float])
        #expect(try NPY.read(torchFixture("bool.npy")).array == [1, 0, 0, 1])
        #expect(try NPY.read(torchFixture("u1.npy")).array == [0, 128, 255])
    }

    @Test func readsStoredAndDeflatedArchives() throws {
        let stored = try NPY.readArchive(torchFixture("stored.npz"))
        #expect(stored.map(\.name) == ["x", "y"])
        #expect(stored[0].tensor.shape == [2, 3])
        #expect(stored[0].tensor.array == [0, 1, 2, 3, 4, 5])
        #expect(stored[1].tensor.array == [1, 0])
        let deflated = try NPY.readArchive(torchFixture("predictions.npz"))
        #expect(deflated.map(\.name) == ["x", "y", "mlp", "cnn"])
        #expect(deflated[0].tensor.shape == [16, 1, 8, 8])
        #expect(deflated[2].tensor.shape == [16, 10])
    }

    @Test func damagedFilesAreReported() throws {
        let good = Array(try Data(contentsOf: URL(fileURLWithPath: torchFixture("f8.npy"))))
        #expect(throws: DataError.self) { try NPY.parse(Array(good.dropLast(8)), file: "short.npy") }
        #expect(throws: DataError.self) { try NPY.parse([0x89, 0x50, 0x4E, 0x47] + good, file: "png.npy") }
        do {
            _ = try NPY.parse(Array(good.dropLast(8)), file: "short.npy")
        } catch let e as DataError {
            #expect(e.message.contains("short.npy is truncated"))
        }
        // A flipped data byte in a stored archive fails the CRC check.
        var zip = Array(try Data(contentsOf: URL(fileURLWithPath: torchFixture("stored.npz"))))
        if let i = zip.indices.first(where: { zip[$0] == 0x93 && zip[$0 + 1] == 0x4E }) { zip[i + 140] ^= 0xFF }
        do {
            _ = try Zip.entries(zip, file: "bad.npz")
            Issue.record("a corrupted archive was accepted")
        } catch let e as DataError {
            #expect(e.message.contains("bad.npz"))
        }
        #expect(throws: DataError.self) { try Zip.entries(Array(zip.prefix(40)), file: "cut.npz") }
    }

    @Test func mutatedFilesNeverCrash() throws {
        // Every truncation and many corrupted bytes (lengths, offsets, counts set to extremes):
        // each read throws or succeeds, the process never traps.
        let rng = RNG(seed: 5)
        for name in ["stored.npz", "predictions.npz", "f8.npy"] {
            let good = Array(try Data(contentsOf: URL(fileURLWithPath: torchFixture(name))))
            for cut in stride(from: 0, to: good.count, by: 7) {
                _ = try? NPY.readBytes(Array(good.prefix(cut)), file: name)
            }
            for _ in 0..<400 {
                var bad = good
                let at = Int(rng.next() % UInt64(bad.count))
                for k in 0..<Swift.min(4, bad.count - at) { bad[at + k] = rng.next() % 2 == 0 ? 0xFF : UInt8(truncatingIfNeeded: rng.next()) }
                _ = try? NPY.readBytes(bad, file: name)
            }
        }
    }
}
