// ModuleCodec: a module tree as plain data (layer kinds and their hyperparameters) and back, so
// a model can be stored without code: the spec rebuilds the architecture, a checkpoint refills
// the weights. Notebook cell caches use it; any layer class not listed here is refused.
import Engine

/// One module of a tree: its kind, its hyperparameters and its children in order.
public struct ModuleSpec: Equatable, Sendable {
    public var kind: String
    /// Numeric hyperparameters (sizes, strides, flags as 0/1, probabilities).
    public var numbers: [String: Double]
    /// Textual hyperparameters (an activation's function).
    public var texts: [String: String]
    public var children: [ModuleSpec]

    public init(kind: String, numbers: [String: Double] = [:], texts: [String: String] = [:], children: [ModuleSpec] = []) {
        self.kind = kind; self.numbers = numbers; self.texts = texts; self.children = children
    }
}

public enum ModuleCodec {
    /// The spec of `module`; throws for a layer class the codec does not know.
    public static func describe(_ module: Module) throws -> ModuleSpec {
        func d(_ x: Int) -> Double { Double(x) }
        func b(_ x: Bool) -> Double { x ? 1 : 0 }
        switch module {
        case let m as Sequential:
            return ModuleSpec(kind: "Sequential", children: try m.layers.map(describe))
        case let m as ModuleList:
            return ModuleSpec(kind: "ModuleList", children: try m.modules.map(describe))
        case let m as Linear:
            return ModuleSpec(kind: "Linear", numbers: ["in": d(m.inFeatures), "out": d(m.outFeatures), "bias": b(m.bias != nil)])
        case let m as Activation:
            return ModuleSpec(kind: "Activation", texts: ["function": m.kind.rawValue])
        case is Flatten:
            return ModuleSpec(kind: "Flatten")
        case let m as Dropout:
            return ModuleSpec(kind: "Dropout", numbers: ["p": Double(m.p)])
        case let m as Residual:
            return ModuleSpec(kind: "Residual", children: try [describe(m.body)] + (m.shortcut.map { [try describe($0)] } ?? []))
        case let m as Conv2d:
            return ModuleSpec(kind: "Conv2d", numbers: ["in": d(m.inChannels), "out": d(m.outChannels), "kernel": d(m.kernel),
                                                        "stride": d(m.stride), "padding": d(m.padding), "bias": b(m.bias != nil)])
        case let m as MaxPool2d:
            return ModuleSpec(kind: "MaxPool2d", numbers: ["kernel": d(m.kernel), "stride": d(m.stride), "padding": d(m.padding)])
        case let m as AvgPool2d:
            return ModuleSpec(kind: "AvgPool2d", numbers: ["kernel": d(m.kernel), "stride": d(m.stride), "padding": d(m.padding)])
        case is GlobalAvgPool:
            return ModuleSpec(kind: "GlobalAvgPool")
        case let m as BatchNorm:
            return ModuleSpec(kind: "BatchNorm", numbers: ["features": d(m.features), "momentum": Double(m.momentum), "eps": Double(m.eps)])
        case let m as LayerNorm:
            return ModuleSpec(kind: "LayerNorm", numbers: ["features": d(m.features), "eps": Double(m.eps)])
        case let m as Embedding:
            return ModuleSpec(kind: "Embedding", numbers: ["count": d(m.count), "dim": d(m.dim)])
        case let m as MultiHeadSelfAttention:
            return ModuleSpec(kind: "MultiHeadSelfAttention", numbers: ["dim": d(m.dim), "heads": d(m.heads)])
        case let m as TransformerBlock:
            return ModuleSpec(kind: "TransformerBlock", numbers: ["dim": d(m.attn.dim), "heads": d(m.attn.heads), "hidden": d(m.fc1.outFeatures)])
        case let m as ChannelScale:
            return ModuleSpec(kind: "ChannelScale", numbers: ["features": d(m.features)])
        case let m as UnitGate:
            return ModuleSpec(kind: "UnitGate", numbers: ["features": d(m.features)])
        case let m as BasisLayer:
            return ModuleSpec(kind: "BasisLayer", numbers: ["outputs": d(m.outputs), "bias": b(m.bias != nil)], children: [try describe(m.basis)])
        case let m as BasicBlock:
            var numbers = ["in": d(m.conv1.inChannels), "out": d(m.conv2.outChannels), "stride": d(m.conv1.stride)]
            if m.conv1.outChannels != m.conv2.outChannels { numbers["mid"] = d(m.conv1.outChannels) }
            if m.shortcut != nil && m.conv1.stride == 1 && m.conv1.inChannels == m.conv2.outChannels { numbers["projection"] = 1 }
            return ModuleSpec(kind: "BasicBlock", numbers: numbers)
        case let m as ViT:
            guard let first = m.blocks.modules.first as? TransformerBlock else {
                throw NNError("cannot describe a ViT without transformer blocks")
            }
            return ModuleSpec(kind: "ViT", numbers: [
                "classes": d(m.head.outFeatures), "channels": d(m.channels), "size": d(m.size), "patch": d(m.patch),
                "dim": d(m.patchEmbed.outFeatures), "depth": d(m.blocks.modules.count), "heads": d(first.attn.heads),
                "hidden": d(first.fc1.outFeatures),
            ])
        case let m as BertModel:
            let c = m.config
            return ModuleSpec(kind: "BertModel", numbers: [
                "vocab": d(c.vocabSize), "hidden": d(c.hiddenSize), "layers": d(c.layers), "heads": d(c.heads),
                "intermediate": d(c.intermediateSize), "positions": d(c.maxPositions), "types": d(c.typeVocabSize),
                "eps": Double(c.layerNormEps), "hidden_dropout": Double(c.hiddenDropout),
                "attention_dropout": Double(c.attentionDropout), "pad": d(c.padTokenId),
            ], texts: ["pooling": m.pooling.rawValue])
        default:
            throw NNError("cannot store a model holding a \(module.typeName) layer")
        }
    }

