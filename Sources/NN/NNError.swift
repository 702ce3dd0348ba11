// NNError: the failures of layers, models, losses, optimizers, training, checkpoints and
// pretrained models, worded for a Swift user. A tensor op's own failure inside a layer stays the
// engine's `EngineError` until a model's forward pass names the layer (`inLayer`).
import FileIO

/// An error raised by NN, with a message meant for the user.
public struct NNError: LibraryError, Equatable, Sendable {
    public var message: String
    /// What went wrong, for the few failures a caller words its own way (the language names its
    /// keywords); nil for the rest.
    public var kind: Kind?
    public init(_ message: String, kind: Kind? = nil) { self.message = message; self.kind = kind }

    public enum Kind: Equatable, Sendable {
        /// A sentence-transformers folder declares a pooling other than mean or [CLS].
        case unsupportedPooling(file: String, mode: String)
    }
}

extension LibraryError {
    /// Prefixes the message with the layer where it happened, so a shape mismatch deep in a
    /// model reads `layers.2 (Linear(300 → 100)): linear: input of shape …`.
    func inLayer(_ path: String, _ module: Module) -> NNError {
        NNError("\(path) (\(module.typeName)): \(message)")
    }
}
