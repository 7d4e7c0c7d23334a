/// A netlink handle bound to one namespace: every request it sends acts there.
///
/// Open it with `try namespace.netlink()`; it can then be used from any thread. Each kind of kernel
/// object has its own file (Link.swift, Address.swift, Route.swift, Qdisc.swift).
public final class NetlinkHandle: @unchecked Sendable {
    public let namespace: NetworkNamespace
    let socket: NetlinkSocket

    init(namespace: NetworkNamespace) throws(NetlinkError) {
        self.namespace = namespace
        self.socket = try namespace.run { () throws(NetlinkError) -> NetlinkSocket in
            try NetlinkSocket(netlinkProtocol: 0 /* NETLINK_ROUTE */, operation: "open rtnetlink in \(namespace.label)")
        }
    }

    /// Sends a prepared request (used by engines that build their own messages, e.g. netem).
    public func send(_ message: NetlinkBuilder, operation: String) throws(NetlinkError) {
        try socket.request(message, operation: operation)
    }

    func request(_ message: NetlinkBuilder, _ operation: @autoclosure () -> String) throws(NetlinkError) {
        try socket.request(message, operation: "\(operation()) in \(namespace.label)")
    }

    func dump(_ message: NetlinkBuilder, _ operation: @autoclosure () -> String) throws(NetlinkError) -> [(type: UInt16, payload: ArraySlice<UInt8>)] {
        try socket.dump(message, operation: "\(operation()) in \(namespace.label)")
    }
}

extension NetworkNamespace {
    /// Opens a netlink handle whose requests act in this namespace.
    public func netlink() throws(NetlinkError) -> NetlinkHandle {
        try NetlinkHandle(namespace: self)
    }
}
