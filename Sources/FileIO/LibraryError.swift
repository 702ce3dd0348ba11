// LibraryError: what every module's own error type has in common, so a caller can handle the
// errors of the library below it without naming each module's type.

/// An error of the library (files, the engine, layers, data), with a message meant for the user
/// as it is. The language shows it after the builtin's name, at the call's location; a Swift
/// caller reads `message`. Each module has its own type (`FileError`, `EngineError`, `NNError`,
/// `DataError`), worded for a Swift user.
///
///     do { try Checkpoint.load(net, from: path) } catch let e as LibraryError { print(e.message) }
public protocol LibraryError: Error, CustomStringConvertible {
    var message: String { get }
}

extension LibraryError {
    public var description: String { message }
}
