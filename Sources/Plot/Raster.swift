// Raster: cairo's premultiplied native-endian ARGB32 pixels turned into the 8-bit RGB(A) rows
// libpng takes, and the PNG encoder call (through the CPNG shim, which catches libpng's longjmp).
import CPNG
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A rendered image as 8-bit rows, top to bottom.
struct RasterImage {
    var pixels: [UInt8]
    var width: Int
    var height: Int
    /// 3 (RGB) for figures on white, 4 (RGBA) for transparent ones.
    var channels: Int
    var dpi: Double

    /// Converts `height` rows of `stride` bytes of cairo ARGB32 at `argb`.
    init(argb: UnsafeRawPointer, width: Int, height: Int, stride: Int, alpha: Bool, dpi: Double) {
        self.width = width; self.height = height; self.dpi = dpi
        channels = alpha ? 4 : 3
        let ch = channels
        pixels = [UInt8](repeating: 0, count: width * height * ch)
        pixels.withUnsafeMutableBufferPointer { out in
            guard let dst = out.baseAddress else { return }
            for y in 0..<height {
                let row = (argb + y * stride).assumingMemoryBound(to: UInt32.self)
                var o = dst + y * width * ch
                for x in 0..<width {
                    let p = row[x]
                    var r = UInt32((p >> 16) & 0xFF), g = UInt32((p >> 8) & 0xFF), b = UInt32(p & 0xFF)
                    if alpha {
                        // Undo cairo's premultiplication, rounding to nearest.
                        let a = p >> 24
                        if a != 0 && a != 255 {
                            r = Swift.min(255, (r * 255 + a / 2) / a)
                            g = Swift.min(255, (g * 255 + a / 2) / a)
                            b = Swift.min(255, (b * 255 + a / 2) / a)
                        }
                        o[3] = UInt8(a)
                    }
                    o[0] = UInt8(r); o[1] = UInt8(g); o[2] = UInt8(b)
                    o += ch
                }
            }
        }
    }

    /// Writes the image as PNG to `path` with pHYs = dpi and the given tEXt chunks.
    func encodePNG(text: [(String, String)]) throws -> [UInt8] {
        // libpng wants Latin-1 text; keep printable ASCII and replace the rest, so that a
        // source path with other characters still yields a valid chunk.
        let latin = text.map { (k, v) in (k, String(v.unicodeScalars.map { $0.isASCII && $0.value >= 32 ? Character($0) : "?" })) }
        let keys = latin.map { strdupArray($0.0) }, values = latin.map { strdupArray($0.1) }
        var err = [CChar](repeating: 0, count: 512)
        var out: UnsafeMutablePointer<UInt8>?
        var count = 0
        let status: Int32 = keys.withPointers { k in
            values.withPointers { v in
                pixels.withUnsafeBufferPointer { px in
                    err.withUnsafeMutableBufferPointer { e in
                        prune_png_encode(px.baseAddress, Int32(width), Int32(height), Int32(channels), dpi,
                                         k, v, Int32(latin.count), &out, &count, e.baseAddress, e.count)
                    }
                }
            }
        }
        defer { prune_png_free(out) }
        guard status == 0, let out else {
            throw PlotError(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return Array(UnsafeBufferPointer(start: out, count: count))
    }
}

/// A NUL-terminated copy of `s`.
private func strdupArray(_ s: String) -> [CChar] { Array(s.utf8CString) }

extension Array where Element == [CChar] {
    /// Calls `body` with a C array of pointers to the strings, valid during the call.
    func withPointers<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        func go(_ i: Int, _ acc: [UnsafePointer<CChar>?]) -> R {
            if i == count { return acc.withUnsafeBufferPointer { body($0.baseAddress) } }
            return self[i].withUnsafeBufferPointer { go(i + 1, acc + [$0.baseAddress]) }
        }
        return go(0, [])
    }
}
