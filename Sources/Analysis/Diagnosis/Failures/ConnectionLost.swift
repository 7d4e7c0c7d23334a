import Values

/// Dead peer / path down versus a middlebox that forgot an idle connection (issue #18, items 5
/// and 6).
///
/// Both end the same way at the sender: a segment is never acknowledged, its retransmissions go out
/// at exponentially growing intervals (RTO backoff), nothing at all comes back, and the sender gives
/// up (tcp_retries2 or TCP_USER_TIMEOUT: ETIMEDOUT). What tells them apart is where the silence
/// starts. A path that goes down (or a peer that dies) cuts a connection in the middle of its
/// exchange: the first unanswered segment follows the last answered one closely. A stateful
/// middlebox (conntrack, NAT) drops a connection's state after it idles longer than its timeout:
/// the first unanswered segment is the first one after a long idle gap, and everything before the
/// gap was answered. Keep-alive probes that go unanswered are the dead peer's idle form.
extension FailureContext {
    /// Idle gaps from this long are long enough for a middlebox timeout to end the state.
    static let idleGapThreshold = TimeSpan.seconds(1)

    mutating func connectionsLost() {
        var done: Set<FlowRef> = []
        for (t, trace) in traces.enumerated() {
            for flow in trace.flows where !done.contains(flow.flow) {
                // The vantage nearest the sender sees every retransmission; take the sighting with the
                // highest TTL of the stalled side's packets.
                for fromClient in [true, false] {
                    guard let stall = Stall(flow, senderIsClient: fromClient) else { continue }
                    let sightings = sightings(of: flow)
                    let best = sightings.max { a, b in
                        (self.flow(a).ttlMode(fromClient: fromClient) ?? 0) < (self.flow(b).ttlMode(fromClient: fromClient) ?? 0)
                    }
                    if let best, best.trace != t, Stall(self.flow(best), senderIsClient: fromClient) != nil { continue }
                    // From one vantage, lost segments, lost ACKs and a vanished peer look the same (the
                    // main pass says so, ambiguous): only a capture on the peer's side that was listening
                    // and never saw the unanswered segments places the silence on the path.
                    guard let finding = lost(stall, flow: flow, at: t, sightings: sightings) else { continue }
                    done.insert(flow.flow)
                    let vantage = traces[t].vantage
                    let firstFrame = stall.first.frame
                    _ = removeFindings(on: flow.flow) { finding in
                        guard finding.kind == DiagnosisName.Kind.retransmission else { return false }
                        // Retransmissions before the silence are the main pass's; from it on, they are the stall's.
                        if let refs = finding.frames[vantage] { return refs.first >= firstFrame }
                        return true
                    }
                    findings.append(finding)
                    break
                }
            }
        }
    }

