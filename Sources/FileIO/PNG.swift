// PNG encoding: 8-bit pixel rows to the bytes of a PNG file, through the CPNG shim (which catches
// libpng's longjmp). Plots and image tensors both encode here; callers write the bytes with
// WholeFile, so every format goes through one file writer.
import CPNG

public enum PNG {
    /// The PNG bytes of `pixels` (`channels` 1 grey, 3 RGB or 4 RGBA, rows top to bottom), with
    /// a pHYs chunk when `dpi` > 0 and a tEXt chunk per pair of `text`. libpng wants Latin-1
    /// text: printable ASCII is kept and anything else becomes "?", so that any text (a source
    /// path) still gives a valid chunk.
    public static func encode(_ pixels: [UInt8], width: Int, height: Int, channels: Int, dpi: Double = 0,
                              text: [(String, String)] = []) throws -> [UInt8] {
        func latin(_ s: String) -> [CChar] {
            Array(String(s.unicodeScalars.map { $0.isASCII && $0.value >= 32 ? Character($0) : "?" }).utf8CString)
        }
        let keys = text.map { latin($0.0) }, values = text.map { latin($0.1) }
        var err = [CChar](repeating: 0, count: 512)
        var out: UnsafeMutablePointer<UInt8>?
        var count = 0
        let status: Int32 = keys.withPointers { k in
            values.withPointers { v in
                pixels.withUnsafeBufferPointer { px in
                    err.withUnsafeMutableBufferPointer { e in
                        prune_png_encode(px.baseAddress, Int32(width), Int32(height), Int32(channels), dpi,
                                         k, v, Int32(text.count), &out, &count, e.baseAddress, e.count)
                    }
                }
            }
        }
        defer { prune_png_free(out) }
        guard status == 0, let out else {
            throw FileError("cannot encode the PNG image (" + String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + ")")
        }
        return Array(UnsafeBufferPointer(start: out, count: count))
    }
}

extension Array where Element == [CChar] {
    /// Calls `body` with a C array of pointers to the strings, valid during the call.
    fileprivate func withPointers<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        func go(_ i: Int, _ acc: [UnsafePointer<CChar>?]) -> R {
            if i == count { return acc.withUnsafeBufferPointer { body($0.baseAddress) } }
            return self[i].withUnsafeBufferPointer { go(i + 1, acc + [$0.baseAddress]) }
        }
        return go(0, [])
    }
}
