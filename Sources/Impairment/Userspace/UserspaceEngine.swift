import Values
import CLinux
import Glibc
import Netlink
import Synchronization

/// The userspace impairment engine: netem's model (and more: packet matches, n-th packet
/// actions, schedules) applied on the router's forwarding path through NFQUEUE, for kernels
/// without sch_netem or for specs netem cannot express.
///
/// ```swift
/// let net = try Topology.line().build()
/// let spec = ImpairmentSpec(link: try LinkDirection(parsing: "router→server"),
///                           parameters: .init(delay: .init(delay: .ms(20)), loss: .random(probability: Percentage(1))),
///                           seed: 7)
/// let engine = try UserspaceEngine.start(network: net, specs: [spec], seed: 7,
///                                        options: .init(decisionLogPath: "/tmp/decisions.log"))
/// // ... traffic ...
/// print(engine.stats)
/// engine.stop()
/// ```
///
/// How it works: one NFQUEUE per direction, fed by an iptables FORWARD rule matching the
/// router's input/output interfaces; one thread per direction (created inside the router
/// namespace) receives packets in batches, asks a deterministic `DecisionCore`, and answers with
/// batched verdicts; delayed packets keep their verdict until a timerfd fires; corrupted packets
/// go back modified in the verdict; duplicates are injected through a raw socket. A packet that
/// two directions take (in from the client, out to the server) passes both in turn, as through
/// two netem qdiscs (`ForwardingStages`). A monitor thread checks that each queue is still bound
/// in the kernel and each thread alive.
///
/// Failure is loud and closed: if a thread dies or its socket goes away, the rules stay and the
/// kernel drops that direction's packets (no `--queue-bypass`), `failure` is set and
/// `Options.onFailure` is called once. `stop()` removes the rules (traffic flows unimpaired
/// again), passes whatever was held, and closes everything.
public final class UserspaceEngine: @unchecked Sendable {
    /// The mark of injected copies; the engine's rules skip packets carrying it.
    public static let injectMark: UInt32 = 0xfa17

    /// One direction of the router's forwarding path: packets entering on `inInterface` (nil:
    /// any) and leaving on `outInterface` (nil: any).
    public struct ForwardingPath: Sendable, Hashable, CustomStringConvertible {
        /// For logs and stats: the link direction, e.g. "router→server".
        public var name: String
        public var inInterface: String?
        public var outInterface: String?

        public init(name: String, inInterface: String?, outInterface: String?) {
            self.name = name
            self.inInterface = inInterface
            self.outInterface = outInterface
        }

        public var description: String {
            "\(name) (-i \(inInterface ?? "any") -o \(outInterface ?? "any"))"
        }

        /// The path a link direction takes through `router` in `network`: `router→X` is what
        /// leaves toward X, `X→router` what arrives from X (and is forwarded).
        public static func resolve(_ link: LinkDirection, router: String, in network: Network) throws(UserspaceEngineError) -> ForwardingPath {
            if link.from == router {
                guard let out = network.interface(of: router, toward: link.to) else {
                    throw .notOnForwardingPath(link: link, reason: "\(router) has no link to \"\(link.to)\"")
                }
                return ForwardingPath(name: link.description, inInterface: nil, outInterface: out)
            }
            if link.to == router {
                guard let input = network.interface(of: router, toward: link.from) else {
                    throw .notOnForwardingPath(link: link, reason: "\(router) has no link to \"\(link.from)\"")
                }
                return ForwardingPath(name: link.description, inInterface: input, outInterface: nil)
            }
            throw .notOnForwardingPath(link: link, reason: "neither end is the router \"\(router)\"; the userspace engine works on the router's forwarding path (write \(router)→\(link.to) or \(link.from)→\(router))")
        }
    }

    /// A spec at a place.
    public struct Placement: Sendable {
        public var path: ForwardingPath
        public var spec: ImpairmentSpec
        public init(path: ForwardingPath, spec: ImpairmentSpec) {
            self.path = path
            self.spec = spec
        }
    }

