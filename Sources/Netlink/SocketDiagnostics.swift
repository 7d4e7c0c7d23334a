import Values
import CMnl
import Glibc

/// One TCP socket as sock_diag reports it: its endpoints, state and the raw `struct tcp_info`
/// (INET_DIAG_INFO), as long as the running kernel makes it.
public struct DiagnosedTCPSocket: Sendable {
    /// `a.b.c.d:port` or `[v6]:port`, as the analyzer prints endpoints.
    public var local: String
    public var remote: String
    /// TCP_ESTABLISHED = 1 ... TCP_CLOSING = 11 (the kernel's numbering).
    public var state: UInt8
    public var inode: UInt32
    /// Bytes in the receive / send queue, as the kernel's inet_diag_msg says.
    public var receiveQueue: UInt32
    public var sendQueue: UInt32
    /// The kernel's `struct tcp_info` (its length depends on the kernel version).
    public var tcpInfo: [UInt8]
}

/// A NETLINK_SOCK_DIAG socket opened inside one network namespace. A netlink socket stays bound
/// to the namespace it was created in, so after `init` (which runs on the namespace's own thread)
/// any thread can ask it about that namespace's sockets: a sampler needs no thread per namespace
/// and never runs code inside the programs it watches.
public final class SocketDiagnostics: @unchecked Sendable {
    private let socket: NetlinkSocket
    public let namespaceLabel: String

    static let netlinkSockDiag: Int32 = 4          // NETLINK_SOCK_DIAG (= NETLINK_INET_DIAG)
    static let sockDiagByFamily: UInt16 = 20       // SOCK_DIAG_BY_FAMILY
    static let inetDiagInfo: UInt16 = 2            // INET_DIAG_INFO
    static let tcpListen: UInt32 = 10

    public init(namespace: NetworkNamespace) throws(NetlinkError) {
        namespaceLabel = namespace.label
        socket = try namespace.run { () throws(NetlinkError) -> NetlinkSocket in
            try NetlinkSocket(netlinkProtocol: Self.netlinkSockDiag, operation: "sock_diag in \(namespace.label)")
        }
    }

    /// Every TCP socket of the namespace but listeners, IPv4 and IPv6, with its TCP_INFO.
    public func tcpSockets() throws(NetlinkError) -> [DiagnosedTCPSocket] {
        var sockets: [DiagnosedTCPSocket] = []
        for family in [UInt8(AF_INET), UInt8(AF_INET6)] {
            var message = NetlinkBuilder(type: Self.sockDiagByFamily, flags: UInt16(NLM_F_REQUEST | NLM_F_DUMP))
            // struct inet_diag_req_v2: family, protocol, ext (bit INET_DIAG_INFO - 1), pad,
            // states (every state but LISTEN), then a zeroed inet_diag_sockid (48 bytes).
            var request: [UInt8] = [family, UInt8(IPPROTO_TCP), UInt8(1 << (Self.inetDiagInfo - 1)), 0]
            request += NetlinkBuilder.le(UInt32(0xFFF) & ~(UInt32(1) << Self.tcpListen))
            request += [UInt8](repeating: 0, count: 48)
            message.appendHeader(request)
            let replies = try socket.dump(message, operation: "sock_diag dump (\(namespaceLabel))")
            for reply in replies where reply.type == Self.sockDiagByFamily {
                if let parsed = Self.parse(reply.payload) { sockets.append(parsed) }
            }
        }
        return sockets
    }

    /// struct inet_diag_msg (72 bytes), then attributes.
    static func parse(_ payload: ArraySlice<UInt8>) -> DiagnosedTCPSocket? {
        guard payload.count >= 72 else { return nil }
        let base = payload.startIndex
        let family = payload[base]
        let state = payload[base + 1]
        let sourcePort = UInt16(payload[base + 4]) << 8 | UInt16(payload[base + 5])
        let destinationPort = UInt16(payload[base + 6]) << 8 | UInt16(payload[base + 7])
        let local = endpoint(family: family, address: payload[(base + 8)..<(base + 24)], port: sourcePort)
        let remote = endpoint(family: family, address: payload[(base + 24)..<(base + 40)], port: destinationPort)
        let attributes = NetlinkAttributes(payload[(base + 72)...])
        let info = attributes.first(inetDiagInfo).map { Array($0.payload) } ?? []
        return DiagnosedTCPSocket(local: local, remote: remote, state: state, inode: payload.le(UInt32.self, at: 68),
                                  receiveQueue: payload.le(UInt32.self, at: 56), sendQueue: payload.le(UInt32.self, at: 60),
                                  tcpInfo: info)
    }

    static func endpoint(family: UInt8, address: ArraySlice<UInt8>, port: UInt16) -> String {
        // inet_diag_sockid carries 16 address bytes; an IPv4 socket uses the first 4.
        let bytes = family == UInt8(AF_INET6) ? address : address.prefix(4)
        // A dual-stack listener's IPv4 connections (::ffff:a.b.c.d) are IPv4 on the wire: name
        // them as the captures do.
        guard let ip = IPAddress(bytes: bytes)?.unmappingIPv4 else { return "?:\(port)" }
        return ip.isIPv6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
