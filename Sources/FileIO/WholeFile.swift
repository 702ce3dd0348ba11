// WholeFile: whole-file writes that either fully replace the target or leave it untouched, and
// checked whole-file reads. Engine (checkpoints, tables, notebooks) and Plot (figures) both write
// through it; each turns `FileError` into its own error type.
//
// Checkpoints and results are written while a long run is in progress; a crash, a full disk or a
// kill mid-write must never leave a truncated file where a good one used to be. So bytes go to a
// temporary file in the target's directory (same file system, so rename is atomic), are fsynced,
// and only then renamed over the target. Every failure removes the temporary file and reports the
// path together with the operating system's reason.
//
// A kill between creating and renaming the temporary file cannot be cleaned up by the process
// that was killed, so temporaries have one recognisable name, `.NAME.prune-tmp-PID-HEX`, and the
// next write into the same folder (and the notebook cache's eviction) removes those whose
// process is gone. A read-only target is not replaced unless the caller asks, as `cp` refuses.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed read or write: the path and the operating system's reason, in one sentence.
public struct FileError: LibraryError, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// Atomic whole-file writes and checked whole-file reads.
///
///     try WholeFile.write(bytes, to: "runs/model.safetensors")
///     let back = try WholeFile.readAll("runs/model.safetensors")
public enum WholeFile {
    /// Replaces the file at `path` with `bytes`: the target holds either its old contents or the
    /// new ones, never a mixture. A target that is a device, FIFO or socket (`/dev/null`,
    /// `/dev/stdout`) is written in place instead, since replacing the node would be wrong.
    /// A read-only target is refused unless `replacingReadOnly`.
    public static func write(_ bytes: [UInt8], to path: String, replacingReadOnly: Bool = false) throws {
        try bytes.withUnsafeBytes { try write($0, to: path, replacingReadOnly: replacingReadOnly, fault: nil) }
    }

    /// Replaces the file at `path` with the UTF-8 encoding of `text`; see `write(_:to:)`.
    public static func write(_ text: String, to path: String, replacingReadOnly: Bool = false) throws {
        try write(Array(text.utf8), to: path, replacingReadOnly: replacingReadOnly)
    }

    /// Writes `bytes` beside `path` without putting them in place yet: everything that can fail
    /// (the folder, permissions, a full disk) fails here, and `commit()` then only renames. For
    /// a document whose side files (figures) should be written only once it is sure to follow.
    public static func prepare(_ bytes: [UInt8], for path: String, replacingReadOnly: Bool = false) throws -> Pending {
        try bytes.withUnsafeBytes { try prepare($0, for: path, replacingReadOnly: replacingReadOnly, fault: nil) }
    }

    /// A write prepared by `prepare(_:for:)`: `commit()` puts it in place, `discard()` drops it
    /// (also what happens when neither is called before it goes away).
    public final class Pending {
        fileprivate enum Step { case rename(temporary: String, target: String, directory: String), inPlace([UInt8], target: String), done }
        private var step: Step
        fileprivate let path: String
        fileprivate let fault: Fault?

        fileprivate init(_ step: Step, path: String, fault: Fault?) { self.step = step; self.path = path; self.fault = fault }

        /// Renames the temporary file over the target (devices are written now).
        public func commit() throws {
            let current = step
            step = .done
            switch current {
            case .done: return
            case .inPlace(let bytes, let target):
                try bytes.withUnsafeBytes { try WholeFile.writeInPlace($0, to: target, reportedAs: path, fault: fault) }
            case .rename(let temporary, let target, let directory):
                func fail(_ reason: String) -> FileError {
                    _ = unlink(temporary)
                    return FileError("cannot write '\(path)': cannot rename '\(temporary)' into place: \(reason)")
                }
                if fault == .rename { throw fail(WholeFile.describeErrno(EIO)) }
                if rename(temporary, target) != 0 { throw fail(WholeFile.lastError()) }
                // The rename is durable only once the directory entry is on disk; best effort, since
                // some file systems refuse fsync on directories and the data itself is already safe.
                let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if dirfd >= 0 { _ = fsync(dirfd); _ = close(dirfd) }
            }
        }

