/// An action on chosen packets: the n-th packets (1-based) among those that match `match` on
/// this link direction, counted from the start of the run (retransmissions count again: they are
/// new packets on the wire).
///
/// Examples:
/// - drop the 5th and 6th data segments client→server:
///   `TargetedAction(match: .tcpData, nth: [5, 6], action: .drop)`
/// - duplicate the first SYN and deliver the copy 300 ms later:
///   `TargetedAction(match: .tcpSYN, nth: [1], action: .duplicate(copyDelay: .ms(300)))`
///
/// Only the userspace engine performs targeted actions. Targeted actions apply before the
/// spec's general parameters; a packet both targeted and subject to random loss is handled by
/// the targeted action only.
public struct TargetedAction: Sendable, Hashable, Codable {
    public var match: PacketMatch
    /// 1-based packet numbers among matching packets; sorted, no duplicates after validation.
    public var nth: [UInt64]
    /// Every k-th matching packet (k, 2k, 3k, …) as well as those of `nth`; nil: none.
    public var every: UInt64?
    public var action: Action

    public init(match: PacketMatch, nth: [UInt64], every: UInt64? = nil, action: Action) {
        self.match = match
        self.nth = nth
        self.every = every
        self.action = action
    }

    /// The most packet numbers one `nth` may list (a range is expanded): beyond it, `every`.
    public static let nthLimit = 100_000

    public enum Action: Sendable, Hashable, Codable, CustomStringConvertible {
        /// Discard the packet.
        case drop
        /// Hold the packet for the given time, then deliver it (others pass it by).
        case delay(Interval)
        /// Deliver the packet now and a copy after `copyDelay`.
        case duplicate(copyDelay: Interval)
        /// Flip one bit of the transport payload (or header when there is no payload),
        /// keeping the checksum stale so the receiver discards it as corrupt.
        case corrupt
        /// Remove the TCP window-scale option (RFC 7323) from a SYN or SYN/ACK: its three bytes
        /// become NOPs and the TCP checksum is recomputed, as a middlebox that strips unknown
        /// options does. Other packets pass unchanged.
        case stripWindowScale

        public var description: String {
            switch self {
            case .drop: return "drop"
            case .delay(let d): return "delay \(d)"
            case .duplicate(let d): return "duplicate (copy after \(d))"
            case .corrupt: return "corrupt"
            case .stripWindowScale: return "strip-window-scale"
            }
        }
    }
}