    private func lost(_ stall: Stall, flow: FlowTrace, at t: Int, sightings: [FlowSighting]) -> Finding? {
        let sender = stall.senderIsClient ? flow.client : flow.server
        let peer = stall.senderIsClient ? flow.server : flow.client
        let head = stall.headResends
        let intervals = zip(head.dropFirst(), head).map { Self.ms($0.time - $1.time) }
        let idle = stall.idleGap
        var evidence: [String: EvidenceValue] = [
            "silence_start_frame": .int(Int64(stall.first.frame)),
            "last_answer_frame": .int(Int64(stall.lastAnswer.frame)),
            "idle_gap_ms": .double(Self.ms(idle)),
            "retransmissions": .int(Int64(stall.resends.count)),
            "retransmission_intervals_ms": .list(intervals.map { .double($0) }),
            "backoff_growing": .bool(stall.backoffGrowing),
            "keepalive_probes": .int(Int64(stall.keepAliveProbes)),
            "silent_for_ms": .double(Self.ms(stall.last.time - stall.first.time)),
        ]
        // Did the capture keep listening after the last retransmission without another one? Then the
        // sender gave up (ETIMEDOUT): its next backoff interval passed in silence.
        let captureEnd = max(traces[t].lastTime ?? .epoch, digests[t].window.recordedEndTime ?? .epoch)
        let after = captureEnd - stall.last.time
        let lastInterval = stall.resends.count >= 2
            ? stall.resends[stall.resends.count - 1].time - stall.resends[stall.resends.count - 2].time : .zero
        let gaveUp = lastInterval > .zero && after > lastInterval * 2
        evidence["sender_gave_up"] = .bool(gaveUp)
        evidence["capture_after_last_ms"] = .double(Self.ms(after))
        // Did the unanswered segments reach the peer's side?
        var vantages = [traces[t].vantage]
        var frames = [traces[t].vantage: FrameRefs(first: stall.first.frame, decisive: stall.last.frame,
                                                   related: [stall.lastAnswer.frame] + stall.resends.prefix(32).map(\.frame))]
        var reached: Bool?
        let senderTTL = flow.ttlMode(fromClient: stall.senderIsClient) ?? 0
        for s in sightings where s.trace != t {
            let other = self.flow(s)
            let otherIsClientSide = other.client == flow.client
            let ttl = other.ttlMode(fromClient: otherIsClientSide == stall.senderIsClient) ?? 0
            guard ttl > 0, ttl < senderTTL else { continue }   // downstream of the sender
            guard listened(s.trace, from: stall.first.time, to: stall.last.time) else { continue }
            // Any copy sent after the silence began (the retransmissions) seen there? Originals in
            // flight when the path broke may have arrived; their ACKs are what went missing.
            let firstResend = (stall.resends.first ?? stall.first).time - .milliseconds(1)
            let seen = other.notes.contains { note in
                note.fromClient == (otherIsClientSide == stall.senderIsClient) && note.span > 0 && note.time >= firstResend
                    && stall.resends.contains { $0.seq == note.seq && $0.span == note.span }
            }
            reached = (reached ?? false) || seen
            vantages.append(traces[s.trace].vantage)
            frames[traces[s.trace].vantage] = FrameRefs(first: other.notes.first?.frame ?? 0, decisive: other.notes.last?.frame ?? 0)
        }
        guard let reached, !reached else { return nil }
        evidence["reached_peer_side"] = .bool(reached)
        let idleStart = idle >= Self.idleGapThreshold && stall.keepAliveProbes == 0
        let cause = idleStart ? DiagnosisName.Cause.middleboxStateExpired : DiagnosisName.Cause.peerOrPathDown
        var confidence = idleStart ? 0.7 : 0.8
        if stall.backoffGrowing && stall.resends.count >= 3 { confidence += 0.1 }
        let what = stall.keepAliveProbes > 0 ? "\(stall.keepAliveProbes) keep-alive probe\(stall.keepAliveProbes == 1 ? "" : "s")"
            : "\(stall.resends.count) retransmission\(stall.resends.count == 1 ? "" : "s")"
        var sentence: String
        if idleStart {
            sentence = "After \(Self.text(Self.ms(idle))) ms idle, \(sender)'s next segment to \(peer) was never answered: \(what)"
                + " at growing intervals (\(intervals.map { Self.text($0) }.joined(separator: ", ")) ms) drew nothing back."
                + " Everything before the idle gap was answered, so a stateful middlebox (conntrack, NAT, a firewall) most likely"
                + " forgot the connection while it idled and now drops its packets"
        } else {
            sentence = "All traffic from \(peer) stopped in the middle of the exchange: \(sender)'s \(what)"
                + " (\(intervals.map { Self.text($0) }.joined(separator: ", ")) ms apart, exponential backoff) were never answered"
                + " — the peer died or the path went down"
        }
        sentence += gaveUp ? "; the sender gave up (ETIMEDOUT)." : "."
        sentence += " The peer's side was capturing and never saw the retransmissions."
        return Finding(kind: DiagnosisName.Kind.connectionLost, cause: cause, flow: flow.flow, vantage: vantages, frames: frames,
                       evidence: evidence, confidence: confidence, severity: .critical, sentence: sentence)
    }
}

