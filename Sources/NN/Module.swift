// Module: the base of every layer and model, with stable dotted parameter names.
import Engine

/// A layer or model. Subclasses list their parameters, buffers and children by name; the dotted
/// names (`layers.0.weight`) are what optimizers, masks and checkpoints share.
open class Module: CustomStringConvertible {
    /// Training mode (dropout active, batch norm uses batch statistics) or evaluation mode.
    public private(set) var training = true

    /// Masks on this module's own parameters, by local name ("weight"); see `WeightGate`.
    public var gates: [String: WeightGate] = [:]

    /// Evaluation positions per sample seen in the last forward pass (tokens for a Linear on
    /// [B, T, D], output pixels for a convolution): FLOP counts in pruning reports use it.
    public var positionsPerSample: Int?

    public init() {}

    /// The layer's computation.
    open func forward(_ x: Tensor) throws -> Tensor {
        throw NNError("\(typeName) does not implement forward")
    }

    /// Parameters owned directly by this module.
    open var localParameters: [(String, Tensor)] { [] }
    /// Non-trainable state saved with the model (e.g. batch-norm running statistics).
    open var localBuffers: [(String, Tensor)] { [] }
    /// Sub-modules, by name.
    open var children: [(String, Module)] { [] }
    /// Whether the last Linear layer of this model is a classifier head, which the pruners leave
    /// alone by default and transfer replaces. False for encoders (BertModel) whose last Linear
    /// belongs to the body.
    open var endsInClassifier: Bool { true }

    /// The final classifier, the one definition the pruners (left alone by default) and
    /// transfer (replaced) share: the last Linear layer of the model, by dotted path; nil for a
    /// model without a head (a bare encoder).
    public var classifier: (path: String, layer: Linear)? {
        guard endsInClassifier else { return nil }
        guard let (path, layer) = namedModules().last(where: { $0.1 is Linear }), let linear = layer as? Linear else { return nil }
        return (path, linear)
    }
    /// A short description with the layer's sizes, e.g. `Linear(784 → 300)`.
    open var typeName: String { String(describing: type(of: self)) }

    public var description: String { typeName }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try forward(x) }

    /// Every parameter with its dotted name, in a stable order.
    public func namedParameters(prefix: String = "") -> [(String, Tensor)] {
        localParameters.map { (prefix + $0.0, $0.1) }
            + children.flatMap { $0.1.namedParameters(prefix: prefix + $0.0 + ".") }
    }

    /// Every buffer with its dotted name.
    public func namedBuffers(prefix: String = "") -> [(String, Tensor)] {
        localBuffers.map { (prefix + $0.0, $0.1) }
            + children.flatMap { $0.1.namedBuffers(prefix: prefix + $0.0 + ".") }
    }

    /// Every module in the tree with its dotted path ("" for the root).
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        [(prefix, self)] + children.flatMap {
            $0.1.namedModules(prefix: prefix.isEmpty ? $0.0 : prefix + "." + $0.0)
        }
    }

    public var parameters: [Tensor] { namedParameters().map(\.1) }

    /// Number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Switches this module and all its children to training (true) or evaluation mode.
    public func train(_ on: Bool = true) {
        training = on
        for (_, c) in children { c.train(on) }
    }

    /// Evaluation mode.
    public func eval() { train(false) }

    /// Clears all parameter gradients.
    public func zeroGrad() { for p in parameters { p.grad = nil } }
}
