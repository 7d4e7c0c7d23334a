import Values

/// The diagnosis's pass-through observer: it sees every analysed TCP frame of one capture (one
/// vantage point) and keeps, per conversation, what the classifiers need afterwards. Work per
/// packet is O(1); see DiagnosisState.swift for the structures.
///
/// ```swift
/// var observer = DiagnosisObserver(vantage: "client")
/// let analysis = try CaptureAnalysis.run(path: "client.pcapng", observer: &observer)
/// let digest = observer.digest(of: analysis)
/// let findings = Diagnoser.findings(from: [digest])
/// ```
public struct DiagnosisObserver: CaptureAnalysisObserver {
    public let vantage: String
    var conversations: ContiguousArray<ConversationState> = []
    /// Used instead of `conversations` when the analyzer retires conversations
    /// (ConversationRetirement.swift).
    var retiring = ConversationRetirement()
    /// Every packet's note for the failure modes, built in this pass (no second reading).
    var failureTrace: FailureTrace

    public init(vantage: String) {
        self.vantage = vantage
        failureTrace = FailureTrace(vantage: vantage, path: "")
    }

    public mutating func didSkip(_ packet: PacketRecord, outcome: DecodeOutcome) {
        if outcome == .notTCP { failureTrace.addICMP(packet) } else { failureTrace.addOther(packet) }
    }

    public mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
        failureTrace.add(frame.segment, frame: frame.frameNumber, time: frame.time)
        if analyzer.retirement != nil {
            retiring.observe(frame, analyzer: analyzer)
            return
        }
        let id = frame.conversationID
        if id >= conversations.count {
            while conversations.count <= id {
                let conversation = analyzer.conversations[conversations.count]
                conversations.append(ConversationState(id: conversation.id, client: conversation.client,
                                                       server: conversation.server, reusedPorts: conversation.reusedPorts))
            }
        }
        conversations[id].observe(frame)
    }

    /// What this vantage saw, ready for `Diagnoser`.
    public func digest(of analysis: CaptureAnalysis) -> VantageDigest {
        VantageDigest(vantage: vantage, path: analysis.path, frames: analysis.frames, tcpFrames: analysis.count(.tcp),
                      firstTime: analysis.firstTime, lastTime: analysis.lastTime,
                      truncation: analysis.truncation?.description, window: analysis.window,
                      conversations: Array(conversations), failureTrace: finishedFailureTrace(path: analysis.path))
    }

    /// The failure trace, named after the file it was read from and made ready for the failure modes.
    /// `rereading`: endpoints of conversations revived after they were let go (read again whole).
    func finishedFailureTrace(path: String, rereading: Set<EndpointPair> = []) -> FailureTrace {
        var trace = failureTrace
        trace.path = path
        trace.finish(rereading: rereading)
        return trace
    }
}

/// One conversation (tshark's tcp.stream) as the diagnosis follows it.
struct ConversationState: Sendable {
    let id: Int
    let client: TCPEndpoint
    let server: TCPEndpoint
    let reusedPorts: Bool
    var clientDir = DirectionState()
    var serverDir = DirectionState()
    var shared = SharedState()

    struct SharedState: Sendable {
        var firstTime = CaptureTime.epoch
        var lastTime = CaptureTime.epoch
        var firstFrame: UInt64 = 0
        var lastFrame: UInt64 = 0
        var packets = 0
        /// The handshake RTT (tshark's initial RTT), Karn-clean: 0 when the SYN or SYN/ACK was
        /// retransmitted, since which copy was answered is unknown and a SYN resent after 1 s
        /// would make every threshold built on it a second too long.
        var initialRTT = TimeSpan.zero
        /// A SYN or SYN/ACK was sent more than once before the handshake completed.
        var handshakeRetransmitted = false
        var established = false
        var firstSYNTime: CaptureTime?
        var firstSYNACKTime: CaptureTime?
        var firstACKAfterSYNACKTime: CaptureTime?
        var rsts: [RSTRecord] = []
        var rstCount = 0
        var lateSYNs: [LateSYN] = []
        var pendingLateSYN: Int?
    }

