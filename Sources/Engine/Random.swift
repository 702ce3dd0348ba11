// Seeded random numbers: xoshiro256** seeded through SplitMix64, identical on every run.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A seeded generator shared by initialisers, dropout and shuffling. Same seed, same stream.
public final class RNG: RandomNumberGenerator, @unchecked Sendable {
    private var s0: UInt64 = 0, s1: UInt64 = 0, s2: UInt64 = 0, s3: UInt64 = 0

    public init(seed: UInt64) { reseed(seed) }

    public func reseed(_ seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    /// The generator's whole state (four words), to save and later restore a stream exactly
    /// (notebook cell caches).
    public var state: [UInt64] {
        get { [s0, s1, s2, s3] }
        set {
            guard newValue.count == 4 else { return }
            s0 = newValue[0]; s1 = newValue[1]; s2 = newValue[2]; s3 = newValue[3]
        }
    }

    public func next() -> UInt64 { RNG.step(&s0, &s1, &s2, &s3) }

    /// One xoshiro256** step on the state words: the output, with the state advanced.
    @inline(__always)
    private static func step(_ s0: inout UInt64, _ s1: inout UInt64, _ s2: inout UInt64, _ s3: inout UInt64) -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    @inline(__always) public func uniform() -> Float { RNG.unit(next()) }

    /// The top 24 bits of a step's output as a float in [0, 1).
    @inline(__always) private static func unit(_ bits: UInt64) -> Float { Float(bits >> 40) * (1.0 / 16_777_216.0) }

    /// Fills `count` floats with `low + span · uniform()`, the same values as that many calls of
    /// `uniform()` in order, with the state kept in registers for the loop.
    public func fillUniform(_ p: UnsafeMutablePointer<Float>, count: Int, low: Float = 0, span: Float = 1) {
        var a = s0, b = s1, c = s2, d = s3
        for i in 0..<Swift.max(count, 0) {
            p[i] = low + span * RNG.unit(RNG.step(&a, &b, &c, &d))
        }
        s0 = a; s1 = b; s2 = c; s3 = d
    }

    /// Uniform in [0, 1) as a Double (53 bits).
    @inline(__always) public func uniformDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Standard normal by Box–Muller (one value per call, the second is discarded for simplicity
    /// of state; reproducibility matters more than the few nanoseconds).
    public func normal() -> Float {
        let u1 = max(uniformDouble(), 1e-300), u2 = uniformDouble()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// An integer in 0..<n.
    public func int(below n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }

    /// A random permutation of 0..<n (Fisher–Yates).
    public func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, int(below: i + 1)) } }
        return p
    }

    /// A process-wide generator for Swift code that has no generator of its own. The language
    /// never draws from it: scripts and notebooks use their session's generator (`seed(n)`).
    public static let global = RNG(seed: 0)
}
