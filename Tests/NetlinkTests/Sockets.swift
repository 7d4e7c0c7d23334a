import Values
import CLinux
import Glibc
import Netlink
import TestSupport

/// Minimal sockets for the topology tests (the Peers module has the real ones).
enum Sockets {
    static func sockaddr(_ address: IPAddress, port: UInt16) -> (storage: sockaddr_storage, length: socklen_t) {
        var storage = sockaddr_storage()
        let bytes = address.bytes
        switch address.family {
        case .ipv4:
            withUnsafeMutableBytes(of: &storage) { raw in
                var sin = sockaddr_in()
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_port = port.bigEndian
                withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: bytes) }
                withUnsafeBytes(of: sin) { raw.copyMemory(from: $0) }
            }
            return (storage, socklen_t(MemoryLayout<sockaddr_in>.size))
        case .ipv6:
            withUnsafeMutableBytes(of: &storage) { raw in
                var sin6 = sockaddr_in6()
                sin6.sin6_family = sa_family_t(AF_INET6)
                sin6.sin6_port = port.bigEndian
                withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
                withUnsafeBytes(of: sin6) { raw.copyMemory(from: $0) }
            }
            return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
    }

    static func tcpListener(_ address: IPAddress, port: UInt16, minTTL: Int32?) throws -> Int32 {
        let fd = fl_socket_cloexec(address.isIPv6 ? AF_INET6 : AF_INET, fl_sock_stream(), 0)
        guard fd >= 0 else { throw TestSupportError("socket: \(Errno.current)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        if var ttl = minTTL { setsockopt(fd, Int32(IPPROTO_IP), 21 /* IP_MINTTL */, &ttl, 4) }
        var (storage, length) = sockaddr(address, port: port)
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw TestSupportError("bind/listen: \(Errno.current)") }
        return fd
    }

    /// 0 on success, else the errno of the failed connect (ETIMEDOUT after the timeout).
    static func tcpConnect(_ address: IPAddress, port: UInt16, timeoutMilliseconds: Int32) -> Int32 {
        let fd = fl_socket_cloexec(address.isIPv6 ? AF_INET6 : AF_INET, fl_sock_stream(), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        _ = fl_fcntl_setfl_nonblock(fd)
        var (storage, length) = sockaddr(address, port: port)
        let rc = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { connect(fd, $0, length) } }
        if rc == 0 { return 0 }
        guard errno == EINPROGRESS else { return errno }
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        if poll(&pfd, 1, timeoutMilliseconds) == 0 { return ETIMEDOUT }
        var error: Int32 = 0
        var size = socklen_t(4)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size)
        return error
    }

    static func udpReceiver(_ address: IPAddress, port: UInt16) throws -> Int32 {
        let fd = fl_socket_cloexec(AF_INET, fl_sock_dgram(), 0)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_IP), 12 /* IP_RECVTTL */, &one, 4)
        var (storage, length) = sockaddr(address, port: port)
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { close(fd); throw TestSupportError("bind: \(Errno.current)") }
        return fd
    }

    static func udpSend(_ address: IPAddress, port: UInt16) throws {
        let fd = fl_socket_cloexec(AF_INET, fl_sock_dgram(), 0)
        defer { close(fd) }
        var (storage, length) = sockaddr(address, port: port)
        let payload: [UInt8] = Array("ttl?".utf8)
        let sent = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { sendto(fd, payload, payload.count, 0, $0, length) }
        }
        guard sent == payload.count else { throw TestSupportError("sendto: \(Errno.current)") }
    }

    /// Waits up to 2 s for a datagram and returns the TTL from its IP_TTL control message.
    static func receiveTTL(_ fd: Int32) -> Int32? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 2000) == 1 else { return nil }
        var data = [UInt8](repeating: 0, count: 64)
        var control = [UInt8](repeating: 0, count: 64)
        return data.withUnsafeMutableBytes { dataRaw in
            control.withUnsafeMutableBytes { controlRaw -> Int32? in
                var iov = iovec(iov_base: dataRaw.baseAddress, iov_len: dataRaw.count)
                return withUnsafeMutablePointer(to: &iov) { iovPointer -> Int32? in
                    var message = msghdr()
                    message.msg_iov = iovPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlRaw.baseAddress
                    message.msg_controllen = controlRaw.count
                    guard recvmsg(fd, &message, 0) > 0 else { return nil }
                    // struct cmsghdr: size_t len, int level, int type, then data (aligned to 8).
                    let level = controlRaw.load(fromByteOffset: 8, as: Int32.self)
                    let type = controlRaw.load(fromByteOffset: 12, as: Int32.self)
                    guard level == Int32(IPPROTO_IP), type == 2 /* IP_TTL */ else { return nil }
                    return controlRaw.load(fromByteOffset: 16, as: Int32.self)
                }
            }
        }
    }
}
