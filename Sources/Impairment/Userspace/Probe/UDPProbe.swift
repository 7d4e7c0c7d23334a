import Values
import CLinux
import Glibc
import Netlink
import Synchronization

/// Measuring traffic for the userspace engine's tests and benchmark: numbered, timestamped UDP
/// datagrams sent in batches (sendmmsg) from one namespace and received in batches (recvmmsg,
/// kernel receive timestamps) in another.
///
/// Each datagram starts with a 32-byte probe header: magic "FLPB", flow number, sequence number,
/// the sender's CLOCK_REALTIME and CLOCK_MONOTONIC at sending; the rest is filler.
public enum UDPProbe {
    public static let magic: UInt32 = 0x464C_5042  // "FLPB"
    public static let headerSize = 32

    public struct Arrival: Sendable, Hashable {
        public var flow: UInt16
        public var sequence: UInt64
        public var sentRealtime: UInt64
        public var sentMonotonic: UInt64
        /// Kernel receive time (SO_TIMESTAMPNS, CLOCK_REALTIME).
        public var receivedRealtime: UInt64

        /// One-way delay, ns (both clocks are this machine's CLOCK_REALTIME).
        public var delay: Int64 { Int64(bitPattern: receivedRealtime &- sentRealtime) }
    }

    public struct SendReport: Sendable {
        public var sent: Int
        /// sendmmsg refusals (ENOBUFS/EAGAIN: the sender's own queue was full).
        public var refused: Int
        public var seconds: Double
    }

    /// Writes the probe header into `buffer`.
    @inline(__always)
    static func stamp(_ buffer: UnsafeMutableRawPointer, flow: UInt16, sequence: UInt64) {
        buffer.storeBytes(of: magic.bigEndian, as: UInt32.self)
        buffer.storeBytes(of: flow.bigEndian, toByteOffset: 4, as: UInt16.self)
        buffer.storeBytes(of: 0, toByteOffset: 6, as: UInt16.self)
        buffer.storeBytes(of: sequence.bigEndian, toByteOffset: 8, as: UInt64.self)
        buffer.storeBytes(of: fl_realtime_ns().bigEndian, toByteOffset: 16, as: UInt64.self)
        buffer.storeBytes(of: fl_monotonic_ns().bigEndian, toByteOffset: 24, as: UInt64.self)
    }

    static func parse(_ buffer: UnsafeRawPointer, length: Int, received: UInt64) -> Arrival? {
        guard length >= headerSize,
              UInt32(bigEndian: buffer.loadUnaligned(as: UInt32.self)) == magic else { return nil }
        return Arrival(flow: UInt16(bigEndian: buffer.loadUnaligned(fromByteOffset: 4, as: UInt16.self)),
                       sequence: UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                       sentRealtime: UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                       sentMonotonic: UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: 24, as: UInt64.self)),
                       receivedRealtime: received)
    }

    static func sockaddr(for address: IPAddress, port: UInt16) -> (storage: sockaddr_storage, length: socklen_t) {
        var storage = sockaddr_storage()
        let bytes = address.bytes
        if address.isIPv6 {
            withUnsafeMutableBytes(of: &storage) { raw in
                var sin6 = sockaddr_in6()
                sin6.sin6_family = sa_family_t(AF_INET6)
                sin6.sin6_port = port.bigEndian
                withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
                raw.storeBytes(of: sin6, as: sockaddr_in6.self)
            }
            return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
        withUnsafeMutableBytes(of: &storage) { raw in
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: bytes) }
            raw.storeBytes(of: sin, as: sockaddr_in.self)
        }
        return (storage, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
}

/// Receives probe datagrams on its own thread until stopped.
public final class UDPProbeReceiver: ProbeSink, @unchecked Sendable {
    private let fd: Int32
    private let other = Atomic<Int>(0)
    public let port: UInt16
    /// Poll every `lazyMicroseconds` instead of waking per datagram (0: wake at once). For
    /// throughput runs: fewer wakeups leave the CPU to the path under test; the kernel's receive
    /// timestamps keep the timing exact either way.
    public var lazyMicroseconds: UInt32 = 0

