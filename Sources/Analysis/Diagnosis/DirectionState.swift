import Values

/// One direction of a conversation as the diagnosis follows it (`DirectionState`), made of small
/// trackers, each with its own `observe` and one meaning. The observer's step
/// (DiagnosisObserver.swift) feeds them packet by packet, in O(1) each.

/// State of one direction of one conversation (packets sent by one endpoint), capture copies
/// left out: what it sent, what it acknowledged of the peer's data, how the peer acknowledged its
/// data, and the window it advertised.
struct DirectionState: Sendable {
    var packets = 0
    var rsts = 0
    var firstFrame: UInt64 = 0
    var lastFrame: UInt64 = 0
    var firstTime = CaptureTime.epoch
    var lastTime = CaptureTime.epoch
    /// TTLs of its packets (RSTs left out).
    var ttl = SmallHistogram()
    var ipID = IPIDTracker()
    var captureCopies = CaptureCopyTracker()
    var handshake = SYNTracker()
    var finFrame: UInt64?
    var sequence = SequenceTracker()
    var latest = LatestPacket()
    var keepAlives = KeepAliveTracker()
    /// What it acknowledged of the peer's data.
    var acks = AckTracker()
    // Its data as the peer acknowledged it:
    var sent = SentRing()
    var rtt = RTTTracker()
    var peerAcks = PeerAckTracker()
    var recovery = RecoveryTracker()
    var gaps = GapTracker()
    var reorders = ReorderTracker()
    /// The window it advertised (for the peer's data).
    var window = WindowTracker()

    var sentFIN: Bool { finFrame != nil }
    var retransmissions: [RetransmissionEvent] { recovery.events }
    var retransmissionCount: Int { recovery.count }
}

/// Copies of a direction's recent packets: the capture saw the same packet twice (an artifact of
/// the capture, not a retransmission). Copies are left out of every other judgement.
struct CaptureCopyTracker: Sendable {
    /// The last four packets, to recognise copies of them.
    var recent = RecentSignatures()
    var count = 0
    var firstFrame: UInt64 = 0
    /// The first 64 copies' frames.
    var frames: [UInt64] = []
    /// How far each copy's TTL was from its original's (0: seen twice at the same point).
    var ttlDifferences = SmallHistogram()
    var maxDelay = TimeSpan.zero

    /// Whether `f` copies one of the direction's last four packets (counted here); otherwise it
    /// becomes one of them. A SYN repeated after the handshake is a late duplicate on the path
    /// (R5), never a copy.
    @inline(__always)
    mutating func observe(_ f: FrameAnalysis, established: Bool) -> Bool {
        let segment = f.segment
        let syn = segment.flags.contains(.syn), ack = segment.flags.contains(.ack)
        let ttl = segment.ip.hopLimit
        let fingerprint = RecentSignatures.fingerprint(segment)
        if !(syn && !ack && established),
           let original = recent.copied(by: fingerprint, ipID: segment.ip.identification, time: f.time, ttl: ttl) {
            count += 1
            if firstFrame == 0 { firstFrame = f.frameNumber }
            if frames.count < 64 { frames.append(f.frameNumber) }
            ttlDifferences.add(UInt8(clamping: abs(Int(original.ttl) - Int(ttl))))
            maxDelay = max(maxDelay, original.delay)
            return true
        }
        recent.insert(fingerprint, time: f.time, ttl: ttl)
        return false
    }
}

/// The IPv4 IDs a direction's packets carry. A host numbering its packets from one counter steps
/// by small amounts (sequential); some stacks send 0. Tells a host's own packet from one a box
/// built from the segment it answers.
struct IPIDTracker: Sendable {
    /// The last non-RST packet's ID, once one was seen.
    var last: UInt16 = 0
    var known = false
    var zeroCount = 0
    /// Steps from one packet's ID to the next (RSTs left out), and those of 1 to 64.
    var steps = 0
    var smallSteps = 0
    /// The last data segment's ID (IPv4 only when `lastDataKnown`).
    var lastData: UInt16 = 0
    var lastDataKnown = false

    /// Four steps or more, four in five of them small.
    var sequential: Bool { steps >= 4 && smallSteps * 5 >= steps * 4 }

