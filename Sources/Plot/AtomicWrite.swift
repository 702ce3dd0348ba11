// AtomicWrite: figure files appear whole or not at all. The encoder writes a temporary file in
// the target's directory (same file system, so the rename is atomic), which is synced and then
// renamed over the target; any failure removes it. Plot does not depend on Engine, whose
// AtomicFile does the same for byte arrays.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum AtomicWrite {
    /// Failures tests inject where the OS cannot easily be made to fail on demand.
    enum Fault {
        /// The encoder fails after writing part of the temporary file.
        case encoder
        /// The rename fails after the temporary file is complete.
        case rename
    }

    /// Replaces the file at `path` with what `produce` writes to the path it is given. Devices
    /// (`/dev/null`, `/dev/full`, `/dev/stdout`) are written in place: there is nothing to
    /// replace atomically, and a full device must still report its error.
    static func write(to path: String, fault: Fault? = nil, _ produce: (String) throws -> Void) throws {
        guard !path.isEmpty else { throw PlotError("cannot write a figure to an empty path") }
        var target = path
        var info = stat()
        if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK, let resolved = realpath(path, nil) {
            // Replace the file a link points to, keeping the link.
            target = String(cString: resolved)
            free(resolved)
        }
        let exists = stat(target, &info) == 0
        let kind = info.st_mode & S_IFMT
        if exists && kind == S_IFDIR { throw PlotError("cannot write '\(path)': it is a directory") }
        if exists && kind != S_IFREG {
            do { try produce(target) } catch let e as PlotError { throw PlotError("cannot write '\(path)': \(e.message)") }
            return
        }

        let (directory, base) = split(target)
        var isDirectory = stat()
        if stat(directory, &isDirectory) != 0 {
            throw PlotError("cannot write '\(path)': directory '\(directory)' does not exist")
        }
        let temporary = directory + "/." + base + ".tmp-\(getpid())-" + String(UInt64.random(in: .min ... .max), radix: 16)
        // O_EXCL reserves a fresh name (never someone else's file or link) for the encoder.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else {
            throw PlotError("cannot write '\(path)': cannot create a temporary file in '\(directory)': \(lastError())")
        }
        _ = close(fd)
        func fail(_ reason: String) -> PlotError {
            _ = unlink(temporary)
            return PlotError("cannot write '\(path)': \(reason)")
        }
        do {
            try produce(temporary)
            if fault == .encoder { throw PlotError("injected encoder failure") }
        } catch let e as PlotError {
            throw fail(e.message)
        } catch {
            throw fail("\(error)")
        }
        // Keep the permissions of a file being replaced.
        if exists { _ = chmod(temporary, info.st_mode & 0o7777) }
        let sync = open(temporary, O_RDONLY | O_CLOEXEC)
        if sync < 0 { throw fail("cannot reopen the temporary file: \(lastError())") }
        let synced = fsync(sync)
        let syncError = lastError()
        _ = close(sync)
        if synced != 0 { throw fail("fsync failed: \(syncError)") }
        if fault == .rename { throw fail("cannot rename the temporary file into place: injected failure") }
        if rename(temporary, target) != 0 { throw fail("cannot rename the temporary file into place: \(lastError())") }
    }

    /// Writes `bytes` to `path` atomically (see `write(to:_:)`).
    static func write(_ bytes: [UInt8], to path: String, fault: Fault? = nil) throws {
        try write(to: path, fault: fault) { file in
            let fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC)
            guard fd >= 0 else { throw PlotError(lastError()) }
            defer { _ = close(fd) }
            var done = 0
            try bytes.withUnsafeBytes { buffer in
                guard let base = buffer.baseAddress else { return }
                while done < buffer.count {
                    let n = posixWrite(fd, base + done, Swift.min(buffer.count - done, 1 << 30))
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 { throw PlotError(lastError()) }
                    if n == 0 { throw PlotError("short write: stored \(done) of \(buffer.count) bytes") }
                    done += n
                }
            }
            // Devices that cannot sync (EINVAL) are fine; a real I/O error is not.
            if fsync(fd) != 0, errno != EINVAL, errno != EROFS, errno != ENOTSUP { throw PlotError("fsync failed: \(lastError())") }
        }
    }

    /// The directory ("." when none) and the last component of a path.
    static func split(_ path: String) -> (directory: String, base: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    static func lastError() -> String {
        guard let text = strerror(errno) else { return "error \(errno)" }
        return String(cString: text)
    }
}

/// write(2) under a name that the static `write` methods above do not shadow.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
