import Values
import CLinux
import CPcap
import Glibc
import Netlink

/// One capture point: its handle, its file and the thread that moves packets from one to the other.
///
/// The thread polls the handle's descriptor and the shared stop eventfd. Each wakeup drains every
/// packet the ring holds into one buffer of pcapng blocks and writes it with write(2), so the file
/// on disk is never more than one batch behind the kernel. On stop it drains once more, asks
/// libpcap for its counters, appends an Interface Statistics Block, and writes the sidecar.
final class CaptureWorker: @unchecked Sendable {
    let point: CapturePoint
    private let handle: PcapHandle
    private let stopFD: Int32
    private let fileFD: Int32
    private let sidecarPath: String
    private var thread = pthread_t()
    private var threadStarted = false
    private var encoder = PcapngEncoder(reserving: 1 << 20)
    /// The first zero window this point sees (for `after: zero-window` steps).
    let zeroWindow: ZeroWindowWatch

    // Counters: written by the capture thread; read under `mutex` by snapshot().
    private var mutex = pthread_mutex_t()
    private var stats: CaptureStats
    private var finished = false
    /// Test hook: while true the thread does not read the handle, so the kernel ring fills.
    private var paused = false

    /// Packets per pcap_dispatch: with -1 it returns only once the ring is empty, so a sender
    /// faster than the writer would keep one call (and its unwritten batch) growing for ever.
    private static let packetsPerDispatch: Int32 = 512
    /// How often the sidecar and libpcap's counters are refreshed while running.
    private static let sidecarInterval: UInt64 = 1_000_000_000

    init(point: CapturePoint, handle: PcapHandle, stopFD: Int32, filter: String?, bufferSize: Int,
         openedNanoseconds: Int64 = Int64(bitPattern: fl_realtime_ns())) throws(PacketCaptureError) {
        self.point = point
        self.handle = handle
        self.stopFD = stopFD
        self.sidecarPath = CaptureStats.sidecarPath(for: point.file)
        self.zeroWindow = ZeroWindowWatch(linkType: Int(handle.linkType))
        pthread_mutex_init(&mutex, nil)
        let now = openedNanoseconds
        stats = CaptureStats(namespace: point.namespaceLabel, interface: point.interface, file: point.file,
                             linkType: Int(handle.linkType), snapLength: Int(handle.snapLength), bufferSize: bufferSize,
                             filter: filter, received: 0, dropped: 0, interfaceDropped: 0, packetsWritten: 0,
                             capturedBytes: 0, wireBytes: 0, fileBytes: 0, startNanoseconds: now, endNanoseconds: now,
                             complete: false, error: nil, warnings: handle.warnings)
        let fd = Glibc.open(point.file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            let error = Errno.current
            handle.close()
            throw PacketCaptureError(namespace: point.namespaceLabel, interface: point.interface, step: .openFile,
                                     errno: error, message: "", file: point.file)
        }
        fileFD = fd
        encoder.sectionHeader(application: "Faultline", os: Self.osDescription(),
                              comment: "Faultline capture at \(point.namespaceLabel):\(point.interface)")
        encoder.interfaceDescription(linkType: UInt16(truncatingIfNeeded: handle.linkType),
                                     snapLength: UInt32(truncatingIfNeeded: handle.snapLength),
                                     name: point.interface,
                                     description: "\(point.namespaceLabel):\(point.interface)",
                                     filter: filter)
        encoder.captureStart(nanoseconds: UInt64(clamping: now))
        let headerSize = UInt64(encoder.count)
        if let failure = flush() {
            close(fd)
            unlink(point.file)
            handle.close()
            throw PacketCaptureError(namespace: point.namespaceLabel, interface: point.interface, step: .writeFile,
                                     errno: failure, message: "", file: point.file)
        }
        stats.fileBytes = headerSize
        writeSidecar(stats)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    // MARK: thread

    func startThread() throws(PacketCaptureError) {
        do throws(Errno) {
            thread = try PosixThread.start { self.run() }.handle
        } catch {
            throw PacketCaptureError(namespace: point.namespaceLabel, interface: point.interface, step: .startThread,
                                     errno: error, message: "pthread_create")
        }
        threadStarted = true
    }

    /// Waits for the thread to finish (after the stop eventfd was signalled) and returns the final stats.
    func join() -> CaptureStats {
        if threadStarted {
            pthread_join(thread, nil)
            threadStarted = false
        }
        return snapshot()
    }

    /// Undoes a start that failed elsewhere: the thread (if any) is stopped by the eventfd the
    /// caller signalled; the file this point created is removed.
    func abandon() {
        if threadStarted {
            pthread_join(thread, nil)
            threadStarted = false
        } else {
            finish(error: nil, writeStatistics: false)
        }
        unlink(point.file)
        unlink(sidecarPath)
    }

    func setPaused(_ value: Bool) {
        pthread_mutex_lock(&mutex)
        paused = value
        pthread_mutex_unlock(&mutex)
    }

    private var isPaused: Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return paused
    }

