import Values
import CLinux
import Glibc

// The only file of the Peers module that touches raw pointers and sockaddr layouts: a small typed
// TCP socket over Glibc. Every socket is non-blocking; roles wait in `PeerSession.wait`.

/// Linux constants that Swift's Glibc module imports awkwardly (anonymous enums) or not at all.
enum LinuxSocket {
    static let msgDontWait: Int32 = 0x40
    static let msgNoSignal: Int32 = 0x4000
    static let shutWrite: Int32 = 1
    static let tcpNoDelay: Int32 = 1
    static let tcpKeepIdle: Int32 = 4
    static let tcpKeepInterval: Int32 = 5
    static let tcpKeepCount: Int32 = 6
    static let tcpQuickAck: Int32 = 12
    static let ipProtoTCP: Int32 = 6
    static let ipProtoIPv6: Int32 = 41
    static let ipv6V6Only: Int32 = 26
    static let pollRDHUP: Int16 = 0x2000
}

/// An IPv4 or IPv6 socket address. IPv4-mapped IPv6 addresses (from a dual-stack listener) are
/// shown as plain IPv4.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The raw `sockaddr_in` or `sockaddr_in6` bytes.
    let raw: [UInt8]
    public let family: Int32
    public let host: String
    public let port: UInt16

    public var isIPv6: Bool { family == AF_INET6 }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// A numeric address ("198.18.2.2", "fd00:fa17:2::2", "::", "0.0.0.0"); nil if not numeric.
    public init?(numericHost: String, port: UInt16) {
        guard let address = IPAddress(numericHost) else { return nil }
        self.init(address: address, port: port)
    }

    /// The socket address of `address` and `port`.
    public init(address: IPAddress, port: UInt16) {
        let bytes = address.bytes
        if address.isIPv6 {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
            self.init(raw: withUnsafeBytes(of: sin6) { Array($0) })
        } else {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: bytes) }
            self.init(raw: withUnsafeBytes(of: sin) { Array($0) })
        }
    }

    /// The wildcard address of a family, for listeners.
    public static func any(ipv6: Bool, port: UInt16) -> SocketAddress {
        SocketAddress(address: .unspecified(ipv6 ? .ipv6 : .ipv4), port: port)
    }

    /// Resolves `endpoint`: numeric addresses directly, names through getaddrinfo (/etc/hosts, DNS).
    public static func resolve(_ endpoint: PeerEndpoint) throws(ValueParseError) -> SocketAddress {
        if let numeric = SocketAddress(numericHost: endpoint.host, port: endpoint.port) { return numeric }
        var hints = addrinfo()
        hints.ai_socktype = fl_sock_stream()
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &result)
        defer { if let result { freeaddrinfo(result) } }
        guard rc == 0 else {
            throw ValueParseError(kind: "address", text: endpoint.description,
                                 reason: "cannot resolve \"\(endpoint.host)\": \(String(cString: gai_strerror(rc))); give a numeric address such as 198.18.2.2 or [fd00:fa17:2::2]")
        }
        var entry = result
        while let info = entry {
            let family = info.pointee.ai_family
            if let sockaddr = info.pointee.ai_addr, family == AF_INET || family == AF_INET6 {
                let raw = Array(UnsafeRawBufferPointer(start: sockaddr, count: Int(info.pointee.ai_addrlen)))
                return SocketAddress(raw: raw)
            }
            entry = info.pointee.ai_next
        }
        throw ValueParseError(kind: "address", text: endpoint.description, reason: "\"\(endpoint.host)\" has no IPv4 or IPv6 address")
    }

    init(raw: [UInt8]) {
        self.raw = raw
        let family = raw.count >= 2 ? Int32(raw.withUnsafeBytes { $0.load(as: sa_family_t.self) }) : AF_UNSPEC
        self.family = family
        if family == AF_INET6, raw.count >= MemoryLayout<sockaddr_in6>.size {
            let sin6 = raw.withUnsafeBytes { $0.loadUnaligned(as: sockaddr_in6.self) }
            self.port = UInt16(bigEndian: sin6.sin6_port)
            let address = withUnsafeBytes(of: sin6.sin6_addr) { IPAddress(bytes: $0) }
            self.host = address.map { $0.unmappingIPv4.description } ?? "?"
        } else if family == AF_INET, raw.count >= MemoryLayout<sockaddr_in>.size {
            let sin = raw.withUnsafeBytes { $0.loadUnaligned(as: sockaddr_in.self) }
            self.port = UInt16(bigEndian: sin.sin_port)
            self.host = withUnsafeBytes(of: sin.sin_addr) { IPAddress(bytes: $0) }?.description ?? "?"
        } else {
            self.port = 0
            self.host = "?"
        }
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        raw.withUnsafeBytes { bytes in
            // `raw` is never empty (built from a sockaddr_in or sockaddr_in6).
            body(bytes.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: sockaddr.self), socklen_t(bytes.count))
        }
    }
}

