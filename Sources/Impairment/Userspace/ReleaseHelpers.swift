import Values
import CLinux
import Glibc
import Netlink
import Synchronization

/// How a direction's held packets get out on time when its thread is not SCHED_FIFO (rootless,
/// or `realtimePriority: nil`).
///
/// Why: a held packet leaves when the direction's thread wakes at its release time and sends the
/// verdict. A normal-priority thread's wakeup on a busy CPU waits for the scheduler: measured here
/// (2 vCPUs, other users' builds at load 5-13, uid 65534, `/tmp` microbench of 800 timer waits of
/// 1-5 ms, three rounds) the lateness of one such thread was p50 26-42 µs but p99 0.2-3.0 ms —
/// about one 4 ms tick: the woken thread waits until the tick preempts whatever the CPU runs.
/// PR_SET_TIMERSLACK 1 ns (already set) and the shortest EEVDF slice (0.1 ms) did not move the
/// p99; SCHED_FIFO, SCHED_DEADLINE and an RLIMIT_RTPRIO are refused to the user (EPERM; this
/// sandbox's root cannot even grant the rlimit); spinning the last 50-1000 µs made it worse
/// (p99 3.5-20 ms: a spinning thread uses up the share that gets it scheduled on wakeup).
/// What works is not waiting on one CPU: two threads, each pinned to its own CPU, waiting for
/// the same time — the first to wake releases. The chance that both CPUs are slow to preempt at
/// the same moment is small: p99 45-71 µs in the same rounds (p99.9 0.1-5 ms), for 1.1 % of
/// a CPU more than one waiter (3.2 % vs 1.0 %, the whole microbench process).
///
/// So: up to `helpers` threads ("fl-impair-wake"), pinned to CPUs other than the direction's own
/// (on 2 CPUs: one each when the direction's thread floats, one when it is pinned — rootless runs
/// pin a network's senders), each with a timer set to the next release time + `grace`. The
/// direction's thread arms them whenever that time changes and keeps its own timer; a helper
/// whose timer fires takes the worker's lock (waiting for it if the worker holds it: giving up
/// would lose the wakeup), releases what is due, re-arms, and goes back to sleep. The decisions
/// are the `DecisionCore`'s, unchanged: a helper only runs the worker's own release step, under
/// its lock, when the core's next release time comes.
///
/// Measured with the engine, `scripts/bench impairment --rootless` (uid 65534; its
/// `…_single_waiter` figures are this same run's delay phases with one waiting thread,
/// interleaved): 20 ms delay error p99 66, 72, 79 and 108 µs with helpers vs 1.2, 4.5, 2.4 and
/// 2.9 ms without, at load 4.0-6.3 (p50 22-29 µs vs 19-22 µs); with a `swift build --build-tests` of
/// this package running alongside (load 3.8 → 8.5) 8.0 ms vs 103 ms — the 200 µs target is met
/// only on a machine that is not that busy. The cost: the engine's threads took 0.31-0.39 of a
/// CPU in those delay phases vs 0.14-0.17 alone (5000 packets/s, each released at its own time:
/// every release wakes three threads); at 100-200 kpps, where releases come in batches, the
/// engine's CPU per packet stays as without (2.3-2.8 µs). `grace` > 0 makes a helper wake only
/// when the direction's thread is late by that much: 50 µs tripled the median error (71-76 µs)
/// for no better p99, so it is 0. Rootless flow order, `scripts/reorder-count` over the catalog
/// (24/24 passed both ways): 55 out-of-order frames with helpers, 49 without — all in the
/// loss scenarios (t1-random-loss 33/34, t1-deterministic-drop 2/2) and the path-MTU black hole
/// (f7 20/13), where retransmissions fill holes.
public struct ReleaseTiming: Sendable, Equatable {
    /// Helper threads at most (0: none, the direction's thread alone).
    public var helpers: Int
    /// How late the direction's own thread may be before a helper steps in, ns.
    public var grace: UInt64

    public init(helpers: Int, grace: UInt64) {
        self.helpers = helpers
        self.grace = grace
    }

    public static let standard = ReleaseTiming(helpers: 2, grace: 0)
    /// The direction's thread alone (what the engine did before; the bench's baseline).
    public static let singleWaiter = ReleaseTiming(helpers: 0, grace: 0)

    /// `standard`, or FAULTLINE_RELEASE_HELPERS / FAULTLINE_RELEASE_GRACE_US where set (for measuring).
    public static var fromEnvironment: ReleaseTiming {
        var timing = standard
        if let text = getenv("FAULTLINE_RELEASE_HELPERS").map({ String(cString: $0) }), let n = Int(text) { timing.helpers = max(0, n) }
        if let text = getenv("FAULTLINE_RELEASE_GRACE_US").map({ String(cString: $0) }), let us = UInt64(text) { timing.grace = us * 1000 }
        return timing
    }
}

