import Values
import CLinux
import CNetfilterQueue
import Glibc
import Netlink

/// Netlink constants of nfnetlink_queue, spelled once (named C enums import as structs).
enum NFQ {
    static let subsystemQueue: UInt16 = 3                                   // NFNL_SUBSYS_QUEUE
    static let messagePacket: UInt16 = subsystemQueue << 8 | UInt16(NFQNL_MSG_PACKET.rawValue)
    static let messageVerdict: UInt16 = subsystemQueue << 8 | UInt16(NFQNL_MSG_VERDICT.rawValue)
    static let messageConfig: UInt16 = subsystemQueue << 8 | UInt16(NFQNL_MSG_CONFIG.rawValue)
    static let messageVerdictBatch: UInt16 = subsystemQueue << 8 | UInt16(NFQNL_MSG_VERDICT_BATCH.rawValue)
    /// sizeof(struct nfgenmsg), after every nfnetlink message header.
    static let familyHeaderLength = 4
    static let attrPacketHeader = UInt16(NFQA_PACKET_HDR.rawValue)
    static let attrVerdictHeader = UInt16(NFQA_VERDICT_HDR.rawValue)
    static let attrPayload = UInt16(NFQA_PAYLOAD.rawValue)
    static let attrMark = UInt16(NFQA_MARK.rawValue)
    static let attrTimestamp = UInt16(NFQA_TIMESTAMP.rawValue)
    static let attrCapturedLength = UInt16(NFQA_CAP_LEN.rawValue)
    static let configCommand = UInt16(NFQA_CFG_CMD.rawValue)
    static let configParams = UInt16(NFQA_CFG_PARAMS.rawValue)
    static let configQueueMaxLength = UInt16(NFQA_CFG_QUEUE_MAXLEN.rawValue)
    static let configMask = UInt16(NFQA_CFG_MASK.rawValue)
    static let configFlags = UInt16(NFQA_CFG_FLAGS.rawValue)
    static let commandBind = UInt8(NFQNL_CFG_CMD_BIND.rawValue)
    static let commandUnbind = UInt8(NFQNL_CFG_CMD_UNBIND.rawValue)
    static let copyPacket = UInt8(NFQNL_COPY_PACKET.rawValue)
    static let accept: UInt32 = 1                                           // NF_ACCEPT
    static let drop: UInt32 = 0                                             // NF_DROP
    static let `repeat`: UInt32 = 4                                         // NF_REPEAT
    static let flagFailOpen: UInt32 = 1 << 0                                // NFQA_CFG_F_FAIL_OPEN
    static let flagGSO: UInt32 = 1 << 2                                     // NFQA_CFG_F_GSO

    static let flagRequest: UInt16 = 1, flagAck: UInt16 = 4
    static let solNetlink: Int32 = 270
    static let netlinkNoENOBUFS: Int32 = 5, netlinkCapAck: Int32 = 10, netlinkExtAck: Int32 = 11
    static let soRcvBufForce: Int32 = 33, soSndBufForce: Int32 = 32
}

/// An NFQUEUE netlink socket bound to one queue number. Opened on a thread inside the router
/// namespace (the queue and the iptables rule must share it); used afterwards by the worker.
final class NFQueueSocket: @unchecked Sendable {
    let fd: Int32
    let queue: UInt16
    private var sequence: UInt32 = 1

    /// Opens, binds and configures the queue: copy mode `packet` with `copyRange` bytes, the
    /// kernel queue bounded at `maxLength` packets (beyond that the kernel drops: no fail-open),
    /// NETLINK_NO_ENOBUFS and a `receiveBuffer`-byte socket buffer.
    init(queue: UInt16, copyRange: UInt32, maxLength: UInt32, receiveBuffer: Int32) throws(UserspaceEngineError) {
        let fd = fl_socket_cloexec(AF_NETLINK, fl_sock_raw(), Int32(NETLINK_NETFILTER))
        guard fd >= 0 else { throw .system(operation: "open an NFQUEUE netlink socket", errno: Errno.current) }
        self.fd = fd
        self.queue = queue
        do throws(UserspaceEngineError) {
            var address = sockaddr_nl()
            address.nl_family = sa_family_t(AF_NETLINK)
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
            }
            if rc != 0 { throw UserspaceEngineError.system(operation: "bind the NFQUEUE netlink socket", errno: Errno.current) }
            try setOption(NFQ.solNetlink, NFQ.netlinkNoENOBUFS, 1, "NETLINK_NO_ENOBUFS")
            try setOption(NFQ.solNetlink, NFQ.netlinkExtAck, 1, "NETLINK_EXT_ACK")
            try setOption(NFQ.solNetlink, NFQ.netlinkCapAck, 1, "NETLINK_CAP_ACK")
            // The FORCE forms pass net.core.rmem_max/wmem_max, and need CAP_NET_ADMIN in the
            // machine's user namespace: rootless, the plain forms give what those allow (the
            // kernel doubles it: 8 MiB for the default 4 MiB rmem_max, ~58k queued 64-byte packets).
            if !setOptionIfPermitted(SOL_SOCKET, NFQ.soRcvBufForce, receiveBuffer) {
                try setOption(SOL_SOCKET, SO_RCVBUF, receiveBuffer, "SO_RCVBUF")
            }
            if !setOptionIfPermitted(SOL_SOCKET, NFQ.soSndBufForce, 4 << 20) {
                try setOption(SOL_SOCKET, SO_SNDBUF, 4 << 20, "SO_SNDBUF")
            }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)   // for the setup acks only
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

