// Error capture: the message a library error carries (`LibraryError`: FileError, EngineError,
// NNError, DataError), so tests check what the user reads whichever module raised it.
import Testing
import FileIO

/// The message of the error `body` throws (`description` for an error that is no
/// `LibraryError`), or nil when it throws none.
public func errorMessage(_ body: () throws -> Void) -> String? {
    do { try body() } catch let e as LibraryError { return e.message } catch { return "\(error)" }
    return nil
}

/// Runs `body` and checks that it throws a library error whose message mentions every string
/// in `parts` (the op, the shapes, the file involved). Returns the message.
@discardableResult
public func expectError(_ parts: [String], sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: () throws -> Void) -> String? {
    do {
        try body()
        Issue.record("expected an error mentioning \(parts)", sourceLocation: sourceLocation)
    } catch {
        guard let message = (error as? LibraryError)?.message else {
            Issue.record("expected a library error, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
        for p in parts where !message.contains(p) {
            Issue.record("error \"\(message)\" does not mention \"\(p)\"", sourceLocation: sourceLocation)
        }
        return message
    }
    return nil
}