/// The helper threads of one direction and the lock they share with its thread.
final class ReleaseHelpers: @unchecked Sendable {
    private struct Helper {
        var thread: PosixThread?
        let timer: Int32
        let cpu: Int32
        var started = false
    }

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var helpers: [Helper]
    private let stopFD: Int32
    private let grace: UInt64
    private let release: @Sendable () -> Void
    /// The release time the helpers' timers are set for (touched with the lock held).
    private var armed: UInt64?
    private var stopped = false
    /// Set by `stop` before it wakes and joins the helpers (a helper waiting for the lock checks it).
    private let stopping = Atomic<Bool>(false)

    /// Starts helpers on `cpus` (each pinned to one); nil when there is nothing to start.
    /// `release` runs on a helper with the lock held.
    static func start(cpus: [Int32], grace: UInt64, release: @escaping @Sendable () -> Void) -> ReleaseHelpers? {
        guard !cpus.isEmpty else { return nil }
        let stopFD = fl_eventfd(0)
        guard stopFD >= 0 else { return nil }
        var helpers: [Helper] = []
        for cpu in cpus {
            let timer = fl_timerfd_create_monotonic()
            if timer < 0 { continue }
            helpers.append(Helper(timer: timer, cpu: cpu))
        }
        let made = ReleaseHelpers(helpers: helpers, stopFD: stopFD, grace: grace, release: release)
        for i in made.helpers.indices { made.launch(i) }
        if !made.helpers.contains(where: \.started) {
            made.stop()
            return nil
        }
        return made
    }

    /// The CPUs for up to `count` helpers: the process's CPUs other than `own` (the direction's
    /// thread's pin, if any), last first (CPU 0 takes most interrupts). None on one CPU.
    static func cpus(count: Int, own: Int32?) -> [Int32] {
        var allowed = [Int32](repeating: 0, count: 1024)
        let n = fl_get_thread_cpus(getpid(), &allowed, Int32(allowed.count))
        guard n > 1 else { return [] }
        let others = allowed[0..<Int(n)].filter { $0 != own }
        return Array(others.reversed().prefix(count))
    }

    private init(helpers: [Helper], stopFD: Int32, grace: UInt64, release: @escaping @Sendable () -> Void) {
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        self.helpers = helpers
        self.stopFD = stopFD
        self.grace = grace
        self.release = release
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    var count: Int { helpers.filter(\.started).count }

    private func launch(_ index: Int) {
        // What the thread needs, handed over at its start (it never reads `helpers`).
        let (timer, cpu) = (helpers[index].timer, helpers[index].cpu)
        guard let thread = try? PosixThread.start(name: nil, { [self] in run(timer: timer, cpu: cpu) }) else { return }
        helpers[index].thread = thread
        helpers[index].started = true
    }

    /// The direction's thread: hold the lock while it works, let it go while it waits.
    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Sets the helpers' timers for `time` (the core's next release; nil: nothing held). Call
    /// with the lock held.
    func arm(_ time: UInt64?) {
        guard time != armed else { return }
        armed = time
        // Nothing held: a time that never comes (292 years of uptime) stands for "disarmed".
        let at = time.map { $0 &+ grace } ?? UInt64(Int64.max)
        for helper in helpers where helper.started { _ = fl_timerfd_set_abs_ns(helper.timer, at) }
    }

    /// Stops and joins the helpers (any thread but a helper; with or without the lock: helpers
    /// only ever try it). Idempotent.
    func stop() {
        if stopped { return }
        stopped = true
        stopping.store(true, ordering: .sequentiallyConsistent)
        var one: UInt64 = 1
        _ = write(stopFD, &one, 8)
        for helper in helpers where helper.started { helper.thread?.join() }
        for helper in helpers { close(helper.timer) }
        close(stopFD)
    }

    private func run(timer: Int32, cpu: Int32) {
        _ = fl_prctl_set_name("fl-impair-wake")
        _ = fl_prctl_set_timerslack_ns(1)
        var signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE]
        _ = fl_block_signals(&signals, Int32(signals.count))
        _ = fl_set_thread_cpu(cpu)
        _ = fl_set_thread_slice_ns(PathWorker.shortSliceNanoseconds)
        var fds = [pollfd(fd: timer, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)]
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            if poll(&fds, 2, -1) < 0 && errno != EINTR { return }
            if fds[1].revents != 0 { return }
            guard fds[0].revents != 0 else { continue }
            var expirations: UInt64 = 0
            _ = read(timer, &expirations, 8)
            // The lock may be held by the direction's thread (in a pass that already released,
            // before this time came) or by the other helper: wait for it — giving up here would
            // lose the wakeup, the timer being spent — in 1 ms steps, so that `stop` (called with
            // the lock held) is seen.
            var locked = pthread_mutex_trylock(mutex) == 0
            while !locked {
                if stopping.load(ordering: .sequentiallyConsistent) { return }
                var until = timespec()
                clock_gettime(CLOCK_REALTIME, &until)
                until.tv_nsec += 1_000_000
                if until.tv_nsec >= 1_000_000_000 { until.tv_sec += 1; until.tv_nsec -= 1_000_000_000 }
                locked = pthread_mutex_timedlock(mutex, &until) == 0
            }
            release()
            pthread_mutex_unlock(mutex)
        }
    }
}
