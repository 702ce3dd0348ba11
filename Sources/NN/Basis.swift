// Basis scaling (Wong, Kashyap & Moradi 2021): a Linear or Conv2d layer rewritten as its SVD
// pair. The weight, as a (k²·c_in) × c_out matrix of filters, is U·Σ·Vᵀ; the layer becomes a
// layer whose filters are the orthonormal basis vectors u_j (no bias), then a scaling that
// mixes the basis responses with coefficients α_j·σ_j·V[o, j] and adds the original bias.
// With α = 1 the pair computes exactly what the layer did; α trains, the rest stays frozen.
import Engine

/// The basis layer and its scaling, in one module (children `basis`, parameters `alpha`,
/// `coefficients` [c_out, r] = σ_j·V[o, j] (frozen) and `bias`).
public final class BasisLayer: Module {
    /// Linear(in → r) or Conv2d(c_in → r, same kernel, stride and padding), no bias.
    public let basis: Module
    public let alpha: Tensor
    public let coefficients: Tensor
    public let bias: Tensor?
    public let outputs: Int
    public var bases: Int { alpha.count }

    /// The pair for `layer` (a Linear or a Conv2d), computed by SVD.
    public static func from(_ layer: Module) throws -> BasisLayer {
        let w: Tensor, rows: Int, outs: Int
        switch layer {
        case let l as Linear: w = l.weight; outs = l.outFeatures; rows = l.inFeatures
        case let c as Conv2d: w = c.weight; outs = c.outChannels; rows = c.inChannels * c.kernel * c.kernel
        default: throw NNError("basis scaling rewrites Linear and Conv2d layers, not \(layer.typeName)")
        }
        // The filters as columns: M = Wᵀ, (rows × outs). W is [outs, rows] row-major.
        var m = [Float](repeating: 0, count: rows * outs)
        for o in 0..<outs { for i in 0..<rows { m[i * outs + o] = w.data[o * rows + i] } }
        let (u, s, vt) = try BLAS.svd(m, m: rows, n: outs)
        let r = s.count
        let basis: Module
        switch layer {
        case let l as Linear:
            let b = try Linear(l.inFeatures, r, bias: false, rng: RNG(seed: 0))
            for j in 0..<r { for i in 0..<rows { b.weight.data[j * rows + i] = u[i * r + j] } }
            basis = b
        case let c as Conv2d:
            let b = try Conv2d(c.inChannels, r, kernel: c.kernel, stride: c.stride, padding: c.padding, bias: false, rng: RNG(seed: 0))
            for j in 0..<r { for i in 0..<rows { b.weight.data[j * rows + i] = u[i * r + j] } }
            basis = b
        default: throw NNError("basis scaling rewrites Linear and Conv2d layers, not \(layer.typeName)")
        }
        let pair = try BasisLayer(basis: basis, outputs: outs, bias: (layer as? Linear)?.bias != nil || (layer as? Conv2d)?.bias != nil)
        for o in 0..<outs { for j in 0..<r { pair.coefficients.data[o * r + j] = s[j] * vt[j * outs + o] } }
        if let b = pair.bias, let source = (layer as? Linear)?.bias ?? (layer as? Conv2d)?.bias { try b.assign(source) }
        return pair
    }

    /// An empty pair of the given sizes (the codec rebuilds one, a checkpoint refills it).
    public init(basis: Module, outputs: Int, bias: Bool) throws {
        self.basis = basis
        let r = (basis as? Linear)?.outFeatures ?? (basis as? Conv2d)?.outChannels ?? 0
        self.outputs = outputs
        alpha = try Tensor.ones([r]).requiringGrad()
        coefficients = try Tensor.zeros([outputs, r])
        self.bias = bias ? try Tensor.zeros([outputs]).requiringGrad() : nil
        super.init()
        basis.parameters.forEach { $0.requiresGrad = false }
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        let z = try basis(x)
        let a = try effective("alpha", alpha)
        // y = z · diag(α) · Cᵀ + b, on the channel axis (1) of a conv's output.
        let mixing = try effective("coefficients", coefficients) * (try a.reshaped([1, bases]))
        if z.rank == 4 {
            return try Tensor.conv2d(z, weight: try mixing.reshaped([outputs, bases, 1, 1]),
                                     bias: try bias.map { try effective("bias", $0) }, stride: 1, padding: 0)
        }
        return try Tensor.linear(z, weight: mixing, bias: try bias.map { try effective("bias", $0) })
    }