/// What a non-blocking send or recv did.
public enum IOResult: Equatable {
    case transferred(Int)
    case wouldBlock
    /// recv returned 0: the peer sent FIN and everything before it has been read.
    case endOfStream
    case failed(Int32)
}

/// A fixed block of memory for send/recv, filled with a recognisable pattern.
final class ByteBuffer {
    let count: Int
    let pointer: UnsafeMutableRawPointer

    init(count: Int) {
        self.count = max(count, 1)
        pointer = UnsafeMutableRawPointer.allocate(byteCount: self.count, alignment: 16)
        let bytes = pointer.bindMemory(to: UInt8.self, capacity: self.count)
        for index in 0..<self.count { bytes[index] = UInt8(truncatingIfNeeded: 0x61 + index % 26) }
    }

    deinit { pointer.deallocate() }

    func store(bigEndian value: UInt32, at offset: Int) {
        let bytes = pointer.bindMemory(to: UInt8.self, capacity: count)
        bytes[offset] = UInt8(truncatingIfNeeded: value >> 24)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: value)
    }

    func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        let bytes = pointer.bindMemory(to: UInt8.self, capacity: count)
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}

/// A non-blocking, close-on-exec TCP socket.
public final class Socket {
    public let fd: Int32
    public let family: Int32
    public private(set) var isClosed = false

    init(fd: Int32, family: Int32) {
        self.fd = fd
        self.family = family
    }

    /// A new TCP socket of `family` (AF_INET or AF_INET6), non-blocking.
    public static func tcp(family: Int32) throws(SocketError) -> Socket {
        let fd = fl_socket_cloexec(family, fl_sock_stream(), 0)
        guard fd >= 0 else { throw SocketError(call: "socket", errno: .current) }
        guard fl_fcntl_setfl_nonblock(fd) == 0 else {
            let error = errno
            Glibc.close(fd)
            throw SocketError(call: "fcntl", errno: Errno(error), detail: "O_NONBLOCK")
        }
        return Socket(fd: fd, family: family)
    }

    deinit { if !isClosed { Glibc.close(fd) } }

    // MARK: options

