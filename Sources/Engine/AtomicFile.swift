// AtomicFile: Engine's name for FileIO's atomic whole-file writes and checked reads, with
// failures reported as `EngineError`. A crash, a full disk or a kill mid-write never leaves a
// truncated file where a good one used to be, and a killed write's temporary file is removed
// by the next write into its folder (see `WholeFile`, the one implementation).
import FileIO

/// Atomic whole-file writes and checked whole-file reads.
///
///     try AtomicFile.write(bytes, to: "runs/model.safetensors")
///     let back = try AtomicFile.readAll("runs/model.safetensors")
public enum AtomicFile {
    /// Replaces the file at `path` with `bytes`: the target holds either its old contents or the
    /// new ones, never a mixture. A target that is a device, FIFO or socket (`/dev/null`,
    /// `/dev/stdout`) is written in place instead, since replacing the node would be wrong. A
    /// read-only target is refused unless `replacingReadOnly`.
    public static func write(_ bytes: [UInt8], to path: String, replacingReadOnly: Bool = false) throws {
        try engineErrors { try WholeFile.write(bytes, to: path, replacingReadOnly: replacingReadOnly) }
    }

    /// Replaces the file at `path` with the UTF-8 encoding of `text`; see `write(_:to:)`.
    public static func write(_ text: String, to path: String, replacingReadOnly: Bool = false) throws {
        try engineErrors { try WholeFile.write(text, to: path, replacingReadOnly: replacingReadOnly) }
    }

    /// Writes `text` beside `path` without putting it in place: `commit()` does (see
    /// `WholeFile.prepare`).
    public static func prepare(_ text: String, for path: String) throws -> Pending {
        Pending(try engineErrors { try WholeFile.prepare(Array(text.utf8), for: path) })
    }

    /// A prepared write; `commit()` renames it into place, `discard()` drops it.
    public struct Pending {
        fileprivate let file: WholeFile.Pending
        fileprivate init(_ file: WholeFile.Pending) { self.file = file }
        public func commit() throws { try AtomicFile.engineErrors { try file.commit() } }
        public func discard() { file.discard() }
    }

    /// The whole contents of the file at `path`. Throws an `EngineError` naming the path and the
    /// reason when it is missing, unreadable or a directory.
    public static func readAll(_ path: String) throws -> [UInt8] {
        try engineErrors { try WholeFile.readAll(path) }
    }

    /// Failures that tests inject at points the OS cannot easily be made to fail on demand.
    typealias Fault = WholeFile.Fault

    /// The write with an injected failure (tests).
    static func write(_ bytes: UnsafeRawBufferPointer, to path: String, fault: Fault?) throws {
        try engineErrors { try WholeFile.write(bytes, to: path, fault: fault) }
    }

    fileprivate static func engineErrors<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as FileError { throw EngineError(e.message) }
    }
}
