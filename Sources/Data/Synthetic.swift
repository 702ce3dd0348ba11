// Synthetic classification tasks for tests and quick experiments: every class is a smooth
// random prototype, and its samples are the prototype plus Gaussian noise.
import Engine

public enum Synthetic {
    /// `classes` × `perClass` samples of shape `shape` (e.g. [1, 28, 28]), in class order.
    /// Prototypes are blurred Gaussian fields scaled to unit variance, drawn from `seed`;
    /// samples add N(0, noise²) per value from a generator derived from `seed`, so the same seed
    /// gives the same task. `sampleSeed` draws another sample of the same task (a test split).
    public static func task(classes: Int, perClass: Int, shape: [Int] = [1, 28, 28], noise: Float = 1,
                            seed: UInt64 = 0, sampleSeed: UInt64? = nil) throws -> Dataset {
        guard classes >= 1, classes <= 10_000 else { throw DataError("synthetic: classes must be in 1…10000, got \(classes)") }
        guard perClass >= 0 else { throw DataError("synthetic: per_class must be ≥ 0, got \(perClass)") }
        guard !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }), shape.reduce(1, *) <= 1 << 20 else {
            throw DataError("synthetic: shape must be positive sizes with at most 2^20 values, got \(describe(shape: shape))")
        }
        guard noise.isFinite, noise >= 0 else { throw DataError("synthetic: noise must be ≥ 0, got \(noise)") }
        let size = shape.reduce(1, *)
        let rng = RNG(seed: seed)
        var prototypes: [[Float]] = []
        for _ in 0..<classes { prototypes.append(smoothField(size: size, rowLength: shape.last ?? size, rng: rng)) }
        let sampler = RNG(seed: (sampleSeed ?? seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        let n = classes * perClass
        let x = try Tensor.empty([n] + shape)
        var labels: [Int] = []
        labels.reserveCapacity(n)
        for c in 0..<classes {
            for _ in 0..<perClass {
                let dst = x.data + labels.count * size
                for i in 0..<size { dst[i] = prototypes[c][i] + noise * sampler.normal() }
                labels.append(c)
            }
        }
        return try Dataset(name: "synthetic/\(classes)x\(perClass)", images: x, labels: labels, classes: classes)
    }

    /// White noise blurred along rows and columns (a 5-tap box, twice), scaled to unit variance.
    static func smoothField(size: Int, rowLength: Int, rng: RNG) -> [Float] {
        var v = (0..<size).map { _ in rng.normal() }
        let w = max(rowLength, 1), h = size / w
        for _ in 0..<2 {
            var out = v
            for i in 0..<size {
                let r = i / w, c = i % w
                var s: Float = 0, k: Float = 0
                for d in -2...2 {
                    if c + d >= 0, c + d < w { s += v[r * w + c + d]; k += 1 }
                    if h > 1, r + d >= 0, r + d < h { s += v[(r + d) * w + c]; k += 1 }
                }
                out[i] = s / max(k, 1)
            }
            v = out
        }
        let mean = v.reduce(0, +) / Float(max(size, 1))
        let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(max(size, 1))
        let scale = variance > 0 ? 1 / variance.squareRoot() : 1
        return v.map { ($0 - mean) * scale }
    }
}
