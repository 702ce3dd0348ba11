// A `prune` process on a real pseudo-terminal, for testing the prompt: readline, Ctrl-C,
// Ctrl-D, history and completion only behave as they do for a user when stdin is a terminal.
// Every read has a deadline, so a failing test reports what the screen showed instead of
// hanging.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum PTYError: Error, CustomStringConvertible {
    case failed(String)
    var description: String { if case .failed(let s) = self { return s }; return "" }
}

final class PTYProcess {
    // Linux values of macros Swift does not import (_IOW/_IOR, and a glibc extension).
    static let TIOCSPTLCK: UInt = 0x4004_5431
    static let TIOCGPTN: UInt = 0x8004_5430
    static let POSIX_SPAWN_SETSID: Int32 = 0x80

    let master: Int32
    let pid: pid_t
    /// Everything the process wrote, raw.
    private(set) var raw: [UInt8] = []
    /// How much of `screen` earlier `expect`s consumed.
    private var consumed = 0
    private var exitStatus: Int32?

    /// Starts `prune args` in a new session whose controlling terminal is a fresh pty (80×24).
    /// `env` is added to (and overrides) this process's environment.
    init(_ args: [String], env: [String: String] = [:]) throws {
        // posix_openpt/grantpt/unlockpt/ptsname, spelled out: Glibc's module map hides them
        // (they need _XOPEN_SOURCE). On Linux grantpt has nothing to do with devpts.
        let m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard m >= 0 else { throw PTYError.failed("open /dev/ptmx: \(String(cString: strerror(errno)))") }
        var unlock: Int32 = 0, number: UInt32 = 0
        guard ioctl(m, PTYProcess.TIOCSPTLCK, &unlock) == 0, ioctl(m, PTYProcess.TIOCGPTN, &number) == 0 else {
            close(m)
            throw PTYError.failed("unlocking the pty failed: \(String(cString: strerror(errno)))")
        }
        let slavePath = "/dev/pts/\(number)"
        var ws = winsize(ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(m, UInt(TIOCSWINSZ), &ws)

        var environment = ProcessInfo.processInfo.environment
        environment["TERM"] = "xterm"
        environment["NO_COLOR"] = nil          // test runners may set it; tests that want it pass it
        for (k, v) in env { environment[k] = v }
        let envStrings = environment.map { "\($0.key)=\($0.value)" }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Opened after setsid (glibc applies the session flag first), so the pty becomes the
        // child's controlling terminal and Ctrl-C on it signals the child.
        posix_spawn_file_actions_addopen(&actions, 0, slavePath, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigmask(&attr, &noSignals)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(PTYProcess.POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let path = pruneBinary().path
        let argv = [path] + args
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = envStrings.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, &attr, &cArgs, &cEnv)
        guard rc == 0 else {
            close(m)
            throw PTYError.failed("posix_spawn \(path): \(String(cString: strerror(rc)))")
        }
        master = m
        pid = child
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var st: Int32 = 0
            waitpid(pid, &st, 0)
        }
        close(master)
    }

    /// Types `text` (control characters included: "\u{03}" is Ctrl-C, "\t" Tab, "\u{1B}[A" Up).
    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
            if n > 0 { off += n } else if errno != EINTR { return }
        }
    }

    /// Reads what is available within `seconds`; false once the terminal is closed.
    @discardableResult
    private func pump(_ seconds: Double) -> Bool {
        var pfd = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        let r = poll(&pfd, 1, Int32(max(0, seconds * 1000)))
        guard r > 0 else { return true }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(master, &buf, buf.count)
        if n > 0 { raw.append(contentsOf: buf[0..<n]); return true }
        return n < 0 && errno == EINTR
    }

    /// The output with escape sequences and carriage returns removed.
    var screen: String { Self.clean(raw) }

    /// The output not yet consumed by `expect`.
    var unread: String { String(screen.dropFirst(consumed)) }

    static func clean(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x1B, i + 1 < bytes.count {
                let n = bytes[i + 1]
                if n == UInt8(ascii: "[") {          // CSI: ESC [ params final-byte
                    var j = i + 2
                    while j < bytes.count, !(0x40...0x7E).contains(bytes[j]) { j += 1 }
                    i = j + 1
                } else if n == UInt8(ascii: "]") {   // OSC: up to BEL or ST
                    var j = i + 2
                    while j < bytes.count, bytes[j] != 0x07, !(bytes[j] == 0x1B && j + 1 < bytes.count && bytes[j + 1] == UInt8(ascii: "\\")) { j += 1 }
                    i = j + (j < bytes.count && bytes[j] == 0x07 ? 1 : 2)
                } else {
                    i += 2
                }
                continue
            }
            if b == UInt8(ascii: "\r") || b == 0x07 || b == 0x08 { i += 1; continue }
            out.append(b)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Waits until `needle` appears in the output after what earlier calls consumed, and
    /// consumes through it. False after `timeout` seconds or when the process closed the pty.
    @discardableResult
    func expect(_ needle: String, timeout: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let s = screen
            let start = s.index(s.startIndex, offsetBy: min(consumed, s.count))
            if let r = s[start...].range(of: needle) {
                consumed = s.distance(from: s.startIndex, to: r.upperBound)
                return true
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return false }
            if !pump(min(left, 0.1)) { return screen.dropFirst(consumed).contains(needle) }
        }
    }

    /// Reads output for `seconds` (to let the screen settle).
    func drain(_ seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while deadline.timeIntervalSinceNow > 0 { if !pump(min(deadline.timeIntervalSinceNow, 0.05)) { break } }
    }

    /// Changes the terminal's size (the foreground process gets SIGWINCH).
    func resize(rows: UInt16, columns: UInt16) {
        var ws = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &ws)
    }

    /// Waits up to `timeout` seconds for the process to exit; its exit status, or nil (it is then
    /// still running), or 128 + the signal that killed it.
    func waitForExit(timeout: Double = 20) -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            var st: Int32 = 0
            let r = waitpid(pid, &st, WNOHANG)
            if r == pid {
                let code = st & 0x7F == 0 ? (st >> 8) & 0xFF : 128 + (st & 0x7F)
                exitStatus = code
                return code
            }
            if deadline.timeIntervalSinceNow <= 0 { return nil }
            pump(0.05)
        }
    }
}
