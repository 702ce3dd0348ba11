// Channel scaling (Wong & Moradi 2021): a trainable scale after each frozen pretrained layer
// (ChannelScale.insert, `channel_scales(net)` in the language), an L1 penalty λ·Σ|s| on the
// scales, and iterative thresholding: every update, channels whose |s| fell below the threshold
// are removed for good. The original weights never train; compact(net) then drops the removed
// channels with everything that produces and reads them.
import Engine
import NN

public final class ChannelScaling: PruningMethod {
    public static let name = "channel_scaling"
    public static func prepared(_ model: Module) throws -> Module { try ChannelScale.insert(model) }
    public static let summary = "trains per-channel scales after frozen layers under an L1 penalty; removes channels whose |scale| falls below a threshold"
    public static let reference = "Wong & Moradi 2021 (arXiv 2103.12228)"
    public static let parameters: [MethodParameter] = [
        .real("lambda", 1e-3, atLeast: 0, "L1 penalty on the scales: the larger, the more channels go", displayed: true),
        .real("threshold", 0.05, above: 0, "a channel whose |scale| falls below this is removed", displayed: true),
    ]
    public static let target = MethodTarget.own
    public static let schedules: [PruneSchedule.Kind] = [.constant]
    public static let defaultSchedule = PruneSchedule(.constant, every: 10)
    public static let structured = false
    public static let learnsWhileTraining = true

    let lambda: Float, threshold: Float
    /// The scales and their masks.
    var scales: [(name: String, scale: Tensor, gate: WeightGate)] = []

    public init(settings: MethodSettings) {
        lambda = Float(settings.number("lambda"))
        threshold = Float(settings.number("threshold"))
    }

    public func attached(_ pruner: Pruner) throws {
        guard let model = pruner.model else { return }
        scales = []
        for (path, m) in model.namedModules() {
            guard let s = m as? ChannelScale else { continue }
            let name = path + ".scale"
            let gate = model.gate(for: name) ?? WeightGate(mask: Tensor.ones(like: s.scale), method: Self.name)
            if model.gate(for: name) == nil { try model.setGate(gate, for: name) }
            scales.append((name, s.scale, gate))
        }
        guard !scales.isEmpty else {
            throw PruningError.missingLayers(method: Self.name, layers: "channel scales", insertedBy: "ChannelScale.insert(_:)")
        }
    }

    /// λ·Σ|s| over every scale.
    public func loss(_ loss: Tensor, pruner: Pruner, step: Int) throws -> Tensor {
        guard lambda > 0 else { return loss }
        var total = loss
        for s in scales { total = try total + s.scale.abs().sum() * lambda }
        return total
    }

    /// Removes (for good) the channels whose scale fell below the threshold.
    public func updateMasks(_ pruner: Pruner, keep: Double) throws {
        for s in scales {
            for i in 0..<s.scale.count where Swift.abs(s.scale.data[i]) < threshold { s.gate.mask.data[i] = 0 }
            // At least one channel stays in each layer.
            if s.gate.mask.nonzeroCount == 0, let best = (0..<s.scale.count).max(by: { Swift.abs(s.scale.data[$0]) < Swift.abs(s.scale.data[$1]) }) {
                s.gate.mask.data[best] = 1
            }
            s.scale.maskInPlace(by: s.gate.mask)
            s.gate.requestedSparsity = nil
        }
    }
}
