// Exit statuses, colour and small I/O helpers shared by the runner and the prompt.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import FileIO

/// The process's exit statuses.
enum ExitStatus {
    static let success: Int32 = 0
    /// The script failed: a syntax or run-time error.
    static let failure: Int32 = 1
    /// The command line was wrong (unknown option, bad value, unreadable FILE).
    static let usage: Int32 = 2
    /// Ctrl-C stopped the script (128 + SIGINT, as shells report it).
    static let interrupted: Int32 = 130
}

/// Whether to colour what goes to file descriptor `fd`: only on a terminal, and never when
/// NO_COLOR is set to anything non-empty (https://no-color.org) or TERM is "dumb".
func useColor(fd: Int32) -> Bool {
    if let v = getenv("NO_COLOR"), v.pointee != 0 { return false }
    if let t = getenv("TERM"), String(cString: t) == "dumb" { return false }
    return isatty(fd) != 0
}

/// Writes to stdout without a newline, and flushes (output may interleave with stderr).
func writeOut(_ s: String) {
    fputs(s, stdout)
    fflush(stdout)
}

/// Writes to stderr, after flushing stdout so the two streams stay in order.
func writeErr(_ s: String) {
    fflush(stdout)
    fputs(s, stderr)
}

/// All of stdin as UTF-8 text (invalid bytes are replaced).
func readAllStdin() -> String? {
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(0, &buf, buf.count)
        if n > 0 {
            bytes.append(contentsOf: buf[0..<n])
            guard bytes.count <= InputFile.maxTextBytes else {
                writeErr("prune: error: the script on standard input is larger than \(InputFile.maxTextBytes >> 20) MiB\n")
                return nil
            }
            continue
        }
        if n < 0 && errno == EINTR { continue }
        break
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The text of a script file, or nil after reporting why it cannot be read.
func readScriptFile(_ path: String) -> String? {
    do { try InputFile.check(path) } catch {
        writeErr("prune: error: \(error)\n")
        return nil
    }
    let bytes: [UInt8]
    do { bytes = try WholeFile.readAll(path) } catch {
        writeErr("prune: error: \(error)\n")
        return nil
    }
    // The file may have grown since it was checked.
    guard bytes.count <= InputFile.maxTextBytes else {
        writeErr("prune: error: cannot read \(path): larger than \(InputFile.maxTextBytes >> 20) MiB\n")
        return nil
    }
    return String(decoding: bytes, as: UTF8.self)
}
