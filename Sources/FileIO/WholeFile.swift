// WholeFile: whole-file writes that either fully replace the target or leave it untouched, and
// checked whole-file reads. Engine (checkpoints, tables, notebooks) and Plot (figures) both write
// through it; each turns `FileError` into its own error type.
//
// Checkpoints and results are written while a long run is in progress; a crash, a full disk or a
// kill mid-write must never leave a truncated file where a good one used to be. So bytes go to a
// temporary file in the target's directory (same file system, so rename is atomic), are fsynced,
// and only then renamed over the target. Every failure removes the temporary file and reports the
// path together with the operating system's reason.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed read or write: the path and the operating system's reason, in one sentence.
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Atomic whole-file writes and checked whole-file reads.
///
///     try WholeFile.write(bytes, to: "runs/model.safetensors")
///     let back = try WholeFile.readAll("runs/model.safetensors")
public enum WholeFile {
    /// Replaces the file at `path` with `bytes`: the target holds either its old contents or the
    /// new ones, never a mixture. A target that is a device, FIFO or socket (`/dev/null`,
    /// `/dev/stdout`) is written in place instead, since replacing the node would be wrong.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try write($0, to: path, fault: nil) }
    }

    /// Replaces the file at `path` with the UTF-8 encoding of `text`; see `write(_:to:)`.
    public static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// The whole contents of the file at `path`. Throws a `FileError` naming the path and the
    /// reason when it is missing, unreadable or a directory.
    public static func readAll(_ path: String) throws -> [UInt8] {
        let fd = retryingEINTR { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw FileError("cannot read '\(path)': \(lastError())") }
        defer { _ = close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError("cannot read '\(path)': \(lastError())") }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw FileError("cannot read '\(path)': it is a directory") }

        // The size is only a hint: pipes and devices report 0, and a file may grow while read.
        var result: [UInt8] = []
        result.reserveCapacity(max(Int(info.st_size), 0) + 1)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { buf in retryingEINTR { read(fd, buf.baseAddress, buf.count) } }
            if n < 0 { throw FileError("cannot read '\(path)': \(lastError())") }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    // MARK: - Implementation

    /// Failures that tests inject at points the OS cannot easily be made to fail on demand.
    package enum Fault: Sendable {
        /// `write` stores fewer bytes than asked and then no more (as a quota can cause).
        case shortWrite
        /// `fsync` reports an I/O error.
        case fsync
        /// `rename` fails after the temporary file is complete.
        case rename
    }

    /// The write proper; `fault` is nil except in tests.
    package static func write(_ bytes: UnsafeRawBufferPointer, to path: String, fault: Fault?) throws {
        guard !path.isEmpty else { throw FileError("cannot write a file with an empty path") }

        // Resolve a symlink so that the file it points to is replaced and the link survives.
        var target = path
        var existing = stat()
        if lstat(path, &existing) == 0, (existing.st_mode & S_IFMT) == S_IFLNK,
           let resolved = realpath(path, nil) {
            target = String(cString: resolved)
            free(resolved)
            _ = stat(target, &existing)
        }
        let exists = stat(target, &existing) == 0
        let kind = existing.st_mode & S_IFMT
        if exists && kind == S_IFDIR {
            throw FileError("cannot write '\(path)': it is a directory")
        }
        if exists && kind != S_IFREG {
            try writeInPlace(bytes, to: target, reportedAs: path, fault: fault)
            return
        }

        let (directory, base) = split(target)
        let temporary = directory + "/." + base + ".tmp-\(getpid())-" + String(UInt64.random(in: .min ... .max), radix: 16)
        // O_EXCL: never reuse (or follow a link at) a name someone else created.
        let fd = retryingEINTR { open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666) }
        guard fd >= 0 else {
            throw FileError("cannot write '\(path)': cannot create a temporary file in '\(directory)': \(lastError())")
        }
        var isOpen = true
        func fail(_ what: String, _ reason: String) -> FileError {
            if isOpen { _ = close(fd); isOpen = false }
            _ = unlink(temporary)
            return FileError("cannot write '\(path)': \(what): \(reason)")
        }

        // Keep the permissions of the file being replaced (a new file gets 0666 less the umask).
        if exists && fchmod(fd, existing.st_mode & 0o7777) != 0 {
            throw fail("cannot set permissions", lastError())
        }
        if let reason = writeAll(fd, bytes, fault: fault) { throw fail("write failed", reason) }
        if fault == .fsync { throw fail("fsync failed", describeErrno(EIO)) }
        if retryingEINTR({ fsync(fd) }) != 0 { throw fail("fsync failed", lastError()) }
        // close can report deferred write errors (NFS), so its result matters.
        let closed = close(fd)
        isOpen = false
        if closed != 0 { throw fail("close failed", lastError()) }
        if fault == .rename { throw fail("cannot rename '\(temporary)' into place", describeErrno(EIO)) }
        if rename(temporary, target) != 0 { throw fail("cannot rename '\(temporary)' into place", lastError()) }

        // The rename is durable only once the directory entry is on disk; best effort, since some
        // file systems refuse fsync on directories and the data itself is already safe.
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 { _ = fsync(dirfd); _ = close(dirfd) }
    }

    /// Writes into an existing device, FIFO or socket; there is nothing to make atomic.
    private static func writeInPlace(_ bytes: UnsafeRawBufferPointer, to target: String, reportedAs path: String,
                                     fault: Fault?) throws {
        let fd = retryingEINTR { open(target, O_WRONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw FileError("cannot write '\(path)': \(lastError())") }
        defer { _ = close(fd) }
        if let reason = writeAll(fd, bytes, fault: fault) { throw FileError("cannot write '\(path)': \(reason)") }
        // Devices and pipes often do not support fsync (EINVAL, EROFS); only real errors count.
        if fsync(fd) != 0, errno != EINVAL, errno != EROFS, errno != ENOTSUP {
            throw FileError("cannot write '\(path)': fsync failed: \(lastError())")
        }
    }

    /// Writes every byte, resuming after partial writes; the reason on failure, nil on success.
    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, fault: Fault?) -> String? {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return nil }
        var done = 0
        while done < bytes.count {
            // Large single writes are split: some kernels cap one write at about 2 GiB anyway.
            let want = min(bytes.count - done, 1 << 30)
            var n = retryingEINTR { systemWrite(fd, base + done, want) }
            if fault == .shortWrite { n = done == 0 ? min(n, max(bytes.count / 2, 1)) : 0 }
            if n < 0 { return lastError() }
            if n == 0 { return "short write: stored \(done) of \(bytes.count) bytes" }
            done += n
        }
        return nil
    }

    /// The directory (without trailing slash, "." when none) and the last component of a path.
    private static func split(_ path: String) -> (directory: String, base: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let base = String(path[path.index(after: slash)...])
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, base)
    }

    private static func retryingEINTR<T: BinaryInteger>(_ call: () -> T) -> T {
        var result = call()
        while result < 0 && errno == EINTR { result = call() }
        return result
    }

    private static func lastError() -> String { describeErrno(errno) }

    private static func describeErrno(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

/// The C library's write(2); a file-scope name because inside `WholeFile` the word `write`
/// means the public methods.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