    init(id: Int, client: TCPEndpoint, server: TCPEndpoint, reusedPorts: Bool) {
        self.id = id
        self.client = client
        self.server = server
        self.reusedPorts = reusedPorts
    }

    @inline(__always)
    mutating func observe(_ frame: FrameAnalysis) {
        if shared.packets == 0 {
            shared.firstTime = frame.time
            shared.firstFrame = frame.frameNumber
        }
        shared.packets += 1
        shared.lastTime = frame.time
        shared.lastFrame = frame.frameNumber
        if let rtt = frame.initialRoundTrip, shared.initialRTT == .zero, !shared.handshakeRetransmitted { shared.initialRTT = rtt }
        if frame.fromClient {
            Self.step(frame, fromClient: true, fwd: &clientDir, rev: &serverDir, shared: &shared)
        } else {
            Self.step(frame, fromClient: false, fwd: &serverDir, rev: &clientDir, shared: &shared)
        }
    }

    /// One packet of the conversation, in the named steps below (each O(1)).
    @inline(__always)
    static func step(_ f: FrameAnalysis, fromClient: Bool, fwd: inout DirectionState, rev: inout DirectionState,
                     shared: inout SharedState) {
        // 1. A copy of a recent packet of this direction: the capture saw it twice.
        if fwd.captureCopies.observe(f, established: shared.established) { return }
        // 2. Counters, TTL and IP ID behaviour; an RST is recorded and ends the step.
        if countPacket(f, fromClient: fromClient, fwd: &fwd, rev: &rev, shared: &shared) { return }
        // 3. Handshake, late SYNs and their answers.
        trackHandshake(f, fromClient: fromClient, fwd: &fwd, rev: rev, shared: &shared)
        // 4. What this packet acknowledges of the peer's data.
        if f.segment.flags.contains(.ack) { acknowledge(f, fwd: &fwd, rev: &rev) }
        // 5. The window this packet advertises, and probes of the peer's zero window.
        trackWindowAndProbes(f, fwd: &fwd, rev: &rev)
        // 6. Data: gaps, retransmissions, reordering; the sequence space it reaches.
        trackData(f, fwd: &fwd, rev: &rev, shared: shared)
        // 7. The peer's retransmissions now have an answer of some kind; this packet is the direction's last.
        rev.recovery.peerSpoke()
        fwd.latest.observe(f)
    }

    /// Step 2. Returns true for an RST (recorded here; nothing else of the step applies to it).
    @inline(__always)
    static func countPacket(_ f: FrameAnalysis, fromClient: Bool, fwd: inout DirectionState, rev: inout DirectionState,
                            shared: inout SharedState) -> Bool {
        let segment = f.segment
        let rst = segment.flags.contains(.rst)
        if fwd.packets == 0 {
            fwd.firstFrame = f.frameNumber
            fwd.firstTime = f.time
        }
        fwd.packets += 1
        fwd.lastFrame = f.frameNumber
        fwd.lastTime = f.time
        fwd.ipID.observe(segment.ip, isRST: rst)
        guard rst else {
            fwd.ttl.add(segment.ip.hopLimit)
            return false
        }
        fwd.rsts += 1
        // A keep-alive answered by an RST found the connection gone: not benign.
        if rev.keepAlives.lastWasKeepAlive { rev.keepAlives.answeredByReset(keepAliveFrame: rev.latest.frame) }
        recordRST(f, fromClient: fromClient, fwd: fwd, rev: rev, shared: &shared)
        fwd.latest.observeRST(f)
        return true
    }

