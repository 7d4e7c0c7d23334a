/// The TCP expert-analysis flags of tshark 4.0.17, one bit each, in the order tshark's fields
/// are listed (and printed) by `faultline analyze --flags`.
///
/// Each flag is set only for its own condition: a fast retransmission has `.fastRetransmission`,
/// not `.retransmission`. tshark's field `tcp.analysis.retransmission` also matches fast and
/// spurious retransmissions (its expert-info aliasing); `tsharkFieldNames` reproduces that for
/// output meant to be compared with tshark.
public struct AnalysisFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let retransmission = AnalysisFlags(rawValue: 1 << 0)
    public static let fastRetransmission = AnalysisFlags(rawValue: 1 << 1)
    public static let spuriousRetransmission = AnalysisFlags(rawValue: 1 << 2)
    public static let outOfOrder = AnalysisFlags(rawValue: 1 << 3)
    public static let lostSegment = AnalysisFlags(rawValue: 1 << 4)
    public static let ackLostSegment = AnalysisFlags(rawValue: 1 << 5)
    public static let duplicateAck = AnalysisFlags(rawValue: 1 << 6)
    public static let zeroWindow = AnalysisFlags(rawValue: 1 << 7)
    public static let zeroWindowProbe = AnalysisFlags(rawValue: 1 << 8)
    public static let zeroWindowProbeAck = AnalysisFlags(rawValue: 1 << 9)
    public static let windowFull = AnalysisFlags(rawValue: 1 << 10)
    public static let windowUpdate = AnalysisFlags(rawValue: 1 << 11)
    public static let keepAlive = AnalysisFlags(rawValue: 1 << 12)
    public static let keepAliveAck = AnalysisFlags(rawValue: 1 << 13)
    public static let reusedPorts = AnalysisFlags(rawValue: 1 << 14)

    /// Every flag with its tshark field name (`tcp.analysis.<name>`), in output order.
    public static let all: [(flag: AnalysisFlags, name: String)] = [
        (.retransmission, "retransmission"),
        (.fastRetransmission, "fast_retransmission"),
        (.spuriousRetransmission, "spurious_retransmission"),
        (.outOfOrder, "out_of_order"),
        (.lostSegment, "lost_segment"),
        (.ackLostSegment, "ack_lost_segment"),
        (.duplicateAck, "duplicate_ack"),
        (.zeroWindow, "zero_window"),
        (.zeroWindowProbe, "zero_window_probe"),
        (.zeroWindowProbeAck, "zero_window_probe_ack"),
        (.windowFull, "window_full"),
        (.windowUpdate, "window_update"),
        (.keepAlive, "keep_alive"),
        (.keepAliveAck, "keep_alive_ack"),
        (.reusedPorts, "reused_ports"),
    ]

    /// The flag for a tshark field name (`retransmission`, `tcp.analysis.window_full`, ...).
    public init?(name: String) {
        let bare = name.hasPrefix("tcp.analysis.") ? String(name.dropFirst("tcp.analysis.".count)) : name
        guard let entry = Self.all.first(where: { $0.name == bare }) else { return nil }
        self = entry.flag
    }

    /// Names of the flags set, in output order.
    public var names: [String] { Self.all.filter { contains($0.flag) }.map(\.name) }

    /// The flags as tshark's `tcp.analysis.*` fields show them: fast and spurious
    /// retransmissions also carry the `retransmission` field.
    public var tsharkFields: AnalysisFlags {
        var fields = self
        if !intersection([.fastRetransmission, .spuriousRetransmission]).isEmpty {
            fields.insert(.retransmission)
        }
        return fields
    }
}
