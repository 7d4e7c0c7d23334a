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

    static let NLMSG_ERROR: UInt16 = 2
    static let NLMSG_DONE: UInt16 = 3
    static let NLM_F_ACK_TLVS: UInt16 = 0x200
    static let NLMSGERR_ATTR_MSG: UInt16 = 1

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
    func request(_ message: NetlinkMessage, operation: @autoclosure () -> String) throws(NetlinkError) {
        _ = try exchange(message, operation: operation)
    }

    /// Sends a request with NLM_F_DUMP (or a GET expecting replies) and collects every reply
    /// message as (type, payload after the nlmsghdr).
    func dump(_ message: NetlinkMessage, operation: @autoclosure () -> String) throws(NetlinkError) -> [(type: UInt16, payload: ArraySlice<UInt8>)] {
        try exchange(message, operation: operation)
    }

    private func exchange(_ message: NetlinkMessage, operation: () -> String) throws(NetlinkError) -> [(type: UInt16, payload: ArraySlice<UInt8>)] {
        try lock.withLock { () throws(NetlinkError) -> [(type: UInt16, payload: ArraySlice<UInt8>)] in
            sequence &+= 1
            var outgoing = message
            outgoing.sequence = sequence
            let bytes = outgoing.finished
            let sent = bytes.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
            if sent < 0 { throw NetlinkError(operation: operation(), errno: Errno.current) }
            var replies: [(type: UInt16, payload: ArraySlice<UInt8>)] = []
            let expectsMultipart = (UInt16(truncatingIfNeeded: message.bytes[6]) | UInt16(message.bytes[7]) << 8) & UInt16(NLM_F_DUMP) != 0
            while true {
                let received = receiveBuffer.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
                if received < 0 {
                    if errno == EINTR { continue }
                    throw NetlinkError(operation: operation(), errno: Errno.current)
                }
                let chunk = Array(receiveBuffer[0..<received])
                var offset = 0
                while offset + NetlinkMessage.headerLength <= chunk.count {
                    let slice = chunk[offset...]
                    let length = Int(slice.le(UInt32.self, at: 0))
                    let type = slice.le(UInt16.self, at: 4)
                    let flags = slice.le(UInt16.self, at: 6)
                    let seq = slice.le(UInt32.self, at: 8)
                    guard length >= NetlinkMessage.headerLength, offset + length <= chunk.count else { break }
                    let payload = chunk[(offset + NetlinkMessage.headerLength)..<(offset + length)]
                    offset += (length + 3) & ~3
                    if seq != sequence { continue }   // a stale reply to an earlier request
                    switch type {
                    case Self.NLMSG_ERROR:
                        let code = payload.le(Int32.self, at: 0)
                        if code == 0 { return replies }   // the ACK
                        let kernelMessage = Self.extendedAckMessage(payload: payload, flags: flags)
                        throw NetlinkError(operation: operation(), errno: Errno(-code), kernelMessage: kernelMessage)
                    case Self.NLMSG_DONE:
                        return replies
                    default:
                        replies.append((type, payload))
                        if !expectsMultipart && flags & UInt16(NLM_F_MULTI) == 0 {
                            // A single reply to a GET: the ACK may follow if we asked for one.
                            if (UInt16(message.bytes[6]) | UInt16(message.bytes[7]) << 8) & UInt16(NLM_F_ACK) == 0 {
                                return replies
                            }
                        }
                    }
                }
            }
        }
    }

    /// With NETLINK_CAP_ACK the error payload is: int error, the request's nlmsghdr (16 bytes),
    /// then TLVs when NLM_F_ACK_TLVS is set.
    static func extendedAckMessage(payload: ArraySlice<UInt8>, flags: UInt16) -> String? {
        guard flags & NLM_F_ACK_TLVS != 0, payload.count > 4 + NetlinkMessage.headerLength else { return nil }
        let tlvs = payload.dropFirst(4 + NetlinkMessage.headerLength)
        return NetlinkAttributes(tlvs).first(NLMSGERR_ATTR_MSG)?.string
    }
}

/// Starting sequence numbers differ per socket so stale replies are never mistaken for ours.
private func fl_monotonic_ns_seed() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_nsec) ^ UInt64(ts.tv_sec) << 20
}
