// Errors the engine reports instead of crashing: shape mismatches, bad arguments, bad files.
import FileIO

/// An error raised by the engine (tensor ops, autodiff, safetensors), with a message meant for
/// the user. The modules above it have their own (`NNError`, `DataError`, `PruningError`).
public struct EngineError: LibraryError, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// Formats a shape the way users read it: `[128, 784]`.
public func describe(shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
