// A tiny fork-join pool for the kernels: `parallelFor` runs numbered tasks on the calling thread
// and up to `Parallel.threads − 1` persistent workers. Workers spin for a short while after each
// job (the next large kernel is usually a few microseconds away) and then sleep, so the pool
// costs nothing when idle.
//
// Results never depend on the number of threads: callers split work into tasks by size alone,
// every task writes its own part of the output, and reductions combine per-task partial results
// in task order. `Parallel.threads = 1` runs everything on the calling thread.
#if canImport(Glibc)
import Glibc
import Synchronization
#elseif canImport(Darwin)
import Darwin
#endif

public enum Parallel {
    /// How many threads the kernels may use, counting the caller. Set by `BLAS.setThreads`;
    /// 1 (everything on the calling thread) until then.
    public static var threads: Int {
        get {
            #if canImport(Glibc) || canImport(Darwin)
            if let local = pthread_getspecific(localThreads) { return Int(bitPattern: local) }
            #endif
            return storedThreads
        }
        set { storedThreads = clamped(newValue) }
    }
    nonisolated(unsafe) private static var storedThreads = 1
    static let maxThreads = 64
    private static func clamped(_ n: Int) -> Int { Swift.min(Swift.max(n, 1), maxThreads) }

    /// Runs `body` with the kernels it calls on this thread limited to `n` threads, while other
    /// threads keep `threads`: tests that compare thread counts must not change what tests
    /// running beside them compute (split GEMMs round differently at one thread and two).
    public static func withThreads<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
        #if canImport(Glibc) || canImport(Darwin)
        let outer = pthread_getspecific(localThreads)
        pthread_setspecific(localThreads, UnsafeRawPointer(bitPattern: clamped(n)))
        defer { pthread_setspecific(localThreads, outer) }
        #endif
        return try body()
    }

    #if canImport(Glibc) || canImport(Darwin)
    /// This thread's `withThreads` limit, as a pointer-sized integer; none outside it.
    private static let localThreads: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
    #endif

    /// Below about this many elements, splitting a memory-bound loop costs more in hand-offs than
    /// it gains: the MLP's 128×300 activations stay on one thread.
    public static let minParallelElements = 1 << 17

    /// The number of tasks to split `count` elements into: one per `grain` elements, at most
    /// `maxTasks` and at least 1. Depends on the sizes only, never on the thread count.
    @inline(__always)
    public static func taskCount(_ count: Int, grain: Int = minParallelElements / 2, maxTasks: Int = 8) -> Int {
        Swift.max(1, Swift.min(maxTasks, count / Swift.max(grain, 1)))
    }

    /// The `i`-th of `parts` near-equal contiguous pieces of `0..<count`.
    @inline(__always)
    public static func range(_ i: Int, of parts: Int, count: Int) -> Range<Int> {
        (count * i / parts)..<(count * (i + 1) / parts)
    }
}

/// Runs `body(0) … body(tasks − 1)`, spread over `Parallel.threads` threads; returns when all are
/// done. Tasks must be independent. Runs serially when there is one thread or one task, when
/// called from inside another `parallelFor`, or while another thread holds the pool.
public func parallelFor(_ tasks: Int, _ body: (Int) -> Void) {
    if tasks <= 0 { return }
    let threads = Swift.min(Parallel.threads, tasks)
    if threads <= 1 {
        for i in 0..<tasks { body(i) }
        return
    }
    #if canImport(Glibc)
    withoutActuallyEscaping(body) { job in
        if !Pool.shared.run(tasks, threads: threads, job) {
            for i in 0..<tasks { job(i) }
        }
    }
    #else
    for i in 0..<tasks { body(i) }
    #endif
}

#if canImport(Glibc)
/// The persistent workers. One job at a time: `busy` is taken with a compare-and-swap, and a
/// caller that finds it taken (a nested call, or another application thread) runs serially.
private final class Pool: @unchecked Sendable {
    static let shared = Pool()

    private let busy = Atomic<Bool>(false)
    /// Bumped once per job; workers wait for it to change.
    private let generation = Atomic<Int>(0)
    /// The next task index to hand out.
    private let next = Atomic<Int>(0)
    /// Workers that have not yet finished the current job.
    private let pending = Atomic<Int>(0)
    /// Workers parked on the condition variable.
    private let sleepers = Atomic<Int>(0)

