// The prompt's history file: ~/.prune_history, or $PRUNE_HISTORY (empty disables it).
//
// One entry per line; a multi-line command stays one entry, its newlines written as `\n` and
// backslashes as `\\`. Entries are appended as they are entered, so two prompts open at once
// both keep theirs and a crash loses nothing.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import FileIO

struct HistoryFile {
    let path: String
    /// Entries kept; the file is trimmed to this many when it grows to twice as many.
    static let limit = 1000
    /// The largest history file read (far more than `limit` entries of ordinary commands).
    static let maxBytes = 16 << 20

    /// The history file to use, or nil when history is disabled (PRUNE_HISTORY="").
    static func resolve() -> HistoryFile? {
        if let p = getenv("PRUNE_HISTORY") {
            let s = String(cString: p)
            return s.isEmpty ? nil : HistoryFile(path: s)
        }
        var home = getenv("HOME").map { String(cString: $0) } ?? ""
        if home.isEmpty, let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir { home = String(cString: dir) }
        return home.isEmpty ? nil : HistoryFile(path: home + "/.prune_history")
    }

    static func escape(_ entry: String) -> String {
        var out = ""
        for c in entry {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.append(c)
            }
        }
        return out
    }

    static func unescape(_ line: Substring) -> String {
        var out = "", escaped = false
        for c in line {
            if escaped {
                switch c {
                case "n": out += "\n"
                case "r": out += "\r"
                default: out.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// The entries in the file, oldest first (none when it does not exist or cannot be read).
    func load() -> [String] {
        // A device (/dev/zero) or a huge file is not a history: skip it rather than read it all.
        do { try InputFile.check(path, maxBytes: Self.maxBytes) } catch {
            writeErr("prune: warning: history not loaded: \(error)\n")
            return []
        }
        guard let bytes = try? WholeFile.readAll(path), bytes.count <= Self.maxBytes else { return [] }
        let text = String(decoding: bytes, as: UTF8.self)
        var entries = text.split(separator: "\n", omittingEmptySubsequences: true).map { Self.unescape($0) }
        if entries.count > 2 * Self.limit {
            entries = Array(entries.suffix(Self.limit))
            rewrite(entries)
        }
        return entries
    }

    /// Appends one entry to the file (created with mode 0600 if missing). Failures are silent:
    /// history is a convenience, never a reason to stop.
    func append(_ entry: String) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let line = Array((Self.escape(entry) + "\n").utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Replaces the file's contents with `entries` (through a temporary file and a rename).
    private func rewrite(_ entries: [String]) {
        let tmp = path + ".tmp\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let text = Array(entries.map { Self.escape($0) + "\n" }.joined().utf8)
        let ok = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == text.count
        close(fd)
        if ok { rename(tmp, path) } else { unlink(tmp) }
    }
}