    public struct Options: Sendable {
        /// Queue numbers are `queueBase`, `queueBase + 1`, ... one per direction.
        public var queueBase: UInt16
        /// Write every decision here (text, one line per packet; see `DecisionRecord`).
        public var decisionLogPath: String?
        /// Keep up to this many decisions in memory (`decisions`); 0: none.
        public var keepDecisions: Int
        /// The kernel queue's length (packets waiting for us); nil: enough for the specs' limits.
        public var kernelQueueLength: UInt32?
        /// The NFQUEUE socket's receive buffer, bytes.
        public var receiveBuffer: Int32
        /// Also queue IPv6 (ip6tables); the topology's links carry both families.
        public var ipv6: Bool
        /// Run the engine's threads SCHED_FIFO at this priority (nil: normal scheduling). A held
        /// packet leaves when its timer fires only if the thread gets a CPU then: on a loaded
        /// machine, normal scheduling adds milliseconds. If the kernel refuses, the engine runs
        /// normally and `UserspacePathStats.realtime` says false.
        public var realtimePriority: Int32?
        /// Pin the engine's direction threads to this CPU (nil: wherever the scheduler puts them).
        public var cpu: Int32?
        /// While the engine runs, keep idle CPUs from sleeping deeper than polling (a PM QoS
        /// request on /dev/cpu_dma_latency; see `CPUWakeupLatencyRequest`): timers fire on time
        /// instead of waiting for a halted CPU to wake. Machine-wide while held; ignored where
        /// the kernel refuses. `UserspaceEngine.holdsCPUsAwake` says whether it took.
        public var keepCPUsAwake: Bool
        /// Called once, on an engine thread (the failed direction's or the monitor's), when the
        /// engine dies. Keep it short; it may call `stop()`.
        public var onFailure: (@Sendable (UserspaceEngineFailure) -> Void)?
        /// Without SCHED_FIFO (refused, or `realtimePriority` nil): helper threads on the other
        /// CPUs that release held packets when a direction's thread wakes late (`ReleaseTiming`).
        public var releaseTiming: ReleaseTiming

        public init(queueBase: UInt16 = 64000, decisionLogPath: String? = nil, keepDecisions: Int = 0,
                    kernelQueueLength: UInt32? = nil, receiveBuffer: Int32 = 16 << 20, ipv6: Bool = true,
                    realtimePriority: Int32? = 20, cpu: Int32? = nil, keepCPUsAwake: Bool = true,
                    onFailure: (@Sendable (UserspaceEngineFailure) -> Void)? = nil,
                    releaseTiming: ReleaseTiming = .fromEnvironment) {
            self.queueBase = queueBase
            self.decisionLogPath = decisionLogPath
            self.keepDecisions = keepDecisions
            self.kernelQueueLength = kernelQueueLength
            self.receiveBuffer = receiveBuffer
            self.ipv6 = ipv6
            self.realtimePriority = realtimePriority
            self.cpu = cpu
            self.keepCPUsAwake = keepCPUsAwake
            self.onFailure = onFailure
            self.releaseTiming = releaseTiming
        }
    }

    /// Monotonic time (ns) when the rules were in place: time 0 of every schedule.
    public let startTime: UInt64
    public let paths: [ForwardingPath]
    public let seed: UInt64
    private let router: NetworkNamespace
    private let workers: [PathWorker]
    private let rules: [FirewallRule]
    private let placementIndex: [(worker: Int, spec: Int)]
    private let log: DecisionLogStore?
    private let options: Options
    /// The wake-up latency request's descriptor while held (closed by `stop`), else -1.
    private let wakeupLatencyFD = Mutex<Int32>(-1)
    private let state = Mutex<EngineState>(EngineState())
    private var monitorThread = pthread_t()
    private let monitorWake: Int32

    private struct EngineState {
        var stopping = false
        var stopped = false
        var failure: UserspaceEngineFailure?
        var notified = false
        var kernelQueues: [UInt16: KernelQueueStats] = [:]
        var monitorRunning = false
    }

    // MARK: start