    /// Any packet of the direction; an RST's ID is counted as zero or not, and left out of the
    /// sequence (stacks number RSTs apart).
    @inline(__always)
    mutating func observe(_ ip: IPInfo, isRST: Bool) {
        guard ip.version == 4 else { return }
        let id = ip.identification
        if id == 0 { zeroCount += 1 }
        guard !isRST else { return }
        if known {
            let step = id &- last
            steps += 1
            if step >= 1 && step <= 64 { smallSteps += 1 }
        }
        last = id
        known = true
    }

    @inline(__always)
    mutating func observeData(_ ip: IPInfo) {
        lastData = ip.identification
        lastDataKnown = ip.version == 4
    }
}

/// The SYNs and SYN/ACKs a direction sent: its ISN, how many and when, and SACK's offer.
struct SYNTracker: Sendable {
    /// The first SYN's (or SYN/ACK's) sequence number.
    var isn: UInt32 = 0
    var synCount = 0
    /// The first 32 SYNs' frames and times.
    var synFrames: [UInt64] = []
    var synTimes: [CaptureTime] = []
    var synAckCount = 0
    var synAckFrame: UInt64 = 0
    var synAckTime = CaptureTime.epoch
    var sackPermitted = false
    /// Nothing but SYNs sent so far (RSTs aside).
    var onlySYNs = true

    /// The ISN, when the direction sent a SYN (nil: none seen).
    var firstISN: UInt32? { synCount > 0 ? isn : nil }

    /// Any packet of the direction but an RST.
    @inline(__always)
    mutating func observe(_ segment: TCPSegment, frame: UInt64, time: CaptureTime) {
        let syn = segment.flags.contains(.syn), ack = segment.flags.contains(.ack)
        if syn && !ack {
            if synCount == 0 { isn = segment.sequenceNumber }
            synCount += 1
            if synFrames.count < 32 {
                synFrames.append(frame)
                synTimes.append(time)
            }
            if segment.options.sackPermitted { sackPermitted = true }
        } else if syn && ack {
            if synAckCount == 0 {
                synAckFrame = frame
                synAckTime = time
                isn = segment.sequenceNumber
            }
            synAckCount += 1
            if segment.options.sackPermitted { sackPermitted = true }
        }
        if !syn { onlySYNs = false }
    }
}

/// How far a direction's sequence space reached, and the data it sent.
struct SequenceTracker: Sendable {
    /// The end of the highest segment (seq + payload, SYN and FIN counting one each), once known.
    var high: UInt32 = 0
    var known = false
    var sentData = false
    var dataPackets = 0
    /// The largest data segment (the direction's effective MSS, as far as seen).
    var largestSegment: UInt32 = 0

    /// A data segment (not a SYN) of `length` bytes.
    @inline(__always)
    mutating func observeData(length: UInt32) {
        sentData = true
        dataPackets += 1
        largestSegment = max(largestSegment, length)
    }

    /// Any packet but an RST: the sequence space it occupies (a bare ACK makes its sequence
    /// number known).
    @inline(__always)
    mutating func observe(_ segment: TCPSegment) {
        let syn = segment.flags.contains(.syn), fin = segment.flags.contains(.fin)
        let length = segment.payloadLength
        if length > 0 || syn || fin {
            let end = segment.sequenceNumber &+ length &+ (syn ? 1 : 0) &+ (fin ? 1 : 0)
            if !known || SeqNum.greaterThan(end, high) {
                high = end
                known = true
            }
        } else if !known {
            high = segment.sequenceNumber
            known = true
        }
    }
}

/// A direction's latest packet: what the peer's RST is judged against (the segment it answers).
struct LatestPacket: Sendable {
    var time = CaptureTime.epoch
    var frame: UInt64 = 0
    var seq: UInt32 = 0
    /// The sequence number after it (payload, SYN and FIN counting).
    var seqEnd: UInt32 = 0
    var ack: UInt32 = 0
    var ttl: UInt8 = 0
    var hadACK = false
    var flags = TCPControlFlags()

    @inline(__always)
    mutating func observe(_ f: FrameAnalysis) {
        let segment = f.segment
        let tcp = segment.flags
        let occupied = segment.payloadLength &+ (tcp.contains(.syn) ? 1 : 0) &+ (tcp.contains(.fin) ? 1 : 0)
        time = f.time
        frame = f.frameNumber
        ack = segment.acknowledgmentNumber
        seqEnd = segment.sequenceNumber &+ occupied
        seq = segment.sequenceNumber
        ttl = segment.ip.hopLimit
        hadACK = tcp.contains(.ack)
        flags = tcp
    }

