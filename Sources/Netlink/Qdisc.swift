/// A queueing discipline on an interface. `options` is the already-encoded TCA_OPTIONS payload
/// (the Impairment module encodes netem and tbf exactly as iproute2 does).
public struct Qdisc: Sendable, Equatable {
    public var interface: String
    public var kind: String
    /// Handle as major:minor in one u32 (e.g. 0x00010000 for "1:").
    public var handle: UInt32
    /// TC_H_ROOT (0xFFFFFFFF) for a root qdisc.
    public var parent: UInt32
    public var options: [UInt8]

    public static let root: UInt32 = 0xFFFF_FFFF

    public init(interface: String, kind: String, handle: UInt32 = 0x0001_0000, parent: UInt32 = Qdisc.root, options: [UInt8] = []) {
        self.interface = interface
        self.kind = kind
        self.handle = handle
        self.parent = parent
        self.options = options
    }
}

extension NetlinkHandle {
    public enum QdiscOperation: Sendable {
        /// `tc qdisc add` (fails if one exists)
        case add
        /// `tc qdisc replace`
        case replace
        /// `tc qdisc change` (updates an existing qdisc in place: scheduled impairment changes)
        case change

        var flags: UInt16 {
            switch self {
            case .add: return NLM.request | NLM.ack | NLM.create | NLM.excl
            case .replace: return NLM.request | NLM.ack | NLM.create | NLM.replace
            case .change: return NLM.request | NLM.ack
            }
        }
        var verb: String {
            switch self { case .add: "add"; case .replace: "replace"; case .change: "change" }
        }
    }

    /// The RTM_NEWQDISC request `tc qdisc <op>` would send for this qdisc.
    public static func qdiscMessage(_ qdisc: Qdisc, interfaceIndex: Int32, operation: QdiscOperation) -> NetlinkBuilder {
        var message = NetlinkBuilder(type: RTM.newQdisc, flags: operation.flags)
        message.appendHeader(FamilyHeader.tcmsg(index: interfaceIndex, handle: qdisc.handle, parent: qdisc.parent))
        message.put(TCA.kind, string: qdisc.kind)
        message.put(TCA.options, bytes: qdisc.options)
        return message
    }

    public func apply(_ qdisc: Qdisc, _ operation: QdiscOperation = .add) throws(NetlinkError) {
        let index = try link(qdisc.interface).index
        try request(Self.qdiscMessage(qdisc, interfaceIndex: index, operation: operation),
                    "\(operation.verb) \(qdisc.kind) qdisc on \"\(qdisc.interface)\"")
    }

    public func deleteQdisc(interface: String, parent: UInt32 = Qdisc.root) throws(NetlinkError) {
        let index = try link(interface).index
        var message = NetlinkBuilder(type: RTM.delQdisc, flags: NLM.request | NLM.ack)
        message.appendHeader(FamilyHeader.tcmsg(index: index, handle: 0, parent: parent))
        try request(message, "delete qdisc on \"\(interface)\"")
    }

    /// Qdiscs on an interface as the kernel reports them (kind and raw TCA_OPTIONS).
    public func qdiscs(interface: String) throws(NetlinkError) -> [Qdisc] {
        let index = try link(interface).index
        var message = NetlinkBuilder(type: RTM.getQdisc, flags: NLM.request | NLM.dump)
        message.appendHeader(FamilyHeader.tcmsg(index: 0, handle: 0, parent: 0))
        var result: [Qdisc] = []
        for reply in try dump(message, "list qdiscs") where reply.type == RTM.newQdisc {
            let payload = reply.payload
            guard payload.count >= 20, payload.le(Int32.self, at: 4) == index else { continue }
            let attributes = NetlinkAttributes(payload.dropFirst(20))
            result.append(Qdisc(interface: interface, kind: attributes.first(TCA.kind)?.string ?? "",
                                handle: payload.le(UInt32.self, at: 8), parent: payload.le(UInt32.self, at: 12),
                                options: attributes.first(TCA.options).map { Array($0.payload) } ?? []))
        }
        return result
    }
}
