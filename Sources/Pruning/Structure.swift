// Units that structured pruning removes whole: a Linear layer's neurons and a convolution's
// output channels, each with every slice of every tensor that produces it (the weight's row,
// the bias entry, the batch-norm entries) and every slice that reads it (the next layer's input
// columns, one per spatial position after a Flatten). Channels tied by a residual add form one
// group across the blocks that add into the same stream. The tracer walks the model's layers
// in order and refuses, naming the layer, anything it does not understand: a wrong model is
// never built.
import Engine
import NN

/// The slices of one parameter (or buffer) that belong to the units of a group: unit u owns
/// indices u·span ..< (u+1)·span along `axis`.
public struct UnitSlice: Equatable, Sendable {
    public let name: String
    public let axis: Int
    public let span: Int
    public init(_ name: String, axis: Int, span: Int = 1) { self.name = name; self.axis = axis; self.span = span }
}

/// Units (neurons or channels) that can be removed together with their slices.
public struct UnitGroup: Equatable, Sendable {
    /// The layers that produce the units, e.g. "layers.1" or "layers.3.conv1".
    public let name: String
    public let units: Int
    /// Slices whose zeros make a unit's output exactly zero (weight rows, biases, BN scale and shift).
    public internal(set) var producers: [UnitSlice] = []
    /// Multiplicative gates: a unit whose entry in any of them is zero outputs zero (basis
    /// scaling's α), whatever its producers hold.
    public internal(set) var gates: [UnitSlice] = []
    /// Slices that read the units (the next layers' input columns).
    public internal(set) var consumers: [UnitSlice] = []
    /// Buffers sliced with the units (BN running statistics).
    public internal(set) var buffers: [UnitSlice] = []
    /// The batch-norm scales among the producers (network slimming's importance).
    public internal(set) var scales: [String] = []
}

public enum Structure {
    /// The removable unit groups of `model`, in the order the forward pass meets them. The
    /// model's outputs are not a group.
    public static func groups(_ model: Module) throws -> [UnitGroup] {
        guard let seq = model as? Sequential else {
            throw PruningError.structure("structured pruning follows Sequential models (mlp, cnn, lenet5, resnet); this model is a \(model.typeName)")
        }
        var tracer = Tracer()
        for (i, layer) in seq.layers.enumerated() { try tracer.visit(layer, path: "layers.\(i)") }
        return tracer.closed
    }

    private struct Tracer {
        var closed: [UnitGroup] = []
        /// The group whose units are the current activation's features or channels.
        var open: UnitGroup?
        /// Whether the activation was flattened since the open group's units were made.
        var flattened = false

        mutating func close() {
            if let g = open, !g.consumers.isEmpty { closed.append(g) }
            open = nil
        }

        /// The slice of `weight` (axis 1) that reads the open group's units.
        mutating func consume(_ weight: String, inputs: Int, layer: String, spatialOK: Bool) throws {
            guard var g = open else { return }
            var span = 1
            if flattened {
                guard spatialOK, g.units > 0, inputs % g.units == 0 else {
                    throw PruningError.structure("\(layer) reads \(inputs) inputs, which are not the \(g.units) units of \(g.name) times a spatial size")
                }
                span = inputs / g.units
            } else if inputs != g.units {
                throw PruningError.structure("\(layer) reads \(inputs) inputs but \(g.name) makes \(g.units)")
            }
            g.consumers.append(UnitSlice(weight, axis: 1, span: span))
            open = g
        }

        mutating func produce(_ path: String, units: Int, bias: Bool) {
            var g = UnitGroup(name: path, units: units)
            g.producers = [UnitSlice(path + ".weight", axis: 0)] + (bias ? [UnitSlice(path + ".bias", axis: 0)] : [])
            open = g
            flattened = false
        }

        mutating func normalize(_ bn: BatchNorm, path: String) throws {
            guard var g = open, !flattened, g.units == bn.features else {
                throw PruningError.structure("\(path) (\(bn.typeName)) does not follow a layer with \(bn.features) units")
            }
            g.producers += [UnitSlice(path + ".weight", axis: 0), UnitSlice(path + ".bias", axis: 0)]
            g.buffers += [UnitSlice(path + ".running_mean", axis: 0), UnitSlice(path + ".running_var", axis: 0)]
            g.scales.append(path + ".weight")
            open = g
        }

