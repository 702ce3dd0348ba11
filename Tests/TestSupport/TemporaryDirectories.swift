// Temporary folders for tests that write files: uniquely named under /tmp, removed with what
// they hold.
import Foundation

/// A fresh, empty directory under /tmp (`/tmp/prune-test-TAG-PID-UUID`), for `removeDirectory`.
public func makeDirectory(_ tag: String = "test") throws -> String {
    let path = "/tmp/prune-\(tag)-\(getpid())-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Removes `directory` and everything in it (quietly, if it is already gone).
public func removeDirectory(_ directory: String) { try? FileManager.default.removeItem(atPath: directory) }

/// A fresh directory with its files named by `file(_:)`, removed by `cleanup()`.
public struct TempDir {
    public let path: String
    public init(_ tag: String) throws { path = try makeDirectory(tag) }
    public func file(_ name: String) -> String { path + "/" + name }
    public func cleanup() { removeDirectory(path) }
}