            var bind = configMessage(flags: NFQ.flagRequest | NFQ.flagAck)
            bind.put(NFQ.configCommand, bytes: [NFQ.commandBind, 0, 0, 0])   // command, pad, pf (unused since 3.8)
            try request(bind, operation: "bind NFQUEUE \(queue)")
            try configure(copyRange: copyRange, maxLength: maxLength)

            var none = timeval(tv_sec: 0, tv_usec: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    private func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// An NFQNL_MSG_CONFIG message for this queue: nlmsghdr, then nfgenmsg (AF_UNSPEC,
    /// NFNETLINK_V0, the queue number big-endian in res_id).
    private func configMessage(flags: UInt16) -> NetlinkBuilder {
        var message = NetlinkBuilder(type: NFQ.messageConfig, flags: flags, sequence: nextSequence())
        message.append(UInt8(AF_UNSPEC))
        message.append(UInt8(0))
        message.append(bigEndian: queue)
        return message
    }

    /// False when the kernel refuses it for lack of privilege (EPERM); true when set.
    private func setOptionIfPermitted(_ level: Int32, _ name: Int32, _ value: Int32) -> Bool {
        var v = value
        return setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    private func setOption(_ level: Int32, _ name: Int32, _ value: Int32, _ label: String) throws(UserspaceEngineError) {
        var v = value
        if setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            throw .system(operation: "set \(label) on the NFQUEUE socket", errno: Errno.current)
        }
    }

    /// Copy mode and queue length (also used to change the copy range while running; then the
    /// kernel's answer arrives through the worker's receive loop).
    func configure(copyRange: UInt32, maxLength: UInt32, waitForAck: Bool = true) throws(UserspaceEngineError) {
        var message = configMessage(flags: NFQ.flagRequest | (waitForAck ? NFQ.flagAck : 0))
        message.put(NFQ.configParams, bytes: NetlinkBuilder.be(copyRange) + [NFQ.copyPacket])
        message.put(NFQ.configQueueMaxLength, be32: maxLength)
        // Explicitly off: fail-open (would pass packets unimpaired when the queue is full) and GSO
        // (we want whole, checksummed segments, so a modified payload is checked by the receiver).
        message.put(NFQ.configMask, be32: NFQ.flagFailOpen | NFQ.flagGSO)
        message.put(NFQ.configFlags, be32: 0)
        if waitForAck {
            try request(message, operation: "configure NFQUEUE \(queue) (copy range \(copyRange), max length \(maxLength))")
        } else {
            _ = message.finished.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        }
    }

    /// Unbinds the queue (best effort, at stop).
    func unbind() {
        var message = configMessage(flags: NFQ.flagRequest)
        message.put(NFQ.configCommand, bytes: [NFQ.commandUnbind, 0, 0, 0])
        _ = message.finished.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    }

    func close() { Glibc.close(fd) }

    /// Sends a request and waits for its ACK, skipping anything else that arrives.
    private func request(_ message: NetlinkBuilder, operation: String) throws(UserspaceEngineError) {
        let seq = message.sequence
        let sent = message.finished.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        if sent < 0 { throw .system(operation: operation, errno: Errno.current) }
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "\(operation): wait for the kernel's answer", errno: Errno.current)
            }
            for answer in NetlinkMessages(buffer[0..<n]) {
                guard let code = answer.errorCode, answer.acknowledgedSequence == seq else { continue }
                if code == 0 { return }
                throw .kernel(operation: operation, errno: Errno(-code), message: answer.extendedAckMessage)
            }
        }
    }
}