    /// Starts the engine on `router`'s forwarding path.
    /// - Parameters:
    ///   - placements: specs and where they go; placements on the same path share a queue and a
    ///     thread (the first whose `match` takes a packet applies its parameters).
    ///   - seed: the run's seed, for specs without their own.
    ///   - nodes: addresses of the nodes that matches may name (`source: server`).
    public static func start(router: NetworkNamespace, placements: [Placement], seed: UInt64,
                             nodes: [String: [IPPrefix]] = [:], options: Options = Options()) throws(UserspaceEngineError) -> UserspaceEngine {
        // Group placements by path, keeping first-appearance order.
        var paths: [ForwardingPath] = []
        var specsByPath: [[ImpairmentSpec]] = []
        var index: [(worker: Int, spec: Int)] = []
        for placement in placements {
            if let i = paths.firstIndex(of: placement.path) {
                index.append((i, specsByPath[i].count))
                specsByPath[i].append(placement.spec)
            } else {
                index.append((paths.count, 0))
                paths.append(placement.path)
                specsByPath.append([placement.spec])
            }
        }
        // Validate everything before touching the kernel (placement numbers in messages).
        for (i, placement) in placements.enumerated() {
            let errors = placement.spec.validate(at: "").filter { $0.severity == .error }
            if !errors.isEmpty { throw .invalidSpec(placement: i, issues: errors) }
        }
        // Build the cores once to check matches (node names); the real ones get the start time.
        for (i, specs) in specsByPath.enumerated() {
            _ = try DecisionCore(path: paths[i].name, specs: specs, seed: seed, nodes: nodes, start: 0, logging: false)
        }
        let log = try DecisionLogStore(path: options.decisionLogPath, memoryLimit: options.keepDecisions)
        let wakeFD = fl_eventfd(0)
        if wakeFD < 0 { log.close(); throw .system(operation: "create the monitor's eventfd", errno: Errno.current) }

        // Order: sockets bound (inside the router namespace) → rules → threads. Packets that
        // meet the rules before the threads run wait in the socket; none meets an unbound queue.
        var queues: [UInt16] = []
        for i in paths.indices {
            let (queue, overflow) = options.queueBase.addingReportingOverflow(UInt16(truncatingIfNeeded: i))
            if overflow || i > Int(UInt16.max) { throw .duplicateQueue(queue) }
            queues.append(queue)
        }
        var installed: [FirewallRule] = []
        var workers: [PathWorker] = []
        let engineBox = EngineBox()
        var handedOver = false   // once the engine exists, it cleans up itself (stop)
        func cleanup() {
            if handedOver { return }
            for rule in installed.reversed() { try? rule.remove(from: router) }
            for w in workers where w.started { w.send(.stop) }
            for w in workers where w.started { w.join() }
            for w in workers { w.discard() }
            log.close()
            close(wakeFD)
        }
        // Asked once per process, outside the router's thread (it builds a namespace of its own).
        let sendsChangedCopies = !PayloadVerdictProbe.answer.applies
        let stages = ForwardingStages(paths)
        do throws(UserspaceEngineError) {
            for (i, path) in paths.enumerated() {
                let core = try DecisionCore(path: path.name, specs: specsByPath[i], seed: seed, nodes: nodes,
                                            start: 0, logging: log.isEnabled)
                let length = options.kernelQueueLength ?? UInt32(clamping: max(65536, 2 * core.holdLimit + 4096))
                let worker = try router.run { () throws(UserspaceEngineError) -> PathWorker in
                    try PathWorker(path: path, queue: queues[i], core: core, kernelQueueLength: length,
                                   receiveBuffer: options.receiveBuffer, realtimePriority: options.realtimePriority, cpu: options.cpu, log: log.isEnabled ? log : nil,
                                   sendsChangedCopies: sendsChangedCopies, releaseTiming: options.releaseTiming,
                                   pass: stages.pass(i), onExit: { worker, failure in engineBox.engine?.workerExited(worker, failure: failure) })
                }
                workers.append(worker)
            }
            // The rules: from here on packets queue (and wait in the socket until the threads run).
            for (i, path) in paths.enumerated() {
                for v6 in options.ipv6 ? [false, true] : [false] {
                    let rule = FirewallRule(ipv6: v6, inInterface: path.inInterface, outInterface: path.outInterface,
                                            queue: queues[i], mark: injectMark, passedBit: stages.passedBit(i))
                    try rule.install(in: router)
                    installed.append(rule)
                }
            }
            let start = fl_monotonic_ns()
            for worker in workers {
                try router.run { () throws(UserspaceEngineError) in try worker.start(startTime: start) }
            }
            let engine = UserspaceEngine(startTime: start, paths: paths, seed: seed, router: router, workers: workers,
                                         rules: installed, placementIndex: index, log: log, options: options, monitorWake: wakeFD)
            engineBox.engine = engine
            handedOver = true
            log.writeHeader("\(DecisionLog.header) seed=\(seed)\n")
            do {
                try router.run { () throws(UserspaceEngineError) in try engine.startMonitor() }
            } catch {
                engine.stop()   // the engine owns the rules and threads now
                throw error
            }
            return engine
        } catch {
            cleanup()
            throw error
        }
    }