    func snapshot() -> CaptureStats {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return stats
    }

    private func run() {
        // Signals belong to the process's main thread.
        var signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE]
        _ = fl_block_signals(&signals, Int32(signals.count))
        _ = fl_prctl_set_name("fl-capture")

        var fds = [pollfd(fd: handle.selectableFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)]
        var nextRefresh = fl_monotonic_ns() &+ Self.sidecarInterval
        var failure: String?
        while failure == nil {
            let now = fl_monotonic_ns()
            var waitMilliseconds = Int32(clamping: (nextRefresh > now ? nextRefresh - now : 0) / 1_000_000 + 1)
            let reading = !isPaused
            fds[0].fd = reading ? handle.selectableFD : -1  // poll ignores negative descriptors
            if !reading { waitMilliseconds = min(waitMilliseconds, 10) }
            fds[0].revents = 0
            fds[1].revents = 0
            let ready = poll(&fds, 2, waitMilliseconds)
            if ready < 0 && errno != EINTR {
                failure = "poll: \(Errno.current)"
                break
            }
            if fds[0].revents != 0 {
                failure = drain()
                let bad = Int16(POLLERR | POLLHUP | POLLNVAL)
                if failure == nil && fds[0].revents & bad != 0 && fds[0].revents & Int16(POLLIN) == 0 {
                    // libpcap consumes pending socket errors inside pcap_dispatch; if it did not
                    // report one, the descriptor is still unusable: stop instead of spinning.
                    failure = "poll reported an error condition on the capture socket (revents 0x\(String(fds[0].revents, radix: 16)))"
                }
            }
            if fds[1].revents & Int16(POLLIN) != 0 { break }
            if fl_monotonic_ns() >= nextRefresh {
                refreshCounters()
                writeSidecar(snapshot())
                nextRefresh = fl_monotonic_ns() &+ Self.sidecarInterval
            }
        }
        if failure == nil {
            // What arrived between the last wakeup and stop.
            failure = drain()
        }
        finish(error: failure, writeStatistics: true)
    }

    // MARK: packets

    private static let callback: pcap_handler = { user, header, data in
        guard let user, let header, let data else { return }
        let worker = Unmanaged<CaptureWorker>.fromOpaque(UnsafeRawPointer(user)).takeUnretainedValue()
        worker.append(header.pointee, data)
    }

    @inline(__always)
    private func append(_ header: pcap_pkthdr, _ data: UnsafePointer<UInt8>) {
        let fraction = UInt64(clamping: header.ts.tv_usec)
        let seconds = UInt64(clamping: header.ts.tv_sec)
        let nanoseconds = seconds &* 1_000_000_000 &+ (handle.nanosecondTimestamps ? fraction : fraction &* 1000)
        let captured = Int(header.caplen)
        zeroWindow.observe(data, length: captured, timestamp: nanoseconds)
        encoder.enhancedPacket(timestampNanoseconds: nanoseconds, originalLength: header.len,
                               data: UnsafeRawBufferPointer(start: data, count: captured))
        pendingPackets &+= 1
        pendingCaptured &+= UInt64(captured)
        pendingWire &+= UInt64(header.len)
    }

    private var pendingPackets: UInt64 = 0
    private var pendingCaptured: UInt64 = 0
    private var pendingWire: UInt64 = 0

    /// Reads everything the ring holds, writing after each dispatch. Returns an error text if
    /// libpcap or the file failed.
    private func drain() -> String? {
        let user = Unmanaged.passUnretained(self).toOpaque().assumingMemoryBound(to: UInt8.self)
        // Bounded: a sender faster than us must not keep stop waiting forever.
        for _ in 0..<1024 {
            let count = pcap_dispatch(handle.pointer, Self.packetsPerDispatch, Self.callback, user)
            if count < 0 {
                let message = count == PCAP_ERROR_BREAK ? "pcap_dispatch was interrupted" : handle.lastError
                if let failure = commitBatch() { return "write \(point.file): \(failure)" }
                return "pcap_dispatch: \(message)"
            }
            if let failure = commitBatch() { return "write \(point.file): \(failure)" }
            if count == 0 { break }
        }
        return nil
    }

    /// Writes the pending blocks and publishes the counters.
    private func commitBatch() -> Errno? {
        if encoder.count == 0 { return nil }
        let size = UInt64(encoder.count)
        let failure = flush()
        pthread_mutex_lock(&mutex)
        if failure == nil {
            stats.packetsWritten &+= pendingPackets
            stats.capturedBytes &+= pendingCaptured
            stats.wireBytes &+= pendingWire
            stats.fileBytes &+= size
        }
        pthread_mutex_unlock(&mutex)
        pendingPackets = 0
        pendingCaptured = 0
        pendingWire = 0
        return failure
    }

    /// One write(2) of the whole buffer (looping only on short writes and EINTR).
    private func flush() -> Errno? {
        defer { encoder.removeAll() }
        do throws(Errno) {
            try FileIO.writeAll(fd: fileFD, encoder.bytes)
            return nil
        } catch {
            return error
        }
    }

    private func refreshCounters() {
        let result = handle.statistics()
        pthread_mutex_lock(&mutex)
        if case let .success(counters) = result {
            stats.received = counters.received
            stats.dropped = counters.dropped
            stats.interfaceDropped = counters.interfaceDropped
        }
        stats.endNanoseconds = Int64(bitPattern: fl_realtime_ns())
        pthread_mutex_unlock(&mutex)
    }

    /// Final counters, the statistics block, closing, the final sidecar. Runs once.
    private func finish(error: String?, writeStatistics: Bool) {
        if finished { return }
        finished = true
        refreshCounters()
        var final = snapshot()
        final.error = error
        if writeStatistics {
            let start = UInt64(clamping: final.startNanoseconds)
            let end = UInt64(clamping: final.endNanoseconds)
            var comment = "received \(final.received), dropped by the kernel \(final.dropped), dropped by the interface \(final.interfaceDropped), written \(final.packetsWritten)"
            if let error { comment += "; capture ended early: \(error)" }
            encoder.interfaceStatistics(timestampNanoseconds: end, startNanoseconds: start, endNanoseconds: end,
                                        received: final.received,
                                        interfaceDropped: final.dropped &+ final.interfaceDropped,
                                        filterAccepted: final.received, osDropped: final.dropped,
                                        delivered: final.packetsWritten, comment: comment)
            let size = UInt64(encoder.count)
            if let failure = flush() {
                final.error = final.error ?? "write \(point.file): \(failure)"
            } else {
                final.fileBytes &+= size
            }
        }
        if fsync(fileFD) != 0 && final.error == nil && writeStatistics {
            final.error = "fsync \(point.file): \(Errno.current)"
        }
        close(fileFD)
        handle.close()
        final.complete = writeStatistics
        pthread_mutex_lock(&mutex)
        stats = final
        pthread_mutex_unlock(&mutex)
        if writeStatistics { writeSidecar(final) }
    }

    // MARK: sidecar

    /// Replaces `<file>.stats.json` atomically (write a temporary file, rename).
    private func writeSidecar(_ value: CaptureStats) {
        let temporary = sidecarPath + ".tmp"
        let complete = (try? FileIO.write(path: temporary, Array(value.json().utf8))) != nil
        if complete { rename(temporary, sidecarPath) } else { unlink(temporary) }
    }

    private static func osDescription() -> String? {
        var name = utsname()
        guard uname(&name) == 0 else { return nil }
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(text(name.sysname)) \(text(name.release))"
    }
}