    /// Step 3. Handshake (ISNs, SYN and SYN/ACK counts, Karn's flag), late SYNs and their answers.
    @inline(__always)
    static func trackHandshake(_ f: FrameAnalysis, fromClient: Bool, fwd: inout DirectionState, rev: DirectionState,
                               shared: inout SharedState) {
        let segment = f.segment
        let time = f.time
        let tcp = segment.flags
        let syn = tcp.contains(.syn), ack = tcp.contains(.ack), fin = tcp.contains(.fin)
        let seq = segment.sequenceNumber
        if let pending = shared.pendingLateSYN, shared.lateSYNs[pending].fromClient != fromClient {
            let delay = time - shared.lateSYNs[pending].time
            shared.lateSYNs[pending].answerFrame = f.frameNumber
            shared.lateSYNs[pending].answerDelay = delay
            shared.lateSYNs[pending].answerIsChallengeAck = ack && !syn && !fin && segment.payloadLength == 0
                && delay <= .seconds(1)
            shared.pendingLateSYN = nil
        }
        if syn && !ack {
            if fwd.handshake.synCount > 0 && shared.established && seq == fwd.handshake.isn {
                shared.lateSYNs.append(LateSYN(frame: f.frameNumber, time: time, fromClient: fromClient, seq: seq))
                shared.pendingLateSYN = shared.lateSYNs.count - 1
            }
            if fwd.handshake.synCount > 0 && !shared.established { shared.handshakeRetransmitted = true }
            if shared.firstSYNTime == nil { shared.firstSYNTime = time }
        } else if syn && ack {
            if fwd.handshake.synAckCount > 0 && !shared.established { shared.handshakeRetransmitted = true }
            if shared.firstSYNACKTime == nil { shared.firstSYNACKTime = time }
        } else if ack {
            if rev.handshake.synAckCount > 0 && shared.firstACKAfterSYNACKTime == nil && fromClient {
                shared.firstACKAfterSYNACKTime = time
            }
            if rev.handshake.synAckCount > 0 || (rev.packets > 0 && !rev.handshake.onlySYNs) || fwd.handshake.synAckCount > 0 {
                shared.established = true
            }
        }
        fwd.handshake.observe(segment, frame: f.frameNumber, time: time)
        if fin && !fwd.sentFIN { fwd.finFrame = f.frameNumber }
    }

    /// Step 4. ACK bookkeeping of a packet from `fwd` about `rev`'s data: how far it moved, the
    /// duplicate ACKs, the SACK blocks (D-SACKs, holes), and a Karn-clean RTT sample.
    @inline(__always)
    static func acknowledge(_ f: FrameAnalysis, fwd: inout DirectionState, rev: inout DirectionState) {
        let segment = f.segment
        let ackNumber = segment.acknowledgmentNumber
        let options = segment.options
        let dsack = options.sackCount > 0 && f.hasDSACK
        if fwd.acks.advances(to: ackNumber) {
            closeSACKHole(at: ackNumber, by: f, rev: &rev)
            fwd.acks.advance(to: ackNumber, at: f.time)
            rev.peerAcks.duplicateRun = 0
            rev.recovery.acknowledged(ackNumber, by: f, dsack: dsack)
        } else if ackNumber == fwd.acks.value && segment.payloadLength == 0
                    && !segment.flags.contains(.syn) && !segment.flags.contains(.fin) {
            if f.flags.contains(.duplicateAck) || options.sackCount > 0 {
                rev.peerAcks.duplicateRun += 1
                rev.peerAcks.duplicates += 1
            }
        }
        if options.sackCount > 0 {
            fwd.acks.sentSACK = true
            readSACK(f, dsack: dsack, rev: &rev)
        }
        // Karn-clean RTT samples of the peer's data.
        if let sample = f.ackRoundTrip,
           rev.retransmissionCount == 0 || SeqNum.greaterThan(ackNumber, rev.recovery.point) {
            rev.rtt.add(sample)
            rev.recovery.sampled(sample, at: f.time)
        }
    }