    /// Starts the engine for `specs` on `network`, resolving each spec's link direction through
    /// `router` and letting matches name the network's nodes.
    public static func start(network: Network, router: String = "router", specs: [ImpairmentSpec], seed: UInt64,
                             options: Options = Options()) throws(UserspaceEngineError) -> UserspaceEngine {
        var placements: [Placement] = []
        for spec in specs {
            placements.append(Placement(path: try ForwardingPath.resolve(spec.link, router: router, in: network), spec: spec))
        }
        let namespace: NetworkNamespace
        do {
            namespace = try network.namespace(router)
        } catch {
            throw .notOnForwardingPath(link: specs.first?.link ?? LinkDirection(from: router, to: "?"), reason: error.description)
        }
        return try start(router: namespace, placements: placements, seed: seed, nodes: nodeAddresses(of: network), options: options)
    }

    /// Every node's addresses (as host prefixes), for matches that name nodes.
    public static func nodeAddresses(of network: Network) -> [String: [IPPrefix]] {
        var result: [String: [IPPrefix]] = [:]
        for link in network.topology.links {
            for end in [link.a, link.b] {
                for address in end.addresses {
                    result[end.node, default: []].append(IPPrefix(host: address.address))
                }
            }
        }
        return result
    }

    private init(startTime: UInt64, paths: [ForwardingPath], seed: UInt64, router: NetworkNamespace, workers: [PathWorker],
                 rules: [FirewallRule], placementIndex: [(worker: Int, spec: Int)], log: DecisionLogStore,
                 options: Options, monitorWake: Int32) {
        self.startTime = startTime
        self.paths = paths
        self.seed = seed
        self.router = router
        self.workers = workers
        self.rules = rules
        self.placementIndex = placementIndex
        self.log = log
        self.options = options
        self.monitorWake = monitorWake
        if options.keepCPUsAwake, let fd = CPUWakeupLatencyRequest.hold() {
            wakeupLatencyFD.withLock { $0 = fd }
        }
    }

    /// True while the engine holds idle CPUs awake (`Options.keepCPUsAwake` and the kernel agreed).
    public var holdsCPUsAwake: Bool { wakeupLatencyFD.withLock { $0 >= 0 } }

    deinit { stop() }

    // MARK: owner's API

    /// The failure that stopped the engine, if it failed (poll it, or use `Options.onFailure`).
    public var failure: UserspaceEngineFailure? { state.withLock { $0.failure } }

    /// Where the decision log is written, if anywhere.
    public var decisionLogPath: String? { options.decisionLogPath }

    /// Decisions kept in memory (`Options.keepDecisions`), in decision order per direction.
    public var decisions: [(path: String, event: DecisionEvent)] { log?.events ?? [] }

    /// Per direction: decisions, verdict and batching counters, held packets, the kernel queue's
    /// own counters (packets it dropped because the queue or our socket buffer was full).
    public var stats: [UserspacePathStats] {
        let kernel = state.withLock { $0.kernelQueues }
        return workers.map { w in
            let s = w.status.withLock { $0 }
            return UserspacePathStats(path: w.path, queue: w.queueNumber, decisions: s.decisions, held: s.held,
                                      receiveCalls: s.receiveCalls, messagesReceived: s.messagesReceived,
                                      singleVerdicts: s.singleVerdicts, batchVerdicts: s.batchVerdicts,
                                      verdictSends: s.verdictSends, kernelErrors: s.kernelErrors, lastKernelError: s.lastKernelError,
                                      injected: s.injected, injectFailures: s.injectFailures,
                                      appliedChanges: s.appliedChanges.map {
                                          .init(placement: placementNumber(worker: w, spec: $0.spec), scheduleIndex: $0.scheduleIndex,
                                                due: $0.due, applied: $0.applied)
                                      },
                                      kernelQueue: kernel[w.queueNumber], realtime: s.realtime,
                                      kernelTimestamps: s.kernelTimestamps, wakeups: s.wakeups, helperPasses: s.helperPasses)
        }
    }

    private func placementNumber(worker: PathWorker, spec: Int) -> Int {
        guard let w = workers.firstIndex(where: { $0 === worker }) else { return -1 }
        return placementIndex.firstIndex { $0.worker == w && $0.spec == spec } ?? -1
    }

