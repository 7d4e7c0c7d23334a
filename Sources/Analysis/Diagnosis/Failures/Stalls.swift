import Values

/// Nagle meets delayed ACK (issue #18, item 4), and its look-alike, a slow server.
///
/// A sender that writes one message in two small writes with Nagle's algorithm on sends the first
/// at once (nothing is in flight) and holds the second — a segment smaller than the MSS while
/// unacknowledged data is out (RFC 896, Linux's Minshall variant) — until the first is
/// acknowledged. A receiver waiting for the whole message has nothing to answer with and delays its
/// ACK (Linux: at least 40 ms, TCP_DELACK_MIN). So every exchange stalls for the delayed-ACK time,
/// on a path whose round trip is a fraction of a millisecond. On the wire: a small segment, a pure
/// ACK of exactly it ~40 ms later, the rest of the message within a round trip of that ACK, then the
/// answer at once.
///
/// A slow server looks the same from the client (each exchange takes ~40 ms or more), but there the
/// whole request went out at once and the answer came late: the time is spent after the last byte
/// of the request, not between its two halves.
extension FailureContext {
    /// An ACK held at least this long was delayed on purpose (Linux's minimum is 40 ms; other
    /// stacks use 100–200 ms).
    static let delayedACKThreshold = TimeSpan.milliseconds(20)
    /// A server pause from this long (and ten round trips) counts as think time.
    static let thinkThreshold = TimeSpan.milliseconds(20)

    mutating func stalls() {
        var nagle: [FlowRef: Finding] = [:]
        var think: [FlowRef: Finding] = [:]
        var order: [FlowRef] = []
        for (t, trace) in traces.enumerated() {
            for flow in trace.flows {
                let rtt = flow.handshakeRTT
                for senderIsClient in [true, false] {
                    let found = Self.nagleStalls(flow, senderIsClient: senderIsClient, rtt: rtt)
                    guard !found.isEmpty else { continue }
                    let finding = nagleFinding(found, flow: flow, senderIsClient: senderIsClient, rtt: rtt, at: t)
                    if nagle[flow.flow] == nil { order.append(flow.flow) }
                    nagle[flow.flow] = Self.merged(nagle[flow.flow], finding)
                    break
                }
                guard nagle[flow.flow] == nil, !queuedBehind.contains(flow.flow) else { continue }
                // Think time is measured where the server is: from the client's side a queue on the
                // path (bufferbloat) adds to it. Only when no capture was taken there, from elsewhere.
                if !isServerSide(t, server: flow.server.address),
                   sightings(of: flow).contains(where: { isServerSide($0.trace, server: flow.server.address) }) { continue }
                let exchanges = Self.exchanges(flow, rtt: rtt)
                let slow = exchanges.filter(\.slow)
                // Most exchanges slow: a server that is slow, not one slow answer among many.
                guard slow.count >= 2, slow.count * 2 >= exchanges.count else { continue }
                let finding = thinkFinding(exchanges, flow: flow, rtt: rtt, at: t)
                if think[flow.flow] == nil { order.append(flow.flow) }
                think[flow.flow] = Self.merged(think[flow.flow], finding)
            }
        }
        for flow in order {
            if let finding = nagle[flow] {
                findings.append(finding)
            } else if let finding = think[flow] {
                findings.append(finding)
            }
        }
    }

    /// `existing` with `other`'s vantage added (the same finding seen from another capture).
    static func merged(_ existing: Finding?, _ other: Finding) -> Finding {
        guard var existing else { return other }
        for vantage in other.vantage where !existing.vantage.contains(vantage) {
            existing.vantage.append(vantage)
            existing.frames[vantage] = other.frames[vantage]
        }
        existing.evidence["vantages_agreeing"] = .int(Int64(existing.vantage.count))
        return existing
    }

    // MARK: Nagle meets delayed ACK

    struct NagleStall {
        /// The first small segment, sent at once.
        var first: PacketNote
        /// The receiver's pure ACK of exactly that segment, delayed.
        var ack: PacketNote
        /// The rest of the message, held by Nagle until that ACK.
        var held: PacketNote
        /// The receiver's answer after the held segment, if any.
        var answer: PacketNote?
    }

