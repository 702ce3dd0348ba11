// Basic layers: Linear, activations, Flatten, Dropout, Sequential and Residual.
import Engine
import FileIO

/// y = x·Wᵀ + b, weight [out, in] as in PyTorch, initialised like torch.nn.Linear.
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let inFeatures: Int, outFeatures: Int

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: RNG) throws {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        // PyTorch's default: kaiming_uniform with a = √5 → U(±1/√fan_in), same for the bias.
        let bound = 1 / Float(max(inFeatures, 1)).squareRoot()
        weight = try Tensor.uniform([outFeatures, inFeatures], low: -bound, high: bound, rng: rng).requiringGrad()
        self.bias = bias ? try Tensor.uniform([outFeatures], low: -bound, high: bound, rng: rng).requiringGrad() : nil
        super.init()
    }

    /// The compressed weight and kernel choices when the mask is fixed (NN/Sparse.swift).
    public let sparse = SparseLayerState()

    public override func forward(_ x: Tensor) throws -> Tensor {
        if x.rank >= 2 { positionsPerSample = x.count / max(x.shape[0] * inFeatures, 1) }
        let w = try effective("weight", weight), b = try bias.map { try effective("bias", $0) }
        if let y = try sparseForward(x, weight: w, bias: b) { return y }
        return try Tensor.linear(x, weight: w, bias: b)
    }
    public override var localParameters: [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
    public override var typeName: String { "Linear(\(inFeatures) → \(outFeatures))" }
}

/// An elementwise activation function as a layer.
public final class Activation: Module {
    public enum Kind: String, Sendable, CaseIterable { case relu, gelu, tanh, sigmoid, softmax }
    public let kind: Kind
    public init(_ kind: Kind) { self.kind = kind }
    public override func forward(_ x: Tensor) throws -> Tensor {
        switch kind {
        case .relu: x.relu()
        case .gelu: x.gelu()
        case .tanh: x.tanh()
        case .sigmoid: x.sigmoid()
        case .softmax: x.softmax()
        }
    }
    public override var typeName: String {
        switch kind {
        case .relu: "ReLU"
        case .gelu: "GELU"
        case .tanh: "Tanh"
        case .sigmoid: "Sigmoid"
        case .softmax: "Softmax"
        }
    }
}

public func ReLU() -> Activation { Activation(.relu) }
public func GELU() -> Activation { Activation(.gelu) }
public func Tanh() -> Activation { Activation(.tanh) }
public func Sigmoid() -> Activation { Activation(.sigmoid) }
public func Softmax() -> Activation { Activation(.softmax) }

/// [N, d1, d2, …] → [N, d1·d2·…].
public final class Flatten: Module {
    public override func forward(_ x: Tensor) throws -> Tensor { try x.flattened(from: 1) }
}

/// Inverted dropout: zeroes a fraction p of activations in training and rescales the rest.
public final class Dropout: Module {
    public let p: Float
    let rng: RNG
    public init(_ p: Float, rng: RNG) { self.p = p; self.rng = rng }
    public override func forward(_ x: Tensor) throws -> Tensor { try x.dropout(p: p, training: training, rng: rng) }
    public override var typeName: String { "Dropout(p=\(p))" }
}

/// Layers applied in order; children are named `layers.0`, `layers.1`, ….
public final class Sequential: Module {
    /// The layers, in order.
    public var layers: [Module] { list.modules }
    /// The child named `layers`: kept (not rebuilt per call) so that its training mode and
    /// identity persist like those of every other module in the tree.
    private let list: ModuleList
    public init(_ layers: [Module]) { list = ModuleList(layers) }

    public override func forward(_ x: Tensor) throws -> Tensor {
        var h = x
        let layers = layers
        var i = 0
        while i < layers.count {
            let layer = layers[i]
            do {
                // Linear layers computing from kept weights, with their ReLUs, in one go.
                if layer is Linear || layer is Flatten, let (y, next) = try LinearRun.forward(layers, from: i, h) {
                    h = y
                    i = next
                    continue
                }
                // A convolution, ReLU and max pooling: the pooled result straight from the
                // convolution's (recorded as one operation when training).
                if let conv = layer as? Conv2d, i + 2 < layers.count, (layers[i + 1] as? Activation)?.kind == .relu,
                   let pool = layers[i + 2] as? MaxPool2d, let y = try conv.reluMaxPoolForward(h, pool: pool) {
                    h = y
                    i += 3
                    continue
                }
                // ReLU then max pooling, when nothing is recorded: one pass over the activations
                // instead of two (the pooled result is the same).
                if let relu = layer as? Activation, relu.kind == .relu, !(GradMode.isEnabled && h.requiresGrad) {
                    if i + 1 < layers.count, let pool = layers[i + 1] as? MaxPool2d, h.rank == 4 {
                        i += 1
                        h = try h.maxPool2d(kernel: pool.kernel, stride: pool.stride, padding: pool.padding, reluFirst: true)
                    } else if i > 0, layers[i - 1] is Linear || layers[i - 1] is Conv2d {
                        // The previous layer's output is a fresh tensor nothing else holds (h is
                        // not this pass's input: i > 0): rectify it where it is.
                        h.reluInPlace()
                    } else {
                        h = try layer(h)
                    }
                } else {
                    h = try layer(h)
                }
            } catch let e as LibraryError {
                throw e.inLayer("layers.\(i)", layers[i])
            }
            i += 1
        }
        return h
    }
    public override var children: [(String, Module)] {
        [("layers", list)]
    }
    public override var typeName: String { "Sequential" }

    /// Replaces the layer at `index` (e.g. a new classifier head).
    public func replace(at index: Int, with module: Module) throws {
        guard layers.indices.contains(index) else { throw NNError("no layer \(index) in a Sequential of \(layers.count)") }
        list.modules[index] = module
    }
}

/// A list of modules named by their index (`0`, `1`, …), as torch.nn.ModuleList.
public final class ModuleList: Module {
    public internal(set) var modules: [Module]
    public init(_ modules: [Module]) { self.modules = modules }
    public override var children: [(String, Module)] { modules.enumerated().map { (String($0.offset), $0.element) } }
    public override var typeName: String { "ModuleList" }
}

/// y = f(x) + shortcut(x), with an identity shortcut by default.
public final class Residual: Module {
    public let body: Module
    public let shortcut: Module?
    public init(_ body: Module, shortcut: Module? = nil) { self.body = body; self.shortcut = shortcut }
    public override func forward(_ x: Tensor) throws -> Tensor {
        let s = try shortcut.map { try $0(x) } ?? x
        return try body(x) + s
    }
    public override var children: [(String, Module)] {
        [("body", body)] + (shortcut.map { [("shortcut", $0)] } ?? [])
    }
    public override var typeName: String { "Residual" }
}
