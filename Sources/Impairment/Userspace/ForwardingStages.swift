/// The stages a packet forwarded by one router can pass: the router's forwarding paths the
/// engine impairs, one NFQUEUE each, their iptables rules in this order in FORWARD.
///
/// Why: a packet from the client to the server crosses both `client→router` (it arrives from the
/// client) and `router→server` (it leaves toward the server). With netem these are two qdiscs on
/// two interfaces and the packet meets both; here both are rules of one FORWARD chain, and the
/// first queue's NF_ACCEPT ends the chain: the second impairment never saw the packet (measured:
/// 20 ms on `client→router` and 30 ms on `router→server` gave a 20 ms handshake RTT). So a stage
/// that a later stage may also take answers NF_REPEAT with a mark: the kernel runs the chain again
/// (nf_reinject re-runs the same hook), the rules of the stages already passed skip the packet by
/// their bits, and the next stage queues it — delays add up and losses compound, as through netem
/// qdiscs in series.
///
/// Stage k's bit is `1 << (16 + k)` (the low 16 bits hold the injected copies' mark, 0xfa17).
/// Its verdict sets the bits of stages 0...k: the packet reached stage k only after the rules
/// before it, each of which either took it (its bit is set already) or can never take it (its
/// interfaces differ), so setting those bits changes nothing else. At most 16 stages chain (a
/// router has two per link); copies the engine injects (duplicates) skip every later stage.
public struct ForwardingStages: Sendable, Equatable {
    /// The verdict a stage gives a packet it lets through.
    public struct Pass: Sendable, Equatable {
        public var verdict: UInt32
        /// The mark the packet leaves with (nil: unchanged).
        public var mark: UInt32?

        public static let accept = Pass(verdict: NFQ.accept, mark: nil)
    }

    public static let maximumChained = 16
    public let paths: [UserspaceEngine.ForwardingPath]

    public init(_ paths: [UserspaceEngine.ForwardingPath]) {
        self.paths = paths
    }

    /// Whether one packet can take both paths: each interface unset in one of them, or equal —
    /// and not in and out through the same interface (a router does not send a packet back
    /// where it came from).
    static func overlap(_ a: UserspaceEngine.ForwardingPath, _ b: UserspaceEngine.ForwardingPath) -> Bool {
        guard a.inInterface == nil || b.inInterface == nil || a.inInterface == b.inInterface,
              a.outInterface == nil || b.outInterface == nil || a.outInterface == b.outInterface else { return false }
        let input = a.inInterface ?? b.inInterface, output = a.outInterface ?? b.outInterface
        return input == nil || output == nil || input != output
    }

    /// Whether a packet's mark says an earlier stage passed it on.
    @inline(__always)
    static func passedAny(_ mark: UInt32) -> Bool {
        mark & 0xFFFF_0000 != 0 && mark != UserspaceEngine.injectMark
    }

    /// Whether any stage hands packets on to a later one.
    public var chains: Bool { paths.indices.contains { pass($0) != .accept } }

    /// Stage k's bit, which its rule checks to skip packets that passed it; nil when no stage
    /// repeats (a lone stage, or stages no packet can take two of), or beyond the 16th.
    public func passedBit(_ k: Int) -> UInt32? {
        guard chains, k < Self.maximumChained else { return nil }
        return 1 << (16 + UInt32(k))
    }

    /// What stage k answers for a packet it lets through: NF_REPEAT with the bits of stages
    /// 0...k when a later chained stage may take the same packet, else NF_ACCEPT.
    public func pass(_ k: Int) -> Pass {
        guard k < Self.maximumChained, paths.indices.contains(k) else { return .accept }
        let later = paths[(k + 1)..<min(paths.count, Self.maximumChained)]
        guard later.contains(where: { Self.overlap(paths[k], $0) }) else { return .accept }
        let bits = (UInt32(1) << (17 + UInt32(k))) &- (UInt32(1) << 16)
        return Pass(verdict: NFQ.repeat, mark: bits)
    }
}
