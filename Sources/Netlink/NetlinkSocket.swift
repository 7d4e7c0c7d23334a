import Values
import CMnl
import Glibc

/// A netlink socket bound to the namespace of the thread that opened it (libmnl underneath).
/// Requests ask for an ACK; errors come back with the kernel's extended-ack text.
final class NetlinkSocket: @unchecked Sendable {
    private let socket: OpaquePointer
    private let portID: UInt32
    private var sequence: UInt32
    private var receiveBuffer: [UInt8]
    private let lock = PThreadMutex()


    /// Opens the socket on the calling thread: call it inside `NetworkNamespace.run`.
    init(netlinkProtocol: Int32, operation: String) throws(NetlinkError) {
        guard let socket = mnl_socket_open2(netlinkProtocol, Int32(SOCK_CLOEXEC.rawValue)) else {
            throw NetlinkError(operation: operation + ": open netlink socket", errno: Errno.current)
        }
        if mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) < 0 {
            let error = Errno.current
            mnl_socket_close(socket)
            throw NetlinkError(operation: operation + ": bind netlink socket", errno: error)
        }
        var on: Int32 = 1
        // Extended ACK: the kernel explains its refusals. CAP_ACK: errors don't echo our request.
        _ = mnl_socket_setsockopt(socket, Int32(NETLINK_EXT_ACK), &on, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(socket, Int32(NETLINK_CAP_ACK), &on, socklen_t(MemoryLayout<Int32>.size))
        self.socket = socket
        self.portID = mnl_socket_get_portid(socket)
        self.sequence = UInt32(truncatingIfNeeded: fl_monotonic_ns_seed())
        self.receiveBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    }

    deinit { mnl_socket_close(socket) }

    var fileDescriptor: Int32 { mnl_socket_get_fd(socket) }

    /// Sends `message` and waits for the kernel's ACK (or its error).
    func request(_ message: NetlinkBuilder, operation: @autoclosure () -> String) throws(NetlinkError) {
        _ = try exchange(message, operation: operation)
    }

    /// Sends a request with NLM_F_DUMP (or a GET expecting replies) and collects every reply
    /// message as (type, payload after the nlmsghdr).
    func dump(_ message: NetlinkBuilder, operation: @autoclosure () -> String) throws(NetlinkError) -> [(type: UInt16, payload: ArraySlice<UInt8>)] {
        try exchange(message, operation: operation)
    }

    private func exchange(_ message: NetlinkBuilder, operation: () -> String) throws(NetlinkError) -> [(type: UInt16, payload: ArraySlice<UInt8>)] {
        try lock.withLock { () throws(NetlinkError) -> [(type: UInt16, payload: ArraySlice<UInt8>)] in
            sequence &+= 1
            var outgoing = message
            outgoing.sequence = sequence
            let bytes = outgoing.finished
            let sent = bytes.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
            if sent < 0 { throw NetlinkError(operation: operation(), errno: Errno.current) }
            var replies: [(type: UInt16, payload: ArraySlice<UInt8>)] = []
            let expectsMultipart = message.flags & UInt16(NLM_F_DUMP) != 0
            let asksForAck = message.flags & UInt16(NLM_F_ACK) != 0
            while true {
                let received = receiveBuffer.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
                if received < 0 {
                    if errno == EINTR { continue }
                    throw NetlinkError(operation: operation(), errno: Errno.current)
                }
                let chunk = Array(receiveBuffer[0..<received])
                for reply in NetlinkMessages(chunk[...]) {
                    if reply.sequence != sequence { continue }   // a stale reply to an earlier request
                    if let code = reply.errorCode {
                        if code == 0 { return replies }   // the ACK
                        throw NetlinkError(operation: operation(), errno: Errno(-code), kernelMessage: reply.extendedAckMessage)
                    }
                    if reply.type == NetlinkMessageType.done { return replies }
                    replies.append((reply.type, reply.payload))
                    // A single reply to a GET: the ACK may follow if we asked for one.
                    if !expectsMultipart && reply.flags & UInt16(NLM_F_MULTI) == 0 && !asksForAck {
                        return replies
                    }
                }
            }
        }
    }
}

/// Starting sequence numbers differ per socket so stale replies are never mistaken for ours.
private func fl_monotonic_ns_seed() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_nsec) ^ UInt64(ts.tv_sec) << 20
}
