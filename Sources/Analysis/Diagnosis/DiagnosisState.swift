import Values

/// Per-flow state the diagnosis keeps while the capture is read. Everything here is updated in
/// O(1) per packet (small fixed-size structures, rings that only grow with the data in flight,
/// and event lists that only grow on rare events such as retransmissions and RSTs).

/// Up to four distinct small values with their counts (TTLs of one direction).
struct SmallHistogram: Sendable {
    var values: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    var counts: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    /// Values that did not fit (a fifth distinct value or more).
    var overflow: UInt32 = 0

    @inline(__always)
    mutating func add(_ value: UInt8, count: UInt32 = 1) {
        if counts.0 == 0 || values.0 == value { values.0 = value; counts.0 &+= count; return }
        if counts.1 == 0 || values.1 == value { values.1 = value; counts.1 &+= count; return }
        if counts.2 == 0 || values.2 == value { values.2 = value; counts.2 &+= count; return }
        if counts.3 == 0 || values.3 == value { values.3 = value; counts.3 &+= count; return }
        overflow &+= count
    }

    var entries: [(value: UInt8, count: UInt32)] {
        [(values.0, counts.0), (values.1, counts.1), (values.2, counts.2), (values.3, counts.3)]
            .filter { $0.1 > 0 }.map { (value: $0.0, count: $0.1) }
    }

    var total: UInt32 { counts.0 &+ counts.1 &+ counts.2 &+ counts.3 &+ overflow }

    /// The most frequent value (nil when empty).
    var mode: UInt8? { entries.max(by: { $0.count < $1.count })?.value }
}

/// The last four packets of a direction, to recognise copies of them (capture artifacts).
/// Each is kept as a 64-bit fingerprint of its header fields, so the common "no copy" case costs
/// four integer compares.
struct RecentSignatures: Sendable {
    var fingerprints: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    var times: (CaptureTime, CaptureTime, CaptureTime, CaptureTime) = (.epoch, .epoch, .epoch, .epoch)
    var ttls: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    var next = 0

    /// The copied packet's delay and TTL when `fingerprint` repeats a recent one: same header
    /// fields and IP ID, and either seen at another point of the path (TTL differs, IP ID
    /// non-zero, within 1 s) or at the same point within a millisecond (at the same instant when
    /// the IP ID is 0).
    @inline(__always)
    func copied(by fingerprint: UInt64, ipID: UInt16, time: CaptureTime, ttl: UInt8) -> (delay: TimeSpan, ttl: UInt8)? {
        var index = -1
        if fingerprints.0 == fingerprint { index = 0 }
        else if fingerprints.1 == fingerprint { index = 1 }
        else if fingerprints.2 == fingerprint { index = 2 }
        else if fingerprints.3 == fingerprint { index = 3 }
        guard index >= 0 else { return nil }
        let (seen, seenTTL): (CaptureTime, UInt8)
        switch index {
        case 0: (seen, seenTTL) = (times.0, ttls.0)
        case 1: (seen, seenTTL) = (times.1, ttls.1)
        case 2: (seen, seenTTL) = (times.2, ttls.2)
        default: (seen, seenTTL) = (times.3, ttls.3)
        }
        let delay = time - seen
        guard delay >= .zero else { return nil }
        let hopCopy = ttl != seenTTL && ipID != 0 && delay <= .seconds(1)
        let samePoint = ttl == seenTTL && delay <= .milliseconds(1) && (ipID != 0 || delay == .zero)
        return hopCopy || samePoint ? (delay, seenTTL) : nil
    }

    @inline(__always)
    mutating func insert(_ fingerprint: UInt64, time: CaptureTime, ttl: UInt8) {
        switch next {
        case 0: fingerprints.0 = fingerprint; times.0 = time; ttls.0 = ttl
        case 1: fingerprints.1 = fingerprint; times.1 = time; ttls.1 = ttl
        case 2: fingerprints.2 = fingerprint; times.2 = time; ttls.2 = ttl
        default: fingerprints.3 = fingerprint; times.3 = time; ttls.3 = ttl
        }
        next = (next + 1) & 3
    }