    func setInt(level: Int32, name: Int32, _ value: Int32, label: String) throws(SocketError) {
        var value = value
        guard setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SocketError(call: "setsockopt", errno: .current, detail: label)
        }
    }

    func getInt(level: Int32, name: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, level, name, &value, &length) == 0 else { return nil }
        return value
    }

    public func setReuseAddress() throws(SocketError) {
        try setInt(level: SOL_SOCKET, name: SO_REUSEADDR, 1, label: "SO_REUSEADDR")
    }
    /// Lets an IPv6 listener accept IPv4 too (IPV6_V6ONLY 0).
    public func setDualStack() throws(SocketError) {
        try setInt(level: LinuxSocket.ipProtoIPv6, name: LinuxSocket.ipv6V6Only, 0, label: "IPV6_V6ONLY")
    }
    /// SO_RCVBUF; the kernel doubles the value and turns receive autotuning off. Returns the effective size.
    @discardableResult
    public func setReceiveBuffer(_ bytes: UInt64) throws(SocketError) -> Int32 {
        try setInt(level: SOL_SOCKET, name: SO_RCVBUF, Int32(clamping: bytes), label: "SO_RCVBUF")
        return receiveBuffer
    }
    /// SO_SNDBUF (doubled by the kernel). Returns the effective size.
    @discardableResult
    public func setSendBuffer(_ bytes: UInt64) throws(SocketError) -> Int32 {
        try setInt(level: SOL_SOCKET, name: SO_SNDBUF, Int32(clamping: bytes), label: "SO_SNDBUF")
        return sendBuffer
    }
    public var receiveBuffer: Int32 { getInt(level: SOL_SOCKET, name: SO_RCVBUF) ?? -1 }
    public var sendBuffer: Int32 { getInt(level: SOL_SOCKET, name: SO_SNDBUF) ?? -1 }

    public func setNoDelay(_ on: Bool) throws(SocketError) {
        try setInt(level: LinuxSocket.ipProtoTCP, name: LinuxSocket.tcpNoDelay, on ? 1 : 0, label: "TCP_NODELAY")
    }
    /// TCP_QUICKACK: 1 acknowledges at once; 0 enters delayed-ACK mode. The kernel clears it by
    /// itself, so applications re-arm it before each read.
    public func setQuickAck(_ on: Bool) throws(SocketError) {
        try setInt(level: LinuxSocket.ipProtoTCP, name: LinuxSocket.tcpQuickAck, on ? 1 : 0, label: "TCP_QUICKACK")
    }
    /// SO_KEEPALIVE with optional TCP_KEEPIDLE / TCP_KEEPINTVL (whole seconds, at least 1) and TCP_KEEPCNT.
    public func setKeepAlive(idleSeconds: Int32?, intervalSeconds: Int32?, count: Int32?) throws(SocketError) {
        try setInt(level: SOL_SOCKET, name: SO_KEEPALIVE, 1, label: "SO_KEEPALIVE")
        if let idleSeconds { try setInt(level: LinuxSocket.ipProtoTCP, name: LinuxSocket.tcpKeepIdle, idleSeconds, label: "TCP_KEEPIDLE") }
        if let intervalSeconds { try setInt(level: LinuxSocket.ipProtoTCP, name: LinuxSocket.tcpKeepInterval, intervalSeconds, label: "TCP_KEEPINTVL") }
        if let count { try setInt(level: LinuxSocket.ipProtoTCP, name: LinuxSocket.tcpKeepCount, count, label: "TCP_KEEPCNT") }
    }
    /// SO_LINGER {on, 0}: close() then discards unsent data and sends RST (an abort).
    public func setLingerZero() throws(SocketError) {
        var value = linger(l_onoff: 1, l_linger: 0)
        guard setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size)) == 0 else {
            throw SocketError(call: "setsockopt", errno: .current, detail: "SO_LINGER {1,0}")
        }
    }

    /// SO_ERROR: the pending asynchronous error (0 if none), cleared by reading it.
    public func pendingError() -> Int32 { getInt(level: SOL_SOCKET, name: SO_ERROR) ?? errno }

    // MARK: queues and TCP_INFO

    /// Bytes received and not yet read (SIOCINQ), or nil.
    public var inputQueue: Int? { let n = fl_sock_inq(fd); return n >= 0 ? Int(n) : nil }
    /// Bytes written and not yet acknowledged (SIOCOUTQ), or nil.
    public var outputQueue: Int? { let n = fl_sock_outq(fd); return n >= 0 ? Int(n) : nil }
    /// Bytes written and not yet sent (SIOCOUTQNSD), or nil.
    public var outputQueueUnsent: Int? { let n = fl_sock_outq_unsent(fd); return n >= 0 ? Int(n) : nil }

    /// The kernel's TCP_INFO and queue sizes for this socket, or nil if it is gone.
    public func tcpInfo() -> TCPInfoSample? {
        var info = fl_tcp_info()
        guard fl_get_tcp_info(fd, &info) == 0 else { return nil }
        var more = fl_tcp_info_more()
        if fl_get_tcp_info_more(fd, &more) != 0 { more = fl_tcp_info_more() }
        return TCPInfoSample(info, more, inq: inputQueue, outq: outputQueue, unsent: outputQueueUnsent)
    }

    // MARK: addresses

    public var localAddress: SocketAddress? { address(getsockname) }
    public var remoteAddress: SocketAddress? { address(getpeername) }

    private func address(_ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        let raw = withUnsafeBytes(of: storage) { Array($0.prefix(Int(length))) }
        return SocketAddress(raw: raw)
    }

    // MARK: calls

    public func bind(_ address: SocketAddress) throws(SocketError) {
        let rc = address.withSockaddr { Glibc.bind(fd, $0, $1) }
        guard rc == 0 else { throw SocketError(call: "bind", errno: .current, detail: address.description) }
    }

    public func listen(backlog: Int32) throws(SocketError) {
        guard Glibc.listen(fd, backlog) == 0 else { throw SocketError(call: "listen", errno: .current) }
    }

    /// A pending connection, or nil if none is waiting (EAGAIN).
    public func accept() throws(SocketError) -> Socket? {
        let client = Glibc.accept(fd, nil, nil)
        if client < 0 {
            let error = errno
            if error == EAGAIN || error == EWOULDBLOCK || error == EINTR || error == ECONNABORTED { return nil }
            throw SocketError(call: "accept", errno: Errno(error))
        }
        _ = fl_fcntl_setfd_cloexec(client)
        guard fl_fcntl_setfl_nonblock(client) == 0 else {
            let error = errno
            Glibc.close(client)
            throw SocketError(call: "fcntl", errno: Errno(error), detail: "O_NONBLOCK")
        }
        return Socket(fd: client, family: family)
    }

    /// Starts a connection. True if it completed at once; false if in progress (wait for POLLOUT,
    /// then read `pendingError()`).
    public func startConnect(_ address: SocketAddress) throws(SocketError) -> Bool {
        let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return true }
        let error = errno
        if error == EINPROGRESS || error == EINTR { return false }
        throw SocketError(call: "connect", errno: Errno(error), detail: address.description)
    }

    func send(_ buffer: ByteBuffer, offset: Int = 0, count: Int) -> IOResult {
        let n = Glibc.send(fd, buffer.pointer + offset, min(count, buffer.count - offset), LinuxSocket.msgNoSignal | LinuxSocket.msgDontWait)
        if n >= 0 { return .transferred(n) }
        let error = errno
        if error == EAGAIN || error == EWOULDBLOCK || error == EINTR { return .wouldBlock }
        return .failed(error)
    }

    func receive(into buffer: ByteBuffer, offset: Int = 0, count: Int) -> IOResult {
        let n = Glibc.recv(fd, buffer.pointer + offset, min(count, buffer.count - offset), LinuxSocket.msgDontWait)
        if n > 0 { return .transferred(n) }
        if n == 0 { return count == 0 ? .transferred(0) : .endOfStream }
        let error = errno
        if error == EAGAIN || error == EWOULDBLOCK || error == EINTR { return .wouldBlock }
        return .failed(error)
    }

    public func shutdownWrite() throws(SocketError) {
        guard Glibc.shutdown(fd, LinuxSocket.shutWrite) == 0 else { throw SocketError(call: "shutdown", errno: .current, detail: "SHUT_WR") }
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(fd)
    }
}

/// ppoll over a few descriptors with a nanosecond timeout (nil: wait forever).
/// Returns the revents for each (fd, events) pair, or the errno of a failed poll.
func pollDescriptors(_ entries: [(fd: Int32, events: Int16)], timeoutNanoseconds: UInt64?) -> Result<[Int16], SocketError> {
    var fds = entries.map { pollfd(fd: $0.fd, events: $0.events, revents: 0) }
    let timeout: Int64 = timeoutNanoseconds.map { Int64(clamping: $0) } ?? -1
    let rc = fds.withUnsafeMutableBufferPointer { buffer in
        fl_ppoll_ns(buffer.baseAddress, UInt32(buffer.count), timeout)
    }
    if rc < 0 {
        let error = errno
        if error == EINTR { return .success(fds.map { _ in 0 }) }
        return .failure(SocketError(call: "ppoll", errno: Errno(error)))
    }
    return .success(fds.map(\.revents))
}
