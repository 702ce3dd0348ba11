// Random pruning, the control: importance drawn once at random, so gradual masks are nested.
import Engine
import NN

public final class RandomPruning: PruningMethod {
    public static let name = "random"
    public static let summary = "ranks weights at random (the control every method must beat)"
    public static let reference = "the control (Iofinova et al. 2022, arXiv 2111.13445, report it)"
    public static let parameters: [MethodParameter] = []
    var scores: [Tensor] = []

    public init(settings: MethodSettings) {}

    public func attached(_ pruner: Pruner) throws {
        scores = try pruner.targets.map { try Tensor.uniform($0.weight.shape, low: 0, high: 1, rng: pruner.rng) }
    }

    public func importance(_ pruner: Pruner) throws -> [Tensor] { scores }
}
