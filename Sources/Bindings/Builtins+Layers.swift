// Layer builtins: custom architectures from the language. `sequential([linear(64, 32), relu(),
// linear(32, 10)])` is a model like the ready ones: dotted names, masks, checkpoints, reports.
import Language
import Engine
import NN

extension EngineArgs {
    /// The layers of a list argument: models, each used once in the whole tree.
    static func layers(_ args: CallArgs, _ name: String) throws -> [Module] {
        guard case .list(let l) = args.value(name) else { throw args.wrong(name, "a list of layers") }
        var layers: [Module] = []
        for (i, item) in l.items.enumerated() {
            guard case .object(let m as Module) = item else {
                throw BuiltinError("\(args.builtin): item \(i) of '\(name)' is a \(item.typeName), not a layer (linear(…), relu(), conv2d(…), …)")
            }
            layers.append(m)
        }
        try distinct(layers, args.builtin)
        return layers
    }

    /// Refuses a layer that appears twice in one model: its parameters would get two names,
    /// and optimizers, masks and checkpoints would see them twice.
    static func distinct(_ layers: [Module], _ fn: String) throws {
        var seen = Set<ObjectIdentifier>()
        for layer in layers {
            for (_, m) in layer.namedModules() where !m.children.isEmpty || !m.localParameters.isEmpty {
                guard seen.insert(ObjectIdentifier(m)).inserted else {
                    throw BuiltinError("\(fn): the layer \(m.typeName) appears twice; make a new layer for each place (layers hold their own weights)")
                }
            }
        }
    }
}