    /// The cumulative ACK moved past the start of the SACK hole open in `rev`'s data. When
    /// nothing was resent into it (since its first byte was first sent, even before the SACK
    /// came), the data came late: reordering.
    @inline(__always)
    static func closeSACKHole(at ackNumber: UInt32, by f: FrameAnalysis, rev: inout DirectionState) {
        guard let hole = rev.peerAcks.sackHole, SeqNum.greaterThan(ackNumber, hole.start) else { return }
        let firstSent = rev.sent.copies(covering: hole.start, before: f.frameNumber)?.oldest.frame
        let resent = firstSent.map { rev.recovery.resent(into: hole, since: $0) } ?? true
        if !resent && !rev.reorders.latest(at: hole.start) && rev.reorders.events.count < 256 {
            rev.reorders.record(ReorderEvent(openFrame: hole.frame, fillFrame: f.frameNumber, delay: f.time - hole.time,
                                             seq: hole.start, byIPID: false), at: hole.start)
        }
        rev.peerAcks.sackHole = nil
    }

    /// SACK blocks about `rev`'s data: a D-SACK reports a duplicate arrival; the lowest SACKed
    /// byte above the cumulative ACK opens a hole [ack, left).
    static func readSACK(_ f: FrameAnalysis, dsack: Bool, rev: inout DirectionState) {
        let options = f.segment.options
        let ackNumber = f.segment.acknowledgmentNumber
        if dsack {
            rev.peerAcks.dsacks += 1
            rev.recovery.duplicateReported(options.sackBlock(0), by: f)
        }
        var lowest: UInt32?
        for index in (dsack ? 1 : 0)..<Int(options.sackCount) {
            let block = options.sackBlock(index)
            if SeqNum.greaterThan(block.left, ackNumber) {
                if lowest == nil || SeqNum.lessThan(block.left, lowest.unsafelyUnwrapped) { lowest = block.left }
            }
        }
        if let lowest, rev.peerAcks.sackHole == nil {
            rev.peerAcks.sackHole = SACKHole(start: ackNumber, end: lowest, frame: f.frameNumber, time: f.time,
                                             retransmissionsAtOpen: rev.retransmissionCount)
        }
    }

    /// Step 5. Once both sides have sent their FIN no more data can flow: a zero window then is
    /// no flow control, so the window is not followed any more.
    @inline(__always)
    static func trackWindowAndProbes(_ f: FrameAnalysis, fwd: inout DirectionState, rev: inout DirectionState) {
        let segment = f.segment
        let flags = f.flags
        if !segment.flags.contains(.syn) && !(fwd.sentFIN && rev.sentFIN) {
            let stallsBefore = fwd.window.stallCount
            fwd.window.observe(f)
            if fwd.window.stallCount > stallsBefore, let last = fwd.window.stalls.last {
                fwd.window.beganWithDataBeyondEdge(rev.sent.sent(from: last.edge))
            }
            if segment.window != 0 && !flags.contains(.zeroWindow) {
                fwd.window.narrow.advertise(f.scaledWindow, segment: rev.sequence.largestSegment, frame: f.frameNumber,
                                            time: f.time)
            }
        }
        fwd.keepAlives.lastWasKeepAlive = false
        if flags.contains(.keepAlive) || flags.contains(.zeroWindowProbe) {
            if !rev.window.probed(at: f.time) && flags.contains(.keepAlive) {
                fwd.keepAlives.sent(frame: f.frameNumber)
            }
        }
        if flags.contains(.windowFull) { rev.window.filled(frame: f.frameNumber) }
    }

