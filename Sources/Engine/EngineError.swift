// Errors the engine reports instead of crashing: shape mismatches, bad arguments, bad files.

/// An error raised by the engine or a library built on it, with a message meant for the user.
public struct EngineError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Formats a shape the way users read it: `[128, 784]`.
public func describe(shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
