import Values
import CLinux
import Glibc
import Netlink
import Synchronization

/// The I/O side of one forwarding direction: a thread (created inside the router namespace) that
/// receives queued packets in batches (recvmmsg), asks the `DecisionCore`, answers with batched
/// verdicts, releases held packets when the timerfd fires, and injects duplicates.
///
/// The thread owns the socket, the core and the buffers; other threads talk to it only through
/// `mailbox` + the control eventfd, and read `status` (updated once per loop).
final class PathWorker: @unchecked Sendable {
    enum Control: Sendable {
        case setParameters(spec: Int, ImpairmentParameters)
        /// Pass everything still queued or held, unbind, exit.
        case stop
        /// Test hook: close the queue socket and vanish without a word, as a crashed engine would.
        case crash
    }

    struct Status: Sendable {
        var decisions = DecisionCounters()
        var held = 0
        var receiveCalls: UInt64 = 0
        var messagesReceived: UInt64 = 0
        var singleVerdicts: UInt64 = 0
        var batchVerdicts: UInt64 = 0
        var verdictSends: UInt64 = 0
        var kernelErrors: UInt64 = 0
        var lastKernelError: Int32 = 0
        var injected: UInt64 = 0
        var injectFailures: UInt64 = 0
        var appliedChanges: [DecisionCore.AppliedChange] = []
        var exited = false
        var failure: String?
        /// The thread runs SCHED_FIFO (nil: not asked; false: refused).
        var realtime: Bool?
        /// Packets whose arrival time came from the kernel's timestamp (else: our receive time).
        var kernelTimestamps: UInt64 = 0
        /// Times the thread woke up (poll returned).
        var wakeups: UInt64 = 0
        /// Passes in which a helper thread released held packets (`ReleaseHelpers`); nil: no
        /// helpers (SCHED_FIFO, one CPU, or `ReleaseTiming.singleWaiter`).
        var helperPasses: UInt64?
    }

    let path: UserspaceEngine.ForwardingPath
    let queueNumber: UInt16
    private let socket: NFQueueSocket
    private let injector: RawInjector
    private let timerFD: Int32
    private let controlFD: Int32
    private var core: DecisionCore
    private let writer: VerdictWriter
    private var outstanding = OutstandingPackets()
    private let log: DecisionLogStore?
    private let kernelQueueLength: UInt32
    private var wholePackets: Bool
    private let realtimePriority: Int32?
    private let cpu: Int32?
    /// Held open so the kernel timestamps every received packet (netstamp_needed): the queued
    /// packets then carry their arrival time at the router (NFQA_TIMESTAMP), and delays count
    /// from there, not from when this thread got around to reading them.
    private let timestampSocket: Int32
    private var kernelTimestamps: UInt64 = 0
    private var wakeups: UInt64 = 0
    /// Changed packets leave as copies through the raw socket, the originals dropped: where the
    /// kernel drops packets changed in a verdict (`PayloadVerdictProbe`: in a user namespace).
    private let sendsChangedCopies: Bool
    /// A verdict send that failed while a changed copy was sent (reported by `flushVerdicts`).
    private var failedSendErrno: Int32 = 0
    /// Without SCHED_FIFO, threads on the other CPUs that release held packets when this one is
    /// late (`ReleaseHelpers`: why, with the measured figures); they share this worker's state
    /// under their lock.
    private let releaseTiming: ReleaseTiming
    private var helpers: ReleaseHelpers?
    private var helperPasses: UInt64 = 0

    private let batchSize = 64
    private let bufferSize = 65536 + 1024
    private let buffers: UnsafeMutableRawPointer
    private var bufferPointers: [UnsafeMutableRawPointer?]
    private var lengths: [Int32]
    private var armedAt: UInt64 = 0
    /// Interrupt moderation: after a batch of arrivals, the socket is left alone until this time,
    /// so the next read finds a batch rather than one packet (each wakeup costs a context switch,
    /// which dominated the per-packet cost when the engine woke per packet).
    private var socketMutedUntil: UInt64 = 0
    private var coalescing: UInt64 = 0