    /// Opens a UDP socket bound to `port` (any address) inside `namespace`, with a large buffer
    /// and kernel receive timestamps.
    public init(in namespace: NetworkNamespace, port: UInt16, ipv6: Bool = false, expected: Int = 1 << 16,
                receiveBuffer: Int32 = 32 << 20) throws(UserspaceEngineError) {
        self.port = port
        let fd = try namespace.run { () throws(UserspaceEngineError) -> Int32 in
            let fd = fl_socket_dgram(ipv6 ? AF_INET6 : AF_INET)
            guard fd >= 0 else { throw .system(operation: "open the probe receiver's socket", errno: Errno.current) }
            var size = receiveBuffer
            _ = setsockopt(fd, SOL_SOCKET, NFQ.soRcvBufForce, &size, socklen_t(MemoryLayout<Int32>.size))
            _ = fl_enable_rx_timestamps_ns(fd)
            let (address, length) = UDPProbe.sockaddr(for: IPAddress.unspecified(ipv6 ? .ipv6 : .ipv4), port: port)
            var storage = address
            let rc = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
            }
            if rc != 0 {
                let e = Errno.current
                close(fd)
                throw .system(operation: "bind the probe receiver to port \(port)", errno: e)
            }
            return fd
        }
        self.fd = fd
        super.init(expected: expected)
    }

    deinit {
        _ = stop()
        close(fd)
    }

    override func loop() {
        let batch = 64, size = 2048
        let storage = UnsafeMutableRawPointer.allocate(byteCount: batch * size, alignment: 16)
        defer { storage.deallocate() }
        let pointers: [UnsafeMutableRawPointer?] = (0..<batch).map { storage + $0 * size }
        var lengths = [Int32](repeating: 0, count: batch)
        var stamps = [UInt64](repeating: 0, count: batch)
        var local: [UDPProbe.Arrival] = []
        local.reserveCapacity(batch)
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        var stopping = false
        while true {
            if lazyMicroseconds > 0 && !stopping {
                usleep(lazyMicroseconds)
                _ = poll(&fds, 2, 0)
            } else {
                _ = poll(&fds, 2, stopping ? 0 : -1)
            }
            if fds[1].revents != 0 { stopping = true }
            var got = 0
            while true {
                let n = pointers.withUnsafeBufferPointer { p in
                    lengths.withUnsafeMutableBufferPointer { l in
                        stamps.withUnsafeMutableBufferPointer { s in
                            fl_recvmmsg_buffers(fd, p.baseAddress, size, UInt32(batch), l.baseAddress, s.baseAddress, Int32(MSG_DONTWAIT))
                        }
                    }
                }
                if n <= 0 { break }
                got += Int(n)
                local.removeAll(keepingCapacity: true)
                var foreign = 0
                for i in 0..<Int(n) {
                    if let a = UDPProbe.parse(storage + i * size, length: min(Int(lengths[i]), size), received: stamps[i]) {
                        local.append(a)
                    } else {
                        foreign += 1
                    }
                }
                record(local)
                if foreign > 0 { other.add(foreign, ordering: .relaxed) }
                if Int(n) < batch { break }
            }
            if stopping && got == 0 { return }
        }
    }

    /// Datagrams the socket dropped for want of buffer space (SO_MEMINFO's drop count).
    public override var dropped: Int {
        var info = [UInt32](repeating: 0, count: 9)   // SK_MEMINFO_VARS; SK_MEMINFO_DROPS is the last
        var length = socklen_t(info.count * 4)
        let rc = info.withUnsafeMutableBytes { getsockopt(fd, SOL_SOCKET, 55 /* SO_MEMINFO */, $0.baseAddress, &length) }
        return rc == 0 && length >= 36 ? Int(info[8]) : 0
    }

    /// Datagrams that were not probes (e.g. corrupted ones whose header no longer parses).
    public var foreignCount: Int { other.load(ordering: .relaxed) }
}

/// Sends probe datagrams from several sockets (flows: distinct source ports) in batches.
public final class UDPProbeSender: @unchecked Sendable {
    private let sockets: [Int32]
    private let destination: (storage: sockaddr_storage, length: socklen_t)
    public let flows: Int