    /// Header fields that a copy repeats and a resend does not all repeat, mixed into 64 bits
    /// (never 0, the empty slot).
    @inline(__always)
    static func fingerprint(_ segment: TCPSegment) -> UInt64 {
        var h = UInt64(segment.sequenceNumber) &* 0x9E37_79B9_7F4A_7C15
        h ^= UInt64(segment.acknowledgmentNumber) &* 0xC2B2_AE3D_27D4_EB4F
        h ^= (UInt64(segment.payloadLength) << 32 | UInt64(segment.flags.rawValue) << 16 | UInt64(segment.window))
            &* 0x1656_67B1_9E37_79F9
        h ^= UInt64(segment.ip.identification) &* 0x27D4_EB2F_1656_67C5
        let options = segment.options
        if options.sackCount > 0 {
            let block = options.sackBlock(0)
            h ^= (UInt64(block.left) << 32 | UInt64(block.right)) &* 0xFF51_AFD7_ED55_8CCD
        }
        h ^= UInt64(options.timestampValue) &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 31
        return h | 1
    }
}

/// One data segment sent in a direction, kept while it may still be retransmitted.
struct SentSegment: Sendable {
    var seq: UInt32
    var length: UInt32
    var ipID: UInt16
    var frame: UInt64
    var time: CaptureTime
    /// tshark flagged it window-full: it filled the receiver's advertised window.
    var filledWindow = false
}

/// Recent data segments of one direction: a ring that grows (up to `limit`) only while the
/// oldest entry is still unacknowledged, so its size follows the data in flight.
struct SentRing: Sendable {
    static let limit = 8192
    private var storage: ContiguousArray<SentSegment> = []
    private var head = 0
    private(set) var count = 0

    @inline(__always)
    mutating func push(_ segment: SentSegment, peerAck: UInt32, peerAckKnown: Bool) {
        if storage.isEmpty {
            storage = ContiguousArray(repeating: segment, count: 16)
        }
        if count == storage.count {
            let oldest = storage[head]
            let oldestUnacked = !peerAckKnown || SeqNum.greaterThan(oldest.seq &+ oldest.length, peerAck)
            if oldestUnacked && storage.count < Self.limit {
                grow()
            } else {
                head = (head + 1) & (storage.count - 1)
                count -= 1
            }
        }
        storage[(head + count) & (storage.count - 1)] = segment
        count += 1
    }

    private mutating func grow() {
        var bigger = ContiguousArray<SentSegment>()
        bigger.reserveCapacity(storage.count * 2)
        for i in 0..<count { bigger.append(storage[(head + i) & (storage.count - 1)]) }
        let filler = bigger[0]
        while bigger.count < storage.count * 2 { bigger.append(filler) }
        storage = bigger
        head = 0
    }

    /// The segments sent at or beyond `seq` (newest first, up to 4096), and the oldest one's frame.
    func sent(from seq: UInt32) -> (count: Int, oldestFrame: UInt64?) {
        var found = 0
        var oldest: UInt64?
        var i = count - 1
        while i >= 0 && found < 4096 {
            let entry = storage[(head + i) & (storage.count - 1)]
            guard SeqNum.greaterOrEqual(entry.seq, seq) else { break }
            found += 1
            oldest = entry.frame
            i -= 1
        }
        return (found, oldest)
    }

    /// The frame of one of the last `lookback` segments sent with IP ID `ipID`, if any.
    func frame(withIPID ipID: UInt16, lookback: Int = 64) -> UInt64? {
        var i = count - 1
        while i >= 0 && i >= count - lookback {
            let entry = storage[(head + i) & (storage.count - 1)]
            if entry.ipID == ipID { return entry.frame }
            i -= 1
        }
        return nil
    }

    /// The oldest and the newest earlier copies of the byte at `seq` (excluding `frame`).
    func copies(covering seq: UInt32, before frame: UInt64) -> (oldest: SentSegment, newest: SentSegment, count: Int)? {
        var oldest: SentSegment?
        var newest: SentSegment?
        var found = 0
        var i = count - 1
        while i >= 0 {
            let entry = storage[(head + i) & (storage.count - 1)]
            if entry.frame < frame && SeqNum.lessOrEqual(entry.seq, seq)
                && SeqNum.lessThan(seq, entry.seq &+ entry.length) {
                found += 1
                if newest == nil { newest = entry }
                oldest = entry
            }
            i -= 1
        }
        guard let oldest, let newest else { return nil }
        return (oldest, newest, found)
    }
}

/// RTT samples of the data one direction sends (from the peer's ACKs), Karn-clean.
struct RTTTracker: Sendable {
    var count = 0
    var minimum = TimeSpan.nanoseconds(.max)
    var maximum = TimeSpan.zero
    /// RFC 6298 smoothed RTT and variation, in ns as Doubles (the averages keep their fractions).
    var smoothed: Double = 0
    var variation: Double = 0
    /// The last eight samples (ring), for "RTT just before the loss".
    var recent: ContiguousArray<TimeSpan> = []
    var recentNext = 0
    /// The first eight samples, the connection's early RTT.
    var early: ContiguousArray<TimeSpan> = []