/// The tail of a connection where one side's segments go unanswered to the end of the capture.
struct Stall {
    var senderIsClient: Bool
    /// The first segment never acknowledged (data, FIN or a keep-alive probe).
    var first: PacketNote
    /// The peer's last packet.
    var lastAnswer: PacketNote
    /// Copies of already sent sequence space (retransmissions and keep-alive probes), after `first`.
    var resends: [PacketNote]
    var last: PacketNote
    var keepAliveProbes: Int
    /// Time between `first` and the packet before it (either direction).
    var idleGap: TimeSpan

    /// The copies of the segment sent most often (the head of the queue, resent at each RTO; a tail
    /// loss probe of another segment may come first).
    var headResends: [PacketNote] {
        var counts: [UInt32: Int] = [:]
        for note in resends { counts[note.seq, default: 0] += 1 }
        guard let head = counts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key })?.key else { return [] }
        return resends.filter { $0.seq == head }
    }

    /// Intervals between the head's copies that do not shrink and at least double overall.
    var backoffGrowing: Bool {
        let times = headResends.map(\.time)
        guard times.count >= 3 else { return false }
        let intervals = zip(times.dropFirst(), times).map { $0 - $1 }
        guard let first = intervals.first, let last = intervals.last, first > .zero else { return false }
        return zip(intervals.dropFirst(), intervals).allSatisfy { Double($0.nanoseconds) >= 0.8 * Double($1.nanoseconds) }
            && last >= 2 * first
    }

    init?(_ flow: FlowTrace, senderIsClient: Bool) {
        self.senderIsClient = senderIsClient
        let notes = flow.notes
        // An established connection (both sides spoke beyond the SYN) that nobody closed or reset.
        guard let lastPeerIndex = notes.lastIndex(where: { $0.fromClient != senderIsClient }),
              !notes.contains(where: { $0.isRST || ($0.fromClient != senderIsClient && $0.flags.contains(.fin)) }),
              notes.contains(where: { $0.fromClient != senderIsClient && !$0.isSYN && $0.flags.contains(.ack) })
        else { return nil }
        lastAnswer = notes[lastPeerIndex]
        // The highest acknowledgment the peer sent.
        var acked: UInt32?
        for note in notes where note.fromClient != senderIsClient && note.flags.contains(.ack) {
            if acked == nil || SeqNum.greaterThan(note.ack, acked.unsafelyUnwrapped) { acked = note.ack }
        }
        guard let acked else { return nil }
        // The first segment occupying unacknowledged space, or the first keep-alive after the peer's last packet.
        var firstIndex: Int?
        var high: UInt32?
        var resends: [PacketNote] = []
        var probes = 0
        for (index, note) in notes.enumerated() where note.fromClient == senderIsClient && !note.isSYN {
            let keepAlive = note.span <= 1 && note.seq == acked &- 1 && index > lastPeerIndex
            let resent = note.span > 0 && high.map { SeqNum.lessThan(note.seq, $0) } == true
            if firstIndex == nil && (keepAlive || (note.span > 0 && SeqNum.greaterThan(note.end, acked))) {
                firstIndex = index
                if keepAlive { probes += 1 }
            } else if firstIndex != nil && index > lastPeerIndex && (resent || keepAlive) {
                resends.append(note)
                if keepAlive { probes += 1 }
            }
            if note.span > 0 && (high == nil || SeqNum.greaterThan(note.end, high.unsafelyUnwrapped)) { high = note.end }
        }
        guard let firstIndex, resends.count >= 2 else { return nil }
        // Nothing but the stalled side after the peer's last packet, and that side retransmitting.
        first = notes[firstIndex]
        guard let lastNote = notes.last, lastNote.fromClient == senderIsClient else { return nil }
        last = resends.last ?? first
        self.resends = resends
        keepAliveProbes = probes
        idleGap = firstIndex > 0 ? first.time - notes[firstIndex - 1].time : .zero
        // The peer must have gone silent for the whole backoff: at least three unanswered sends.
        guard last.time - first.time > .zero else { return nil }
    }
}
