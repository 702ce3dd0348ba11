// What was pruned: per-layer sparsity (requested beside achieved), non-zeros and FLOPs, as the
// report `Masks.report` builds.
import Engine
import NN

/// One prunable parameter in a report.
public struct LayerReport: Sendable {
    public var name: String
    public var shape: [Int]
    public var parameters: Int
    /// What the pruner asked for (nil: no pruner, or a method that sets its own sparsity).
    public var requested: Double?
    /// Fraction of the effective weight (W ⊙ M) that is zero.
    public var achieved: Double
    public var nonzeros: Int
    public var method: String?
    /// Multiply-adds × 2 per sample, dense and counting only non-zero weights (nil until the
    /// layer has run once, for convolutions whose output size is not known before).
    public var denseFLOPs: Int?
    public var sparseFLOPs: Int?
}

public struct PruningReport: Sendable {
    public var layers: [LayerReport]
    public var parameters: Int { layers.reduce(0) { $0 + $1.parameters } }
    public var nonzeros: Int { layers.reduce(0) { $0 + $1.nonzeros } }
    public var achieved: Double { parameters == 0 ? 0 : 1 - Double(nonzeros) / Double(parameters) }
    /// Requested sparsity over all layers, weighted by size (nil when no layer has one).
    public var requested: Double? {
        let known = layers.filter { $0.requested != nil }
        guard !known.isEmpty else { return nil }
        let n = known.reduce(0) { $0 + $1.parameters }
        return known.reduce(0.0) { $0 + ($1.requested ?? 0) * Double($1.parameters) } / Double(max(n, 1))
    }
    public var denseFLOPs: Int? { layers.allSatisfy({ $0.denseFLOPs != nil }) ? layers.reduce(0) { $0 + ($1.denseFLOPs ?? 0) } : nil }
    public var sparseFLOPs: Int? { layers.allSatisfy({ $0.sparseFLOPs != nil }) ? layers.reduce(0) { $0 + ($1.sparseFLOPs ?? 0) } : nil }
}
