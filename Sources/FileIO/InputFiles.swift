// InputFiles: which input files the code running on this thread has read. Loaders report each
// file they hand out data from (also when they serve it from an in-memory cache: the caller
// still depends on the file). Nothing is kept unless a recorder is active on the calling thread
// (the notebook runner starts one per cell, to invalidate the cell's cache entry when a file it
// read changes), so a report costs one thread-local lookup in ordinary runs. Engine and the
// loaders thus know nothing of notebooks.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-thread record of input files read.
///
///     let (value, files) = try InputFiles.collect { try Safetensors.load("w.safetensors") }
///     // files == ["w.safetensors"]
public enum InputFiles {
    /// Notes that the running code read `path`. Cheap and silent when nothing is recording.
    public static func read(_ path: String) {
        guard let box = current else { return }
        if !box.paths.contains(path) { box.paths.append(path) }
    }

    /// Runs `body` with a fresh recorder on this thread and returns what it read, in first-read
    /// order. Recorders nest: an inner one's reads count for the outer one too.
    public static func collect<T>(_ body: () throws -> T) rethrows -> (T, [String]) {
        let outer = current
        let box = Box()
        current = box
        defer {
            current = outer
            if let outer { for p in box.paths where !outer.paths.contains(p) { outer.paths.append(p) } }
        }
        let value = try body()
        return (value, box.paths)
    }

    /// A fingerprint of the file's current version: size and modification time (nanoseconds),
    /// or "missing". Touching a file changes it; reading does not.
    public static func fingerprint(_ path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { return "missing" }
        #if canImport(Glibc)
        let mtime = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        #else
        let mtime = Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        #endif
        return "\(info.st_size):\(mtime)"
    }

    final class Box { var paths: [String] = [] }

    nonisolated(unsafe) private static var key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// The recorder of this thread (retained by `collect`'s frame while it is set).
    private static var current: Box? {
        get {
            guard let raw = pthread_getspecific(key) else { return nil }
            return Unmanaged<Box>.fromOpaque(raw).takeUnretainedValue()
        }
        set {
            pthread_setspecific(key, newValue.map { UnsafeRawPointer(Unmanaged.passUnretained($0).toOpaque()) })
        }
    }
}
