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
        if recordIfCaptureCopy(f, fwd: &fwd, established: shared.established) { return }
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
        rememberLastPacket(f, fwd: &fwd, rev: &rev)
    }

    /// Step 1. A SYN repeated after the handshake is a late duplicate on the path (R5), not a copy.
    @inline(__always)
    static func recordIfCaptureCopy(_ f: FrameAnalysis, fwd: inout DirectionState, established: Bool) -> Bool {
        let segment = f.segment
        let syn = segment.flags.contains(.syn), ack = segment.flags.contains(.ack)
        let ttl = segment.ip.hopLimit
        let fingerprint = RecentSignatures.fingerprint(segment)
        if !(syn && !ack && established),
           let original = fwd.recent.copied(by: fingerprint, ipID: segment.ip.identification, time: f.time, ttl: ttl) {
            fwd.copies += 1
            if fwd.firstCopyFrame == 0 { fwd.firstCopyFrame = f.frameNumber }
            if fwd.copyFrames.count < 64 { fwd.copyFrames.append(f.frameNumber) }
            fwd.copyTTLDifferences.add(UInt8(clamping: abs(Int(original.ttl) - Int(ttl))))
            fwd.copyMaxDelay = max(fwd.copyMaxDelay, original.delay)
            return true
        }
        fwd.recent.insert(fingerprint, time: f.time, ttl: ttl)
        return false
    }

    /// Step 2. Returns true for an RST (recorded here; nothing else of the step applies to it).
    @inline(__always)
    static func countPacket(_ f: FrameAnalysis, fromClient: Bool, fwd: inout DirectionState, rev: inout DirectionState,
                            shared: inout SharedState) -> Bool {
        let segment = f.segment
        let rst = segment.flags.contains(.rst)
        let ipID = segment.ip.identification
        if fwd.packets == 0 {
            fwd.firstFrame = f.frameNumber
            fwd.firstTime = f.time
        }
        fwd.packets += 1
        fwd.lastFrame = f.frameNumber
        fwd.lastTime = f.time
        if segment.ip.version == 4 {
            if ipID == 0 { fwd.ipIDZero += 1 }
            if fwd.ipIDKnown && !rst {
                let step = ipID &- fwd.lastIPID
                fwd.ipIDSteps += 1
                if step >= 1 && step <= 64 { fwd.ipIDSmallSteps += 1 }
            }
        }
        if rst {
            fwd.rsts += 1
            if rev.lastWasKeepAlive {
                // A keep-alive answered by an RST found the connection gone: not benign.
                rev.lastWasKeepAlive = false
                rev.benignKeepAlives -= 1
                rev.keepAlivesAnsweredByRST += 1
                if rev.benignKeepAliveFrames.last == rev.lastPacketFrame { rev.benignKeepAliveFrames.removeLast() }
            }
            recordRST(f, fromClient: fromClient, fwd: fwd, rev: rev, shared: &shared)
            fwd.lastPacketTime = f.time
            fwd.lastPacketFrame = f.frameNumber
            return true
        }
        fwd.ttl.add(segment.ip.hopLimit)
        if segment.ip.version == 4 {
            fwd.lastIPID = ipID
            fwd.ipIDKnown = true
        }
        if !segment.flags.contains(.syn) { fwd.onlySYN = false }
        return false
    }

    /// Step 3. Handshake (ISNs, SYN and SYN/ACK counts, Karn's flag), late SYNs and their answers.
    @inline(__always)
    static func trackHandshake(_ f: FrameAnalysis, fromClient: Bool, fwd: inout DirectionState, rev: DirectionState,
                               shared: inout SharedState) {
        let segment = f.segment
        let time = f.time
        let frameNumber = f.frameNumber
        let tcp = segment.flags
        let syn = tcp.contains(.syn), ack = tcp.contains(.ack), fin = tcp.contains(.fin)
        let seq = segment.sequenceNumber
        if let pending = shared.pendingLateSYN, shared.lateSYNs[pending].fromClient != fromClient {
            let delay = time - shared.lateSYNs[pending].time
            shared.lateSYNs[pending].answerFrame = frameNumber
            shared.lateSYNs[pending].answerDelay = delay
            shared.lateSYNs[pending].answerIsChallengeAck = ack && !syn && !fin && segment.payloadLength == 0
                && delay <= .seconds(1)
            shared.pendingLateSYN = nil
        }
        if syn && !ack {
            if fwd.synCount > 0 && shared.established && seq == fwd.isn {
                shared.lateSYNs.append(LateSYN(frame: frameNumber, time: time, fromClient: fromClient, seq: seq))
                shared.pendingLateSYN = shared.lateSYNs.count - 1
            }
            if fwd.synCount > 0 && !shared.established { shared.handshakeRetransmitted = true }
            if fwd.synCount == 0 { fwd.isn = seq }
            fwd.synCount += 1
            if fwd.synFrames.count < 32 {
                fwd.synFrames.append(frameNumber)
                fwd.synTimes.append(time)
            }
            if segment.options.sackPermitted { fwd.sackPermitted = true }
            if shared.firstSYNTime == nil { shared.firstSYNTime = time }
        } else if syn && ack {
            if fwd.synAckCount > 0 && !shared.established { shared.handshakeRetransmitted = true }
            if fwd.synAckCount == 0 {
                fwd.synAckFrame = frameNumber
                fwd.synAckTime = time
                fwd.isn = seq
            }
            fwd.synAckCount += 1
            if segment.options.sackPermitted { fwd.sackPermitted = true }
            if shared.firstSYNACKTime == nil { shared.firstSYNACKTime = time }
        } else if ack {
            if rev.synAckCount > 0 && shared.firstACKAfterSYNACKTime == nil && fromClient {
                shared.firstACKAfterSYNACKTime = time
            }
            if rev.synAckCount > 0 || (rev.packets > 0 && !rev.onlySYN) || fwd.synAckCount > 0 {
                shared.established = true
            }
        }
        if fin && !fwd.sentFIN {
            fwd.sentFIN = true
            fwd.finFrame = frameNumber
        }
    }

    /// Step 5. Once both sides have sent their FIN no more data can flow: a zero window then is
    /// no flow control, so the window is not followed any more.
    @inline(__always)
    static func trackWindowAndProbes(_ f: FrameAnalysis, fwd: inout DirectionState, rev: inout DirectionState) {
        let segment = f.segment
        let time = f.time
        let flags = f.flags
        if !segment.flags.contains(.syn) && !(fwd.sentFIN && rev.sentFIN) {
            let stallsBefore = fwd.window.stallCount
            trackWindow(f, fwd: &fwd)
            if fwd.window.stallCount > stallsBefore, let last = fwd.window.stalls.indices.last {
                // Data already sent beyond the new zero window's edge is in flight to a receiver
                // with no room for it (seen here before the zero window, at a sender-side vantage).
                let beyond = rev.sent.sent(from: fwd.window.stalls[last].edge)
                fwd.window.stalls[last].overruns = beyond.count
                fwd.window.stalls[last].firstOverrunFrame = beyond.oldestFrame
            }
            if segment.window != 0 && !flags.contains(.zeroWindow) {
                fwd.window.narrow.advertise(f.scaledWindow, segment: rev.largestSegment, frame: f.frameNumber, time: time)
            }
        }
        fwd.lastWasKeepAlive = false
        if flags.contains(.keepAlive) || flags.contains(.zeroWindowProbe) {
            if rev.window.inStall, let index = rev.window.stalls.indices.last {
                rev.window.stalls[index].probes += 1
                let start = rev.window.stalls[index].startTime
                let since = time - max(rev.window.lastProbeTime ?? start, start)
                if rev.window.stalls[index].probeIntervals.count < 16 {
                    rev.window.stalls[index].probeIntervals.append(since)
                }
                rev.window.lastProbeTime = time
            } else if flags.contains(.keepAlive) {
                fwd.benignKeepAlives += 1
                fwd.lastWasKeepAlive = true
                if fwd.benignKeepAliveFrames.count < 16 { fwd.benignKeepAliveFrames.append(f.frameNumber) }
            }
        }
        if flags.contains(.windowFull) {
            rev.window.windowFullFrames += 1
            if rev.window.firstWindowFullFrame == nil { rev.window.firstWindowFullFrame = f.frameNumber }
        }
    }

    /// Step 6. Data (and FINs): zero-window overruns, gaps, retransmissions, reordering, and the
    /// highest sequence number the direction reached.
    @inline(__always)
    static func trackData(_ f: FrameAnalysis, fwd: inout DirectionState, rev: inout DirectionState, shared: SharedState) {
        let segment = f.segment
        let flags = f.flags
        let tcp = segment.flags
        let syn = tcp.contains(.syn), fin = tcp.contains(.fin)
        let length = segment.payloadLength
        let seq = segment.sequenceNumber
        let ipID = segment.ip.identification
        if length > 0 && !syn {
            fwd.sentData = true
            fwd.largestSegment = max(fwd.largestSegment, length)
            if rev.window.inStall, let last = rev.window.stalls.indices.last, !flags.contains(.zeroWindowProbe),
               SeqNum.greaterOrEqual(seq, rev.window.stalls[last].edge) {
                // Data beyond a zero window: the receiver has no room and drops it.
                rev.window.stalls[last].overruns += 1
                if rev.window.stalls[last].firstOverrunFrame == nil { rev.window.stalls[last].firstOverrunFrame = f.frameNumber }
            }
            rev.window.narrow.senderSent(frame: f.frameNumber, time: f.time)
            recordGap(f, fwd: &fwd)
            let resent = !flags.intersection([.retransmission, .fastRetransmission, .spuriousRetransmission, .outOfOrder]).isEmpty
                && !flags.contains(.keepAlive) && !flags.contains(.zeroWindowProbe)
            if resent && fwd.seqKnown {
                if !fillsGapAsReordering(f, fwd: &fwd, rev: rev, shared: shared) {
                    recordRetransmission(f, fwd: &fwd, rev: &rev)
                }
            }
            fwd.sent.push(SentSegment(seq: seq, length: length, ipID: ipID, frame: f.frameNumber, time: f.time,
                                      filledWindow: flags.contains(.windowFull)),
                          peerAck: rev.ackValue, peerAckKnown: rev.ackKnown)
            fwd.dataPackets += 1
            fwd.lastDataIPID = ipID
            fwd.lastDataIPIDKnown = segment.ip.version == 4
        } else if fin && length == 0 && flags.contains(.retransmission) && fwd.seqKnown {
            recordRetransmission(f, fwd: &fwd, rev: &rev)
        } else if fin && !syn {
            // A FIN can reveal a gap too (the path delivered it before the last data segment).
            recordGap(f, fwd: &fwd)
        }
        if length > 0 || syn || fin {
            let end = seq &+ length &+ (syn ? 1 : 0) &+ (fin ? 1 : 0)
            if !fwd.seqKnown || SeqNum.greaterThan(end, fwd.highSeq) {
                fwd.highSeq = end
                fwd.seqKnown = true
            }
        } else if !fwd.seqKnown {
            fwd.highSeq = seq
            fwd.seqKnown = true
        }
    }

    /// The peer's retransmissions now have an answer of some kind; this packet is the direction's last.
    @inline(__always)
    static func rememberLastPacket(_ f: FrameAnalysis, fwd: inout DirectionState, rev: inout DirectionState) {
        if rev.spokeCursor < rev.retransmissions.count {
            for index in rev.spokeCursor..<rev.retransmissions.count { rev.retransmissions[index].peerSpokeAfter = true }
            rev.spokeCursor = rev.retransmissions.count
        }
        let segment = f.segment
        let tcp = segment.flags
        let occupied = segment.payloadLength &+ (tcp.contains(.syn) ? 1 : 0) &+ (tcp.contains(.fin) ? 1 : 0)
        fwd.lastPacketTime = f.time
        fwd.lastPacketFrame = f.frameNumber
        fwd.lastPacketAck = segment.acknowledgmentNumber
        fwd.lastPacketSeqEnd = segment.sequenceNumber &+ occupied
        fwd.lastPacketSeq = segment.sequenceNumber
        fwd.lastPacketTTL = segment.ip.hopLimit
        fwd.lastPacketHadACK = tcp.contains(.ack)
        fwd.lastPacketFlags = tcp
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
        // Did the RST's sender leave the peer's data unacknowledged (unread data, R3)?
        let unacked = rev.sentData && rev.seqKnown && (!fwd.ackKnown || SeqNum.greaterThan(rev.highSeq, fwd.ackValue))
        shared.rsts.append(RSTRecord(
            frame: f.frameNumber, time: f.time, fromClient: fromClient,
            seq: segment.sequenceNumber, ack: segment.acknowledgmentNumber, hasACK: segment.flags.contains(.ack),
            ttl: segment.ip.hopLimit, ipID: segment.ip.identification, window: segment.window,
            senderHighSeq: fwd.highSeq, senderSeqKnown: fwd.seqKnown,
            senderLastIPID: fwd.lastIPID, senderIPIDKnown: fwd.ipIDKnown, senderIPIDSequential: fwd.ipIDSequential,
            senderPackets: fwd.packets - fwd.rsts, senderSentFIN: fwd.sentFIN, senderSentSYN: fwd.synCount > 0,
            senderSentSYNACK: fwd.synAckCount > 0, senderSentData: fwd.sentData,
            peerSentFIN: rev.sentFIN, peerOnlySYN: rev.packets > 0 && rev.onlySYN,
            peerISN: rev.synCount > 0 ? rev.isn : nil,
            peerLastTime: rev.packets > 0 ? rev.lastPacketTime : nil,
            peerLastFrame: rev.packets > 0 ? rev.lastPacketFrame : nil,
            peerLastAck: rev.packets > 0 ? rev.lastPacketAck : nil,
            peerLastSeqEnd: rev.packets > 0 ? rev.lastPacketSeqEnd : nil,
            peerLastHadACK: rev.lastPacketHadACK, peerLastFlags: rev.lastPacketFlags,
            senderHadUnackedPeerData: unacked,
            peerLastSeq: rev.packets > 0 ? rev.lastPacketSeq : nil,
            peerLastTTL: rev.packets > 0 ? rev.lastPacketTTL : nil,
            senderAck: fwd.ackKnown ? fwd.ackValue : nil,
            senderLastTime: fwd.packets > 0 ? fwd.lastPacketTime : nil,
            senderLastFrame: fwd.packets > 0 ? fwd.lastPacketFrame : nil,
            senderDataUnacked: fwd.sentData && fwd.seqKnown && (!rev.ackKnown || SeqNum.greaterThan(fwd.highSeq, rev.ackValue)),
            peerPackets: rev.packets - rev.rsts,
            copiedIPIDFrom: copiedIPID(segment, answering: rev),
            reservedBits: segment.flags.rawValue & 0x0E00,
            peerAckOfSender: rev.ackKnown ? rev.ackValue : nil,
            senderFINFrame: fwd.sentFIN ? fwd.finFrame : nil))
    }

    /// The frame of the peer's recent packet whose IP ID the RST carries (IPv4, non-zero IDs
    /// only: 0 is what many stacks send anyway). A host numbers its packets from its own counter;
    /// a box that builds its RST from the segment it answers often copies that segment's IP ID.
    static func copiedIPID(_ rst: TCPSegment, answering peer: DirectionState) -> UInt64? {
        let ipID = rst.ip.identification
        guard rst.ip.version == 4, ipID != 0, peer.ipIDKnown else { return nil }
        if peer.lastIPID == ipID { return peer.lastPacketFrame }
        return peer.sent.frame(withIPID: ipID)
    }

    /// ACK bookkeeping of a packet from `fwd` about `rev`'s data.
    @inline(__always)
    static func acknowledge(_ f: FrameAnalysis, fwd: inout DirectionState, rev: inout DirectionState) {
        let segment = f.segment
        let ackNumber = segment.acknowledgmentNumber
        let time = f.time
        let options = segment.options
        let dsack = options.sackCount > 0 && f.hasDSACK
        let advanced = !fwd.ackKnown || SeqNum.greaterThan(ackNumber, fwd.ackValue)
        if advanced {
            // Retransmitted segments this ACK now covers.
            if !rev.pendingCover.isEmpty {
                var kept = 0
                for position in rev.pendingCover.indices {
                    let index = rev.pendingCover[position]
                    let event = rev.retransmissions[index]
                    if SeqNum.greaterOrEqual(ackNumber, event.end) {
                        rev.retransmissions[index].coverAckFrame = f.frameNumber
                        rev.retransmissions[index].coverAckTime = time
                        rev.retransmissions[index].coverAckWindowZero = segment.window == 0
                        if dsack {
                            let block = options.sackBlock(0)
                            rev.retransmissions[index].coverAckHasDSACK =
                                SeqNum.lessThan(block.left, event.seq &+ event.length)
                                && SeqNum.greaterThan(block.right, event.seq)
                        }
                        if let originalLength = event.originalLength, originalLength != event.length,
                           ackNumber == event.seq &+ event.length {
                            rev.retransmissions[index].coverAckMatchesRetransmissionOnly = true
                        }
                    } else {
                        rev.pendingCover[kept] = index
                        kept += 1
                    }
                }
                rev.pendingCover.removeLast(rev.pendingCover.count - kept)
            }
            // A SACK hole closed without any retransmission into it: the data came late.
            if let hole = rev.sackHole, SeqNum.greaterThan(ackNumber, hole.start) {
                // Resent since the hole's first byte was first sent (even before the SACK came)?
                let firstSent = rev.sent.copies(covering: hole.start, before: f.frameNumber)?.oldest.frame
                var resent = firstSent == nil
                var i = rev.retransmissions.count - 1
                var checked = 0
                while i >= 0 && checked < 64 && !resent {
                    let event = rev.retransmissions[i]
                    if let firstSent, event.frame < firstSent { break }
                    if SeqNum.lessThan(event.seq, hole.end) && SeqNum.greaterThan(event.seq &+ max(event.length, 1), hole.start) {
                        resent = true
                    }
                    i -= 1
                    checked += 1
                }
                if !resent && !(rev.hasReorder && rev.lastReorderSeq == hole.start) && rev.reorders.count < 256 {
                    rev.reorders.append(ReorderEvent(openFrame: hole.frame, fillFrame: f.frameNumber,
                                                     delay: time - hole.time, seq: hole.start, byIPID: false))
                    rev.hasReorder = true
                    rev.lastReorderSeq = hole.start
                }
                rev.sackHole = nil
            }
            fwd.ackValue = ackNumber
            fwd.ackKnown = true
            fwd.lastAckAdvanceTime = time
            rev.duplicateAckRun = 0
            if rev.inRecovery && SeqNum.greaterOrEqual(ackNumber, rev.recoveryPoint) { rev.inRecovery = false }
        } else if ackNumber == fwd.ackValue && segment.payloadLength == 0
                    && !segment.flags.contains(.syn) && !segment.flags.contains(.fin) {
            if f.flags.contains(.duplicateAck) || options.sackCount > 0 {
                rev.duplicateAckRun += 1
                rev.duplicateAcks += 1
            }
        }
        if options.sackCount > 0 {
            fwd.sentSACK = true
            if dsack {
                rev.dsacks += 1
                let block = options.sackBlock(0)
                var i = rev.retransmissions.count - 1
                var checked = 0
                // One D-SACK reports one duplicate arrival: the newest copy sent of those bytes (not
                // yet explained by an earlier D-SACK). It says the copy before it arrived — nothing
                // about older copies, which may well have been the one that filled the hole.
                while i >= 0 && checked < 64 {
                    let event = rev.retransmissions[i]
                    if event.dsackFrame == nil && SeqNum.lessThan(block.left, event.seq &+ max(event.length, 1))
                        && SeqNum.greaterThan(block.right, event.seq) {
                        rev.retransmissions[i].dsackFrame = f.frameNumber
                        rev.retransmissions[i].dsackTime = time
                        rev.retransmissions[i].dsackWindowZero = segment.window == 0
                        break
                    }
                    i -= 1
                    checked += 1
                }
            }
            // The lowest SACKed byte above the cumulative ACK opens a hole [ack, left).
            var lowest: UInt32?
            for index in (dsack ? 1 : 0)..<Int(options.sackCount) {
                let block = options.sackBlock(index)
                if SeqNum.greaterThan(block.left, ackNumber) {
                    if lowest == nil || SeqNum.lessThan(block.left, lowest.unsafelyUnwrapped) { lowest = block.left }
                }
            }
            if let lowest, rev.sackHole == nil {
                rev.sackHole = SACKHole(start: ackNumber, end: lowest, frame: f.frameNumber, time: time,
                                        retransmissionsAtOpen: rev.retransmissionCount)
            }
        }
        // Karn-clean RTT samples of the peer's data.
        if let sample = f.ackRoundTrip,
           rev.retransmissionCount == 0 || SeqNum.greaterThan(ackNumber, rev.recoveryPoint) {
            rev.rtt.add(sample)
            if rev.samplesCursor < rev.retransmissions.count {
                for index in rev.samplesCursor..<rev.retransmissions.count
                where rev.retransmissions[index].time < time && rev.retransmissions[index].samplesAfter.count < 8 {
                    rev.retransmissions[index].samplesAfter.append(sample)
                }
                while rev.samplesCursor < rev.retransmissions.count
                        && rev.retransmissions[rev.samplesCursor].samplesAfter.count >= 8 {
                    rev.samplesCursor += 1
                }
            }
        }
    }

    @inline(__always)
    static func trackWindow(_ f: FrameAnalysis, fwd: inout DirectionState) {
        let segment = f.segment
        let raw = UInt32(segment.window)
        if segment.flags.contains(.rst) { return }
        if f.flags.contains(.zeroWindow) {
            fwd.window.zeroAdvertisements += 1
            if !fwd.window.inStall {
                fwd.window.inStall = true
                fwd.window.stallCount += 1
                if fwd.window.stalls.count < 512 {
                    fwd.window.stalls.append(ZeroWindowStall(startFrame: f.frameNumber, startTime: f.time,
                                                             lastZeroFrame: f.frameNumber,
                                                             edge: segment.acknowledgmentNumber))
                }
                fwd.window.lastProbeTime = nil
            } else if let index = fwd.window.stalls.indices.last {
                fwd.window.stalls[index].zeroReplies += 1
                fwd.window.stalls[index].lastZeroFrame = f.frameNumber
            }
        } else if raw != 0 && fwd.window.inStall && !segment.flags.contains(.fin) {
            fwd.window.inStall = false
            if let index = fwd.window.stalls.indices.last {
                fwd.window.stalls[index].endFrame = f.frameNumber
                fwd.window.stalls[index].endTime = f.time
            }
        }
        if raw != 0 && raw != fwd.window.lastRawWindow {
            fwd.window.minimumWindow = min(fwd.window.minimumWindow, f.scaledWindow)
            if fwd.window.stallCount == 0 {
                if fwd.window.windowsBeforeFirstStall.count >= 6 { fwd.window.windowsBeforeFirstStall.removeFirst() }
                fwd.window.windowsBeforeFirstStall.append(f.scaledWindow)
            }
        }
        fwd.window.lastRawWindow = raw
        fwd.window.lastScaledWindow = f.scaledWindow
    }

    /// A hole in this vantage's view of the direction's sequence space, revealed by `f` (tshark's
    /// lost_segment flag on it): data or a FIN beyond the highest sequence number seen.
    static func recordGap(_ f: FrameAnalysis, fwd: inout DirectionState) {
        guard f.flags.contains(.lostSegment) && fwd.seqKnown else { return }
        let segment = f.segment
        fwd.gapCount += 1
        guard fwd.gaps.count < 256 else { return }
        fwd.gaps.append(CaptureGap(from: fwd.highSeq, to: segment.sequenceNumber, frame: f.frameNumber, time: f.time,
                                   gapIPID: segment.ip.identification, beforeIPID: fwd.lastDataIPID,
                                   beforeIPIDKnown: fwd.lastDataIPIDKnown,
                                   gapTSval: segment.options.hasTimestamp ? segment.options.timestampValue : nil))
    }

    /// A re-sent-looking segment that fills a gap this vantage saw, arriving as the late original:
    /// its IP ID falls between those around the gap (the sender numbered it before the segment that
    /// revealed the gap), or it arrives within a quarter of the path RTT.
    static func fillsGapAsReordering(_ f: FrameAnalysis, fwd: inout DirectionState, rev: DirectionState,
                                     shared: SharedState) -> Bool {
        let seq = f.segment.sequenceNumber
        var i = fwd.gaps.count - 1
        var checked = 0
        while i >= 0 && checked < 16 {
            let gap = fwd.gaps[i]
            if !gap.filled && SeqNum.lessOrEqual(gap.from, seq) && SeqNum.lessThan(seq, gap.to) {
                let ipID = f.segment.ip.identification
                var byIPID = false
                if fwd.ipIDSequential && gap.beforeIPIDKnown {
                    let span = gap.gapIPID &- gap.beforeIPID
                    let offset = ipID &- gap.beforeIPID
                    byIPID = span <= 4096 && offset >= 1 && offset < span
                }
                // A TSval later than that of the segment that revealed the gap: the sender stamped
                // this copy after it, so it is a retransmission, not a late original.
                if let gapTSval = gap.gapTSval, f.segment.options.hasTimestamp,
                   Int32(bitPattern: f.segment.options.timestampValue &- gapTSval) > 0 {
                    if SeqNum.greaterOrEqual(seq &+ f.segment.payloadLength, gap.to) { fwd.gaps[i].filled = true }
                    return false
                }
                let delay = f.time - gap.time
                var pathRTT = shared.initialRTT
                if let sample = fwd.rtt.minimumIfAny { pathRTT = pathRTT > .zero ? min(pathRTT, sample) : sample }
                let quick = pathRTT > .zero && delay >= .zero && delay < pathRTT / 4 && fwd.duplicateAckRun < 2
                if SeqNum.greaterOrEqual(seq &+ f.segment.payloadLength, gap.to) { fwd.gaps[i].filled = true }
                if byIPID || quick {
                    if fwd.reorders.count < 256 {
                        fwd.reorders.append(ReorderEvent(openFrame: gap.frame, fillFrame: f.frameNumber, delay: delay,
                                                         seq: seq, byIPID: byIPID))
                    }
                    fwd.hasReorder = true
                    fwd.lastReorderSeq = gap.from
                    return true
                }
                return false
            }
            i -= 1
            checked += 1
        }
        return false
    }

    static func recordRetransmission(_ f: FrameAnalysis, fwd: inout DirectionState, rev: inout DirectionState) {
        let segment = f.segment
        let seq = segment.sequenceNumber
        let length = segment.payloadLength
        fwd.retransmissionCount += 1
        if !fwd.inRecovery || SeqNum.greaterThan(fwd.highSeq, fwd.recoveryPoint) {
            fwd.recoveryPoint = fwd.highSeq
        }
        fwd.inRecovery = true
        guard fwd.retransmissions.count < 4096 else { return }
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
        event.senderHighSeq = fwd.highSeq
        event.tsharkRTO = f.retransmissionTimeout
        if fwd.rtt.count > 0 {
            event.srttBefore = fwd.rtt.smoothed
            event.minRTTBefore = fwd.rtt.minimum
            event.recentMedianBefore = fwd.rtt.recentMedian
            event.recentCountBefore = fwd.rtt.recent.count
            event.recentInflatedBefore = fwd.rtt.recent.filter { $0 >= fwd.rtt.minimum * 2 }.count
        }
        event.samplesBefore = fwd.rtt.count
        event.peerAckedUpToIt = rev.ackKnown && rev.ackValue == seq
        if rev.ackKnown && rev.ackValue == seq && fwd.duplicateAckRun > 0 {
            event.lossSignal.insert(.duplicateAcks)
            event.duplicateAcksBefore = fwd.duplicateAckRun
        }
        if let hole = fwd.sackHole, SeqNum.lessOrEqual(hole.start, seq), SeqNum.lessThan(seq, hole.end) {
            event.lossSignal.insert(.sackHole)
        }
        for gap in fwd.gaps.suffix(16) where SeqNum.lessOrEqual(gap.from, seq) && SeqNum.lessThan(seq, gap.to) {
            event.lossSignal.insert(.gapAtVantage)
        }
        event.finAtISN = event.fin && fwd.synCount > 0 && seq == fwd.isn
        let end = event.end
        event.peerAckedBefore = rev.ackKnown && SeqNum.greaterOrEqual(rev.ackValue, end)
        event.peerWindowZero = rev.window.inStall
        event.peerWindow = rev.window.lastScaledWindow
        fwd.retransmissions.append(event)
        if !event.peerAckedBefore {
            if fwd.pendingCover.count >= 256 { fwd.pendingCover.removeFirst() }
            fwd.pendingCover.append(fwd.retransmissions.count - 1)
        }
    }
}