    /// Step 6. Data (and FINs): zero-window overruns, gaps, retransmissions, reordering, and the
    /// highest sequence number the direction reached.
    @inline(__always)
    static func trackData(_ f: FrameAnalysis, fwd: inout DirectionState, rev: inout DirectionState, shared: SharedState) {
        let segment = f.segment
        let flags = f.flags
        let syn = segment.flags.contains(.syn), fin = segment.flags.contains(.fin)
        let length = segment.payloadLength
        let seq = segment.sequenceNumber
        if length > 0 && !syn {
            fwd.sequence.observeData(length: length)
            if !flags.contains(.zeroWindowProbe) { rev.window.peerSent(seq: seq, frame: f.frameNumber) }
            rev.window.narrow.senderSent(frame: f.frameNumber, time: f.time)
            recordGap(f, fwd: &fwd)
            let resent = !flags.intersection([.retransmission, .fastRetransmission, .spuriousRetransmission, .outOfOrder]).isEmpty
                && !flags.contains(.keepAlive) && !flags.contains(.zeroWindowProbe)
            if resent && fwd.sequence.known {
                if !fillsGapAsReordering(f, fwd: &fwd, rev: rev, shared: shared) {
                    recordRetransmission(f, fwd: &fwd, rev: &rev)
                }
            }
            fwd.sent.push(SentSegment(seq: seq, length: length, ipID: segment.ip.identification, frame: f.frameNumber,
                                      time: f.time, filledWindow: flags.contains(.windowFull)),
                          peerAck: rev.acks.value, peerAckKnown: rev.acks.known)
            fwd.ipID.observeData(segment.ip)
        } else if fin && length == 0 && flags.contains(.retransmission) && fwd.sequence.known {
            recordRetransmission(f, fwd: &fwd, rev: &rev)
        } else if fin && !syn {
            // A FIN can reveal a gap too (the path delivered it before the last data segment).
            recordGap(f, fwd: &fwd)
        }
        fwd.sequence.observe(segment)
    }

    // MARK: pieces of the step

    static func recordRST(_ f: FrameAnalysis, fromClient: Bool, fwd: DirectionState, rev: DirectionState,
                          shared: inout SharedState) {
        shared.rstCount += 1
        if let pending = shared.pendingLateSYN, shared.lateSYNs[pending].fromClient != fromClient {
            shared.lateSYNs[pending].answerFrame = f.frameNumber
            shared.lateSYNs[pending].answerDelay = f.time - shared.lateSYNs[pending].time
            shared.lateSYNs[pending].answerIsRST = true
            shared.pendingLateSYN = nil
        }
        guard shared.rsts.count < 256 else { return }
        let segment = f.segment
        let (sender, peer) = (fwd.sequence, rev.sequence)
        let peerLast: LatestPacket? = rev.packets > 0 ? rev.latest : nil
        // Did the RST's sender leave the peer's data unacknowledged (unread data, R3)?
        let unacked = peer.sentData && peer.known && (!fwd.acks.known || SeqNum.greaterThan(peer.high, fwd.acks.value))
        shared.rsts.append(RSTRecord(
            frame: f.frameNumber, time: f.time, fromClient: fromClient,
            seq: segment.sequenceNumber, ack: segment.acknowledgmentNumber, hasACK: segment.flags.contains(.ack),
            ttl: segment.ip.hopLimit, ipID: segment.ip.identification, window: segment.window,
            senderHighSeq: sender.high, senderSeqKnown: sender.known,
            senderLastIPID: fwd.ipID.last, senderIPIDKnown: fwd.ipID.known, senderIPIDSequential: fwd.ipID.sequential,
            senderPackets: fwd.packets - fwd.rsts, senderSentFIN: fwd.sentFIN, senderSentSYN: fwd.handshake.synCount > 0,
            senderSentSYNACK: fwd.handshake.synAckCount > 0, senderSentData: sender.sentData,
            peerSentFIN: rev.sentFIN, peerOnlySYN: rev.packets > 0 && rev.handshake.onlySYNs,
            peerISN: rev.handshake.firstISN,
            peerLastTime: peerLast?.time, peerLastFrame: peerLast?.frame, peerLastAck: peerLast?.ack,
            peerLastSeqEnd: peerLast?.seqEnd,
            peerLastHadACK: rev.latest.hadACK, peerLastFlags: rev.latest.flags,
            senderHadUnackedPeerData: unacked,
            peerLastSeq: peerLast?.seq, peerLastTTL: peerLast?.ttl,
            senderAck: fwd.acks.acknowledged,
            senderLastTime: fwd.packets > 0 ? fwd.latest.time : nil,
            senderLastFrame: fwd.packets > 0 ? fwd.latest.frame : nil,
            senderDataUnacked: sender.sentData && sender.known && (!rev.acks.known || SeqNum.greaterThan(sender.high, rev.acks.value)),
            peerPackets: rev.packets - rev.rsts,
            copiedIPIDFrom: copiedIPID(segment, answering: rev),
            reservedBits: segment.flags.rawValue & 0x0E00,
            peerAckOfSender: rev.acks.acknowledged,
            senderFINFrame: fwd.finFrame))
    }

