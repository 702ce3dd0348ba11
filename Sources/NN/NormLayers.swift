// Normalisation layers: batch normalisation (per channel, with running statistics) and layer
// normalisation (over the last axis).
import Engine

/// Layer normalisation over the last axis, with a learned scale and shift.
public final class LayerNorm: Module {
    public let weight: Tensor, bias: Tensor
    public let features: Int, eps: Float
    public init(_ features: Int, eps: Float = 1e-5) throws {
        self.features = features; self.eps = eps
        weight = try Tensor.ones([features]).requiringGrad()
        bias = try Tensor.zeros([features]).requiringGrad()
    }
    public override func forward(_ x: Tensor) throws -> Tensor { try Tensor.layerNorm(x, weight: effective("weight", weight), bias: effective("bias", bias), eps: eps) }
    public override var localParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
    public override var typeName: String { "LayerNorm(\(features))" }
}

/// Batch normalisation over the channel axis of [N, C] or [N, C, H, W], with running statistics
/// for evaluation.
public final class BatchNorm: Module {
    public let weight: Tensor, bias: Tensor
    public let runningMean: Tensor, runningVar: Tensor
    public let features: Int
    public let momentum: Float, eps: Float

    public init(_ features: Int, momentum: Float = 0.1, eps: Float = 1e-5) throws {
        self.features = features; self.momentum = momentum; self.eps = eps
        weight = try Tensor.ones([features]).requiringGrad()
        bias = try Tensor.zeros([features]).requiringGrad()
        runningMean = try Tensor.zeros([features])
        runningVar = try Tensor.ones([features])
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        try Tensor.batchNorm(x, weight: effective("weight", weight), bias: effective("bias", bias), runningMean: runningMean, runningVar: runningVar,
                             training: training, momentum: momentum, eps: eps)
    }
    public override var localParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
    public override var localBuffers: [(String, Tensor)] { [("running_mean", runningMean), ("running_var", runningVar)] }
    public override var typeName: String { "BatchNorm(\(features))" }
}