    @inline(__always)
    mutating func add(_ sample: TimeSpan) {
        guard sample >= .zero else { return }
        count += 1
        minimum = min(minimum, sample)
        maximum = max(maximum, sample)
        let value = Double(sample.nanoseconds)
        if count == 1 {
            smoothed = value
            variation = value / 2
            recent.reserveCapacity(8)
            early.reserveCapacity(8)
        } else {
            variation = 0.75 * variation + 0.25 * abs(smoothed - value)
            smoothed = 0.875 * smoothed + 0.125 * value
        }
        if early.count < 8 { early.append(sample) }
        if recent.count < 8 {
            recent.append(sample)
        } else {
            recent[recentNext] = sample
        }
        recentNext = (recentNext + 1) & 7
    }

    var minimumIfAny: TimeSpan? { count > 0 ? minimum : nil }
    var recentMedian: TimeSpan? { Stats.median(Array(recent)) }
    /// RFC 6298 RTO from the samples (without the 1 s floor), ns.
    var rto: Double? { count > 0 ? smoothed + max(4 * variation, 1_000_000) : nil }
}

enum Stats {
    /// The upper median (the middle value, or the higher of the two middle ones).
    static func median<Value: Comparable>(_ values: [Value]) -> Value? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    /// Milliseconds rounded to the microsecond: how findings print a span.
    static func ms(_ span: TimeSpan) -> Double { (Double(span.nanoseconds) / 1_000).rounded() / 1_000 }
    /// The same for a span in ns held as a Double (a smoothed RTT).
    static func ms(_ ns: Double) -> Double { (ns / 1_000).rounded() / 1_000 }
}

/// The analyzer's raw Int64 times of a frame, as capture times and spans.
extension FrameAnalysis {
    var time: CaptureTime { CaptureTime(nanosecondsSinceEpoch: timestamp) }
    /// tshark's ack_rtt: from the segment this frame acknowledges exactly.
    var ackRoundTrip: TimeSpan? { ackRTT.map(TimeSpan.init(nanoseconds:)) }
    /// tshark's initial_rtt: the handshake's round trip.
    var initialRoundTrip: TimeSpan? { initialRTT.map(TimeSpan.init(nanoseconds:)) }
    /// tshark's rto: for a plain retransmission, the time since the oldest unacknowledged segment.
    var retransmissionTimeout: TimeSpan? { rto.map(TimeSpan.init(nanoseconds:)) }
}

extension PacketRecord {
    var time: CaptureTime { CaptureTime(nanosecondsSinceEpoch: timestamp) }
}

extension CaptureWindow {
    /// `coverage(from:to:)` for capture times.
    func coverage(from: CaptureTime, to: CaptureTime) -> Coverage {
        coverage(from: from.nanosecondsSinceEpoch, to: to.nanosecondsSinceEpoch)
    }

    var recordedEndTime: CaptureTime? { recordedEnd.map(CaptureTime.init(nanosecondsSinceEpoch:)) }
}

/// Why the receiver side said a segment was missing before it was retransmitted.
struct LossSignal: OptionSet, Sendable {
    let rawValue: UInt8
    /// The peer's duplicate ACKs stood at this segment's sequence number.
    static let duplicateAcks = LossSignal(rawValue: 1)
    /// The peer's SACK blocks left a hole at this segment.
    static let sackHole = LossSignal(rawValue: 2)
    /// This vantage never saw the original: a gap ("previous segment not captured") covered it.
    static let gapAtVantage = LossSignal(rawValue: 4)
}

/// One retransmitted (or out-of-order re-sent) data segment and what happened around it.
struct RetransmissionEvent: Sendable {
    var frame: UInt64
    var time: CaptureTime
    var seq: UInt32
    var length: UInt32
    var ipID: UInt16
    var flags: AnalysisFlags
    var fin: Bool
    /// A bare FIN carrying the SYN's own sequence number (the ISN): the SYN occupies that number,
    /// so no valid ACK ever covers this FIN (an ACK of ISN + 1 acknowledges the SYN only).
    var finAtISN = false

