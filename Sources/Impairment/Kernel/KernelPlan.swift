import Netlink

/// One qdisc the kernel engine installs: kind, place and encoded TCA_OPTIONS.
public struct QdiscRequest: Sendable, Equatable {
    public var kind: String
    public var handle: UInt32
    public var parent: UInt32
    public var options: [UInt8]

    public init(kind: String, handle: UInt32, parent: UInt32, options: [UInt8]) {
        self.kind = kind
        self.handle = handle
        self.parent = parent
        self.options = options
    }

    /// TC_H_ROOT
    public static let root: UInt32 = 0xFFFF_FFFF

    /// As the Netlink module's `Qdisc` value (for `NetlinkHandle.apply`).
    public func qdisc(interface: String) -> Qdisc {
        Qdisc(interface: interface, kind: kind, handle: handle, parent: parent, options: options)
    }

    /// The complete RTM_NEWQDISC message (nlmsghdr + tcmsg + TCA_KIND + TCA_OPTIONS) `tc qdisc
    /// add|change|replace` would send. `.add` sets NLM_F_REQUEST|ACK|EXCL|CREATE; `.change` only
    /// REQUEST|ACK (as tc 6.1 does: fixtures netem-change, tbf-change); `.replace`
    /// REQUEST|ACK|CREATE|REPLACE. nlmsg_pid is 0.
    public func message(interfaceIndex: Int32, operation: NetlinkHandle.QdiscOperation = .add, sequence: UInt32) -> [UInt8] {
        var m = NetlinkHandle.qdiscMessage(qdisc(interface: ""), interfaceIndex: interfaceIndex, operation: operation)
        m.sequence = sequence
        return m.finished
    }
}

/// How the kernel engine expresses one link direction's parameters:
/// - nothing to do → no qdisc;
/// - rate alone (no other netem setting) → a root tbf (works without sch_netem);
/// - otherwise netem at the root (handle 1:), carrying the rate itself — unless the rate needs a
///   byte-sized queue or an explicit burst, which only tbf has: then tbf is netem's child
///   (parent 1:1, handle 10:) and netem keeps the rest.
public struct KernelPlan: Sendable, Equatable {
    public var qdiscs: [QdiscRequest]

    public static let netemHandle: UInt32 = 0x0001_0000
    public static let childTbfHandle: UInt32 = 0x000A_0000
    public static let netemChildParent: UInt32 = 0x0001_0001

    public init(qdiscs: [QdiscRequest]) { self.qdiscs = qdiscs }

    /// The plan for `spec` at time 0 (its `parameters`); throws `.cannotExpress` for match/actions.
    public init(spec: ImpairmentSpec, clock: PschedClock,
                tableDirectories: [String] = DistributionTable.searchDirectories) throws(KernelEngineError) {
        let reasons = spec.kernelEngineLimitations
        guard reasons.isEmpty else { throw .cannotExpress(reasons) }
        try self.init(parameters: spec.parameters, seed: spec.seed, clock: clock, tableDirectories: tableDirectories)
    }

    public init(parameters p: ImpairmentParameters, seed: UInt64?, clock: PschedClock,
                tableDirectories: [String] = DistributionTable.searchDirectories) throws(KernelEngineError) {
        let netem = NetemEncoder(clock: clock, tableDirectories: tableDirectories)
        let tbf = TbfEncoder(clock: clock)
        var withoutRate = p
        withoutRate.rate = nil
        guard let rate = p.rate else {
            qdiscs = p.isEmpty ? [] : [QdiscRequest(kind: "netem", handle: Self.netemHandle, parent: QdiscRequest.root,
                                                    options: try netem.options(p, seed: seed))]
            return
        }
        let tbfCan = TbfEncoder.limitations(rate).isEmpty
        if withoutRate.isEmpty, tbfCan {
            qdiscs = [QdiscRequest(kind: "tbf", handle: Self.netemHandle, parent: QdiscRequest.root, options: try tbf.options(rate))]
            return
        }
        let needsTbf: Bool
        if case .bytes? = rate.queueLimit { needsTbf = true } else { needsTbf = rate.burst != nil }
        if needsTbf {
            guard tbfCan else { throw .cannotExpress(TbfEncoder.limitations(rate) + ["together with a byte queue limit or burst"]) }
            qdiscs = [
                QdiscRequest(kind: "netem", handle: Self.netemHandle, parent: QdiscRequest.root,
                             options: try netem.options(p, seed: seed, includeRate: false)),
                QdiscRequest(kind: "tbf", handle: Self.childTbfHandle, parent: Self.netemChildParent, options: try tbf.options(rate)),
            ]
        } else {
            qdiscs = [QdiscRequest(kind: "netem", handle: Self.netemHandle, parent: QdiscRequest.root,
                                   options: try netem.options(p, seed: seed))]
        }
    }

    /// Whether this plan needs sch_netem.
    public var needsNetem: Bool { qdiscs.contains { $0.kind == "netem" } }
}

extension KernelPlan {
    /// One netlink step of moving from one plan to the next (a schedule change).
    public enum Step: Sendable, Equatable {
        case apply(QdiscRequest, NetlinkHandle.QdiscOperation)
        /// Remove the root qdisc (and with it any child): the new parameters impair nothing.
        case deleteRoot
    }

    /// The steps that turn the installed `self` into `next`: `tc qdisc change` for each qdisc
    /// whose options changed when the shape (kinds, handles, parents) is the same; otherwise
    /// replace the root (which drops its children) and add the new children.
    public func steps(toReach next: KernelPlan) -> [Step] {
        func shape(_ p: KernelPlan) -> [String] { p.qdiscs.map { "\($0.kind)/\($0.handle)/\($0.parent)" } }
        if next.qdiscs.isEmpty { return qdiscs.isEmpty ? [] : [.deleteRoot] }
        if shape(self) == shape(next) {
            return zip(qdiscs, next.qdiscs).filter { $0.0.options != $0.1.options }.map { .apply($0.1, .change) }
        }
        return [.apply(next.qdiscs[0], qdiscs.isEmpty ? .add : .replace)] + next.qdiscs.dropFirst().map { .apply($0, .add) }
    }
}
