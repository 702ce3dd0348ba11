// AtomicWrite: figure files appear whole or not at all, through FileIO's atomic writer (a
// temporary file in the target's directory, synced, then renamed over the target), with
// failures reported as `PlotError`. Plot does not depend on Engine.
import FileIO

enum AtomicWrite {
    /// Failures tests inject where the OS cannot easily be made to fail on demand.
    typealias Fault = WholeFile.Fault

    /// Writes `bytes` to `path` atomically. Devices (`/dev/null`, `/dev/full`, `/dev/stdout`) are
    /// written in place: there is nothing to replace atomically, and a full device must still
    /// report its error.
    static func write(_ bytes: [UInt8], to path: String, fault: Fault? = nil) throws {
        guard !path.isEmpty else { throw PlotError("cannot write a figure to an empty path") }
        do {
            try bytes.withUnsafeBytes { try WholeFile.write($0, to: path, fault: fault) }
        } catch let e as FileError {
            throw PlotError(e.message)
        }
    }
}