    let mailbox = Mutex<[Control]>([])
    let status = Mutex<Status>(Status())
    private var thread: PosixThread?
    private let onExit: @Sendable (PathWorker, String?) -> Void

    /// Opens everything on the calling thread, which must be inside the router namespace.
    init(path: UserspaceEngine.ForwardingPath, queue: UInt16, core: DecisionCore, kernelQueueLength: UInt32,
         receiveBuffer: Int32, realtimePriority: Int32?, cpu: Int32?, log: DecisionLogStore?, sendsChangedCopies: Bool = false,
         releaseTiming: ReleaseTiming = .singleWaiter, pass: ForwardingStages.Pass = .accept,
         onExit: @escaping @Sendable (PathWorker, String?) -> Void)
        throws(UserspaceEngineError) {
        self.path = path
        self.sendsChangedCopies = sendsChangedCopies
        self.releaseTiming = releaseTiming
        self.queueNumber = queue
        self.core = core
        self.log = log
        self.onExit = onExit
        self.kernelQueueLength = kernelQueueLength
        self.wholePackets = core.needsWholePackets
        self.realtimePriority = realtimePriority
        self.cpu = cpu
        socket = try NFQueueSocket(queue: queue, copyRange: wholePackets ? 0xffff : 128,
                                   maxLength: kernelQueueLength, receiveBuffer: receiveBuffer)
        do {
            injector = try RawInjector(mark: UserspaceEngine.injectMark)
        } catch {
            socket.close()
            throw error
        }
        timerFD = fl_timerfd_create_monotonic()
        controlFD = fl_eventfd(0)
        if timerFD < 0 || controlFD < 0 {
            let e = Errno.current
            socket.close(); injector.close()
            if timerFD >= 0 { close(timerFD) }
            if controlFD >= 0 { close(controlFD) }
            throw .system(operation: "create the engine's timerfd/eventfd", errno: e)
        }
        writer = VerdictWriter(queue: queue, pass: pass)
        timestampSocket = fl_socket_dgram(AF_INET)
        if timestampSocket >= 0 { _ = fl_enable_rx_timestamps_ns(timestampSocket) }
        buffers = UnsafeMutableRawPointer.allocate(byteCount: batchSize * bufferSize, alignment: 16)
        bufferPointers = (0..<batchSize).map { [buffers, bufferSize] in buffers + $0 * bufferSize }
        lengths = [Int32](repeating: 0, count: batchSize)
    }

    deinit {
        buffers.deallocate()
    }

    private(set) var started = false

    /// Starts the thread, with time 0 of the schedules at `startTime`. Call inside the router
    /// namespace: the thread inherits it.
    func start(startTime: UInt64) throws(UserspaceEngineError) {
        core.rebase(start: startTime)
        do {
            thread = try PosixThread.start { [self] in main() }
        } catch {
            throw .system(operation: "start the engine thread for \(path.name)", errno: error)
        }
        started = true
    }

    /// Closes everything of a worker whose thread never started.
    func discard() {
        if !started {
            closeDescriptors()
            closeControl()
        }
    }

    func send(_ control: Control) {
        mailbox.withLock { $0.append(control) }
        controlClosed.withLock { closed in
            if !closed {
                var one: UInt64 = 1
                _ = write(controlFD, &one, 8)
            }
        }
    }

    /// Waits for the thread, then closes the control eventfd (other threads write to it, so it
    /// stays open until nobody can).
    func join() {
        let first = joined.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first && started { thread?.join() }
        closeControl()
    }

    private let joined = Mutex<Bool>(false)

    private let controlClosed = Mutex<Bool>(false)

    private func closeControl() {
        let close = controlClosed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        if close { Glibc.close(controlFD) }
    }

    var isCurrentThread: Bool { thread.map { pthread_equal(pthread_self(), $0.handle) != 0 } ?? false }

    // MARK: the thread

