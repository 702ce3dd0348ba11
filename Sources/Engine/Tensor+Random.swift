// Seeded random initialisers: uniform, normal, Kaiming and Xavier, as in torch.nn.init.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Tensor {
    /// Uniform in [low, high). Filled in chunks that check `shouldStop` (Ctrl-C by default).
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: RNG,
                               shouldStop: () -> Bool = { Interrupt.requested }) throws -> Tensor {
        let t = try Tensor.empty(shape)
        let span = high - low, p = t.data
        try Interrupt.chunked(t.count, shouldStop: shouldStop) { r in rng.fillUniform(p + r.lowerBound, count: r.count, low: low, span: span) }
        return t
    }

    /// Normal with the given mean and standard deviation. Filled in chunks that check
    /// `shouldStop` (Ctrl-C by default).
    public static func randn(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: RNG,
                             shouldStop: () -> Bool = { Interrupt.requested }) throws -> Tensor {
        let t = try Tensor.empty(shape)
        let p = t.data
        try Interrupt.chunked(t.count, shouldStop: shouldStop) { r in for i in r { p[i] = mean + std * rng.normal() } }
        return t
    }

    /// Fan-in and fan-out of a weight laid out as PyTorch does: [out, in, k...].
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        guard shape.count >= 2 else { return (Swift.max(shape.first ?? 1, 1), Swift.max(shape.first ?? 1, 1)) }
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// Kaiming (He) uniform for ReLU networks: U(−b, b), b = gain·√(3 / fan_in), gain = √2.
    public static func kaimingUniform(_ shape: [Int], rng: RNG, gain: Float = Float(2).squareRoot()) throws -> Tensor {
        let bound = gain * (3 / Float(fans(shape).fanIn)).squareRoot()
        return try uniform(shape, low: -bound, high: bound, rng: rng)
    }

    /// Kaiming (He) normal: N(0, gain² / fan_in).
    public static func kaimingNormal(_ shape: [Int], rng: RNG, gain: Float = Float(2).squareRoot()) throws -> Tensor {
        try randn(shape, std: gain / Float(fans(shape).fanIn).squareRoot(), rng: rng)
    }

    /// Xavier (Glorot) uniform: U(−b, b), b = gain·√(6 / (fan_in + fan_out)).
    public static func xavierUniform(_ shape: [Int], rng: RNG, gain: Float = 1) throws -> Tensor {
        let f = fans(shape)
        let bound = gain * (6 / Float(f.fanIn + f.fanOut)).squareRoot()
        return try uniform(shape, low: -bound, high: bound, rng: rng)
    }

    /// Xavier (Glorot) normal: N(0, gain²·2 / (fan_in + fan_out)).
    public static func xavierNormal(_ shape: [Int], rng: RNG, gain: Float = 1) throws -> Tensor {
        let f = fans(shape)
        return try randn(shape, std: gain * (2 / Float(f.fanIn + f.fanOut)).squareRoot(), rng: rng)
    }
}