    /// Opens `flows` UDP sockets inside `namespace`; flow i is bound to `sourcePort + i` when
    /// `sourcePort` is given (fixed ports make runs repeatable), else to ephemeral ports.
    public init(in namespace: NetworkNamespace, to address: IPAddress, port: UInt16, flows: Int = 1,
                sourcePort: UInt16? = nil) throws(UserspaceEngineError) {
        self.flows = max(flows, 1)
        destination = UDPProbe.sockaddr(for: address, port: port)
        let ipv6 = address.isIPv6
        let count = self.flows
        sockets = try namespace.run { () throws(UserspaceEngineError) -> [Int32] in
            var made: [Int32] = []
            for i in 0..<count {
                let fd = fl_socket_dgram(ipv6 ? AF_INET6 : AF_INET)
                guard fd >= 0 else {
                    made.forEach { close($0) }
                    throw .system(operation: "open a probe sender socket", errno: Errno.current)
                }
                var size: Int32 = 8 << 20
                _ = setsockopt(fd, SOL_SOCKET, NFQ.soSndBufForce, &size, socklen_t(MemoryLayout<Int32>.size))
                if let sourcePort {
                    let any: IPAddress = IPAddress.unspecified(ipv6 ? .ipv6 : .ipv4)
                    var (local, length) = UDPProbe.sockaddr(for: any, port: sourcePort &+ UInt16(truncatingIfNeeded: i))
                    let rc = withUnsafePointer(to: &local) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
                    }
                    if rc != 0 {
                        let e = Errno.current
                        close(fd)
                        made.forEach { close($0) }
                        throw .system(operation: "bind a probe sender to port \(sourcePort &+ UInt16(truncatingIfNeeded: i))", errno: e)
                    }
                }
                made.append(fd)
            }
            return made
        }
    }

    deinit { sockets.forEach { close($0) } }

    /// UDP_SEGMENT (gso_size) on every flow's socket; 0 turns it off.
    private func setSegmentSize(_ size: Int) {
        for fd in sockets {
            var value = Int32(size)
            _ = setsockopt(fd, 17 /* SOL_UDP */, 103 /* UDP_SEGMENT */, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// Sends `count` datagrams of `size` bytes (at least the 32-byte header), `batch` per
    /// sendmmsg, round-robin over the flows, at `packetsPerSecond` (nil: as fast as possible).
    /// Sequence numbers run from `firstSequence` (one sequence across all flows).
    /// Stops early at `deadline` (monotonic ns) if given. With `segments` > 1 each sendmmsg
    /// message carries that many datagrams as one UDP GSO buffer (UDP_SEGMENT), cutting the
    /// generator's per-datagram cost; the kernel splits it before the wire, so the router sees
    /// ordinary datagrams, each with its own probe header.
    ///
    /// Paced sends spin the last 100 µs before each probe's time (exact spacing, a bunched burst
    /// never forms); with `sleepingPace` they sleep through waits longer than a wakeup costs
    /// (~30 µs) instead: for measuring delays, where each probe is stamped when it leaves and
    /// spacing does not matter. (At 5000/s, one probe every 200 µs, the spin took a whole CPU
    /// from the rootless engine being measured, in its own process's share.)
    @discardableResult
    public func send(count: Int, size: Int = 64, batch: Int = 32, packetsPerSecond: Double? = nil,
                     firstSequence: UInt64 = 0, deadline: UInt64? = nil, segments: Int = 1,
                     sleepingPace: Bool = false) -> UDPProbe.SendReport {
        let size = max(size, UDPProbe.headerSize)
        let batch = max(1, min(batch, 1024))
        let segments = max(1, min(segments, 64))
        if segments > 1 { setSegmentSize(size) }
        defer { if segments > 1 { setSegmentSize(0) } }
        let message = size * segments
        let storage = UnsafeMutableRawPointer.allocate(byteCount: batch * message, alignment: 16)
        defer { storage.deallocate() }
        storage.initializeMemory(as: UInt8.self, repeating: 0x5a, count: batch * message)
        let pointers: [UnsafeRawPointer?] = (0..<batch).map { UnsafeRawPointer(storage + $0 * message) }
        var lengths = [Int](repeating: message, count: batch)
        let start = fl_monotonic_ns()
        var sent = 0, refused = 0, flow = 0
        var sequence = firstSequence
        while sent < count {
            if let deadline, fl_monotonic_ns() >= deadline { break }
            let remaining = count - sent
            let n = min(batch, (remaining + segments - 1) / segments)
            if let rate = packetsPerSecond, rate > 0 {
                let due = start + UInt64(Double(sent) / rate * 1e9)
                while true {
                    let now = fl_monotonic_ns()
                    if now >= due { break }
                    let wait = due - now
                    if sleepingPace {
                        if wait > 50_000 { usleep(UInt32(wait / 1000)) }
                    } else if wait > 200_000 {
                        usleep(UInt32((wait - 100_000) / 1000))
                    }
                }
            }
            var datagrams = 0
            for i in 0..<n {
                let inThis = min(segments, remaining - i * segments)
                lengths[i] = inThis * size
                for k in 0..<inThis {
                    UDPProbe.stamp(storage + i * message + k * size, flow: UInt16(truncatingIfNeeded: flow),
                                   sequence: sequence + UInt64(datagrams))
                    datagrams += 1
                }
            }
            var destination = self.destination
            let fd = sockets[flow]
            let done = pointers.withUnsafeBufferPointer { p in
                lengths.withUnsafeMutableBufferPointer { l in
                    withUnsafePointer(to: &destination.storage) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { to in
                            fl_sendmmsg_buffers(fd, p.baseAddress, l.baseAddress, UInt32(n), to, destination.length, 0)
                        }
                    }
                }
            }
            if done <= 0 {
                refused += 1
                if errno == ENOBUFS || errno == EAGAIN { usleep(50); continue }
                break
            }
            let delivered = (0..<Int(done)).reduce(0) { $0 + lengths[$1] / size }
            sent += delivered
            sequence += UInt64(delivered)
            flow = (flow + 1) % sockets.count
        }
        return UDPProbe.SendReport(sent: sent, refused: refused, seconds: Double(fl_monotonic_ns() - start) / 1e9)
    }
}