    /// The sequence number an ACK must reach to cover this copy.
    var end: UInt32 { seq &+ length &+ (fin ? (finAtISN ? 2 : 1) : 0) }
    /// The sender's highest sequence number sent before this copy (the recovery point).
    var senderHighSeq: UInt32 = 0
    /// The first copy this vantage saw, if any.
    var originalFrame: UInt64?
    var originalTime: CaptureTime?
    var originalIPID: UInt16?
    var originalLength: UInt32?
    /// The original filled the receiver's window (tshark's window-full flag).
    var originalFilledWindow = false
    /// Copies seen before this one.
    var earlierCopies = 0
    var tsharkRTO: TimeSpan?
    /// The smoothed RTT before this copy, ns (see `RTTTracker.smoothed`).
    var srttBefore: Double?
    var minRTTBefore: TimeSpan?
    var samplesBefore = 0
    var recentMedianBefore: TimeSpan?
    /// How many of the last (up to 8) RTT samples were at least twice the minimum.
    var recentInflatedBefore = 0
    var recentCountBefore = 0
    var lossSignal: LossSignal = []
    var duplicateAcksBefore = 0
    /// When the segment just before the original (in sequence) was sent: the original went out in
    /// the same flight when that is less than a round trip earlier.
    var previousSegmentTime: CaptureTime?
    /// The peer's cumulative ACK stood exactly at this segment: everything before it had arrived.
    var peerAckedUpToIt = false
    /// The peer had already acknowledged these bytes when this copy was seen.
    var peerAckedBefore = false
    /// The peer's receive window was zero (or a zero-window stall was on) at that moment.
    var peerWindowZero = false
    /// The peer's last advertised window (scaled as tshark shows it) at that moment.
    var peerWindow: UInt32 = 0xFFFF_FFFF
    // Later:
    var coverAckFrame: UInt64?
    var coverAckTime: CaptureTime?
    var coverAckHasDSACK = false
    var coverAckWindowZero = false
    /// The window that covering ACK advertised (scaled as tshark shows it).
    var coverAckWindow: UInt32?
    /// The covering ACK ends exactly where this copy ends while the original ended elsewhere.
    var coverAckMatchesRetransmissionOnly = false
    var dsackFrame: UInt64?
    var dsackTime: CaptureTime?
    var dsackWindowZero = false
    /// Karn-clean RTT samples taken after this event (at most 8).
    var samplesAfter: [TimeSpan] = []
    /// The peer sent anything after this copy (false: the peer went silent).
    var peerSpokeAfter = false
    /// Filled by the cross-vantage pass: what the other vantage saw of these bytes.
    var crossVantage: CrossVantageSighting?
}

/// What a downstream vantage saw of a retransmitted segment.
struct CrossVantageSighting: Sendable {
    var vantage: String
    var copies: Int
    var originalArrived: Bool?
    var retransmissionArrived: Bool?
    var frames: [UInt64]
}

/// A hole in this vantage's view of a direction's sequence space (tshark's lost_segment).
struct CaptureGap: Sendable {
    var from: UInt32
    var to: UInt32
    var frame: UInt64
    var time: CaptureTime
    var gapIPID: UInt16
    var beforeIPID: UInt16
    var beforeIPIDKnown: Bool
    /// The TSval of the segment that revealed the gap (nil without timestamps).
    var gapTSval: UInt32?
    var filled = false
}

/// A segment that arrived late without being retransmitted (reordering on the path).
struct ReorderEvent: Sendable {
    var openFrame: UInt64
    var fillFrame: UInt64
    var delay: TimeSpan
    var seq: UInt32
    var byIPID: Bool
    /// A retransmission the sender made in vain, before the late original turned up.
    var spuriousRetransmissionFrame: UInt64?
}

/// An open SACK hole reported by the peer for this direction's data.
struct SACKHole: Sendable {
    var start: UInt32
    var end: UInt32
    var frame: UInt64
    var time: CaptureTime
    var retransmissionsAtOpen: Int
}

/// One zero-window stall of a receiver.
struct ZeroWindowStall: Sendable {
    var startFrame: UInt64
    var startTime: CaptureTime
    var endFrame: UInt64?
    var endTime: CaptureTime?
    var probes = 0
    var zeroReplies = 0
    var lastZeroFrame: UInt64
    var probeIntervals: [TimeSpan] = []
    /// The ACK number the zero window was advertised at: the window's right edge.
    var edge: UInt32 = 0
    /// Data segments the sender sent (or that arrived here) at or beyond that edge while the
    /// window was zero: the receiver discards them, and they must be sent again.
    var overruns = 0
    var firstOverrunFrame: UInt64?
}

