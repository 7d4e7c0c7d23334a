import CLinux
import Foundation
import Glibc
import Netlink

/// Samples TCP_INFO of every TCP socket in a run's namespaces over sock_diag, every `interval`,
/// from one thread of its own, and writes `tcpinfo.jsonl` (docs/tcpinfo.md).
///
/// The programs are not touched: the kernel reports their sockets (a `run:` program's as well
/// as a peer's). The sampler's netlink sockets were opened inside each namespace, so the thread
/// itself never enters one. Lines are kept in memory while the run goes and written at `stop`,
/// so the sampling loop does no file I/O.
public final class TCPInfoSampler: @unchecked Sendable {
    public static let fileName = "tcpinfo.jsonl"

    /// What sampling cost, for the run's notes.
    public struct Cost: Sendable {
        public var ticks: Int
        public var samples: Int
        /// Wall time of one round over every namespace, mean and max, in microseconds.
        public var meanTickMicroseconds: Double
        public var maxTickMicroseconds: Double
        /// CPU time the sampler thread used, as a share of one core over the sampled time.
        public var cpuShare: Double
        public var missedTicks: Int

        public var summary: String {
            String(format: "tcpinfo sampler: %d rounds, %d samples, %.0f µs a round (max %.0f), %.2f%% of one CPU, %d late rounds",
                   ticks, samples, meanTickMicroseconds, maxTickMicroseconds, cpuShare * 100, missedTicks)
        }
    }

    private let sources: [(node: String, diagnostics: SocketDiagnostics)]
    private let intervalNanoseconds: UInt64
    private let path: String
    private let lock = Lock()
    private var stopping = false
    private var lines: [String] = []
    private var cost = Cost(ticks: 0, samples: 0, meanTickMicroseconds: 0, maxTickMicroseconds: 0, cpuShare: 0, missedTicks: 0)
    private var errors: [String] = []
    private let finished = DispatchSemaphore(value: 0)
    private var started = false

    /// Opens a sock_diag socket in each node's namespace.
    public init(namespaces: [(node: String, namespace: NetworkNamespace)], intervalNanoseconds: UInt64, path: String) throws(NetlinkError) {
        var sources: [(node: String, diagnostics: SocketDiagnostics)] = []
        for entry in namespaces {
            sources.append((entry.node, try SocketDiagnostics(namespace: entry.namespace)))
        }
        self.sources = sources
        self.intervalNanoseconds = max(intervalNanoseconds, 1_000_000)
        self.path = path
    }

    public func start() {
        started = true
        let thread = Thread { [self] in loop() }
        thread.name = "fl-tcpinfo"
        thread.start()
    }

    /// Ends sampling, writes the file; returns the cost and any error the kernel reported.
    @discardableResult
    public func stop() -> (cost: Cost, errors: [String]) {
        guard started else { return (cost, []) }
        lock.withLock { stopping = true }
        finished.wait()
        let text = lock.withLock { lines.joined() }
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return lock.withLock { (cost, errors) }
    }