    /// The slice asked for when SCHED_FIFO is refused: the kernel's minimum (0.1 ms).
    static let shortSliceNanoseconds: UInt64 = 100_000

    private func main() {
        _ = fl_prctl_set_name("fl-impair")
        _ = fl_prctl_set_timerslack_ns(1)
        var signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE]
        _ = fl_block_signals(&signals, Int32(signals.count))
        if let cpu { _ = fl_set_thread_cpu(cpu) }
        if let priority = realtimePriority {
            let ok = fl_set_thread_fifo(priority) == 0
            status.withLock { $0.realtime = ok }
            // Refused (rootless, or no CAP_SYS_NICE): the next best a user may ask for, a short
            // EEVDF slice, so a timer wakeup preempts a busy task on this CPU sooner.
            if !ok { _ = fl_set_thread_slice_ns(Self.shortSliceNanoseconds) }
        }
        if status.withLock({ $0.realtime }) != true && releaseTiming.helpers > 0 {
            helpers = ReleaseHelpers.start(cpus: ReleaseHelpers.cpus(count: releaseTiming.helpers, own: cpu),
                                           grace: releaseTiming.grace) { [unowned self] in self.helperPass() }
            if helpers != nil { status.withLock { $0.helperPasses = 0 } }
        }
        let failure = loop()
        helpers?.unlock()   // every way out of the loop has it held (the helpers were stopped there)
        status.withLock {
            $0.exited = true
            if let failure { $0.failure = failure }
        }
        onExit(self, failure)
    }

    private enum Outcome { case keepGoing, stop, crash }

    /// Runs until stopped; returns a failure description if it had to give up.
    private func loop() -> String? {
        var fds = [pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: timerFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: controlFD, events: Int16(POLLIN), revents: 0)]
        updateCoalescing()
        helpers?.lock()   // held while this thread works, let go while it waits
        while true {
            let muted = socketMutedUntil > fl_monotonic_ns()
            fds[0].fd = muted ? -1 : socket.fd
            fds[0].revents = 0
            helpers?.unlock()
            let rc = poll(&fds, 3, -1)
            helpers?.lock()
            wakeups &+= 1
            if rc < 0 {
                if errno == EINTR { continue }
                let e = Errno.current
                closeDescriptors()
                return "poll failed: \(e)"
            }
            if fds[2].revents != 0 {
                var count: UInt64 = 0
                _ = read(controlFD, &count, 8)
                switch handleControl() {
                case .keepGoing: break
                case .stop:
                    finish()
                    return nil
                case .crash:
                    socket.close()
                    closeOthers()
                    return nil
                }
            }
            if fds[1].revents != 0 {
                var expirations: UInt64 = 0
                _ = read(timerFD, &expirations, 8)
            }
            if fds[0].revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 && fds[0].revents & Int16(POLLIN) == 0 {
                closeDescriptors()
                return "the NFQUEUE socket reported an error (poll revents \(fds[0].revents))"
            }
            if fds[0].revents & Int16(POLLIN) != 0 {
                if let failure = receive() {
                    closeDescriptors()
                    return failure
                }
                if coalescing < 200_000 { updateCoalescing() }
                socketMutedUntil = fl_monotonic_ns() &+ coalescing
            }
            var sink = Sink(worker: self)
            core.release(now: fl_monotonic_ns(), sink: &sink)
            if let failure = flushVerdicts() {
                closeDescriptors()
                return failure
            }
            armTimer()
            publish()
        }
    }

    private func handleControl() -> Outcome {
        let controls = mailbox.withLock { queued -> [Control] in
            defer { queued.removeAll() }
            return queued
        }
        for control in controls {
            switch control {
            case .setParameters(let spec, let parameters):
                core.setParameters(parameters, spec: spec)
                updateCoalescing()
                if !wholePackets && (parameters.corrupt != nil || parameters.duplicate != nil || parameters.ecn == true) {
                    wholePackets = true
                    try? socket.configure(copyRange: 0xffff, maxLength: kernelQueueLength, waitForAck: false)
                }
            case .stop:
                return .stop
            case .crash:
                return .crash
            }
        }
        return .keepGoing
    }

    /// Receives queued packets in batches until the socket is empty (or 16 batches, so held
    /// packets never wait long behind a flood). Returns a failure description, or nil.
    private func receive() -> String? {
        for _ in 0..<16 {
            let n = bufferPointers.withUnsafeBufferPointer { pointers in
                lengths.withUnsafeMutableBufferPointer { lens in
                    fl_recvmmsg_buffers(socket.fd, pointers.baseAddress, bufferSize, UInt32(batchSize), lens.baseAddress, nil,
                                        Int32(MSG_DONTWAIT))
                }
            }
            if n < 0 {
                switch errno {
                case EAGAIN, EWOULDBLOCK: return nil
                case EINTR: continue
                case ENOBUFS: continue   // the kernel dropped messages for us; the ids will show the gap
                default: return "receiving from NFQUEUE \(queueNumber) failed: \(Errno.current)"
                }
            }
            status.withLock { $0.receiveCalls &+= 1; $0.messagesReceived &+= UInt64(n) }
            let realtime = fl_realtime_ns()
            let now = fl_monotonic_ns()
            let offset = realtime &- now
            var sink = Sink(worker: self)
            core.release(now: now, sink: &sink)
            for i in 0..<Int(n) {
                let length = min(Int(lengths[i]), bufferSize)
                handleDatagram(UnsafeMutableRawBufferPointer(start: buffers + i * bufferSize, count: length), now: now,
                               realtimeOffset: offset)
            }
            if let failure = flushVerdicts() { return failure }
            if Int(n) < batchSize { return nil }
        }
        return nil
    }

    /// One netlink datagram: normally one queued packet; also acks and errors.
    private func handleDatagram(_ data: UnsafeMutableRawBufferPointer, now: UInt64, realtimeOffset: UInt64) {
        for message in NetlinkMessages(UnsafeRawBufferPointer(data)[...]) {
            if message.type == NFQ.messagePacket {
                var id: UInt32?
                var payload: UnsafeMutableRawBufferPointer?
                var arrival = now
                var fromEarlierStage = false
                // After the nfgenmsg (family, version, queue number: 4 bytes).
                for attribute in NetlinkAttributes(message.payload.dropFirst(NFQ.familyHeaderLength)) {
                    switch attribute.type {
                    case NFQ.attrPacketHeader:
                        // struct nfqnl_msg_packet_hdr: be32 packet_id, be16 hw_protocol, u8 hook
                        if let packetID = attribute.be32 { id = packetID }
                    case NFQ.attrTimestamp:
                        // struct nfqnl_msg_packet_timestamp: be64 sec, be64 usec (CLOCK_REALTIME)
                        if let seconds = attribute.be64(at: 0), let microseconds = attribute.be64(at: 8) {
                            let realtime = seconds &* 1_000_000_000 &+ microseconds &* 1_000
                            let monotonic = realtime &- realtimeOffset
                            if monotonic <= now && now &- monotonic < 10_000_000_000 {
                                arrival = monotonic
                                kernelTimestamps &+= 1
                            }
                        }
                    case NFQ.attrPayload:
                        payload = UnsafeMutableRawBufferPointer(rebasing: data[attribute.payload.startIndex..<attribute.payload.endIndex])
                    case NFQ.attrMark:
                        if let mark = attribute.be32 { fromEarlierStage = ForwardingStages.passedAny(mark) }
                    default:
                        break
                    }
                }
                // A packet an earlier stage on this router let through arrives here when that
                // stage released it; the kernel's stamp is its arrival at the router (a second
                // netem qdisc, too, counts its delay from its own enqueue).
                if fromEarlierStage { arrival = now }
                if let id {
                    outstanding.arrived(id)
                    var sink = Sink(worker: self)
                    if let payload {
                        core.arrive(id: id, packet: payload, now: arrival, sink: &sink)
                    } else {
                        sink.verdict(id: id, accept: true, payload: nil)
                    }
                }
            } else if let code = message.errorCode, code != 0 {
                status.withLock { $0.kernelErrors &+= 1; $0.lastKernelError = -code }
            }
        }
    }

    private func flushVerdicts() -> String? {
        outstanding.flush(into: writer, fd: socket.fd)
        if !writer.flush(fd: socket.fd) || failedSendErrno != 0 {
            return "sending verdicts to NFQUEUE \(queueNumber) failed: \(Errno(failedSendErrno != 0 ? failedSendErrno : writer.lastSendError))"
        }
        return nil
    }

    /// A changed packet where the kernel would drop it (`sendsChangedCopies`): the verdicts
    /// decided before it go first (its flow's earlier packets stay ahead), then the changed copy
    /// through the raw socket, and the original is dropped.
    private func sendChangedCopy(id: UInt32, payload: UnsafeRawBufferPointer) {
        outstanding.flush(into: writer, fd: socket.fd)
        if !writer.flush(fd: socket.fd) { failedSendErrno = writer.lastSendError }
        injector.send(Array(payload))
        if outstanding.decided(id, accept: false, single: false) {
            writer.append(id: id, accept: false, batch: false, payload: nil, fd: socket.fd)
        }
    }

    /// 200 µs when every packet is held at least 2 ms (reading later costs no precision: arrival
    /// times are the kernel's), else 25 µs (at most that much latency, and only under load).
    /// (Only once the kernel's timestamps are seen.)
    private func updateCoalescing() {
        coalescing = core.guaranteedDelay >= 2_000_000 && kernelTimestamps > 0 ? 200_000 : 25_000
    }

    private func armTimer() {
        helpers?.arm(core.nextWakeup)
        var wake = core.nextWakeup
        if socketMutedUntil > 0 {
            let now = fl_monotonic_ns()
            if socketMutedUntil > now { wake = min(wake ?? socketMutedUntil, socketMutedUntil) } else { socketMutedUntil = 0 }
        }
        guard let next = wake else { return }
        if next != armedAt || armedAt <= fl_monotonic_ns() {
            _ = fl_timerfd_set_abs_ns(timerFD, next)
            armedAt = next
        }
    }

    /// A helper's pass (with the lock held): what is due leaves, the helpers' timers are set
    /// for the next. This thread's own timer and muted socket are left as they are: it is on its
    /// way (its timer fired) and takes its pass when it runs.
    private func helperPass() {
        var sink = Sink(worker: self)
        let held = core.heldCount
        core.release(now: fl_monotonic_ns(), sink: &sink)
        if core.heldCount < held { helperPasses &+= 1 }
        if flushVerdicts() != nil {
            // This thread reports it (its next pass fails the same way).
            if failedSendErrno == 0 { failedSendErrno = writer.lastSendError }
            var one: UInt64 = 1
            _ = write(controlFD, &one, 8)
        }
        helpers?.arm(core.nextWakeup)
        publish()
    }

    private func publish() {
        let events = core.logging ? core.drainEvents() : []
        if let log, !events.isEmpty { log.append(events, path: path.name) }
        let counters = core.counters
        let held = core.heldCount
        let changes = core.appliedChanges
        status.withLock {
            $0.decisions = counters
            $0.held = held
            $0.singleVerdicts = writer.singleVerdicts
            $0.batchVerdicts = writer.batchVerdicts
            $0.verdictSends = writer.sends
            $0.injected = injector.sent
            $0.injectFailures = injector.failures
            $0.kernelTimestamps = kernelTimestamps
            $0.wakeups = wakeups
            if helpers != nil { $0.helperPasses = helperPasses }
            if $0.appliedChanges.count != changes.count { $0.appliedChanges = changes }
        }
    }

    /// Stop: pass whatever is still queued (the rules are already gone), release everything
    /// held, unbind, close.
    private func finish() {
        var sink = Sink(worker: self)
        for _ in 0..<64 {
            let n = bufferPointers.withUnsafeBufferPointer { pointers in
                lengths.withUnsafeMutableBufferPointer { lens in
                    fl_recvmmsg_buffers(socket.fd, pointers.baseAddress, bufferSize, UInt32(batchSize), lens.baseAddress, nil,
                                        Int32(MSG_DONTWAIT))
                }
            }
            if n <= 0 { break }
            let now = fl_monotonic_ns()
            for i in 0..<Int(n) {
                handleDatagram(UnsafeMutableRawBufferPointer(start: buffers + i * bufferSize,
                                                             count: min(Int(lengths[i]), bufferSize)), now: now,
                               realtimeOffset: fl_realtime_ns() &- now)
            }
        }
        core.releaseAll(sink: &sink)
        _ = flushVerdicts()
        publish()
        socket.unbind()
        closeDescriptors()
    }

    private func closeDescriptors() {
        socket.close()
        closeOthers()
    }

    private func closeOthers() {
        helpers?.stop()
        if timestampSocket >= 0 { close(timestampSocket) }
        injector.close()
        close(timerFD)
    }

    /// The core's actions, executed: verdicts through the batching tracker, copies through the
    /// raw socket.
    private struct Sink: DecisionSink {
        let worker: PathWorker

        @inline(__always)
        mutating func verdict(id: UInt32, accept: Bool, payload: UnsafeRawBufferPointer?) {
            if accept, let payload, worker.sendsChangedCopies {
                worker.sendChangedCopy(id: id, payload: payload)
                return
            }
            if worker.outstanding.decided(id, accept: accept, single: payload != nil) {
                worker.writer.append(id: id, accept: accept, batch: false, payload: payload, fd: worker.socket.fd)
            }
        }

        mutating func inject(_ packet: [UInt8], version: UInt8) {
            worker.injector.send(packet)
        }
    }
}

