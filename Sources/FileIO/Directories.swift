// Directories: make a path (mkdir -p), list a folder, check what a path is.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Directories {
    /// The name of an entry `readdir` returned, read where it lies: a record may end before the
    /// 256 bytes its `d_name` field is declared with, so copying the field (as passing it to
    /// `withUnsafePointer(to:)` does) reads past the directory buffer.
    public static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        guard let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name) else { return "" }
        return String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
    }

    /// Creates `path` and any missing parents (`mkdir -p`).
    public static func make(_ path: String) throws {
        if isDirectory(path) { return }
        if let slash = path.lastIndex(of: "/"), slash > path.startIndex { try make(String(path[..<slash])) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw FileError("cannot create the directory '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// `path` made absolute against the working directory (not resolving links).
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(cString: buffer)
        return path == "." ? cwd : cwd + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }

    /// The working directory.
    public static var current: String { absolute(".") }
}