    /// Changes placement `placement`'s parameters now (`tc qdisc change`): random streams, match
    /// counters and held packets carry on. The change is logged in the decision log.
    public func update(placement: Int, parameters: ImpairmentParameters) throws(UserspaceEngineError) {
        guard placementIndex.indices.contains(placement) else {
            throw .notRunning("there is no placement \(placement) (the engine has \(placementIndex.count))")
        }
        let issues = parameters.validate(at: "").filter { $0.severity == .error }
        if !issues.isEmpty { throw .invalidSpec(placement: placement, issues: issues) }
        if let failure { throw .notRunning(failure.description) }
        if state.withLock({ $0.stopping }) { throw .notRunning("it was stopped") }
        let (w, s) = placementIndex[placement]
        workers[w].send(.setParameters(spec: s, parameters))
    }

    /// Removes the rules (traffic flows unimpaired from here on), passes every packet still held
    /// or queued, stops the threads and closes everything. Idempotent.
    public func stop() {
        let first = state.withLock { s -> Bool in
            if s.stopping { return false }
            s.stopping = true
            return true
        }
        guard first else { return }
        for rule in rules.reversed() { try? rule.remove(from: router) }
        for worker in workers where !worker.status.withLock({ $0.exited }) { worker.send(.stop) }
        for worker in workers where !worker.isCurrentThread { worker.join() }
        // (A worker that called stop() from its own failure callback exits right after.)
        var one: UInt64 = 1
        _ = write(monitorWake, &one, 8)
        if state.withLock({ $0.monitorRunning }) && pthread_equal(pthread_self(), monitorThread) == 0 {
            pthread_join(monitorThread, nil)
        }
        close(monitorWake)
        log?.close()
        wakeupLatencyFD.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
        state.withLock { $0.stopped = true }
    }

    /// Test hook: makes direction `path`'s thread close its queue socket and vanish, as a crashed
    /// engine would. The rules stay: the kernel then drops that direction's packets, and the
    /// monitor reports the failure.
    public func simulateCrash(path: Int) {
        guard workers.indices.contains(path) else { return }
        workers[path].send(.crash)
    }

    // MARK: failure detection

    fileprivate func workerExited(_ worker: PathWorker, failure: String?) {
        if let failure { report(path: worker.path.name, reason: failure) }
    }

    private func report(path: String, reason: String) {
        let failure = UserspaceEngineFailure(path: path, reason: reason, monotonicNanoseconds: fl_monotonic_ns())
        let notify = state.withLock { s -> Bool in
            if s.stopping || s.notified { return false }
            s.failure = failure
            s.notified = true
            return true
        }
        if notify { options.onFailure?(failure) }
    }

    private func startMonitor() throws(UserspaceEngineError) {
        let context = MonitorContext(engine: self)
        state.withLock { $0.monitorRunning = true }
        do throws(Errno) {
            monitorThread = try PosixThread.start { context.engine?.monitor() }.handle
        } catch {
            state.withLock { $0.monitorRunning = false }
            throw .system(operation: "start the engine's monitor thread", errno: error)
        }
    }

    private final class MonitorContext {
        weak var engine: UserspaceEngine?
        init(engine: UserspaceEngine) { self.engine = engine }
    }

    /// Runs inside the router namespace: every 50 ms, checks that each queue is still bound in
    /// the kernel (/proc/thread-self/net/netfilter/nfnetlink_queue) and each thread alive.
    private func monitor() {
        _ = fl_prctl_set_name("fl-impair-mon")
        var signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE]
        _ = fl_block_signals(&signals, Int32(signals.count))
        var fds = [pollfd(fd: monitorWake, events: Int16(POLLIN), revents: 0)]
        while true {
            _ = poll(&fds, 1, 50)
            if state.withLock({ $0.stopping }) { return }
            let queues = KernelQueueStats.read()
            if let queues { state.withLock { $0.kernelQueues = queues } }
            if state.withLock({ $0.stopping || $0.notified }) { continue }
            for worker in workers {
                let (exited, failure) = worker.status.withLock { ($0.exited, $0.failure) }
                if let queues, queues[worker.queueNumber] == nil {
                    report(path: worker.path.name, reason: failure ?? "NFQUEUE \(worker.queueNumber) is no longer bound in the kernel (the engine's socket was closed or its thread died)")
                } else if exited {
                    report(path: worker.path.name, reason: failure ?? "the engine thread exited")
                }
            }
        }
    }
}

