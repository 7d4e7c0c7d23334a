import CLinux
import Glibc
import Netlink
import Values

/// Does the kernel apply the payload an NFQUEUE verdict carries (a packet the engine changed:
/// corrupted, CE-marked, its window-scale option stripped), in namespaces of this process's user
/// namespace? Asked of the kernel, once per process.
///
/// Root (the machine's own user namespace) always can. In a user namespace it depends on the
/// kernel: "netfilter: disable payload mangling in userns" (May 2026, in stable kernels since —
/// 6.18.44 here) makes `nfqnl_mangle` return -EPERM when the queue's network namespace is not
/// owned by the initial user namespace. The verdict is then turned into NF_DROP without a word
/// to userspace (the verdict message itself is acknowledged as fine): the changed packet simply
/// vanishes. That was the rootless f6-window-scale-stripped stall — the stripped SYN was dropped
/// at every retransmission.
///
/// The probe, in a throwaway network namespace: a UDP datagram to 127.0.0.1 is queued on OUTPUT
/// (iptables NFQUEUE), its last payload byte changed in the verdict, and the receiving socket
/// says which copy arrived: the changed one (applied), none (refused: dropped), or the original.
/// Where refused, the engine sends changed packets itself (`PathWorker`: drop the original, send
/// the changed copy through its raw socket, as it sends duplicates).
public enum PayloadVerdictProbe {
    public enum Answer: Sendable, Equatable {
        /// The kernel applies verdict payloads (always so in the machine's own user namespace).
        case applied
        /// The kernel drops a packet whose verdict carries a payload.
        case refused
        /// The probe could not run (the reason); the engine then assumes `refused` rootless.
        case unknown(String)

        public var applies: Bool { self == .applied }
    }

    /// The answer for this process (probed on first use when not in the machine's own user namespace).
    public static let answer: Answer = {
        if fl_in_initial_user_namespace() != 0 { return .applied }
        return probe()
    }()

    /// One sentence for notes and `doctor`.
    public static func describe(_ answer: Answer) -> String {
        switch answer {
        case .applied:
            return "the kernel applies packets changed in NFQUEUE verdicts"
        case .refused:
            return "this kernel refuses packets changed in NFQUEUE verdicts inside a user namespace (it drops them: netfilter's \"disable payload mangling in userns\"); the userspace engine drops such a packet and sends the changed copy through a raw socket instead"
        case .unknown(let reason):
            return "could not ask the kernel whether it applies packets changed in NFQUEUE verdicts (\(reason)); the userspace engine sends changed packets through a raw socket"
        }
    }

    static let queueNumber: UInt16 = 4243
    static let port: UInt16 = 9

    /// Runs the probe (in a namespace of its own; nothing outside it is touched).
    public static func probe() -> Answer {
        let namespace: NetworkNamespace
        do {
            namespace = try NetworkNamespace.create(label: "payload-probe")
        } catch {
            return .unknown("create a namespace: \(error)")
        }
        defer { namespace.destroy() }
        do {
            let handle = try namespace.netlink()
            try handle.setLinkUp("lo")
            try FirewallRule.run(["iptables", "-w", "-A", "OUTPUT", "-o", "lo", "-p", "udp", "--dport", "\(port)",
                                  "-j", "NFQUEUE", "--queue-num", "\(queueNumber)"], in: namespace)
        } catch {
            return .unknown("\(error)")
        }
        // The sockets are the namespace's; they are used from this thread after.
        let opened: (queue: NFQueueSocket, receiver: Int32, sender: Int32)
        do {
            opened = try namespace.run { () throws(UserspaceEngineError) -> (NFQueueSocket, Int32, Int32) in
                let queue = try NFQueueSocket(queue: queueNumber, copyRange: 0xffff, maxLength: 16, receiveBuffer: 1 << 16)
                let receiver = fl_socket_dgram(AF_INET), sender = fl_socket_dgram(AF_INET)
                guard receiver >= 0, sender >= 0 else {
                    let e = Errno.current
                    queue.close()
                    if receiver >= 0 { close(receiver) }
                    if sender >= 0 { close(sender) }
                    throw .system(operation: "open the probe's UDP sockets", errno: e)
                }
                var (address, length) = UDPProbe.sockaddr(for: IPAddress(ipv4: 0x7F00_0001), port: port)
                let rc = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(receiver, $0, length) }
                }
                if rc != 0 {
                    let e = Errno.current
                    queue.close(); close(receiver); close(sender)
                    throw .system(operation: "bind the probe's receiver", errno: e)
                }
                return (queue, receiver, sender)
            }
        } catch {
            return .unknown("\(error)")
        }
        defer { opened.queue.close(); close(opened.receiver); close(opened.sender) }

        // The datagram: "fl-payload-A". The verdict carries "…B" (UDP checksum 0: none, for IPv4).
        let text = Array("fl-payload-A".utf8)
        var (to, toLength) = UDPProbe.sockaddr(for: IPAddress(ipv4: 0x7F00_0001), port: port)
        let sent = text.withUnsafeBytes { bytes in
            withUnsafePointer(to: &to) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(opened.sender, bytes.baseAddress, bytes.count, 0, $0, toLength) }
            }
        }
        guard sent == text.count else { return .unknown("send the probe datagram: \(Errno.current)") }
        guard let queued = receiveQueued(opened.queue.fd) else { return .unknown("the probe datagram was not queued within 1 s") }
        var changed = queued.packet
        guard changed.count >= 28 + text.count, changed[0] >> 4 == 4 else { return .unknown("unexpected queued packet") }
        let headerLength = Int(changed[0] & 0x0f) * 4
        changed[changed.count - 1] = UInt8(ascii: "B")
        changed[headerLength + 6] = 0
        changed[headerLength + 7] = 0
        let writer = VerdictWriter(queue: queueNumber)
        changed.withUnsafeBytes { writer.append(id: queued.id, verdict: NFQ.accept, batch: false, payload: $0, fd: opened.queue.fd) }
        guard writer.flush(fd: opened.queue.fd) else { return .unknown("send the verdict: \(Errno(writer.lastSendError))") }

        var fds = [pollfd(fd: opened.receiver, events: Int16(POLLIN), revents: 0)]
        guard poll(&fds, 1, 300) > 0 else { return .refused }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { recv(opened.receiver, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        guard count > 0 else { return .refused }
        return buffer[count - 1] == UInt8(ascii: "B") ? .applied : .refused
    }

    /// The first queued packet's id and bytes (waits up to 1 s).
    private static func receiveQueued(_ fd: Int32) -> (id: UInt32, packet: [UInt8])? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = fl_monotonic_ns() + 1_000_000_000
        while fl_monotonic_ns() < deadline {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 1, 100) <= 0 { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count <= 0 { continue }
            let result: (UInt32, [UInt8])? = buffer.withUnsafeBytes { raw in
                for message in NetlinkMessages(UnsafeRawBufferPointer(rebasing: raw[0..<count])[...]) where message.type == NFQ.messagePacket {
                    var id: UInt32?, payload: [UInt8]?
                    // After the nfgenmsg (family, version, queue number).
                    for attribute in NetlinkAttributes(message.payload.dropFirst(NFQ.familyHeaderLength)) {
                        if attribute.type == NFQ.attrPacketHeader { id = attribute.be32 }
                        if attribute.type == NFQ.attrPayload { payload = Array(attribute.payload) }
                    }
                    if let id, let payload { return (id, payload) }
                }
                return nil
            }
            if let result { return result }
        }
        return nil
    }
}
