// The notebook cell cache: `.prune-cache/` beside a script. Each entry is a directory named by
// a cell's key, holding entry.json (the cell's output, timing, files read and the session state
// after it) and its figures; tensors live in content-addressed blobs shared by all entries, so
// an unchanged dataset is stored once. An entry is built in tmp/ and renamed into entries/ only
// when complete, blobs are written atomically, and there is no separate index to go stale: a
// run killed half-way leaves at worst an unused temporary directory.
import Engine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A directory of cached cell results and states.
public final class NotebookCache {
    public let directory: String
    /// The bound on the cache's size; the entries used longest ago go first.
    public var maxBytes: Int

    /// 2 GiB, or `PRUNE_CACHE_MAX_MB` megabytes.
    public static var defaultMaxBytes: Int {
        if let s = getenv("PRUNE_CACHE_MAX_MB").map({ String(cString: $0) }), let mb = Int(s), mb >= 0 { return mb << 20 }
        return 2 << 30
    }

    /// `.prune-cache` in the directory of `script`.
    public static func directory(forScript script: String) -> String {
        guard let slash = script.lastIndex(of: "/") else { return ".prune-cache" }
        let dir = String(script[..<slash])
        return (dir.isEmpty ? "" : dir) + "/.prune-cache"
    }

    public init(directory: String, maxBytes: Int = NotebookCache.defaultMaxBytes) {
        self.directory = directory
        self.maxBytes = maxBytes
    }

    var entriesDir: String { directory + "/entries" }
    var blobsDir: String { directory + "/blobs" }
    var tmpDir: String { directory + "/tmp" }

    func entryDir(_ key: String) -> String { entriesDir + "/" + key }

    /// The metadata of the entry for `key`, nil when there is none (or it is unreadable).
    func entry(_ key: String) -> NJSON? {
        guard let bytes = try? AtomicFile.readAll(entryDir(key) + "/entry.json") else { return nil }
        guard let json = NJSON.parse(String(decoding: bytes, as: UTF8.self)), json["format"]?.int == NotebookCache.format else { return nil }
        return json
    }

    /// Entries of another format are ignored (2: keys no longer include the process-wide generator;
    /// 3: masks record their transform by name and settings).
    static let format = 3

    /// A figure stored with an entry.
    func figure(_ key: String, _ name: String) -> [UInt8]? {
        guard !name.contains("/") else { return nil }
        return try? AtomicFile.readAll(entryDir(key) + "/" + name)
    }

    /// Marks an entry as just used (eviction removes the least recently used first).
    func touch(_ key: String) {
        _ = utimensat(AT_FDCWD, entryDir(key) + "/entry.json", nil, 0)
    }

    /// Stores an entry: blobs first (each atomically, skipped when present), then the entry's
    /// directory, built aside and renamed into place.
    func store(key: String, meta: NJSON, figures: [(name: String, bytes: [UInt8])], blobs: [StateBlob]) throws {
        try FS.makeDirectories(entriesDir)
        try FS.makeDirectories(blobsDir)
        try FS.makeDirectories(tmpDir)
        writeReadme()
        for blob in blobs {
            let path = blobsDir + "/" + blob.hash + ".safetensors"
            if FS.exists(path) { _ = utimensat(AT_FDCWD, path, nil, 0); continue }
            try Safetensors.save(blob.tensors, metadata: ["producer": "prune notebook cache"], to: path)
        }
        let staging = tmpDir + "/" + key + "-" + String(getpid()) + "-" + String(UInt64.random(in: 0 ... .max), radix: 16)
        guard mkdir(staging, 0o755) == 0 else { throw EngineError("cannot create '\(staging)': \(FS.lastError())") }
        do {
            for f in figures { try AtomicFile.write(f.bytes, to: staging + "/" + f.name) }
            try AtomicFile.write(meta.text + "\n", to: staging + "/entry.json")
            let target = entryDir(key)
            if FS.exists(target) { FS.removeTree(target, via: tmpDir) }
            guard rename(staging, target) == 0 else { throw EngineError("cannot move a cache entry into '\(target)': \(FS.lastError())") }
        } catch {
            FS.removeTree(staging)
            throw error
        }
    }

    /// The tensors of a blob.
    func loadBlob(_ hash: String) throws -> [String: Tensor] {
        guard hash.allSatisfy({ $0.isHexDigit }) else { throw EngineError("bad blob name '\(hash)'") }
        let (tensors, _) = try Safetensors.load(blobsDir + "/" + hash + ".safetensors")
        var out: [String: Tensor] = [:]
        for (name, t) in tensors { out[name] = t }
        return out
    }

