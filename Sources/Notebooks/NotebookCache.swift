// The notebook cell cache: `.prune-cache/` beside a script. Each entry is a directory named by
// a cell's key, holding entry.json (the cell's output, timing, files read and the session state
// after it) and its figures; tensors live in content-addressed blobs shared by all entries, so
// an unchanged dataset is stored once. An entry is built in tmp/ and renamed into entries/ only
// when complete, blobs are written atomically, and there is no separate index to go stale: a
// run killed half-way leaves at worst temporaries, which eviction removes once their process
// is gone.
//
// A cache travels with its notebook and may be damaged or edited, so nothing in it is trusted:
// entry.json carries a checksum and its own key, every figure is checked against the hash the
// entry records, every blob against the content hash that names it, and functions come back
// from the script's text (see StateDecoder). Whatever does not match is a miss with a warning.
// (The hash is not a signature: someone who recomputes it can still make a cache show other
// outputs and values, as they could edit a rendered document; they cannot make it run code.)
import Language
import Bindings
import Engine
import FileIO
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

    /// What the cache holds for a key.
    enum Lookup {
        case missing
        /// There is an entry, but it cannot be used: why.
        case damaged(String)
        case found(JSON)
    }

    /// The metadata of the entry for `key`. An entry of another format is missing; one that does
    /// not parse, does not match its checksum or names another key is damaged. `shouldStop`
    /// (Ctrl-C) gives up reading a large entry; it then counts as missing.
    func entry(_ key: String, shouldStop: @escaping () -> Bool = { false }) -> Lookup {
        let path = entryDir(key) + "/entry.json"
        guard FS.exists(entryDir(key)) else { return .missing }
        guard let bytes = try? WholeFile.readAll(path) else { return .damaged("entry.json cannot be read") }
        guard let json = try? JSON.parse(bytes, shouldStop: shouldStop) else {
            return shouldStop() ? .missing : .damaged("entry.json is not valid JSON")
        }
        guard json["format"]?.int == NotebookCache.format else { return .missing }
        guard let sealed = json["checksum"]?.string, let pairs = json.pairs,
              NotebookCache.checksum(JSON.object(pairs.filter { $0.0 != "checksum" })) == sealed else {
            return .damaged("entry.json does not match its checksum")
        }
        guard json["prekey"]?.string == key else { return .damaged("entry.json belongs to another cell") }
        return .found(json)
    }

    /// Entries of another format are ignored (2: keys no longer include the process-wide generator;
    /// 3: masks record their transform by name and settings; 4: a checksum, figure hashes, and
    /// functions named by their place in the script instead of stored source; 5: outputs with
    /// numbers to significant digits and the tables they show, the display options in the state).
    static let format = 5

    /// The checksum an entry's metadata is sealed with (over its text, less the checksum itself).
    static func checksum(_ meta: JSON) -> String { ContentHash.of(["prune cache entry", meta.text]) }

    /// The hash a figure is recorded with.
    static func figureHash(_ png: [UInt8]) -> String {
        var h = ContentHash()
        png.withUnsafeBytes { h.add($0) }
        return h.hex
    }

    /// A figure stored with an entry, nil when it is missing or does not match `hash`.
    func figure(_ key: String, _ name: String, hash: String) -> [UInt8]? {
        guard !name.contains("/"), let png = try? WholeFile.readAll(entryDir(key) + "/" + name),
              NotebookCache.figureHash(png) == hash else { return nil }
        return png
    }

    /// Marks an entry as just used (eviction removes the least recently used first).
    func touch(_ key: String) {
        _ = utimensat(AT_FDCWD, entryDir(key) + "/entry.json", nil, 0)
    }

    /// Stores an entry: blobs first (each atomically, skipped when present), then the entry's
    /// directory, built aside and renamed into place.
    /// `meta` is sealed with its checksum here.
    func store(key: String, meta: JSON, figures: [(name: String, bytes: [UInt8])], blobs: [StateBlob]) throws {
        try FS.makeDirectories(entriesDir)
        try FS.makeDirectories(blobsDir)
        try FS.makeDirectories(tmpDir)
        writeReadme()
        for blob in blobs {
            let path = blobsDir + "/" + blob.hash + ".safetensors"
            if FS.exists(path) { _ = utimensat(AT_FDCWD, path, nil, 0); continue }
            try Safetensors.save(blob.tensors, metadata: ["producer": "prune notebook cache"], to: path)
        }
        let staging = tmpDir + "/" + WholeFile.temporaryName(for: key)
        guard mkdir(staging, 0o755) == 0 else { throw EngineError("cannot create '\(staging)': \(FS.lastError())") }
        do {
            for f in figures { try WholeFile.write(f.bytes, to: staging + "/" + f.name) }
            let sealed = JSON.object((meta.pairs ?? []) + [("checksum", .string(NotebookCache.checksum(meta)))])
            try WholeFile.write(sealed.text + "\n", to: staging + "/entry.json")
            let target = entryDir(key)
            if FS.exists(target) { FS.removeTree(target, via: tmpDir) }
            guard rename(staging, target) == 0 else { throw EngineError("cannot move a cache entry into '\(target)': \(FS.lastError())") }
        } catch {
            FS.removeTree(staging)
            throw error
        }
    }

    /// The tensors of a blob, checked against the content hash that names it. A blob that does
    /// not parse or does not match is removed (so the next store writes it again) and refused.
    func loadBlob(_ hash: String) throws -> [String: Tensor] {
        guard hash.count == 32, hash.allSatisfy({ $0.isHexDigit }) else { throw EngineError("bad blob name '\(hash)'") }
        let path = blobsDir + "/" + hash + ".safetensors"
        guard FS.exists(path) else { throw EngineError("blob \(hash) is missing") }
        let tensors: [(name: String, tensor: Tensor)]
        do {
            tensors = try Safetensors.load(path).tensors
        } catch {
            _ = unlink(path)
            throw EngineError("blob \(hash) is damaged (\(error)); removed")
        }
        guard StateStore.blob(tensors).hash == hash else {
            _ = unlink(path)
            throw EngineError("blob \(hash) does not match its content hash; removed")
        }
        var out: [String: Tensor] = [:]
        for (name, t) in tensors { out[name] = t }
        return out
    }

    private func writeReadme() {
        let path = directory + "/README"
        guard !FS.exists(path) else { return }
        try? WholeFile.write(NotebookCache.readmeText, to: path)
    }

    /// Total bytes on disk: entries, blobs, and whatever temporaries are there.
    public var size: Int { FS.treeSize(directory) }

    /// Removes what killed runs left: temporary files and directories whose process is gone
    /// (and, from earlier versions, anything in tmp/ older than an hour).
    func removeStaleTemporaries() {
        for dir in [directory, entriesDir, blobsDir] { WholeFile.removeStaleTemporaries(in: dir) }
        let now = Int64(time(nil)) * 1_000_000_000
        for name in FS.list(tmpDir) {
            let path = tmpDir + "/" + name
            if WholeFile.isStaleTemporary(name) || (WholeFile.temporaryProcess(name) == nil && now - FS.mtime(path) > 3_600_000_000_000) {
                FS.removeTree(path)
            }
        }
    }

    /// Removes the least recently used entries until the cache fits `maxBytes`, then the blobs
    /// no entry refers to, and temporaries an interrupted run left behind. Temporaries of runs
    /// still going count toward the bound. Stops early when `shouldStop` (Ctrl-C) says so.
    func evict(shouldStop: @escaping () -> Bool = { false }) {
        removeStaleTemporaries()
        struct Item { var key: String; var mtime: Int64; var bytes: Int; var blobs: [String] }
        var items: [Item] = []
        for key in FS.list(entriesDir) {
            if shouldStop() { return }
            let dir = entryDir(key)
            var blobs: [String] = []
            if case .found(let meta) = entry(key, shouldStop: shouldStop) { blobs = (meta["blobs"]?.array ?? []).compactMap(\.string) }
            items.append(Item(key: key, mtime: FS.mtime(dir + "/entry.json"), bytes: FS.treeSize(dir), blobs: blobs))
        }
        var blobSizes: [String: Int] = [:]
        for name in FS.list(blobsDir) where name.hasSuffix(".safetensors") && !name.hasPrefix(".") {
            blobSizes[String(name.dropLast(".safetensors".count))] = FS.size(blobsDir + "/" + name)
        }
        // Everything else: the README, tmp/, temporaries of live runs.
        let other = max(0, size - items.reduce(0) { $0 + $1.bytes } - blobSizes.values.reduce(0, +))
        func total(_ kept: [Item]) -> Int {
            let used = Set(kept.flatMap(\.blobs))
            return other + kept.reduce(0) { $0 + $1.bytes } + blobSizes.filter { used.contains($0.key) }.values.reduce(0, +)
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
    }

    /// The first line of the README every cache holds; `clear` looks for it.
    static let readmeText = "prune's notebook cell cache (prune render). Safe to delete; `prune cache clear` does.\n"

    /// Whether the directory is a cell cache: only a cache's own names at its top (README,
    /// entries, blobs, tmp and temporaries), and its README, or without one (a run killed
    /// before writing it) only entries and blobs named as the cache names them.
    var isCache: Bool {
        var info = stat()
        guard lstat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return false }
        let names = FS.list(directory)
        guard names.allSatisfy({ ["README", "entries", "blobs", "tmp"].contains($0) || WholeFile.temporaryProcess($0) != nil }) else {
            return false
        }
        if names.contains("README") {
            return (try? WholeFile.readAll(directory + "/README")).map { $0.starts(with: Array(NotebookCache.readmeText.utf8)) } ?? false
        }
        func hex(_ s: Substring) -> Bool { s.count == 32 && s.allSatisfy(\.isHexDigit) }
        return FS.list(entriesDir).allSatisfy { hex(Substring($0)) }
            && FS.list(blobsDir).allSatisfy { hex($0.split(separator: ".").first ?? "") || WholeFile.temporaryProcess($0) != nil }
    }

    /// Deletes the whole cache directory; returns the bytes it held. Refuses a directory that
    /// is not a cell cache (whatever its name), and a missing one holds 0 bytes.
    @discardableResult
    public func clear() throws -> Int {
        guard FS.exists(directory) || FS.isSymlink(directory) else { return 0 }
        guard isCache else {
            throw EngineError("'\(directory)' is not a prune cell cache (it holds other files); not deleting it")
        }
        let bytes = size
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

    static func exists(_ path: String) -> Bool { Directories.exists(path) }

    static func isSymlink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    static func isDirectory(_ path: String) -> Bool { Directories.isDirectory(path) }

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
        do { try Directories.make(path) } catch let e as FileError { throw EngineError(e.message) }
    }

    /// The names in a directory (no `.` or `..`); empty when it cannot be read.
    static func list(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = Directories.entryName(e)
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
            let aside = via + "/" + WholeFile.temporaryName(for: "trash")
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