    /// Sequence comparison modulo 2³².
    static func seqAtLeast(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) >= 0 }

    static func nagleStalls(_ flow: FlowTrace, senderIsClient: Bool, rtt: TimeSpan?) -> [NagleStall] {
        let mss = flow.sendMSS(fromClient: senderIsClient)
        var out: [NagleStall] = []
        var highestEnd: UInt32?
        var acked: UInt32?
        var window = 0
        var pending: (note: PacketNote, room: Int)?
        var ackOfPending: PacketNote?
        var receiverSentData = false
        var awaitingAnswer: Int?
        for note in flow.notes {
            if note.fromClient == senderIsClient {
                guard note.length > 0, !note.isRST, !note.flags.contains(.syn) else { continue }
                if let end = highestEnd, !seqAtLeast(note.seq, end) {
                    pending = nil   // a retransmission: not the pattern
                    continue
                }
                if let a = pending, let r = ackOfPending, note.seq == a.note.end, !receiverSentData {
                    let ackDelay = r.time - a.note.time
                    let followed = note.time - r.time
                    let promptly = max(.milliseconds(2), (rtt ?? .zero) * 3)
                    let gap = note.time - a.note.time
                    if ackDelay >= delayedACKThreshold, followed <= promptly, Int(note.length) < mss,
                       Int(note.length) <= a.room, rtt.map({ gap >= $0 * 5 }) ?? true {
                        out.append(NagleStall(first: a.note, ack: r, held: note))
                        awaitingAnswer = out.count - 1
                    }
                }
                // The next candidate: a small segment sent when everything before it was acknowledged.
                let allAcked = acked.map { seqAtLeast($0, note.seq) } ?? false
                if Int(note.length) < mss, allAcked, let acked {
                    pending = (note, window - Int(note.end &- acked))
                } else {
                    pending = nil
                }
                ackOfPending = nil
                receiverSentData = false
                highestEnd = note.end
            } else {
                if note.length > 0 || note.flags.contains(.fin) {
                    receiverSentData = true
                    if let i = awaitingAnswer, note.length > 0 {
                        out[i].answer = note
                        awaitingAnswer = nil
                    }
                }
                guard note.flags.contains(.ack), !note.isRST else { continue }
                if let a = pending, ackOfPending == nil, note.ack == a.note.end, note.length == 0,
                   !note.flags.contains(.syn), !note.flags.contains(.fin) {
                    ackOfPending = note
                }
                if acked.map({ seqAtLeast(note.ack, $0) }) ?? true { acked = note.ack }
                window = flow.advertisedWindow(note)
            }
        }
        return out
    }

    private func nagleFinding(_ stalls: [NagleStall], flow: FlowTrace, senderIsClient: Bool, rtt: TimeSpan?, at t: Int) -> Finding {
        let sender = senderIsClient ? flow.client : flow.server
        let receiver = senderIsClient ? flow.server : flow.client
        let gaps = stalls.map { $0.held.time - $0.first.time }
        let ackDelays = stalls.map { $0.ack.time - $0.first.time }
        let messages = flow.notes.filter { $0.fromClient == senderIsClient && $0.length > 0 }.count
        let head = stalls[0]
        var evidence: [String: EvidenceValue] = [
            "stalls": .int(Int64(stalls.count)),
            "stall_ms": .list(gaps.prefix(64).map { .double(Self.ms($0)) }),
            "median_stall_ms": .double(Self.ms(medianSpan(gaps))),
            "total_stall_ms": .double(Self.ms(gaps.reduce(.zero, +))),
            "ack_delay_ms": .double(Self.ms(medianSpan(ackDelays))),
            "first_segment_frame": .int(Int64(head.first.frame)),
            "waited_for_ack_frame": .int(Int64(head.ack.frame)),
            "held_segment_frame": .int(Int64(head.held.frame)),
            "first_segment_bytes": .int(Int64(head.first.length)),
            "held_segment_bytes": .int(Int64(head.held.length)),
            "mss": .int(Int64(flow.sendMSS(fromClient: senderIsClient))),
            "data_segments": .int(Int64(messages)),
            "sender": .string("\(sender)"),
        ]
        if let rtt { evidence["base_rtt_ms"] = .double(Self.ms(rtt)) }
        let answers = stalls.compactMap { s in s.answer.map { $0.time - s.held.time } }
        if !answers.isEmpty { evidence["answer_after_held_ms"] = .double(Self.ms(medianSpan(answers))) }
        let related = stalls.prefix(20).flatMap { [$0.first.frame, $0.ack.frame, $0.held.frame] }
        let frames = [traces[t].vantage: FrameRefs(first: head.first.frame, decisive: head.held.frame, related: related)]
        let median = Self.text(Self.ms(medianSpan(gaps)))
        var sentence = "Nagle's algorithm meets a delayed ACK: \(sender) sent a message as a small segment "
            + "(frame \(head.first.frame), \(head.first.length) bytes) and held the rest (frame \(head.held.frame), "
            + "\(head.held.length) bytes) until \(receiver) acknowledged the first — an ACK it delayed by "
            + "\(Self.text(Self.ms(ackDelays[0]))) ms (frame \(head.ack.frame)), waiting for the rest of the message. "
            + "\(stalls.count) exchange\(stalls.count == 1 ? "" : "s") stalled \(median) ms (median)"
        if let rtt { sentence += " on a path whose round trip is \(Self.text(Self.ms(rtt))) ms" }
        sentence += "; write the message in one call (or set TCP_NODELAY) on \(sender)."
        // Consistent, repeated stalls of the delayed-ACK time are the signature; one alone may be chance.
        let consistent = gaps.allSatisfy { $0 >= Self.delayedACKThreshold }
        let confidence = stalls.count >= 3 && consistent ? 0.9 : stalls.count >= 2 ? 0.8 : 0.65
        return Finding(kind: DiagnosisName.Kind.stall, cause: DiagnosisName.Cause.nagleDelayedAck, flow: flow.flow,
                       vantage: [traces[t].vantage], frames: frames, evidence: evidence, confidence: confidence,
                       severity: .major, sentence: sentence)
    }

    // MARK: The look-alike: a slow server

    struct Exchange {
        /// The last byte of the request, and the answer's first segment.
        var request: PacketNote
        var answer: PacketNote
        var retransmitted: Bool
        var slow: Bool
        var think: TimeSpan { answer.time - request.time }
    }

    /// Client data answered by server data: the time from the request's last segment to the answer.
    static func exchanges(_ flow: FlowTrace, rtt: TimeSpan?) -> [Exchange] {
        var out: [Exchange] = []
        var request: PacketNote?
        var highestEnd: UInt32?
        var retransmitted = false
        for note in flow.notes where note.length > 0 && !note.isRST {
            if note.fromClient {
                if let end = highestEnd, !seqAtLeast(note.seq, end) { retransmitted = true; continue }
                request = note
                highestEnd = note.end
            } else if let last = request {
                let pause = note.time - last.time
                let slow = !retransmitted && pause >= thinkThreshold && (rtt.map { pause >= $0 * 10 } ?? true)
                out.append(Exchange(request: last, answer: note, retransmitted: retransmitted, slow: slow))
                request = nil
                retransmitted = false
            }
        }
        return out
    }

    private func thinkFinding(_ exchanges: [Exchange], flow: FlowTrace, rtt: TimeSpan?, at t: Int) -> Finding {
        let slow = exchanges.filter(\.slow)
        let thinks = slow.map(\.think)
        let head = slow[0]
        var evidence: [String: EvidenceValue] = [
            "exchanges": .int(Int64(exchanges.count)),
            "slow_exchanges": .int(Int64(slow.count)),
            "think_ms": .list(thinks.prefix(64).map { .double(Self.ms($0)) }),
            "median_think_ms": .double(Self.ms(medianSpan(thinks))),
            "request_frame": .int(Int64(head.request.frame)),
            "answer_frame": .int(Int64(head.answer.frame)),
            "request_split_held": .bool(false),
        ]
        if let rtt { evidence["base_rtt_ms"] = .double(Self.ms(rtt)) }
        let frames = [traces[t].vantage: FrameRefs(first: head.request.frame, decisive: head.answer.frame,
                                                   related: slow.prefix(32).flatMap { [$0.request.frame, $0.answer.frame] })]
        var sentence = "\(flow.server) answered \(slow.count) of \(exchanges.count) requests "
            + "\(Self.text(Self.ms(medianSpan(thinks)))) ms (median) after their last byte arrived"
        if let rtt { sentence += ", on a path whose round trip is \(Self.text(Self.ms(rtt))) ms" }
        sentence += ": the time is spent in the server (its think time), not on the network — every request went out whole."
        return Finding(kind: DiagnosisName.Kind.stall, cause: DiagnosisName.Cause.serverThinkTime, flow: flow.flow,
                       vantage: [traces[t].vantage], frames: frames, evidence: evidence,
                       confidence: slow.count >= 3 ? 0.8 : 0.65, severity: .minor, sentence: sentence)
    }
}
