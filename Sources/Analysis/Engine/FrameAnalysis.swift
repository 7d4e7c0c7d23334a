/// What the analysis says about one TCP frame: tshark's flags plus the per-frame values a
/// diagnosis needs. A value type with no heap storage; produced once per TCP frame.
public struct FrameAnalysis: Sendable {
    /// 1-based frame number in the file.
    public var frameNumber: UInt64
    /// Capture time, ns since the epoch.
    public var timestamp: Int64
    /// pcapng interface the frame was captured on.
    public var interfaceID: UInt32
    /// Conversation index (`TCPAnalyzer.conversations`), equal to tshark's `tcp.stream`.
    public var conversationID: Int
    /// Where the conversation is held: `TCPAnalyzer.conversations[slot]` (equal to
    /// `conversationID` unless the analyzer retires conversations).
    public var slot: Int = 0
    /// True if the client (see `TCPConversation`) sent this frame.
    public var fromClient: Bool
    /// The decoded segment (addresses, ports, seq/ack, raw window, options, TTL, IP ID, VLANs).
    public var segment: TCPSegment
    /// tshark's analysis flags for this frame.
    public var flags: AnalysisFlags = []
    /// Window-scale state of the sender when this frame was analysed: -1 unknown, -2 none, else
    /// the shift.
    public var windowScale: Int8 = -1
    /// The window as tshark's `tcp.window_size` shows it (raw << shift; SYNs never scaled).
    public var scaledWindow: UInt32 = 0
    /// ns between the segment this frame acknowledges exactly and this frame (`ack_rtt`).
    public var ackRTT: Int64?
    /// The frame whose data this frame acknowledges exactly (`acks_frame`).
    public var ackedFrame: UInt64?
    /// The conversation's SYN → first ACK time once known (`initial_rtt`), in ns.
    public var initialRTT: Int64?
    /// For plain retransmissions: ns since the oldest unacknowledged segment (`rto`).
    public var rto: Int64?
    public var rtoFrame: UInt64?
    /// For duplicate ACKs: the running count (#1, #2, ...) and the ACK it duplicates.
    public var duplicateAckNumber: Int32?
    public var duplicateAckFrame: UInt64?
    /// Unacknowledged bytes after this data segment (`bytes_in_flight`).
    public var bytesInFlight: UInt32?
    /// False when tshark stops dissecting this segment before printing its analysis (TCP options
    /// cut by the snap length, or a data offset below 5). The state was still updated.
    public var shownByTshark = true

    public init(frameNumber: UInt64, timestamp: Int64, interfaceID: UInt32, conversationID: Int,
                fromClient: Bool, segment: TCPSegment) {
        self.frameNumber = frameNumber
        self.timestamp = timestamp
        self.interfaceID = interfaceID
        self.conversationID = conversationID
        self.fromClient = fromClient
        self.segment = segment
    }

    /// The flags as `faultline analyze --flags` prints them: tshark's field view, and nothing
    /// for frames tshark would not show.
    public var tsharkFlags: AnalysisFlags { shownByTshark ? flags.tsharkFields : [] }

    /// The segment's first SACK block reports already-acknowledged data (RFC 2883 D-SACK).
    public var hasDSACK: Bool { segment.options.isDSACK(acknowledgment: segment.acknowledgmentNumber) }
}