    private func loop() {
        defer { finished.signal() }
        var cpuStart = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpuStart)
        let began = fl_monotonic_ns()
        var next = began
        var totalTick: UInt64 = 0, maxTick: UInt64 = 0, ticks = 0, samples = 0, missed = 0
        var batch: [String] = []
        while !lock.withLock({ stopping }) {
            let tickStart = fl_monotonic_ns()
            let epoch = Int64(fl_realtime_ns())
            for source in sources {
                do {
                    for socket in try source.diagnostics.tcpSockets() where !socket.tcpInfo.isEmpty {
                        batch.append(Self.line(socket, node: source.node, epoch: epoch))
                        samples += 1
                    }
                } catch {
                    let text = "\(source.node): \(error)"
                    lock.withLock { if errors.count < 5 && !errors.contains(text) { errors.append(text) } }
                }
            }
            let tick = fl_monotonic_ns() - tickStart
            totalTick += tick
            maxTick = max(maxTick, tick)
            ticks += 1
            if !batch.isEmpty {
                let done = batch
                batch.removeAll(keepingCapacity: true)
                lock.withLock { lines.append(contentsOf: done) }
            }
            next += intervalNanoseconds
            let now = fl_monotonic_ns()
            if next <= now {
                // Late (a loaded machine): skip the rounds already missed instead of bunching up.
                missed += 1
                next = now + intervalNanoseconds
            }
            var due = timespec(tv_sec: Int(next / 1_000_000_000), tv_nsec: Int(next % 1_000_000_000))
            while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nil) == EINTR {}
        }
        var cpuEnd = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpuEnd)
        let cpu = Double(cpuEnd.tv_sec - cpuStart.tv_sec) * 1e9 + Double(cpuEnd.tv_nsec - cpuStart.tv_nsec)
        let elapsed = Double(fl_monotonic_ns() - began)
        lock.withLock {
            cost = Cost(ticks: ticks, samples: samples, meanTickMicroseconds: ticks > 0 ? Double(totalTick) / Double(ticks) / 1000 : 0,
                        maxTickMicroseconds: Double(maxTick) / 1000, cpuShare: elapsed > 0 ? cpu / elapsed : 0, missedTicks: missed)
        }
    }

    static let stateNames = ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
                             "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"]
    static let congestionStateNames = ["open", "disorder", "cwr", "recovery", "loss"]

    /// One JSON line. Offsets are those of the kernel's `struct tcp_info` (include/uapi/linux/tcp.h);
    /// a field the running kernel does not report (its struct is shorter) is left out.
    static func line(_ socket: DiagnosedTCPSocket, node: String, epoch: Int64) -> String {
        let info = socket.tcpInfo
        func u8(_ offset: Int) -> UInt64? { offset < info.count ? UInt64(info[offset]) : nil }
        func u32(_ offset: Int) -> UInt64? {
            guard offset + 4 <= info.count else { return nil }
            return UInt64(info[offset]) | UInt64(info[offset + 1]) << 8 | UInt64(info[offset + 2]) << 16 | UInt64(info[offset + 3]) << 24
        }
        func u64(_ offset: Int) -> UInt64? {
            guard let low = u32(offset), let high = u32(offset + 4) else { return nil }
            return low | high << 32
        }
        let state = Int(socket.state)
        let caState = Int(u8(1) ?? 0)
        var out = "{\"t_ns\":\(epoch),\"node\":\"\(node)\",\"local\":\"\(socket.local)\",\"remote\":\"\(socket.remote)\""
        out += ",\"state\":\"\(state < stateNames.count ? stateNames[state] : "state-\(state)")\""
        out += ",\"ca_state\":\"\(caState < congestionStateNames.count ? congestionStateNames[caState] : "ca-\(caState)")\""
        out += ",\"inode\":\(socket.inode),\"rqueue\":\(socket.receiveQueue),\"wqueue\":\(socket.sendQueue)"
        let fields: [(String, UInt64?)] = [
            ("retransmits", u8(2)), ("probes", u8(3)), ("backoff", u8(4)),
            ("rto_us", u32(8)), ("ato_us", u32(12)), ("snd_mss", u32(16)), ("rcv_mss", u32(20)),
            ("unacked", u32(24)), ("sacked", u32(28)), ("lost", u32(32)), ("retrans", u32(36)),
            ("last_data_sent_ms", u32(44)), ("last_data_recv_ms", u32(52)), ("last_ack_recv_ms", u32(56)),
            ("pmtu", u32(60)), ("rcv_ssthresh", u32(64)), ("srtt_us", u32(68)), ("rttvar_us", u32(72)),
            ("ssthresh", u32(76)), ("cwnd", u32(80)), ("reordering", u32(88)), ("rcv_rtt_us", u32(92)),
            ("rcv_space", u32(96)), ("total_retrans", u32(100)), ("pacing_rate", u64(104)),
            ("bytes_acked", u64(120)), ("bytes_received", u64(128)), ("segs_out", u32(136)), ("segs_in", u32(140)),
            ("notsent_bytes", u32(144)), ("min_rtt_us", u32(148)), ("delivery_rate", u64(160)),
            ("bytes_sent", u64(200)), ("bytes_retrans", u64(208)), ("dsack_dups", u32(216)),
            ("snd_wnd", u32(228)), ("rcv_wnd", u32(232)),
        ]
        for (name, value) in fields {
            guard let value else { continue }
            out += ",\"\(name)\":\(value)"
        }
        return out + "}\n"
    }
}