    /// Rebuilds a module tree from its spec. Weights are freshly initialised from `rng` (load a
    /// checkpoint afterwards); dropout layers draw from `dropoutRNG`.
    public static func build(_ spec: ModuleSpec, rng: RNG, dropoutRNG: RNG) throws -> Module {
        func int(_ name: String, _ range: ClosedRange<Int> = 0...(1 << 30)) throws -> Int {
            guard let x = spec.numbers[name], x == x.rounded(), x >= Double(range.lowerBound), x <= Double(range.upperBound) else {
                throw NNError("module spec \(spec.kind): '\(name)' is missing or out of range")
            }
            return Int(x)
        }
        func number(_ name: String) throws -> Double {
            guard let x = spec.numbers[name], x.isFinite else { throw NNError("module spec \(spec.kind): '\(name)' is missing") }
            return x
        }
        func kids() throws -> [Module] { try spec.children.map { try build($0, rng: rng, dropoutRNG: dropoutRNG) } }
        switch spec.kind {
        case "Sequential": return Sequential(try kids())
        case "ModuleList": return ModuleList(try kids())
        case "Linear": return try Linear(try int("in"), try int("out"), bias: try int("bias", 0...1) == 1, rng: rng)
        case "Activation":
            guard let k = spec.texts["function"].flatMap(Activation.Kind.init(rawValue:)) else {
                throw NNError("module spec Activation: unknown function")
            }
            return Activation(k)
        case "Flatten": return Flatten()
        case "Dropout": return Dropout(Float(try number("p")), rng: dropoutRNG)
        case "Residual":
            let k = try kids()
            guard k.count == 1 || k.count == 2 else { throw NNError("module spec Residual: needs a body and an optional shortcut") }
            return Residual(k[0], shortcut: k.count == 2 ? k[1] : nil)
        case "Conv2d":
            return try Conv2d(try int("in"), try int("out"), kernel: try int("kernel", 1...4096), stride: try int("stride", 1...4096),
                          padding: try int("padding"), bias: try int("bias", 0...1) == 1, rng: rng)
        case "MaxPool2d": return MaxPool2d(try int("kernel", 1...4096), stride: try int("stride", 1...4096), padding: try int("padding"))
        case "AvgPool2d": return AvgPool2d(try int("kernel", 1...4096), stride: try int("stride", 1...4096), padding: try int("padding"))
        case "GlobalAvgPool": return GlobalAvgPool()
        case "BatchNorm": return try BatchNorm(try int("features"), momentum: Float(try number("momentum")), eps: Float(try number("eps")))
        case "LayerNorm": return try LayerNorm(try int("features"), eps: Float(try number("eps")))
        case "Embedding": return try Embedding(try int("count"), try int("dim"), rng: rng)
        case "MultiHeadSelfAttention": return try MultiHeadSelfAttention(dim: try int("dim", 1...(1 << 20)), heads: try int("heads", 1...(1 << 20)), rng: rng)
        case "TransformerBlock":
            return try TransformerBlock(dim: try int("dim", 1...(1 << 20)), heads: try int("heads", 1...(1 << 20)), hidden: try int("hidden"), rng: rng)
        case "ChannelScale": return try ChannelScale(try int("features", 1...(1 << 24)))
        case "UnitGate": return try UnitGate(try int("features", 1...(1 << 24)))
        case "BasisLayer":
            guard spec.children.count == 1 else { throw NNError("module spec BasisLayer: needs its basis layer") }
            let basis = try build(spec.children[0], rng: rng, dropoutRNG: dropoutRNG)
            guard basis is Linear || basis is Conv2d else { throw NNError("module spec BasisLayer: the basis is a Linear or Conv2d") }
            return try BasisLayer(basis: basis, outputs: try int("outputs", 1...(1 << 24)), bias: spec.numbers["bias"] == 1)
        case "BasicBlock":
            return try BasicBlock(try int("in"), try int("out"), stride: try int("stride", 1...4096),
                              mid: spec.numbers["mid"] == nil ? nil : try int("mid"), projection: spec.numbers["projection"] == 1, rng: rng)
        case "ViT":
            return try ViT(classes: try int("classes", 1...(1 << 20)), channels: try int("channels", 1...4096), size: try int("size", 1...4096),
                           patch: try int("patch", 1...4096), dim: try int("dim", 1...(1 << 20)), depth: try int("depth", 1...1024),
                           heads: try int("heads", 1...(1 << 20)), hidden: try int("hidden"), rng: rng)
        case "BertModel":
            var c = BertConfig()
            c.vocabSize = try int("vocab", 1...(1 << 20)); c.hiddenSize = try int("hidden", 1...(1 << 20))
            c.layers = try int("layers", 1...(1 << 20)); c.heads = try int("heads", 1...(1 << 20))
            c.intermediateSize = try int("intermediate", 1...(1 << 20)); c.maxPositions = try int("positions", 1...(1 << 20))
            c.typeVocabSize = try int("types", 1...(1 << 20)); c.padTokenId = try int("pad")
            c.layerNormEps = Float(try number("eps")); c.hiddenDropout = Float(try number("hidden_dropout"))
            c.attentionDropout = Float(try number("attention_dropout"))
            guard let pooling = spec.texts["pooling"].flatMap(BertPooling.init(rawValue:)) else {
                throw NNError("module spec BertModel: unknown pooling")
            }
            return try BertModel(c, pooling: pooling, rng: rng, dropoutRNG: dropoutRNG)
        default:
            throw NNError("module spec: unknown layer kind '\(spec.kind)'")
        }
    }
}
