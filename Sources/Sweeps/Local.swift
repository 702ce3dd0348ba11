// The local backend: worker processes on this machine, `jobs` at a time, each with its share
// of the cores. Ctrl-C stops the running workers (their points stay missing, to run next time)
// and keeps every finished point.
import FileIO
import Engine
#if canImport(Glibc)
import Glibc
#endif

/// What a sweep reports while it runs.
public enum SweepEvent {
    /// A point finished: done or failed.
    case finished(SweepPoint, PointState, seconds: Double)
    /// The counts changed (for a progress line).
    case progress(SweepProgress)
}

public struct SweepProgress: Equatable {
    public var total: Int, done: Int, running: Int, failed: Int
    /// Seconds left, estimated from the finished points; nil before the first one.
    public var eta: Double?

    /// `7/12 done · 2 running · 1 failed · about 1m20s left`.
    public var line: String {
        var parts = ["\(done)/\(total) done", "\(running) running"]
        if failed > 0 { parts.append("\(failed) failed") }
        if let eta { parts.append("about \(duration(eta)) left") }
        return parts.joined(separator: " · ")
    }
}

/// How a sweep's run ended.
public struct SweepOutcome: Equatable {
    public var ran: Int, done: Int, failed: Int
    public var interrupted: Bool
}

public enum LocalBackend {
    /// The cores this machine offers.
    public static var cores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Runs `points` of `sweep` with at most `jobs` workers at once. `stop` is polled (Ctrl-C).
    public static func run(_ sweep: Sweep, points: [SweepPoint], jobs: Int, stop: () -> Bool = { Interrupt.requested },
                           report: (SweepEvent) -> Void) throws -> SweepOutcome {
        var queue = points[...]
        var running: [(point: SweepPoint, child: Subprocess, started: Double)] = []
        var outcome = SweepOutcome(ran: 0, done: 0, failed: 0, interrupted: false)
        var durations: [Double] = []
        let workers = max(1, jobs)

        func progress() -> SweepProgress {
            var eta: Double?
            if !durations.isEmpty {
                let mean = durations.reduce(0, +) / Double(durations.count)
                let waves = Double((queue.count + running.count + workers - 1) / workers)
                eta = mean * waves
            }
            return SweepProgress(total: points.count, done: outcome.done, running: running.count, failed: outcome.failed, eta: eta)
        }

        while !queue.isEmpty || !running.isEmpty {
            if stop() {
                outcome.interrupted = true
                stopAll(running.map(\.child))
                for r in running { sweep.abandon(r.point) }
                running = []
                break
            }
            var changed = false
            while running.count < workers, let p = queue.first {
                queue = queue.dropFirst()
                do {
                    running.append((p, try sweep.start(p), monotonicSeconds()))
                } catch {
                    // The worker could not even start (no binary, no folder): a failed point.
                    let state = PointState.failed("\(error)")
                    outcome.ran += 1; outcome.failed += 1
                    report(.finished(p, state, seconds: 0))
                }
                changed = true
            }
            var still: [(point: SweepPoint, child: Subprocess, started: Double)] = []
            for r in running {
                guard let ending = r.child.poll() else { still.append(r); continue }
                let seconds = monotonicSeconds() - r.started
                if stop() && ending != .exited(0) {
                    // Stopped by the same Ctrl-C (the terminal signals the whole group).
                    sweep.abandon(r.point)
                    continue
                }
                let state = sweep.finish(r.point, ending)
                outcome.ran += 1
                if state == .done { outcome.done += 1; durations.append(seconds) } else { outcome.failed += 1 }
                report(.finished(r.point, state, seconds: seconds))
                changed = true
            }
            running = still
            if changed { report(.progress(progress())) }
            usleep(20_000)
        }
        return outcome
    }

    /// Sends SIGINT to every worker's group, waits up to ten seconds, then kills what is left.
    static func stopAll(_ children: [Subprocess]) {
        for c in children { c.signalGroup(SIGINT) }
        var left = children
        let deadline = monotonicSeconds() + 10
        while !left.isEmpty && monotonicSeconds() < deadline {
            left = left.filter { $0.poll() == nil }
            if !left.isEmpty { usleep(20_000) }
        }
        for c in left { c.signalGroup(SIGKILL); _ = c.wait() }
    }
}
