// Content hashes that name cache entries, blobs and sweep points.

/// A 128-bit content hash (two independent 64-bit multiply–rotate lanes), fast enough to
/// fingerprint a few hundred megabytes of tensors per cell. Not cryptographic: it names cache
/// entries and blobs, where an accidental collision is the only concern.
public struct ContentHash {
    public init() {}
    private var a: UInt64 = 0x9E37_79B9_7F4A_7C15
    private var b: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private var length: UInt64 = 0

    @inline(__always) private mutating func word(_ w: UInt64) {
        a = ((a ^ (w &* 0x87C3_7B91_1142_53D5)) << 31 | (a ^ (w &* 0x87C3_7B91_1142_53D5)) >> 33) &* 0x4CF5_AD43_2745_937F
        b = ((b ^ (w &* 0x52DC_E729_DA3E_D1A7)) << 27 | (b ^ (w &* 0x52DC_E729_DA3E_D1A7)) >> 37) &* 0x9FB2_1C65_1E98_DF25 &+ a
    }

    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        guard let base = bytes.baseAddress else { return }
        let words = bytes.count / 8
        for i in 0..<words { word(base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
        var tail: UInt64 = 0
        for i in (words * 8)..<bytes.count { tail |= UInt64(bytes[i]) << (8 * UInt64(i - words * 8)) }
        word(tail ^ 0xFF)
    }

    public mutating func add(_ text: String) {
        var t = text
        t.withUTF8 { add(UnsafeRawBufferPointer($0)) }
    }

    public mutating func add(_ x: UInt64) { word(x); length &+= 8 }

    private static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 32 lowercase hex digits.
    public var hex: String {
        let x = ContentHash.mix(a ^ length), y = ContentHash.mix(b &+ ContentHash.mix(a) ^ length)
        func h(_ v: UInt64) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: 16 - s.count) + s }
        return h(x) + h(y)
    }

    public static func of(_ parts: [String]) -> String {
        var h = ContentHash()
        for p in parts { h.add(p); h.add(0x1F) }
        return h.hex
    }
}