/// Lets a worker reach the engine that owns it (the engine exists only after the workers do).
private final class EngineBox: @unchecked Sendable {
    weak var engine: UserspaceEngine?
}

/// One direction's counters.
public struct UserspacePathStats: Sendable, CustomStringConvertible {
    public struct AppliedChange: Sendable, Hashable {
        /// The placement (index in `start`'s placements) whose schedule it was.
        public var placement: Int
        public var scheduleIndex: Int
        /// Monotonic ns: when it was due, when the engine applied it.
        public var due: UInt64
        public var applied: UInt64
    }

    public var path: UserspaceEngine.ForwardingPath
    public var queue: UInt16
    public var decisions: DecisionCounters
    /// Packets held right now (waiting for their time).
    public var held: Int
    public var receiveCalls: UInt64
    public var messagesReceived: UInt64
    public var singleVerdicts: UInt64
    public var batchVerdicts: UInt64
    public var verdictSends: UInt64
    /// Errors the kernel returned for our verdicts (e.g. an unknown packet id).
    public var kernelErrors: UInt64
    public var lastKernelError: Int32
    public var injected: UInt64
    public var injectFailures: UInt64
    public var appliedChanges: [AppliedChange]
    /// The kernel's view of the queue (nil before the monitor's first look).
    public var kernelQueue: KernelQueueStats?
    /// Whether the thread runs SCHED_FIFO (nil: not asked).
    public var realtime: Bool?
    /// Packets timed from the kernel's arrival timestamp (the rest from our receive time).
    public var kernelTimestamps: UInt64
    /// How often the direction's thread woke up (arrivals, release timers, control).
    public var wakeups: UInt64
    /// Passes in which a release helper thread let held packets go (nil: no helpers —
    /// SCHED_FIFO, one CPU, or `ReleaseTiming.singleWaiter`).
    public var helperPasses: UInt64? = nil

    public var description: String {
        var text = "\(path.name) queue \(queue): \(decisions.packets) packets, \(decisions.accepted) accepted, \(decisions.dropped) dropped"
        text += " (loss \(decisions.droppedByLoss), limit \(decisions.droppedByLimit), action \(decisions.droppedByAction))"
        text += ", \(decisions.delayed) delayed, \(decisions.reordered) reordered, \(decisions.corrupted) corrupted, \(decisions.duplicated) duplicated"
        text += "; \(held) held (max \(decisions.maxHeld)); verdicts: \(batchVerdicts) batch + \(singleVerdicts) single in \(verdictSends) sends"
        text += "; \(messagesReceived) received in \(receiveCalls) recvmmsg calls, \(wakeups) wakeups"
        if let helperPasses { text += " (+ \(helperPasses) helper passes)" }
        if let k = kernelQueue { text += "; kernel: \(k.queued) queued, \(k.queueDropped) dropped (queue full), \(k.userDropped) dropped (socket full)" }
        if kernelErrors > 0 { text += "; \(kernelErrors) verdict errors (last \(Errno(lastKernelError).name))" }
        return text
    }
}

/// A line of /proc/net/netfilter/nfnetlink_queue.
public struct KernelQueueStats: Sendable, Hashable {
    public var queue: UInt16
    public var portID: UInt32
    /// Packets waiting for a verdict right now.
    public var queued: UInt32
    public var copyRange: UInt32
    /// Dropped because the queue was at its maximum length.
    public var queueDropped: UInt32
    /// Dropped because our socket's receive buffer was full.
    public var userDropped: UInt32
    public var lastID: UInt32

    /// The queues bound in the calling thread's namespace (nil if the file cannot be read).
    public static func read() -> [UInt16: KernelQueueStats]? {
        guard let text = DecisionLog.read("/proc/thread-self/net/netfilter/nfnetlink_queue") else { return nil }
        var result: [UInt16: KernelQueueStats] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ").compactMap { UInt32($0) }
            guard f.count >= 8, let q = UInt16(exactly: f[0]) else { continue }
            result[q] = KernelQueueStats(queue: q, portID: f[1], queued: f[2], copyRange: f[4], queueDropped: f[5],
                                         userDropped: f[6], lastID: f[7])
        }
        return result
    }
}