/// Where decision lines go: a file (appended by every direction's thread, one write per batch)
/// and/or memory (up to a limit).
final class DecisionLogStore: @unchecked Sendable {
    private let fd: Int32
    private let memoryLimit: Int
    private let memory = Mutex<[(path: String, event: DecisionEvent)]>([])
    /// Held while writing; true once closed (a late writer must not hit a reused descriptor).
    private let closed = Mutex<Bool>(false)
    let path: String?

    init(path: String?, memoryLimit: Int) throws(UserspaceEngineError) {
        self.path = path
        self.memoryLimit = memoryLimit
        if let path {
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 { throw .system(operation: "create the decision log \(path)", errno: Errno.current) }
        } else {
            fd = -1
        }
    }

    var isEnabled: Bool { fd >= 0 || memoryLimit > 0 }

    func writeHeader(_ text: String) {
        guard fd >= 0 else { return }
        writeAll(text)
    }

    func append(_ events: [DecisionEvent], path name: String) {
        if fd >= 0 {
            var text = ""
            text.reserveCapacity(events.count * 100)
            for event in events {
                text += event.line(path: name)
                text += "\n"
            }
            writeAll(text)
        }
        if memoryLimit > 0 {
            memory.withLock { stored in
                for event in events where stored.count < memoryLimit { stored.append((name, event)) }
            }
        }
    }

    var events: [(path: String, event: DecisionEvent)] { memory.withLock { $0 } }

    private func writeAll(_ text: String) {
        var text = text
        closed.withLock { isClosed in
            if isClosed { return }
            text.withUTF8 { bytes in
                guard let base = bytes.baseAddress else { return }
                var offset = 0
                while offset < bytes.count {
                    let n = write(fd, base + offset, bytes.count - offset)
                    if n < 0 { if errno == EINTR { continue }; return }
                    offset += n
                }
            }
        }
    }

    func close() {
        closed.withLock { isClosed in
            if !isClosed && fd >= 0 { Glibc.close(fd) }
            isClosed = true
        }
    }
}
