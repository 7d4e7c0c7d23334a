import Values
import CLinux
import Glibc
import Netlink
import TestSupport

/// A tiny TCP transfer for the capture tests: a listener in one namespace, a client in another,
/// and a poll loop on the test's thread that moves `bytes` from client to server.
enum TransferSockets {
    static func sockaddrIPv4(_ address: IPAddress, port: UInt16) throws -> sockaddr_in {
        guard !address.isIPv6 else { throw TestSupportError("\(address) is not IPv4") }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: address.bytes) }
        return sin
    }

    /// A non-blocking listening socket on `address:port` (call on the namespace's thread).
    static func listener(_ address: IPAddress, port: UInt16) throws -> Int32 {
        let fd = fl_socket_cloexec(AF_INET, fl_sock_stream(), 0)
        guard fd >= 0 else { throw TestSupportError("socket: \(Errno.current)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        var sin = try sockaddrIPv4(address, port: port)
        let bound = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else {
            let error = Errno.current
            close(fd)
            throw TestSupportError("bind/listen \(address):\(port): \(error)")
        }
        _ = fl_fcntl_setfl_nonblock(fd)
        return fd
    }

    /// A non-blocking socket with a connect in progress (call on the namespace's thread).
    static func connecting(to address: IPAddress, port: UInt16) throws -> Int32 {
        let fd = fl_socket_cloexec(AF_INET, fl_sock_stream(), 0)
        guard fd >= 0 else { throw TestSupportError("socket: \(Errno.current)") }
        _ = fl_fcntl_setfl_nonblock(fd)
        var sin = try sockaddrIPv4(address, port: port)
        let rc = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 && errno != EINPROGRESS {
            let error = Errno.current
            close(fd)
            throw TestSupportError("connect \(address):\(port): \(error)")
        }
        return fd
    }

    /// Sends `count` bytes from `client` to the connection accepted on `listener`, reads them all
    /// at the server, then closes both ends (FIN from the client first). Returns bytes received.
    static func transfer(client: Int32, listener: Int32, count: Int, timeoutMilliseconds: Int = 10_000) throws -> Int {
        let deadline = fl_monotonic_ns() + UInt64(timeoutMilliseconds) * 1_000_000
        var server: Int32 = -1
        defer { if server >= 0 { close(server) } }
        var sent = 0
        var received = 0
        var clientClosed = false
        let chunk = [UInt8](repeating: 0x5A, count: 64 * 1024)
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        while fl_monotonic_ns() < deadline {
            var fds = [
                pollfd(fd: clientClosed ? -1 : client, events: Int16(sent < count ? POLLOUT : 0), revents: 0),
                pollfd(fd: server >= 0 ? server : listener, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, 100)
            if server < 0 {
                if fds[1].revents & Int16(POLLIN) != 0 {
                    server = accept(listener, nil, nil)
                    if server < 0 && errno != EAGAIN { throw TestSupportError("accept: \(Errno.current)") }
                }
            } else if fds[1].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(server, $0.baseAddress, $0.count) }
                if n > 0 { received += n }
                if n == 0 { return received }  // the client's FIN after everything
                if n < 0 && errno != EAGAIN { throw TestSupportError("read: \(Errno.current)") }
            }
            if !clientClosed && fds[0].revents & Int16(POLLOUT) != 0 && sent < count {
                let n = chunk.withUnsafeBytes { write(client, $0.baseAddress, min($0.count, count - sent)) }
                if n > 0 { sent += n }
                if n < 0 && errno != EAGAIN { throw TestSupportError("write: \(Errno.current)") }
            }
            if !clientClosed && fds[0].revents & Int16(POLLERR | POLLHUP) != 0 {
                throw TestSupportError("client socket error (revents \(fds[0].revents))")
            }
            if sent == count && !clientClosed {
                shutdown(client, Int32(SHUT_WR))
                clientClosed = true
            }
        }
        throw TestSupportError("transfer timed out: sent \(sent), received \(received) of \(count)")
    }
}
