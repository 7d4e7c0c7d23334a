/// The state tshark keeps for one direction of a TCP conversation (`tcp_flow_t` plus its
/// `tcp_analyze_seq_flow_info_t`), plus counters for reports.
///
/// All sequence numbers are absolute; windows are raw (unscaled) header values.
public struct TCPFlowState: Sendable {
    // MARK: tshark's analysis state

    /// Highest seq + len seen (SYN/FIN count 1). 0 = unknown.
    public internal(set) var nextSeq: UInt32 = 0
    /// When and in which frame `nextSeq` last moved forward.
    public internal(set) var nextSeqTime: Int64 = 0
    public internal(set) var nextSeqFrame: UInt64 = 0
    /// End of the contiguous data seen so far. 0 = unknown.
    public internal(set) var maxSeqToBeAcked: UInt32 = 0
    /// Ack field and time of the most recent packet of this direction.
    public internal(set) var lastAck: UInt32 = 0
    public internal(set) var lastAckTime: Int64 = 0
    /// Raw window of the most recent packet; starts at 0xFFFFFFFF (unknown).
    public internal(set) var window: UInt32 = 0xFFFF_FFFF
    /// Duplicate-ACK counter. `dupAcksHeldBack` (tshark's -1 in an unsigned field) holds back
    /// repeated "ACKed unseen segment" reports, and, being unsigned, also counts as >= 2 for
    /// fast retransmission (tshark 4.0.17 behaves so).
    public internal(set) var dupAckCount: UInt32 = 0
    public static let dupAcksHeldBack = UInt32.max
    public internal(set) var lastNonDupAckFrame: UInt64 = 0
    /// Analysis flags of the most recent packet of this direction.
    public internal(set) var lastSegmentFlags: AnalysisFlags = []
    /// Window-scale shift: -1 unknown, -2 known not to scale, 0...14 the shift.
    public internal(set) var windowScale: Int8 = -1
    /// True until this direction sends a non-SYN segment with ACK (SYN windows are unscaled).
    public internal(set) var isFirstAck = true
    /// First sequence number (ISN for a SYN, seq - 1 otherwise, or ack - 1 seen from the peer).
    public internal(set) var baseSeq: UInt32 = 0
    public internal(set) var baseSeqKnown = false
    /// Bytes in flight are reported only while this is true (a capture gap suspends them).
    public internal(set) var bytesInFlightValid = true
    /// SACK blocks of the most recent packet of this direction (what the peer's bytes in flight
    /// subtract).
    var lastSACK = TCPOptions()
    /// Segments sent and not yet acknowledged.
    var unacked = UnackedSegments()

    // MARK: counters for reports

    public internal(set) var packets: UInt64 = 0
    /// Payload bytes, retransmissions included.
    public internal(set) var payloadBytes: UInt64 = 0
    public internal(set) var firstFrame: UInt64 = 0
    public internal(set) var lastFrame: UInt64 = 0
    public internal(set) var sawSYN = false
    public internal(set) var sawFIN = false
    public internal(set) var sawRST = false
    /// How many frames of this direction carried each flag, indexed like `AnalysisFlags.all`.
    public internal(set) var flagCounts = FlagCounts()
    /// Last TTL / hop limit seen (the diagnosis compares TTLs to spot path changes).
    public internal(set) var lastHopLimit: UInt8 = 0
    public internal(set) var mss: UInt16 = 0

    public init() {}

    /// Back to a new direction's state, keeping the unacknowledged-segment buffers.
    mutating func reset() {
        var kept = UnackedSegments()
        swap(&kept, &unacked)
        kept.empty()
        self = TCPFlowState()
        swap(&kept, &unacked)
    }

    /// Segments sent and not yet acknowledged, oldest first (allocates; for inspection).
    public var unackedSegments: [UnackedSegment] { unacked.entries }
    /// Number of unacknowledged segments tracked.
    public var unackedCount: Int { unacked.count }
}

/// Per-flag frame counters in fixed storage.
public struct FlagCounts: Sendable, Equatable {
    private var counts: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                         UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    public init() {}

    @inline(__always)
    mutating func add(_ flags: AnalysisFlags) {
        var bits = flags.rawValue
        while bits != 0 {
            let bit = bits.trailingZeroBitCount
            bits &= bits &- 1
            withUnsafeMutableBytes(of: &counts) { raw in
                raw.storeBytes(of: raw.load(fromByteOffset: bit * 4, as: UInt32.self) &+ 1,
                               toByteOffset: bit * 4, as: UInt32.self)
            }
        }
    }

    /// Frames that carried `flag` (a single flag).
    public subscript(flag: AnalysisFlags) -> Int {
        let bit = flag.rawValue.trailingZeroBitCount
        return withUnsafeBytes(of: counts) { Int($0.load(fromByteOffset: bit * 4, as: UInt32.self)) }
    }

    public static func + (a: FlagCounts, b: FlagCounts) -> FlagCounts {
        var sum = a
        for (flag, _) in AnalysisFlags.all {
            let bit = flag.rawValue.trailingZeroBitCount
            let extra = b[flag]
            withUnsafeMutableBytes(of: &sum.counts) { raw in
                raw.storeBytes(of: raw.load(fromByteOffset: bit * 4, as: UInt32.self) &+ UInt32(extra),
                               toByteOffset: bit * 4, as: UInt32.self)
            }
        }
        return sum
    }

    public static func == (a: FlagCounts, b: FlagCounts) -> Bool {
        AnalysisFlags.all.allSatisfy { a[$0.flag] == b[$0.flag] }
    }
}