        mutating func visit(_ layer: Module, path: String) throws {
            switch layer {
            case let l as Linear:
                try consume(path + ".weight", inputs: l.inFeatures, layer: "\(path) (\(l.typeName))", spatialOK: true)
                close()
                produce(path, units: l.outFeatures, bias: l.bias != nil)
            case let c as Conv2d:
                if flattened { throw PruningError.structure("\(path) (\(c.typeName)) follows a Flatten") }
                try consume(path + ".weight", inputs: c.inChannels, layer: "\(path) (\(c.typeName))", spatialOK: false)
                close()
                produce(path, units: c.outChannels, bias: c.bias != nil)
            case let bn as BatchNorm:
                try normalize(bn, path: path)
            case let s as ChannelScale:
                guard var g = open, !flattened, g.units == s.features else {
                    throw PruningError.structure("\(path) (\(s.typeName)) does not follow a layer with \(s.features) units")
                }
                g.gates.append(UnitSlice(path + ".scale", axis: 0))
                g.scales.append(path + ".scale")
                open = g
            case let gate as UnitGate:
                // Closed in evaluation when open is 0 or the logit is not above 0 (exactly 0 here).
                guard var g = open, !flattened, g.units == gate.features else {
                    throw PruningError.structure("\(path) (\(gate.typeName)) does not follow a layer with \(gate.features) units")
                }
                g.gates += [UnitSlice(path + ".open", axis: 0), UnitSlice(path + ".logits", axis: 0)]
                open = g
            case let a as Activation:
                // A removed unit must stay exactly zero: f(0) = 0.
                guard a.kind == .relu || a.kind == .gelu || a.kind == .tanh else {
                    throw PruningError.structure("\(path) (\(a.typeName)) maps a removed unit's 0 to a non-zero value; structured pruning cannot remove units before it")
                }
            case is Dropout, is MaxPool2d, is AvgPool2d:
                break
            case is GlobalAvgPool:
                flattened = false
            case is Flatten:
                flattened = true
            case let b as BasicBlock:
                try block(b, path: path)
            case let b as BasisLayer:
                // Input → bases (a group of their own: basis filters and α, read by the
                // coefficients' columns) → outputs (the coefficients' rows and the bias).
                let conv = b.basis is Conv2d
                let inputs = (b.basis as? Linear)?.inFeatures ?? (b.basis as? Conv2d)?.inChannels ?? 0
                if conv && flattened { throw PruningError.structure("\(path) (\(b.typeName)) follows a Flatten") }
                try consume(path + ".basis.weight", inputs: inputs, layer: "\(path) (\(b.typeName))", spatialOK: !conv)
                close()
                var bases = UnitGroup(name: path + ".basis", units: b.bases)
                bases.producers = [UnitSlice(path + ".basis.weight", axis: 0)]
                bases.gates = [UnitSlice(path + ".alpha", axis: 0)]
                bases.consumers = [UnitSlice(path + ".coefficients", axis: 1)]
                closed.append(bases)
                var out = UnitGroup(name: path, units: b.outputs)
                out.producers = [UnitSlice(path + ".coefficients", axis: 0)] + (b.bias != nil ? [UnitSlice(path + ".bias", axis: 0)] : [])
                open = out
                flattened = false
            default:
                throw PruningError.structure("structured pruning does not understand \(path) (\(layer.typeName)): it cannot tell which units feed what")
            }
        }

        /// A residual block: the channels between its convolutions are a group of their own;
        /// its output channels are tied to its input's (identity shortcut) or start a new
        /// stream with the shortcut's convolution.
        mutating func block(_ b: BasicBlock, path: String) throws {
            guard var stream = open, !flattened, stream.units == b.conv1.inChannels else {
                throw PruningError.structure("\(path) (\(b.typeName)) does not follow a layer with \(b.conv1.inChannels) channels")
            }
            stream.consumers.append(UnitSlice(path + ".conv1.weight", axis: 1))
            var inner = UnitGroup(name: path + ".conv1", units: b.conv1.outChannels)
            inner.producers = [UnitSlice(path + ".conv1.weight", axis: 0), UnitSlice(path + ".bn1.weight", axis: 0), UnitSlice(path + ".bn1.bias", axis: 0)]
            inner.buffers = [UnitSlice(path + ".bn1.running_mean", axis: 0), UnitSlice(path + ".bn1.running_var", axis: 0)]
            inner.scales = [path + ".bn1.weight"]
            inner.consumers = [UnitSlice(path + ".conv2.weight", axis: 1)]
            let outputs = [UnitSlice(path + ".conv2.weight", axis: 0), UnitSlice(path + ".bn2.weight", axis: 0), UnitSlice(path + ".bn2.bias", axis: 0)]
            let outputBuffers = [UnitSlice(path + ".bn2.running_mean", axis: 0), UnitSlice(path + ".bn2.running_var", axis: 0)]
            if b.shortcut != nil {
                // The block reads the old stream through its shortcut too, and starts a new one.
                stream.consumers.append(UnitSlice(path + ".shortcut.layers.0.weight", axis: 1))
                open = stream
                close()
                var next = UnitGroup(name: path, units: b.conv2.outChannels)
                next.producers = outputs + [UnitSlice(path + ".shortcut.layers.0.weight", axis: 0),
                                            UnitSlice(path + ".shortcut.layers.1.weight", axis: 0), UnitSlice(path + ".shortcut.layers.1.bias", axis: 0)]
                next.buffers = outputBuffers + [UnitSlice(path + ".shortcut.layers.1.running_mean", axis: 0),
                                                UnitSlice(path + ".shortcut.layers.1.running_var", axis: 0)]
                next.scales = [path + ".bn2.weight", path + ".shortcut.layers.1.weight"]
                open = next
            } else {
                // Identity shortcut: the block adds into the same channels.
                stream.producers += outputs
                stream.buffers += outputBuffers
                stream.scales.append(path + ".bn2.weight")
                stream = UnitGroup(name: stream.name + " + " + path, units: stream.units, producers: stream.producers,
                                   consumers: stream.consumers, buffers: stream.buffers, scales: stream.scales)
                open = stream
            }
            closed.append(inner)
        }
    }
}
