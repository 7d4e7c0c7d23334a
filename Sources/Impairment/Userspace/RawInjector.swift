import Values
import CLinux
import Glibc
import Netlink

/// Sends whole IP packets (duplicates) out of the router through raw sockets with the header
/// included (IPPROTO_RAW implies IP_HDRINCL / IPV6_HDRINCL). Opened inside the router namespace.
///
/// The copies leave through the router's OUTPUT path (not FORWARD), carrying the TTL/hop limit
/// the forwarded original had; they are also marked (SO_MARK `UserspaceEngine.injectMark`) and
/// the engine's rules skip marked packets, so a copy can never be queued again.
final class RawInjector: @unchecked Sendable {
    private let v4: Int32
    private let v6: Int32
    private(set) var sent: UInt64 = 0
    private(set) var failures: UInt64 = 0
    private(set) var lastError: Int32 = 0

    init(mark: UInt32) throws(UserspaceEngineError) {
        let ipprotoRaw: Int32 = 255
        v4 = fl_socket_cloexec(AF_INET, fl_sock_raw(), ipprotoRaw)
        guard v4 >= 0 else { throw .system(operation: "open a raw IPv4 socket for duplicates", errno: Errno.current) }
        v6 = fl_socket_cloexec(AF_INET6, fl_sock_raw(), ipprotoRaw)
        guard v6 >= 0 else {
            let e = Errno.current
            Glibc.close(v4)
            throw .system(operation: "open a raw IPv6 socket for duplicates", errno: e)
        }
        for fd in [v4, v6] {
            var m = mark
            if setsockopt(fd, SOL_SOCKET, 36 /* SO_MARK */, &m, socklen_t(MemoryLayout<UInt32>.size)) != 0 {
                let e = Errno.current
                Glibc.close(v4); Glibc.close(v6)
                throw .system(operation: "set SO_MARK on the raw socket", errno: e)
            }
            _ = fl_fcntl_setfl_nonblock(fd)
        }
    }

    func close() {
        Glibc.close(v4)
        Glibc.close(v6)
    }

    /// Sends `packet` (an IPv4 or IPv6 packet) toward its destination address.
    func send(_ packet: [UInt8]) {
        let rc: Int = packet.withUnsafeBytes { bytes -> Int in
            guard let base = bytes.baseAddress, bytes.count >= 1 else { return -1 }
            switch bytes[0] >> 4 {
            case 4 where bytes.count >= 20:
                var to = sockaddr_in()
                to.sin_family = sa_family_t(AF_INET)
                withUnsafeMutableBytes(of: &to.sin_addr) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[16..<20])) }
                return withUnsafePointer(to: &to) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(v4, base, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            case 6 where bytes.count >= 40:
                var to = sockaddr_in6()
                to.sin6_family = sa_family_t(AF_INET6)
                withUnsafeMutableBytes(of: &to.sin6_addr) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[24..<40])) }
                return withUnsafePointer(to: &to) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(v6, base, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                    }
                }
            default:
                errno = EINVAL
                return -1
            }
        }
        if rc < 0 {
            failures &+= 1
            lastError = errno
        } else {
            sent &+= 1
        }
    }
}
