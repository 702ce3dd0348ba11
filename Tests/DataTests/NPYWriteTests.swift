// Writing NumPy files and PNG images: what save writes, the readers give back exactly (NumPy
// itself reads both: checked by hand with numpy.load when the writer was made).
import Testing
import Engine
import TestSupport
@testable import Data

@Suite struct NPYWriteTests {
    @Test func npyRoundTripsWithAnAlignedHeader() throws {
        let dir = try TempDir("npy-write")
        defer { dir.cleanup() }
        for shape in [[5], [2, 3], [2, 1, 3], [1]] {
            let n = shape.reduce(1, *)
            let t = try Tensor(shape: shape, data: (0..<n).map { Float($0) * 0.37 - 1 })
            let bytes = NPY.encode(t)
            let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            #expect((10 + headerLength) % 64 == 0, "the data starts at a multiple of 64 bytes")
            #expect(bytes[10 + headerLength - 1] == 0x0A)
            #expect(bytes.count == 10 + headerLength + 4 * n)
            try NPY.write(t, to: dir.file("t.npy"))
            let back = try NPY.read(dir.file("t.npy"))
            #expect(back.shape == shape && back.array == t.array)
        }
    }

    @Test func npzRoundTripsNamesAndValues() throws {
        let dir = try TempDir("npz-write")
        defer { dir.cleanup() }
        let x = try Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, 6])
        let y = try Tensor(shape: [3], data: [0, 1, 0])
        try NPY.writeArchive([("x", x), ("labels", y)], to: dir.file("d.npz"))
        let back = try NPY.readArchive(dir.file("d.npz"))
        #expect(back.map(\.name) == ["x", "labels"])
        #expect(back[0].tensor.shape == [3, 2] && back[0].tensor.array == x.array)
        #expect(back[1].tensor.array == y.array)
        let duplicate = errorMessage { try NPY.writeArchive([("x", x), ("x", y)], to: dir.file("e.npz")) }
        #expect(duplicate?.contains("two arrays named 'x'") == true)
    }

    @Test func pngRoundTripsEightBitValues() throws {
        let dir = try TempDir("png-write")
        defer { dir.cleanup() }
        // Values on the 8-bit grid come back exactly; others are rounded to it and clamped.
        let grey = try Tensor(shape: [1, 2, 3], data: [0, 51, 102, 153, 204, 255].map { Float($0) / 255 })
        try PNGImage.write(grey, to: dir.file("g.png"))
        let g = try PNGImage.read(dir.file("g.png"))
        #expect(g.channels == 1 && g.width == 3 && g.height == 2)
        #expect(g.planes(channels: 1, height: 2, width: 3) == grey.array)
        let rgb = try Tensor(shape: [3, 1, 2], data: [1, 0, -0.5, 0.5, 2, 0.25])
        try PNGImage.write(rgb, to: dir.file("c.png"))
        let c = try PNGImage.read(dir.file("c.png"))
        #expect(c.channels == 3 && c.pixels == [255, 0, 255, 0, 128, 64])
        let bad = errorMessage { try PNGImage.write(Tensor(shape: [2, 2, 2], repeating: 0), to: dir.file("b.png")) }
        #expect(bad?.contains("[1 or 3, height, width]") == true)
    }
}