    /// The frame of the peer's recent packet whose IP ID the RST carries (IPv4, non-zero IDs
    /// only: 0 is what many stacks send anyway). A host numbers its packets from its own counter;
    /// a box that builds its RST from the segment it answers often copies that segment's IP ID.
    static func copiedIPID(_ rst: TCPSegment, answering peer: DirectionState) -> UInt64? {
        let ipID = rst.ip.identification
        guard rst.ip.version == 4, ipID != 0, peer.ipID.known else { return nil }
        if peer.ipID.last == ipID { return peer.latest.frame }
        return peer.sent.frame(withIPID: ipID)
    }

    /// A hole in this vantage's view of the direction's sequence space, revealed by `f` (tshark's
    /// lost_segment flag on it): data or a FIN beyond the highest sequence number seen.
    static func recordGap(_ f: FrameAnalysis, fwd: inout DirectionState) {
        guard f.flags.contains(.lostSegment) && fwd.sequence.known else { return }
        let segment = f.segment
        fwd.gaps.record(CaptureGap(from: fwd.sequence.high, to: segment.sequenceNumber, frame: f.frameNumber, time: f.time,
                                   gapIPID: segment.ip.identification, beforeIPID: fwd.ipID.lastData,
                                   beforeIPIDKnown: fwd.ipID.lastDataKnown,
                                   gapTSval: segment.options.hasTimestamp ? segment.options.timestampValue : nil))
    }

    /// A re-sent-looking segment that fills a gap this vantage saw, arriving as the late original:
    /// its IP ID falls between those around the gap (the sender numbered it before the segment that
    /// revealed the gap), or it arrives within a quarter of the path RTT.
    static func fillsGapAsReordering(_ f: FrameAnalysis, fwd: inout DirectionState, rev: DirectionState,
                                     shared: SharedState) -> Bool {
        let seq = f.segment.sequenceNumber
        var i = fwd.gaps.gaps.count - 1
        var checked = 0
        while i >= 0 && checked < 16 {
            let gap = fwd.gaps.gaps[i]
            if !gap.filled && SeqNum.lessOrEqual(gap.from, seq) && SeqNum.lessThan(seq, gap.to) {
                let ipID = f.segment.ip.identification
                var byIPID = false
                if fwd.ipID.sequential && gap.beforeIPIDKnown {
                    let span = gap.gapIPID &- gap.beforeIPID
                    let offset = ipID &- gap.beforeIPID
                    byIPID = span <= 4096 && offset >= 1 && offset < span
                }
                let fillsIt = SeqNum.greaterOrEqual(seq &+ f.segment.payloadLength, gap.to)
                // A TSval later than that of the segment that revealed the gap: the sender stamped
                // this copy after it, so it is a retransmission, not a late original.
                if let gapTSval = gap.gapTSval, f.segment.options.hasTimestamp,
                   Int32(bitPattern: f.segment.options.timestampValue &- gapTSval) > 0 {
                    if fillsIt { fwd.gaps.gaps[i].filled = true }
                    return false
                }
                let delay = f.time - gap.time
                // The path's round trip as `ConversationState.pathRTT` takes it: the handshake's,
                // else the larger direction minimum. Not the smaller: where gaps show (a receiver-
                // side capture) this direction's samples are the receiver's own ACK turnaround, a few
                // µs, and a quarter of that would call every late original a retransmission.
                var pathRTT = shared.initialRTT
                if pathRTT <= .zero { pathRTT = max(fwd.rtt.minimumIfAny ?? .zero, rev.rtt.minimumIfAny ?? .zero) }
                let quick = pathRTT > .zero && delay >= .zero && delay < pathRTT / 4 && fwd.peerAcks.duplicateRun < 2
                if fillsIt { fwd.gaps.gaps[i].filled = true }
                guard byIPID || quick else { return false }
                fwd.reorders.record(ReorderEvent(openFrame: gap.frame, fillFrame: f.frameNumber, delay: delay, seq: seq,
                                                 byIPID: byIPID), at: gap.from)
                return true
            }
            i -= 1
            checked += 1
        }
        return false
    }

