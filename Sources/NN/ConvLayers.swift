// Convolutional layers: Conv2d and pooling.
import Engine

/// 2-D convolution over [N, C, H, W], weight [out, in, k, k] as in PyTorch.
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, rng: RNG) throws {
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernel = kernel; self.stride = stride; self.padding = padding
        let bound = 1 / Float(max(inChannels * kernel * kernel, 1)).squareRoot()
        weight = try Tensor.uniform([outChannels, inChannels, kernel, kernel], low: -bound, high: bound, rng: rng).requiringGrad()
        self.bias = bias ? try Tensor.uniform([outChannels], low: -bound, high: bound, rng: rng).requiringGrad() : nil
        super.init()
    }

    /// The compressed weight and kernel choices when the mask is fixed (NN/Sparse.swift).
    public let sparse = SparseLayerState()

    public override func forward(_ x: Tensor) throws -> Tensor {
        let w = try effective("weight", weight), b = try bias.map { try effective("bias", $0) }
        let y = try sparseForward(x, weight: w, bias: b)
            ?? Tensor.conv2d(x, weight: w, bias: b, stride: stride, padding: padding)
        if y.rank == 4 { positionsPerSample = y.shape[2] * y.shape[3] }
        return y
    }
    public override var localParameters: [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
    public override var typeName: String {
        "Conv2d(\(inChannels) → \(outChannels), \(kernel)×\(kernel)" + (stride != 1 ? ", stride \(stride)" : "")
            + (padding != 0 ? ", pad \(padding)" : "") + ")"
    }
}

/// Max pooling over k×k windows.
public final class MaxPool2d: Module {
    public let kernel: Int, stride: Int, padding: Int
    public init(_ kernel: Int, stride: Int? = nil, padding: Int = 0) {
        self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding
    }
    public override func forward(_ x: Tensor) throws -> Tensor { try x.maxPool2d(kernel: kernel, stride: stride, padding: padding) }
    public override var typeName: String { "MaxPool2d(\(kernel))" }
}

/// Average pooling over k×k windows.
public final class AvgPool2d: Module {
    public let kernel: Int, stride: Int, padding: Int
    public init(_ kernel: Int, stride: Int? = nil, padding: Int = 0) {
        self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding
    }
    public override func forward(_ x: Tensor) throws -> Tensor { try x.avgPool2d(kernel: kernel, stride: stride, padding: padding) }
    public override var typeName: String { "AvgPool2d(\(kernel))" }
}

/// Global average pooling: [N, C, H, W] → [N, C].
public final class GlobalAvgPool: Module {
    public override func forward(_ x: Tensor) throws -> Tensor { try x.globalAvgPool() }
    public override var typeName: String { "GlobalAvgPool" }
}