    public override var localParameters: [(String, Tensor)] {
        [("alpha", alpha), ("coefficients", coefficients)] + (bias.map { [("bias", $0)] } ?? [])
    }
    public override var children: [(String, Module)] { [("basis", basis)] }
    public override var typeName: String {
        let kind = basis is Conv2d ? "conv" : "linear"
        return "Basis(\(kind), \(bases) bases → \(outputs))"
    }
}

extension BasisLayer {
    /// `model` with every Linear and Conv2d layer of its top level except the classifier (the
    /// last Linear) replaced by its basis pair; the other layers are copies. Only the α and the
    /// classifier train, as in the paper: every other parameter is frozen.
    public static func rewrite(_ model: Module) throws -> Sequential {
        guard let seq = model as? Sequential else {
            throw NNError("basis scaling rewrites Sequential models (mlp, cnn, lenet5); this model is a \(model.typeName)")
        }
        let head = seq.layers.lastIndex { $0 is Linear }
        var layers: [Module] = []
        for (i, layer) in seq.layers.enumerated() {
            if (layer is Linear || layer is Conv2d) && i != head {
                let pair = try BasisLayer.from(layer)
                pair.bias?.requiresGrad = false
                layers.append(pair)
            } else if layer is BasicBlock || layer is BasisLayer {
                throw NNError("basis scaling does not rewrite layers.\(i) (\(layer.typeName))")
            } else {
                let copy = try layer.clone()
                for p in copy.parameters { p.requiresGrad = i == head }
                layers.append(copy)
            }
        }
        let out = Sequential(layers)
        out.train(model.training)
        return out
    }
}

/// A trainable per-channel (or per-feature) scale, y = x · s on the channel axis (Wong & Moradi
/// 2021): inserted after frozen pretrained layers, an L1 penalty and thresholding on s decide
/// which channels stay, and the original weights never train.
public final class ChannelScale: Module {
    public let scale: Tensor
    public var features: Int { scale.count }

    public init(_ features: Int) throws {
        scale = try Tensor.ones([features]).requiringGrad()
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank >= 2, x.shape[1] == features else {
            throw NNError("channel scale: expected \(features) channels on axis 1, got input \(describe(shape: x.shape))")
        }
        let s = try effective("scale", scale)
        var shape = [1, features]
        for _ in 2..<x.rank { shape.append(1) }
        return try x * (try s.reshaped(shape))
    }

    public override var localParameters: [(String, Tensor)] { [("scale", scale)] }
    public override var typeName: String { "ChannelScale(\(features))" }

    /// `model` with a scale after every Linear and Conv2d layer except the classifier (after its
    /// batch norm when one follows); every other parameter frozen except the classifier's.
    public static func insert(_ model: Module) throws -> Sequential {
        try insertAfterUnits(model, what: "channel scaling inserts scales") { try ChannelScale($0) }
    }
}

/// `model` with `make(units)` inserted after every Linear and Conv2d layer except the
/// classifier (after its batch norm when one follows); every parameter frozen except the
/// classifier's (the inserted layers' own parameters train).
public func insertAfterUnits(_ model: Module, what: String, _ make: (Int) throws -> Module) throws -> Sequential {
    guard let seq = model as? Sequential else {
        throw NNError("\(what) into Sequential models (mlp, cnn, lenet5); this model is a \(model.typeName)")
    }
    let head = seq.layers.lastIndex { $0 is Linear }
    var layers: [Module] = []
    var pending: Int?
    for (i, layer) in seq.layers.enumerated() {
        if let n = pending, !(layer is BatchNorm) { layers.append(try make(n)); pending = nil }
        if layer is BasicBlock || layer is BasisLayer || layer is ChannelScale || layer is UnitGate {
            throw NNError("\(what) after layers.\(i) (\(layer.typeName)): not supported")
        }
        let copy = try layer.clone()
        for p in copy.parameters { p.requiresGrad = i == head }
        layers.append(copy)
        if i != head, let l = layer as? Linear { pending = l.outFeatures }
        if i != head, let c = layer as? Conv2d { pending = c.outChannels }
        if layer is BatchNorm, let n = pending { layers.append(try make(n)); pending = nil }
    }
    if let n = pending { layers.append(try make(n)) }
    let out = Sequential(layers)
    out.train(model.training)
    return out
}
