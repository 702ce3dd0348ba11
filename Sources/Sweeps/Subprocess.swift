// Child processes through posix_spawn: sweep workers (output to their log, in their own process
// group so Ctrl-C reaches them only through the sweep) and Slurm's commands (output captured).
#if canImport(Glibc)
import Glibc
#endif

/// A started child process.
public struct Subprocess {
    public let pid: pid_t

    /// How a child ended.
    public enum Ending: Equatable {
        case exited(Int32)
        case signalled(Int32)

        public var succeeded: Bool { self == .exited(0) }
        public var description: String {
            switch self {
            case .exited(let s): return "exit status \(s)"
            case .signalled(let s): return "killed by signal \(s)"
            }
        }
    }

    /// Starts `arguments[0]` (looked up in PATH when it has no slash) with stdin from /dev/null
    /// and stdout and stderr appended to `log` (or inherited when nil). With `ownGroup` the
    /// child leads a new process group.
    public static func spawn(_ arguments: [String], log: String?, ownGroup: Bool, environment: [String: String] = [:]) throws -> Subprocess {
        guard let program = arguments.first else { throw SweepError("no program to run") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let log {
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        return try start(program, arguments, &actions, ownGroup: ownGroup, environment: environment)
    }

    /// Runs a command to the end and returns how it ended with its standard output (stderr is
    /// folded in, so a failing command's message reaches the user).
    public static func capture(_ arguments: [String]) throws -> (ending: Ending, output: String) {
        guard let program = arguments.first else { throw SweepError("no program to run") }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SweepError("cannot make a pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        let child: Subprocess
        do { child = try start(program, arguments, &actions, ownGroup: false, environment: [:]) } catch {
            close(fds[0]); close(fds[1])
            throw error
        }
        close(fds[1])
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, 4096) }
            if n > 0 {
                if bytes.count < 1 << 20 { bytes += buffer[0..<n] }
            } else if n == 0 || errno != EINTR { break }
        }
        close(fds[0])
        return (child.wait(), String(decoding: bytes, as: UTF8.self))
    }

    private static func start(_ program: String, _ arguments: [String], _ actions: inout posix_spawn_file_actions_t,
                              ownGroup: Bool, environment: [String: String]) throws -> Subprocess {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with default signal handling and nothing blocked, whatever the
        // sweep itself does with SIGINT.
        var defaults = sigset_t(), none = sigset_t()
        sigemptyset(&defaults); sigaddset(&defaults, SIGINT); sigaddset(&defaults, SIGTERM); sigaddset(&defaults, SIGPIPE)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &none)
        var flags = Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        if ownGroup {
            flags |= Int16(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, flags)

        var env: [String] = []
        var i = 0
        while let entry = environ[i] {
            let s = String(cString: entry)
            let name = s.split(separator: "=", maxSplits: 1).first.map(String.init) ?? s
            if environment[name] == nil { env.append(s) }
            i += 1
        }
        for (k, v) in environment.sorted(by: { $0.key < $1.key }) { env.append("\(k)=\(v)") }

        var pid: pid_t = 0
        let status = withCStrings(arguments) { argv in
            withCStrings(env) { envp in
                program.contains("/")
                    ? posix_spawn(&pid, program, &actions, &attributes, argv, envp)
                    : posix_spawnp(&pid, program, &actions, &attributes, argv, envp)
            }
        }
        guard status == 0 else { throw SweepError("cannot run \(program): \(String(cString: strerror(status)))") }
        return Subprocess(pid: pid)
    }

    /// Waits for the child to end.
    public func wait() -> Ending {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .exited(-1) }
        }
        return Subprocess.ending(status)
    }

    /// How the child ended, or nil while it runs.
    public func poll() -> Ending? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == 0 { return nil }
        if r < 0 { return errno == EINTR ? nil : .exited(-1) }
        return Subprocess.ending(status)
    }

    /// Sends `signal` to the child's process group (it leads one when spawned with `ownGroup`).
    public func signalGroup(_ signal: Int32) { _ = kill(-pid, signal) }

    private static func ending(_ status: Int32) -> Ending {
        let sig = status & 0x7f
        return sig == 0 ? .exited((status >> 8) & 0xff) : .signalled(sig)
    }
}

private func withCStrings(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Int32) -> Int32 {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { buffer in buffer.baseAddress.map(body) ?? EINVAL }
}