/// A receive window that fell below one of the sender's segments without reaching zero: the
/// sender cannot send a full segment (and, avoiding silly windows, usually sends nothing) until
/// the receiver reads and the window reopens.
struct NarrowWindowStall: Sendable {
    var startFrame: UInt64
    var startTime: CaptureTime
    var window: UInt32
    var endFrame: UInt64?
    var endTime: CaptureTime?
    /// The sender's data segments while the window was narrow.
    var dataDuring = 0
    /// The sender's first data segment after the window reopened, and how soon it came.
    var resumedFrame: UInt64?
    var resumedDelay: TimeSpan?
}

/// Narrow-window stalls of one receiver (see `NarrowWindowStall`).
struct NarrowWindowTracker: Sendable {
    var stalls: [NarrowWindowStall] = []
    var open = false

    /// Follows one window advertisement (non-zero, scaled) against the sender's segment size.
    mutating func advertise(_ window: UInt32, segment: UInt32, frame: UInt64, time: CaptureTime) {
        guard segment > 0 else { return }
        if window < segment {
            if !open && stalls.count < 64 {
                stalls.append(NarrowWindowStall(startFrame: frame, startTime: time, window: window))
                open = true
            } else if open, let last = stalls.indices.last {
                stalls[last].window = min(stalls[last].window, window)
            }
        } else if open, let last = stalls.indices.last {
            stalls[last].endFrame = frame
            stalls[last].endTime = time
            open = false
        }
    }

    /// The sender sent data: during a narrow stall, or as the first segment after one.
    mutating func senderSent(frame: UInt64, time: CaptureTime) {
        guard let last = stalls.indices.last else { return }
        if open {
            stalls[last].dataDuring += 1
        } else if stalls[last].resumedFrame == nil, let end = stalls[last].endTime {
            stalls[last].resumedFrame = frame
            stalls[last].resumedDelay = time - end
        }
    }
}

/// The receive-window behaviour of the side that advertises it.
struct WindowTracker: Sendable {
    var narrow = NarrowWindowTracker()
    var inStall = false
    var stalls: [ZeroWindowStall] = []
    var stallCount = 0
    var zeroAdvertisements = 0
    var windowFullFrames = 0
    var firstWindowFullFrame: UInt64?
    var lastRawWindow: UInt32 = 0xFFFF_FFFF
    var lastScaledWindow: UInt32 = 0xFFFF_FFFF
    /// The last few distinct windows (scaled) before the first stall.
    var windowsBeforeFirstStall: [UInt32] = []
    /// The last persist probe of the stall under way (nil: none yet).
    var lastProbeTime: CaptureTime?
    var minimumWindow: UInt32 = .max
}

extension WindowTracker {
    /// One window advertisement of the side that advertises this window (an RST advertises
    /// none): zero-window stalls begin and end, and the smallest window and those before the
    /// first stall are kept.
    @inline(__always)
    mutating func observe(_ f: FrameAnalysis) {
        let segment = f.segment
        let raw = UInt32(segment.window)
        if segment.flags.contains(.rst) { return }
        if f.flags.contains(.zeroWindow) {
            zeroAdvertisements += 1
            if !inStall {
                inStall = true
                stallCount += 1
                if stalls.count < 512 {
                    stalls.append(ZeroWindowStall(startFrame: f.frameNumber, startTime: f.time, lastZeroFrame: f.frameNumber,
                                                  edge: segment.acknowledgmentNumber))
                }
                lastProbeTime = nil
            } else if let index = stalls.indices.last {
                stalls[index].zeroReplies += 1
                stalls[index].lastZeroFrame = f.frameNumber
            }
        } else if raw != 0 && inStall && !segment.flags.contains(.fin) {
            inStall = false
            if let index = stalls.indices.last {
                stalls[index].endFrame = f.frameNumber
                stalls[index].endTime = f.time
            }
        }
        if raw != 0 && raw != lastRawWindow {
            minimumWindow = min(minimumWindow, f.scaledWindow)
            if stallCount == 0 {
                if windowsBeforeFirstStall.count >= 6 { windowsBeforeFirstStall.removeFirst() }
                windowsBeforeFirstStall.append(f.scaledWindow)
            }
        }
        lastRawWindow = raw
        lastScaledWindow = f.scaledWindow
    }