extension Builtins {
    static let layers: [Builtin] = [
        Builtin("sequential", [BuiltinParam("layers", nil, "a list of layers, applied in order")],
                topic: "models", summary: "A model from a list of layers, applied in order (named layers.0, layers.1, …).",
                help: "The layers are linear, conv2d, relu, activation, flatten, maxpool, avgpool, global_avgpool, batchnorm, dropout, residual or other sequential models. The result is a model like mlp(…): it trains, prunes, saves (with its architecture, so load(path) rebuilds it) and reports the same way.",
                example: "net = sequential([flatten(), linear(784, 300), relu(), linear(300, 10)])\nsummary(net)") { args in
            .model(Sequential(try EngineArgs.layers(args, "layers")))
        },

        Builtin("linear", [BuiltinParam("inputs", nil, "input features"), BuiltinParam("outputs", nil, "output features"),
                           BuiltinParam("bias", .bool(true), "whether the layer adds a bias")],
                topic: "models", summary: "A fully connected layer y = x·Wᵀ + b (weight [outputs, inputs], as in PyTorch).",
                example: "sequential([flatten(), linear(784, 10)])") { args in
            let i = try args.size("inputs", limit: 1 << 24), o = try args.size("outputs", limit: 1 << 24)
            guard i * o <= EngineArgs.maxElements else { throw BuiltinError("linear: \(i)×\(o) weights are too many") }
            return .model(try Linear(i, o, bias: try args.bool("bias"), rng: args.session.rng))
        },

        Builtin("conv2d", [BuiltinParam("inputs", nil, "input channels"), BuiltinParam("outputs", nil, "output channels"),
                           BuiltinParam("kernel", nil, "kernel size (square)"), BuiltinParam("stride", .number(1), "step between windows"),
                           BuiltinParam("padding", .number(0), "zeros added on each side"), BuiltinParam("bias", .bool(true), "whether the layer adds a bias")],
                topic: "models", summary: "A 2-D convolution over [batch, channels, height, width] (weight [outputs, inputs, k, k], as in PyTorch).",
                example: "sequential([conv2d(1, 8, 3, padding=1), relu(), maxpool(2), flatten(), linear(8 * 14 * 14, 10)])") { args in
            let i = try args.size("inputs", limit: 1 << 16), o = try args.size("outputs", limit: 1 << 16)
            let k = try args.size("kernel", limit: 64)
            guard i * o * k * k <= EngineArgs.maxElements else { throw BuiltinError("conv2d: \(o)×\(i)×\(k)×\(k) weights are too many") }
            return .model(try Conv2d(i, o, kernel: k, stride: try args.size("stride", limit: 64),
                                     padding: try args.int("padding", in: 0...64), bias: try args.bool("bias"), rng: args.session.rng))
        },

        Builtin("relu", [], topic: "models", summary: "The ReLU activation layer, max(x, 0).",
                example: "sequential([linear(4, 8), relu(), linear(8, 2)])") { _ in .model(Activation(.relu)) },

        Builtin("activation", [BuiltinParam("function", nil, "relu, gelu, tanh, sigmoid or softmax")],
                topic: "models", summary: "An activation layer by name.",
                example: "sequential([linear(4, 8), activation(\"tanh\"), linear(8, 2)])") { args in
            let kinds = ["relu", "gelu", "tanh", "sigmoid", "softmax"]
            let k = try args.choice("function", kinds)
            guard let kind = Activation.Kind(rawValue: k) else { throw BuiltinError("activation: unknown function \(k)") }
            return .model(Activation(kind))
        },

        Builtin("flatten", [], topic: "models", summary: "Flattens each sample: [N, d1, d2, …] → [N, d1·d2·…].",
                example: "sequential([flatten(), linear(784, 10)])") { _ in .model(Flatten()) },

        Builtin("maxpool", [BuiltinParam("kernel", nil, "window size"), BuiltinParam("stride", .nil_, "step (default: the kernel size)"),
                            BuiltinParam("padding", .number(0), "padding on each side")],
                topic: "models", summary: "2-D max pooling.", example: "maxpool(2)") { args in
            let k = try args.size("kernel", limit: 64)
            return .model(MaxPool2d(k, stride: args.has("stride") ? try args.size("stride", limit: 64) : nil,
                                    padding: try args.int("padding", in: 0...(k / 2))))
        },

        Builtin("avgpool", [BuiltinParam("kernel", nil, "window size"), BuiltinParam("stride", .nil_, "step (default: the kernel size)"),
                            BuiltinParam("padding", .number(0), "padding on each side")],
                topic: "models", summary: "2-D average pooling.", example: "avgpool(2)") { args in
            let k = try args.size("kernel", limit: 64)
            return .model(AvgPool2d(k, stride: args.has("stride") ? try args.size("stride", limit: 64) : nil,
                                    padding: try args.int("padding", in: 0...(k / 2))))
        },

        Builtin("global_avgpool", [], topic: "models", summary: "Averages each channel over its whole image: [N, C, H, W] → [N, C].",
                example: "sequential([conv2d(1, 8, 3), relu(), global_avgpool(), linear(8, 10)])") { _ in .model(GlobalAvgPool()) },

        Builtin("batchnorm", [BuiltinParam("features", nil, "channels (after a convolution) or features (after a linear layer)")],
                topic: "models", summary: "Batch normalisation with learned scale and shift and running statistics.",
                example: "sequential([conv2d(1, 8, 3, padding=1), batchnorm(8), relu()])") { args in
            .model(try BatchNorm(try args.size("features", limit: 1 << 20)))
        },

        Builtin("dropout", [BuiltinParam("p", .number(0.5), "the fraction of activations zeroed while training")],
                topic: "models", summary: "Inverted dropout (active only while training).", example: "dropout(0.2)") { args in
            let p = try args.number("p")
            guard p >= 0, p < 1 else { throw BuiltinError("dropout: argument 'p' must be in [0, 1), got \(display(.number(p)))") }
            return .model(Dropout(Float(p), rng: args.session.rng))
        },

        Builtin("residual", [BuiltinParam("body", nil, "a layer or a list of layers"),
                             BuiltinParam("shortcut", .nil_, "a layer or list of layers on the skip path (default: identity)")],
                topic: "models", summary: "A residual block: body(x) + shortcut(x) (names body.…, shortcut.…).",
                help: "A list is made into sequential(list). The body's output must have the shape of the shortcut's.",
                example: "block = residual([conv2d(8, 8, 3, padding=1), relu(), conv2d(8, 8, 3, padding=1)])\nsummary(block)") { args in
            func part(_ name: String) throws -> Module? {
                switch args.value(name) {
                case .nil_: return nil
                case .object(let m as Module): return m
                case .list: return Sequential(try EngineArgs.layers(args, name))
                default: throw args.wrong(name, "a layer or a list of layers")
                }
            }
            guard let body = try part("body") else { throw args.wrong("body", "a layer or a list of layers") }
            let shortcut = try part("shortcut")
            try EngineArgs.distinct([body] + (shortcut.map { [$0] } ?? []), "residual")
            return .model(Residual(body, shortcut: shortcut))
        },
    ]
}