    /// A retransmitted data segment (or FIN), with what the vantage knew when it was sent: its
    /// original, the RTT before it, what the peer's ACKs and SACKs said, the peer's window.
    static func recordRetransmission(_ f: FrameAnalysis, fwd: inout DirectionState, rev: inout DirectionState) {
        let segment = f.segment
        let seq = segment.sequenceNumber
        let length = segment.payloadLength
        guard fwd.recovery.begin(highSeq: fwd.sequence.high) else { return }
        var event = RetransmissionEvent(frame: f.frameNumber, time: f.time, seq: seq, length: length,
                                        ipID: segment.ip.identification, flags: f.flags,
                                        fin: segment.flags.contains(.fin) && length == 0)
        if length > 0, let copies = fwd.sent.copies(covering: seq, before: f.frameNumber) {
            event.originalFrame = copies.oldest.frame
            event.originalTime = copies.oldest.time
            event.originalIPID = copies.oldest.ipID
            event.originalLength = copies.oldest.length
            // Any copy in the flight that filled the window counts: the probe resends the last one.
            event.originalFilledWindow = copies.oldest.filledWindow || copies.newest.filledWindow
            event.earlierCopies = copies.count
            event.previousSegmentTime = fwd.sent.copies(covering: copies.oldest.seq &- 1, before: copies.oldest.frame)?.newest.time
        }
        event.senderHighSeq = fwd.sequence.high
        event.tsharkRTO = f.retransmissionTimeout
        if fwd.rtt.count > 0 {
            event.srttBefore = fwd.rtt.smoothed
            event.minRTTBefore = fwd.rtt.minimum
            event.recentMedianBefore = fwd.rtt.recentMedian
            event.recentCountBefore = fwd.rtt.recent.count
            event.recentInflatedBefore = fwd.rtt.recent.filter { $0 >= fwd.rtt.minimum * 2 }.count
        }
        event.samplesBefore = fwd.rtt.count
        event.peerAckedUpToIt = rev.acks.known && rev.acks.value == seq
        if event.peerAckedUpToIt && fwd.peerAcks.duplicateRun > 0 {
            event.lossSignal.insert(.duplicateAcks)
            event.duplicateAcksBefore = fwd.peerAcks.duplicateRun
        }
        if let hole = fwd.peerAcks.sackHole, SeqNum.lessOrEqual(hole.start, seq), SeqNum.lessThan(seq, hole.end) {
            event.lossSignal.insert(.sackHole)
        }
        for gap in fwd.gaps.gaps.suffix(16) where SeqNum.lessOrEqual(gap.from, seq) && SeqNum.lessThan(seq, gap.to) {
            event.lossSignal.insert(.gapAtVantage)
        }
        event.finAtISN = event.fin && fwd.handshake.synCount > 0 && seq == fwd.handshake.isn
        event.peerAckedBefore = rev.acks.known && SeqNum.greaterOrEqual(rev.acks.value, event.end)
        event.peerWindowZero = rev.window.inStall
        event.peerWindow = rev.window.lastScaledWindow
        fwd.recovery.append(event)
    }
}