    /// An RST: only when it came (its own fields are in its `RSTRecord`).
    @inline(__always)
    mutating func observeRST(_ f: FrameAnalysis) {
        time = f.time
        frame = f.frameNumber
    }
}

/// Keep-alives a direction sent while the peer's window was open: the idle connection checked,
/// benign — unless the peer answers with an RST (it had lost the connection).
struct KeepAliveTracker: Sendable {
    var benign = 0
    /// The first 16 benign keep-alives' frames.
    var benignFrames: [UInt64] = []
    /// The direction's last packet was a benign keep-alive (until the answer shows).
    var lastWasKeepAlive = false
    var answeredByRST = 0

    @inline(__always)
    mutating func sent(frame: UInt64) {
        benign += 1
        lastWasKeepAlive = true
        if benignFrames.count < 16 { benignFrames.append(frame) }
    }

    /// The peer answered the last keep-alive (frame `keepAliveFrame`) with an RST: not benign.
    mutating func answeredByReset(keepAliveFrame: UInt64) {
        lastWasKeepAlive = false
        benign -= 1
        answeredByRST += 1
        if benignFrames.last == keepAliveFrame { benignFrames.removeLast() }
    }
}

/// What a direction acknowledged of the peer's data: its highest cumulative ACK and when that
/// last moved, and whether it ever sent SACK blocks.
struct AckTracker: Sendable {
    var value: UInt32 = 0
    var known = false
    var lastAdvanceTime = CaptureTime.epoch
    var sentSACK = false

    /// The cumulative ACK, once one was seen.
    var acknowledged: UInt32? { known ? value : nil }

    /// Whether `ack` acknowledges more than before.
    @inline(__always)
    func advances(to ack: UInt32) -> Bool { !known || SeqNum.greaterThan(ack, value) }

    @inline(__always)
    mutating func advance(to ack: UInt32, at time: CaptureTime) {
        value = ack
        known = true
        lastAdvanceTime = time
    }
}

/// What the peer's ACKs said about a direction's data beyond moving forward: duplicate ACKs
/// (the run at the current ACK number, and all), D-SACKs, and the SACK hole open now.
struct PeerAckTracker: Sendable {
    var duplicateRun = 0
    var duplicates = 0
    var dsacks = 0
    var sackHole: SACKHole?
}

/// A direction's retransmissions and the loss recovery they belong to: the recovery point (the
/// highest sequence number sent when it began) and, per retransmission, what happened after it.
struct RecoveryTracker: Sendable {
    /// The first 4096 retransmissions; `count` counts them all.
    var events: [RetransmissionEvent] = []
    var count = 0
    var point: UInt32 = 0
    var inRecovery = false
    /// Events not yet covered by an ACK (indexes into `events`, the newest 256).
    var pendingCover: [Int] = []
    /// Events before these indexes need no more RTT samples / already saw the peer speak after them.
    var samplesCursor = 0
    var spokeCursor = 0

    /// A retransmission: recovery goes on to at least `highSeq`. False when `events` is full.
    @inline(__always)
    mutating func begin(highSeq: UInt32) -> Bool {
        count += 1
        if !inRecovery || SeqNum.greaterThan(highSeq, point) { point = highSeq }
        inRecovery = true
        return events.count < 4096
    }

    mutating func append(_ event: RetransmissionEvent) {
        events.append(event)
        if !event.peerAckedBefore {
            if pendingCover.count >= 256 { pendingCover.removeFirst() }
            pendingCover.append(events.count - 1)
        }
    }

    /// The peer's cumulative ACK moved to `ack` (in `f`): it covers pending retransmissions, and
    /// may end the recovery.
    @inline(__always)
    mutating func acknowledged(_ ack: UInt32, by f: FrameAnalysis, dsack: Bool) {
        if !pendingCover.isEmpty { cover(ack, by: f, dsack: dsack) }
        if inRecovery && SeqNum.greaterOrEqual(ack, point) { inRecovery = false }
    }