    private func writeReadme() {
        let path = directory + "/README"
        guard !FS.exists(path) else { return }
        try? AtomicFile.write("prune's notebook cell cache (prune render). Safe to delete; `prune cache clear` does.\n", to: path)
    }

    /// Total bytes on disk (entries and blobs).
    public var size: Int {
        FS.treeSize(entriesDir) + FS.treeSize(blobsDir)
    }

    /// Removes the least recently used entries until the cache fits `maxBytes`, then the blobs
    /// no entry refers to, and temporary directories an interrupted run left behind.
    func evict() {
        struct Item { var key: String; var mtime: Int64; var bytes: Int; var blobs: [String] }
        var items: [Item] = []
        for key in FS.list(entriesDir) {
            let dir = entryDir(key)
            let blobs = (entry(key)?["blobs"]?.array ?? []).compactMap(\.string)
            items.append(Item(key: key, mtime: FS.mtime(dir + "/entry.json"), bytes: FS.treeSize(dir), blobs: blobs))
        }
        var blobSizes: [String: Int] = [:]
        for name in FS.list(blobsDir) where name.hasSuffix(".safetensors") {
            blobSizes[String(name.dropLast(".safetensors".count))] = FS.size(blobsDir + "/" + name)
        }
        func total(_ kept: [Item]) -> Int {
            let used = Set(kept.flatMap(\.blobs))
            return kept.reduce(0) { $0 + $1.bytes } + blobSizes.filter { used.contains($0.key) }.values.reduce(0, +)
        }
        items.sort { $0.mtime < $1.mtime }
        while !items.isEmpty && total(items) > maxBytes {
            FS.removeTree(entryDir(items.removeFirst().key), via: tmpDir)
        }
        let used = Set(items.flatMap(\.blobs))
        let now = Int64(time(nil)) * 1_000_000_000
        let unused = blobSizes.filter { !used.contains($0.key) }
        var current = total(items) + unused.values.reduce(0, +)
        for (hash, bytes) in unused.sorted(by: { $0.key < $1.key }) {
            let path = blobsDir + "/" + hash + ".safetensors"
            // A blob written in the last minute may belong to an entry another run is storing;
            // it stays unless the bound needs its space.
            if now - FS.mtime(path) > 60_000_000_000 || current > maxBytes {
                _ = unlink(path)
                current -= bytes
            }
        }
        for name in FS.list(tmpDir) where now - FS.mtime(tmpDir + "/" + name) > 3_600_000_000_000 {
            FS.removeTree(tmpDir + "/" + name)
        }
    }

    /// Deletes the whole cache directory; returns the bytes it held.
    @discardableResult
    public func clear() -> Int {
        let bytes = FS.treeSize(directory)
        FS.removeTree(directory)
        return bytes
    }
}

/// A mutex for the few process-wide tables of the notebook code.
final class NotebookLock: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

/// The few file-system operations the cache needs, on the C library.
enum FS {
    static func lastError() -> String { strerror(errno).map { String(cString: $0) } ?? "error \(errno)" }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func size(_ path: String) -> Int {
        var info = stat()
        return lstat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    static func mtime(_ path: String) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        #if canImport(Glibc)
        return Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        #else
        return Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        #endif
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) throws {
        if isDirectory(path) { return }
        if let slash = path.lastIndex(of: "/"), slash > path.startIndex { try makeDirectories(String(path[..<slash])) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw EngineError("cannot create the directory '\(path)': \(lastError())")
        }
    }

    /// The names in a directory (no `.` or `..`); empty when it cannot be read.
    static func list(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Bytes in the files under `path`.
    static func treeSize(_ path: String) -> Int {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        if (info.st_mode & S_IFMT) != S_IFDIR { return Int(info.st_size) }
        return list(path).reduce(0) { $0 + treeSize(path + "/" + $1) }
    }

    /// `rm -rf`. With `via`, the tree is first renamed into that directory, so it disappears
    /// from its place in one step even if the deletion is interrupted.
    static func removeTree(_ path: String, via: String? = nil) {
        var target = path
        if let via {
            let aside = via + "/trash-" + String(UInt64.random(in: 0 ... .max), radix: 16)
            if (try? makeDirectories(via)) != nil, rename(path, aside) == 0 { target = aside }
        }
        var info = stat()
        guard lstat(target, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in list(target) { removeTree(target + "/" + name) }
            _ = rmdir(target)
        } else {
            _ = unlink(target)
        }
    }
}