        /// Removes the temporary file; the target keeps its old contents.
        public func discard() {
            if case .rename(let temporary, _, _) = step { _ = unlink(temporary) }
            step = .done
        }

        deinit { discard() }
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
    package static func write(_ bytes: UnsafeRawBufferPointer, to path: String, replacingReadOnly: Bool = false,
                              fault: Fault?) throws {
        try prepare(bytes, for: path, replacingReadOnly: replacingReadOnly, fault: fault).commit()
    }

    // MARK: - Temporary files

    /// The part of a temporary file's name after the target's name.
    static let temporaryMarker = ".prune-tmp-"

    /// The name of a temporary file for the target named `base`: `.BASE.prune-tmp-PID-HEX`.
    public static func temporaryName(for base: String, pid: Int32 = getpid()) -> String {
        let r = String(UInt64.random(in: .min ... .max), radix: 16)
        return "." + base + temporaryMarker + String(pid) + "-" + String(repeating: "0", count: 16 - r.count) + r
    }

    /// The process that made the temporary file called `name`, or nil when `name` is not one of
    /// prune's temporaries (`.BASE.prune-tmp-PID-HEX`, or `.BASE.tmp-PID-HEX` as earlier versions
    /// named them).
    public static func temporaryProcess(_ name: String) -> Int32? {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard name.hasPrefix("."), parts.count >= 3 else { return nil }
        let hex = parts[parts.count - 1], pid = parts[parts.count - 2]
        let head = parts[0..<(parts.count - 2)].joined(separator: "-")
        guard (1...16).contains(hex.count), hex.allSatisfy({ $0.isHexDigit }),
              (1...10).contains(pid.count), pid.allSatisfy({ $0.isASCII && $0.isNumber }),
              let id = Int32(pid), id > 0 else { return nil }
        let base: Substring
        if head.hasSuffix(".prune-tmp") { base = head.dropLast(".prune-tmp".count) }
        else if head.hasSuffix(".tmp") { base = head.dropLast(".tmp".count) }
        else { return nil }
        return base.count > 1 ? id : nil
    }

    /// Whether `name` is a temporary file of a process that no longer exists.
    public static func isStaleTemporary(_ name: String) -> Bool {
        guard let pid = temporaryProcess(name), pid != getpid() else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Removes the temporary files in `directory` whose process is gone (see `isStaleTemporary`);
    /// returns how many. Directories are left to their owners (the notebook cache).
    @discardableResult
    public static func removeStaleTemporaries(in directory: String) -> Int {
        guard let d = opendir(directory) else { return 0 }
        var stale: [String] = []
        while let e = readdir(d) {
            let name = Directories.entryName(e)
            if isStaleTemporary(name) { stale.append(name) }
        }
        closedir(d)
        var removed = 0
        for name in stale {
            var info = stat()
            let path = directory + "/" + name
            if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, unlink(path) == 0 { removed += 1 }
        }
        return removed
    }

    // MARK: - Writing

    /// Everything of a write but the rename.
    package static func prepare(_ bytes: UnsafeRawBufferPointer, for path: String, replacingReadOnly: Bool = false,
                                fault: Fault?) throws -> Pending {
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
            return Pending(.inPlace(Array(bytes), target: target), path: path, fault: fault)
        }
        // As cp refuses: a file without write permission is someone's way of saying "keep".
        if exists && !replacingReadOnly && ((existing.st_mode & 0o222) == 0 || access(target, W_OK) != 0 && errno == EACCES) {
            throw FileError("cannot write '\(path)': it is read-only (make it writable or remove it first)")
        }

        let (directory, base) = split(target)
        removeStaleTemporaries(in: directory)
        let temporary = directory + "/" + temporaryName(for: base)
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
        return Pending(.rename(temporary: temporary, target: target, directory: directory), path: path, fault: fault)
    }

    /// Writes into an existing device, FIFO or socket; there is nothing to make atomic.
    fileprivate static func writeInPlace(_ bytes: UnsafeRawBufferPointer, to target: String, reportedAs path: String,
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

    fileprivate static func lastError() -> String { describeErrno(errno) }

    fileprivate static func describeErrno(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

/// The C library's write(2); a file-scope name because inside `WholeFile` the word `write`
/// means the public methods.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