    // The current job, written by the caller before `generation` is bumped (release) and read by
    // workers after they see the bump (acquire).
    nonisolated(unsafe) private var job: ((Int) -> Void)?
    nonisolated(unsafe) private var jobTasks = 0
    nonisolated(unsafe) private var jobWorkers = 0
    nonisolated(unsafe) private var workerCount = 0

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    /// Nanoseconds a worker keeps polling for the next job before it sleeps.
    private static let spinNanoseconds: UInt64 = 2_000_000
    /// Polls of a shared flag (each a few nanoseconds) before a waiting thread starts calling
    /// sched_yield between polls.
    private static let pollsBeforeYield = 4096

    func run(_ tasks: Int, threads: Int, _ body: @escaping (Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        let helpers = threads - 1
        while workerCount < helpers { spawn(index: workerCount, seen: generation.load(ordering: .relaxed)); workerCount += 1 }
        job = body
        jobTasks = tasks
        jobWorkers = helpers
        next.store(0, ordering: .relaxed)
        pending.store(workerCount, ordering: .relaxed)
        // Sequentially consistent, paired with the worker's increment of `sleepers` before its
        // last look at `generation`: either the worker sees the new job or we see it asleep.
        generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(cond)
            pthread_mutex_unlock(mutex)
        }
        work(body, tasks)
        // Poll for the workers, giving the core away between polls after a while: on a busy
        // machine a worker may be waiting for this very core.
        var polls = 0
        while pending.load(ordering: .acquiring) > 0 {
            polls += 1
            if polls > Pool.pollsBeforeYield { sched_yield() }
        }
        job = nil
        busy.store(false, ordering: .releasing)
        return true
    }

    @inline(__always)
    private func work(_ body: (Int) -> Void, _ tasks: Int) {
        while true {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= tasks { return }
            body(i)
        }
    }

    private func spawn(index: Int, seen: Int) {
        let box = Unmanaged.passRetained(WorkerArgs(pool: self, index: index, seen: seen)).toOpaque()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setstacksize(&attr, 8 << 20)
        var tid = pthread_t()
        let rc = pthread_create(&tid, &attr, { raw in
            let args = Unmanaged<WorkerArgs>.fromOpaque(raw!).takeRetainedValue()
            args.pool.workerLoop(index: args.index, seen: args.seen)
            return nil
        }, box)
        pthread_attr_destroy(&attr)
        if rc != 0 { fatalError("prune: cannot start a worker thread (error \(rc))") }
        pthread_detach(tid)
    }

    /// `seen` is the generation before the worker's first job, read by the thread that spawns it.
    private func workerLoop(index: Int, seen first: Int) {
        var seen = first
        while true {
            seen = waitForJob(after: seen)
            if index < jobWorkers, let body = job { work(body, jobTasks) }
            pending.wrappingSubtract(1, ordering: .releasing)
        }
    }

    /// Polls for a generation other than `seen`, then parks on the condition variable.
    private func waitForJob(after seen: Int) -> Int {
        var g = generation.load(ordering: .acquiring)
        if g != seen { return g }
        let start = Pool.now()
        var polls = 0
        while true {
            g = generation.load(ordering: .acquiring)
            if g != seen { return g }
            polls += 1
            if polls > Pool.pollsBeforeYield {
                sched_yield()
                if polls & 15 == 0 && Pool.now() &- start > Pool.spinNanoseconds { break }
            }
        }
        pthread_mutex_lock(mutex)
        sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
        while true {
            g = generation.load(ordering: .sequentiallyConsistent)
            if g != seen { break }
            pthread_cond_wait(cond, mutex)
        }
        sleepers.wrappingSubtract(1, ordering: .relaxed)
        pthread_mutex_unlock(mutex)
        return g
    }

    @inline(__always)
    private static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
    }
}

private final class WorkerArgs {
    let pool: Pool
    let index: Int, seen: Int
    init(pool: Pool, index: Int, seen: Int) { self.pool = pool; self.index = index; self.seen = seen }
}
#endif
