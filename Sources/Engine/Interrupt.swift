// Cooperative Ctrl-C: a signal handler sets a flag; long loops check it between steps, so an
// interrupted command stops with its model consistent and the session goes on.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Interrupt {
    nonisolated(unsafe) static let flag: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    /// Whether Ctrl-C was pressed since the last `reset()`.
    public static var requested: Bool { flag.pointee != 0 }
    /// Clears the flag before a new command runs.
    public static func reset() { flag.pointee = 0 }

    /// The error a long operation throws when it stops on request.
    public static let stopped = EngineError("interrupted")

    /// Runs `body` over `0..<count` in chunks of about a million elements, asking `shouldStop`
    /// before each: a fill or kernel over a huge tensor then answers Ctrl-C within milliseconds
    /// instead of when it is done. Throws `Interrupt.stopped` when asked to stop.
    public static func chunked(_ count: Int, chunk: Int = 1 << 20, shouldStop: () -> Bool = { Interrupt.requested },
                               _ body: (Range<Int>) -> Void) throws {
        var start = 0
        while start < count {
            if shouldStop() { throw stopped }
            let end = Swift.min(count, start + Swift.max(chunk, 1))
            body(start..<end)
            start = end
        }
    }

    /// Routes SIGINT to the flag instead of terminating the process.
    public static func installHandler() {
        _ = flag
        signal(SIGINT) { _ in Interrupt.flag.pointee = 1 }
        // A blocked signal mask survives exec: a parent that blocks SIGINT (test runners, some
        // shells' job control) would otherwise make Ctrl-C a no-op here.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
