// Raster: cairo's premultiplied native-endian ARGB32 pixels turned into the 8-bit RGB(A) rows
// libpng takes; FileIO's PNG encodes them.
import FileIO
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

    /// The image as PNG bytes with pHYs = dpi and the given tEXt chunks.
    func encodePNG(text: [(String, String)]) throws -> [UInt8] {
        do { return try PNG.encode(pixels, width: width, height: height, channels: channels, dpi: dpi, text: text) } catch let e as FileError {
            throw PlotError(e.message)
        }
    }
}
