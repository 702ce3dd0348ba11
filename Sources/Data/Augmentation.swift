// Data augmentation for image batches: random shifts (zero-filled) and horizontal flips.
import Engine

/// Random transformations of [C, H, W] samples, drawn independently per sample.
///
///     let augmented = try train.augmented(Augmentation(shift: 2, flip: true))
public struct Augmentation: Sendable, Equatable, CustomStringConvertible {
    /// Shift each sample by up to this many pixels in each direction (the vacated border is 0).
    public var shift: Int
    /// Mirror each sample left–right with probability 1/2.
    public var flip: Bool

    public init(shift: Int = 0, flip: Bool = false) { self.shift = shift; self.flip = flip }

    public var description: String {
        [shift > 0 ? "shift ±\(shift)" : nil, flip ? "horizontal flip" : nil].compactMap { $0 }.joined(separator: ", ")
    }

    func check(sampleShape: [Int], dataset: String) throws {
        guard shift >= 0 else { throw DataError("augmentation: shift must be ≥ 0, got \(shift)") }
        guard sampleShape.count == 3 || (shift == 0 && !flip) else {
            throw DataError("augmentation: dataset \(dataset) has samples of shape \(describe(shape: sampleShape)); shifts and flips need images [C, H, W]")
        }
        if sampleShape.count == 3, shift >= min(sampleShape[1], sampleShape[2]) {
            throw DataError("augmentation: shift \(shift) is not smaller than the \(sampleShape[1])×\(sampleShape[2]) images")
        }
    }

    /// Transforms every sample of `x` [B, C, H, W] in place.
    public func apply(to x: Tensor, rng: RNG) {
        guard x.rank == 4, shift > 0 || flip else { return }
        let b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        var plane = [Float](repeating: 0, count: h * w)
        for s in 0..<b {
            let dy = shift > 0 ? rng.int(below: 2 * shift + 1) - shift : 0
            let dx = shift > 0 ? rng.int(below: 2 * shift + 1) - shift : 0
            let mirror = flip && rng.uniform() < 0.5
            if dy == 0 && dx == 0 && !mirror { continue }
            for ch in 0..<c {
                let p = x.data + (s * c + ch) * h * w
                for i in 0..<h * w { plane[i] = p[i] }
                for r in 0..<h {
                    let sr = r - dy
                    for col in 0..<w {
                        let target = mirror ? w - 1 - col : col
                        let sc = col - dx
                        p[r * w + target] = (sr >= 0 && sr < h && sc >= 0 && sc < w) ? plane[sr * w + sc] : 0
                    }
                }
            }
        }
    }
}
