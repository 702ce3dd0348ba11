// InputFile: the check before reading a whole file that a user named (a script, a history file,
// a CSV table), so that a device such as /dev/zero, a FIFO or a huge file is refused instead of
// being read until memory runs out.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum InputFile {
    /// The largest script or table a user may run or load (64 MiB).
    public static let maxTextBytes = 64 << 20

    /// Throws unless `path` is a regular file of at most `maxBytes` bytes. A path that cannot be
    /// inspected passes: the read that follows reports why it cannot be opened.
    public static func check(_ path: String, maxBytes: Int = maxTextBytes) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR { return }
        guard kind == S_IFREG else {
            throw EngineError("cannot read '\(path)': it is not a regular file (a device, pipe or socket)")
        }
        guard Int(info.st_size) <= maxBytes else {
            throw EngineError("cannot read '\(path)': it has \(info.st_size) bytes, more than the limit of \(maxBytes >> 20) MiB")
        }
    }
}
