/// When a capture was listening: what the file itself records (pcapng `isb_starttime` /
/// `isb_endtime`, which Faultline's captures write) and the times of its first and last packets.
///
/// A packet's absence from a capture means something only inside the time the capture was
/// listening. Packet times alone cannot say that: a capture with three unrelated packets in its
/// first 70 ms may well have run for minutes after them, and an empty one may have run for the
/// whole test. Only the recorded window can.
public struct CaptureWindow: Sendable, Equatable {
    public var recordedStart: Int64?
    public var recordedEnd: Int64?
    public var firstPacket: Int64?
    public var lastPacket: Int64?

    public init(recordedStart: Int64? = nil, recordedEnd: Int64? = nil, firstPacket: Int64? = nil, lastPacket: Int64? = nil) {
        self.recordedStart = recordedStart
        self.recordedEnd = recordedEnd
        self.firstPacket = firstPacket
        self.lastPacket = lastPacket
    }

    /// The window a file's statistics blocks record, across its interfaces (the earliest start,
    /// the latest end), with the packets' own first and last times.
    init(statistics: [CaptureInterfaceStatistics], firstPacket: Int64?, lastPacket: Int64?) {
        self.init(recordedStart: statistics.compactMap(\.startTime).min(),
                  recordedEnd: statistics.compactMap(\.endTime).max(),
                  firstPacket: firstPacket, lastPacket: lastPacket)
    }

    /// Whether the file records both ends of its window.
    public var isRecorded: Bool { recordedStart != nil && recordedEnd != nil }

    /// How far the capture can vouch that it was listening from `from` to `to` (ns).
    enum Coverage: Equatable {
        /// The recorded window holds the span: a packet missing from the file was not there.
        case recorded
        /// The file records no (complete) window, but its own packets surround the span: it was
        /// listening then, as far as packets show.
        case packets
        /// The recorded window excludes the span: the capture was not listening.
        case outside
        /// Nothing says whether the capture was listening (no recorded window, and no packets
        /// around the span: an empty file, or one whose packets end before or start after it).
        case unknown
    }

    func coverage(from: Int64, to: Int64) -> Coverage {
        // A recorded bound beats a packet time; a packet time still proves the capture ran then.
        let start = recordedStart.map { bound in firstPacket.map { min($0, bound) } ?? bound } ?? firstPacket
        let end = recordedEnd.map { bound in lastPacket.map { max($0, bound) } ?? bound } ?? lastPacket
        if let start, let end, start <= from, end >= to {
            return isRecorded ? .recorded : .packets
        }
        if let recordedStart, recordedStart > from { return .outside }
        if let recordedEnd, recordedEnd < to { return .outside }
        return .unknown
    }
}