    /// The latest stall just began with data already in flight beyond its edge (seen here before
    /// the zero window, at a sender-side vantage): that data reaches a receiver with no room for it.
    mutating func beganWithDataBeyondEdge(_ beyond: (count: Int, oldestFrame: UInt64?)) {
        guard let last = stalls.indices.last else { return }
        stalls[last].overruns = beyond.count
        stalls[last].firstOverrunFrame = beyond.oldestFrame
    }

    /// A persist probe (or keep-alive) at `time`: counted, with its interval, when a stall is under
    /// way. False when none is.
    @inline(__always)
    mutating func probed(at time: CaptureTime) -> Bool {
        guard inStall, let index = stalls.indices.last else { return false }
        stalls[index].probes += 1
        let start = stalls[index].startTime
        let since = time - max(lastProbeTime ?? start, start)
        if stalls[index].probeIntervals.count < 16 { stalls[index].probeIntervals.append(since) }
        lastProbeTime = time
        return true
    }

    /// The peer's segment `frame` filled this window (tshark's window_full).
    @inline(__always)
    mutating func filled(frame: UInt64) {
        windowFullFrames += 1
        if firstWindowFullFrame == nil { firstWindowFullFrame = frame }
    }

    /// The peer sent data (not a probe) starting at `seq`: beyond the edge of the zero window under
    /// way, the receiver has no room and drops it.
    @inline(__always)
    mutating func peerSent(seq: UInt32, frame: UInt64) {
        guard inStall, let last = stalls.indices.last, SeqNum.greaterOrEqual(seq, stalls[last].edge) else { return }
        stalls[last].overruns += 1
        if stalls[last].firstOverrunFrame == nil { stalls[last].firstOverrunFrame = frame }
    }
}

/// One RST as seen, with what the diagnosis needs to judge it.
struct RSTRecord: Sendable {
    var frame: UInt64
    var time: CaptureTime
    var fromClient: Bool
    var seq: UInt32
    var ack: UInt32
    var hasACK: Bool
    var ttl: UInt8
    var ipID: UInt16
    var window: UInt16
    var senderHighSeq: UInt32
    var senderSeqKnown: Bool
    var senderLastIPID: UInt16
    var senderIPIDKnown: Bool
    var senderIPIDSequential: Bool
    var senderPackets: Int
    var senderSentFIN: Bool
    var senderSentSYN: Bool
    var senderSentSYNACK: Bool
    var senderSentData: Bool
    var peerSentFIN: Bool
    var peerOnlySYN: Bool
    var peerISN: UInt32?
    var peerLastTime: CaptureTime?
    var peerLastFrame: UInt64?
    var peerLastAck: UInt32?
    var peerLastSeqEnd: UInt32?
    var peerLastHadACK: Bool
    var peerLastFlags: TCPControlFlags
    /// The receiver's (the RST's target's) unacknowledged data: the RST's sender had unread data.
    var senderHadUnackedPeerData: Bool
    /// The first sequence number and the TTL of the peer's last segment (the one answered).
    var peerLastSeq: UInt32?
    var peerLastTTL: UInt8?
    /// What the RST's sender had acknowledged of the peer's data before it.
    var senderAck: UInt32?
    /// The RST's sender's own last packet in this conversation before the RST.
    var senderLastTime: CaptureTime?
    var senderLastFrame: UInt64?
    /// The RST's sender had data of its own the peer had not acknowledged.
    var senderDataUnacked: Bool
    /// The peer's packets (RSTs left out) before this RST: the peer's packets after it, counted
    /// at the end, say whether the connection survived the RST.
    var peerPackets: Int = 0
    /// The peer's recent packet whose IP ID this RST carries (IPv4, non-zero): a forger building
    /// its RST from the segment it answers copies that segment's IP ID; a host numbers its own.
    var copiedIPIDFrom: UInt64?
    /// Reserved TCP header bits (0x0E00) set in the RST: no host's stack sends them.
    var reservedBits: UInt16 = 0
    /// The highest ACK number the peer sent for the RST's sender's data (any earlier peer
    /// segment, not only the last), and the frame of the sender's FIN, if it sent one.
    var peerAckOfSender: UInt32?
    var senderFINFrame: UInt64?
}

/// A SYN that arrived on an established connection, and how it was answered.
struct LateSYN: Sendable {
    var frame: UInt64
    var time: CaptureTime
    var fromClient: Bool
    var seq: UInt32
    var answerFrame: UInt64?
    var answerDelay: TimeSpan?
    var answerIsChallengeAck = false
    var answerIsRST = false
}
