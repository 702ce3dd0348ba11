// Image folders: PNG files written by libpng in class folders come back as the same pixels and
// labels; resizing, colour choice and the folder mistakes a user makes are checked.
import Foundation
import Testing
import TestSupport
import CPNG
import Engine
@testable import Data

/// Writes an 8-bit image (channels 1 or 3, rows top to bottom) as a PNG file.
func writePNG(_ pixels: [UInt8], width: Int, height: Int, channels: Int, to path: String) throws {
    var out: UnsafeMutablePointer<UInt8>?
    var length = 0
    var err = [CChar](repeating: 0, count: 256)
    let rc = pixels.withUnsafeBufferPointer { p in
        prune_png_encode(p.baseAddress, Int32(width), Int32(height), Int32(channels), 0, nil, nil, 0, &out, &length, &err, err.count)
    }
    guard rc == 0, let out else { throw EngineError("png: \(String(cString: err))") }
    defer { prune_png_free(out) }
    try Data(bytes: out, count: length).write(to: URL(fileURLWithPath: path))
}

@Suite struct ImageFolderTests {
    /// A folder with classes "cat" (2 images) and "dog" (1 image) of 5×4 grey pixels.
    func greyFolder() throws -> (root: String, images: [[UInt8]]) {
        let root = try makeDirectory()
        var images: [[UInt8]] = []
        for (cls, count) in [("cat", 2), ("dog", 1)] {
            try FileManager.default.createDirectory(atPath: root + "/" + cls, withIntermediateDirectories: true)
            for k in 0..<count {
                let pixels = (0..<20).map { UInt8(($0 * 13 + k * 7 + cls.count * 31 + images.count * 50) % 256) }
                try writePNG(pixels, width: 5, height: 4, channels: 1, to: "\(root)/\(cls)/\(k).png")
                images.append(pixels)
            }
        }
        try "not an image".write(toFile: root + "/dog/notes.txt", atomically: true, encoding: .utf8)
        return (root, images)
    }

    @Test func roundTripsPixelsAndLabels() throws {
        let (root, images) = try greyFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let d = try ImageFolder.load(root)
        #expect(d.classNames == ["cat", "dog"])
        #expect(d.labels == [0, 0, 1])
        #expect(d.images.shape == [3, 1, 4, 5])
        let back = d.images.array.map { UInt8(($0 * 255).rounded()) }
        #expect(back == images.flatMap { $0 })
    }

    @Test func rgbAndResizing() throws {
        let root = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/red", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/grey", withIntermediateDirectories: true)
        // A red 4×4 image and a uniform grey 2×2 one.
        try writePNG([UInt8](repeating: 0, count: 48).enumerated().map { $0.offset % 3 == 0 ? 255 : 0 }, width: 4, height: 4, channels: 3, to: root + "/red/a.png")
        try writePNG([UInt8](repeating: 128, count: 4), width: 2, height: 2, channels: 1, to: root + "/grey/b.png")
        #expect(throws: DataError.self) { try ImageFolder.load(root) }  // two sizes, no size given
        let d = try ImageFolder.load(root, size: (3, 3))
        #expect(d.images.shape == [2, 3, 3, 3], "any colour image makes the dataset RGB")
        #expect(d.labels == [0, 1])  // "grey" sorts before "red"
        let grey = Array(d.images.array[0..<27]), red = Array(d.images.array[27..<54])
        #expect(grey.allSatisfy { Swift.abs($0 - 128 / 255) < 1e-6 })
        #expect(red[0..<9].allSatisfy { $0 == 1 } && red[9...].allSatisfy { $0 == 0 })
        let asGrey = try ImageFolder.load(root, size: (2, 2), colour: .grey)
        #expect(asGrey.images.shape == [2, 1, 2, 2])
        #expect(Swift.abs(asGrey.images.array[4] - 0.299) < 1e-3, "red as grey is its luma")
    }

    @Test func folderMistakesAreNamed() throws {
        let root = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        func message(_ body: () throws -> Dataset) -> String {
            do { _ = try body(); return "" } catch let e as DataError { return e.message } catch { return "\(error)" }
        }
        #expect(message { try ImageFolder.load(root + "/nowhere") }.contains("nowhere not found"))
        #expect(message { try ImageFolder.load(root) }.contains("has no sub-folders"))
        try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        #expect(message { try ImageFolder.load(root) }.contains("empty holds no .png files"))
        try "junk".write(toFile: root + "/empty/x.png", atomically: true, encoding: .utf8)
        #expect(message { try ImageFolder.load(root) }.contains("x.png: cannot read the PNG image"))
    }
}
