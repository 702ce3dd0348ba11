// Magnitude pruning (MaP; gradual magnitude pruning, GMP, on the cubic schedule of Zhu & Gupta
// 2017): keep the largest |w|, recomputed from the current weights.
import Engine
import NN

public final class Magnitude: PruningMethod {
    public static let name = "magnitude"
    public static let summary = "keeps the largest |w|; one-shot, or gradual on a schedule (GMP)"
    public static let reference = "Han et al. 2015; Zhu & Gupta 2017 (arXiv 1710.01878)"
    public static let parameters: [MethodParameter] = []
    /// |w| into buffers kept between updates.
    var magnitudes: [Tensor] = []

    public init(settings: MethodSettings) {}

    public func updateMasks(_ pruner: Pruner, keep: Double) throws {
        // Pruned weights are already 0 and stay so: an unchanged target changes nothing.
        if pruner.lastKeep == keep { return }
        try pruner.select(importance(pruner), keep: keep)
    }

    /// |w| of every target, into buffers kept between updates.
    public func importance(_ pruner: Pruner) throws -> [Tensor] {
        let targets = pruner.targets
        if magnitudes.count != targets.count { magnitudes = targets.map { Tensor.empty(like: $0.weight) } }
        for (t, m) in zip(targets, magnitudes) { for i in 0..<m.count { m.data[i] = Swift.abs(t.weight.data[i]) } }
        return magnitudes
    }
}