    private mutating func cover(_ ack: UInt32, by f: FrameAnalysis, dsack: Bool) {
        let segment = f.segment
        var kept = 0
        for position in pendingCover.indices {
            let index = pendingCover[position]
            let event = events[index]
            guard SeqNum.greaterOrEqual(ack, event.end) else {
                pendingCover[kept] = index
                kept += 1
                continue
            }
            events[index].coverAckFrame = f.frameNumber
            events[index].coverAckTime = f.time
            events[index].coverAckWindowZero = segment.window == 0
            events[index].coverAckWindow = f.scaledWindow
            if dsack {
                let block = segment.options.sackBlock(0)
                events[index].coverAckHasDSACK = SeqNum.lessThan(block.left, event.seq &+ event.length)
                    && SeqNum.greaterThan(block.right, event.seq)
            }
            if let originalLength = event.originalLength, originalLength != event.length, ack == event.seq &+ event.length {
                events[index].coverAckMatchesRetransmissionOnly = true
            }
        }
        pendingCover.removeLast(pendingCover.count - kept)
    }

    /// A D-SACK (`block`, in `f`) reports one duplicate arrival: the newest copy sent of those
    /// bytes not yet explained by an earlier D-SACK. It says the copy before it arrived — nothing
    /// about older copies, which may well have been the one that filled the hole.
    mutating func duplicateReported(_ block: SACKBlock, by f: FrameAnalysis) {
        var i = events.count - 1
        var checked = 0
        while i >= 0 && checked < 64 {
            let event = events[i]
            if event.dsackFrame == nil && SeqNum.lessThan(block.left, event.seq &+ max(event.length, 1))
                && SeqNum.greaterThan(block.right, event.seq) {
                events[i].dsackFrame = f.frameNumber
                events[i].dsackTime = f.time
                events[i].dsackWindowZero = f.segment.window == 0
                return
            }
            i -= 1
            checked += 1
        }
    }

    /// Whether any of the last 64 retransmissions since `firstSent` went into `hole`.
    func resent(into hole: SACKHole, since firstSent: UInt64) -> Bool {
        var i = events.count - 1
        var checked = 0
        while i >= 0 && checked < 64 {
            let event = events[i]
            if event.frame < firstSent { break }
            if SeqNum.lessThan(event.seq, hole.end) && SeqNum.greaterThan(event.seq &+ max(event.length, 1), hole.start) {
                return true
            }
            i -= 1
            checked += 1
        }
        return false
    }

    /// A Karn-clean RTT sample (taken at `time`): the retransmissions before it get it (up to 8 each).
    @inline(__always)
    mutating func sampled(_ sample: TimeSpan, at time: CaptureTime) {
        guard samplesCursor < events.count else { return }
        for index in samplesCursor..<events.count where events[index].time < time && events[index].samplesAfter.count < 8 {
            events[index].samplesAfter.append(sample)
        }
        while samplesCursor < events.count && events[samplesCursor].samplesAfter.count >= 8 { samplesCursor += 1 }
    }

    /// The peer sent something: every retransmission so far has an answer of some kind.
    @inline(__always)
    mutating func peerSpoke() {
        guard spokeCursor < events.count else { return }
        for index in spokeCursor..<events.count { events[index].peerSpokeAfter = true }
        spokeCursor = events.count
    }
}

/// Holes in this vantage's view of a direction's sequence space (tshark's lost_segment).
struct GapTracker: Sendable {
    /// The first 256 gaps; `count` counts them all.
    var gaps: [CaptureGap] = []
    var count = 0

    mutating func record(_ gap: CaptureGap) {
        count += 1
        if gaps.count < 256 { gaps.append(gap) }
    }
}

/// Segments of a direction that arrived late without being retransmitted (reordering on the path).
struct ReorderTracker: Sendable {
    /// The first 256 reorderings.
    var events: [ReorderEvent] = []
    /// Where the latest one began (`any`: there was one).
    var lastSeq: UInt32 = 0
    var any = false

    /// Whether the latest reordering began at `seq` (it is already recorded).
    func latest(at seq: UInt32) -> Bool { any && lastSeq == seq }

    mutating func record(_ event: ReorderEvent, at seq: UInt32) {
        if events.count < 256 { events.append(event) }
        any = true
        lastSeq = seq
    }
}
