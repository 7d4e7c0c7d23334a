import Values

/// Path-MTU black hole (issue #18, item 1).
///
/// A link on the path has a smaller MTU than the ends; the router before it cannot forward a
/// full-size packet with DF set and sends ICMP "fragmentation needed" (ICMPv6 "packet too big"),
/// which a firewall drops. The sender never learns the path MTU: its full-size segments vanish,
/// every copy of them too (retransmitted at RTO backoff), while smaller segments and the handshake
/// pass. With `tcp_mtu_probing` Linux eventually drops to `tcp_base_mss` and the transfer resumes.
/// Look-alike: random packet loss, which loses segments of every size and lets some copies through.
extension FailureContext {
    mutating func mtuBlackHoles() {
        var done: Set<FlowRef> = []
        for (t, trace) in traces.enumerated() {
            for flow in trace.flows where !done.contains(flow.flow) {
                for senderIsClient in [true, false] {
                    let senderAddress = senderIsClient ? flow.client.address : flow.server.address
                    let peerAddress = senderIsClient ? flow.server.address : flow.client.address
                    // The sender's own vantage, and one on the peer's side.
                    guard let ttl = flow.ttlMode(fromClient: senderIsClient), [64, 128, 255].contains(ttl) else { continue }
                    guard let peer = sightings(of: flow).first(where: { $0.trace != t && isServerSide($0.trace, server: peerAddress) })
                    else { continue }
                    guard let finding = blackHole(flow, senderIsClient: senderIsClient, at: t, peer: peer,
                                                  sender: senderAddress) else { continue }
                    done.insert(flow.flow)
                    _ = removeFindings(on: flow.flow) { $0.kind == DiagnosisName.Kind.retransmission }
                    findings.append(finding)
                    break
                }
            }
        }
    }

    private func blackHole(_ flow: FlowTrace, senderIsClient: Bool, at t: Int, peer: FlowSighting, sender: IPAddress) -> Finding? {
        let sent = flow.notes.filter { $0.fromClient == senderIsClient && $0.length > 0 && !$0.isRST }
        let arrived = self.flow(peer).notes.filter { $0.fromClient == senderIsClient && $0.length > 0 && !$0.isRST }
        guard sent.count >= 4, !arrived.isEmpty else { return nil }
        let largestArrived = arrived.map(\.length).max() ?? 0
        let lost = sent.filter { $0.length > largestArrived }
        guard lost.count >= 3 else { return nil }
        // Every copy of the large segments vanished, and retransmissions followed.
        var copies: [UInt32: [PacketNote]] = [:]
        for note in sent { copies[note.seq, default: []].append(note) }
        let head = lost[0]
        let headCopies = (copies[head.seq] ?? []).filter { $0.length > largestArrived }
        guard headCopies.count >= 2 else { return nil }
        // The sender shrank: a smaller segment after the losses, at that same sequence number or later, arrived.
        let shrunk = sent.first { $0.time > head.time && $0.length <= largestArrived && Self.seqAtLeast($0.seq, head.seq) && $0.length > 0 }
        let largestSent = sent.map(\.length).max() ?? 0
        let intervals = zip(headCopies.dropFirst(), headCopies).map { Self.ms($0.time - $1.time) }
        let growing = intervals.count >= 2 && zip(intervals.dropFirst(), intervals).allSatisfy { $0 >= $1 * 0.9 }
        // A "fragmentation needed" the sender's side saw would have taught it the MTU: then it is no black hole.
        let tooBig = traces[t].icmpErrors.filter { e in
            e.isPacketTooBig && e.quotedSource.address == sender
                && (e.quotedSource.port == (senderIsClient ? flow.client.port : flow.server.port))
        }
        guard tooBig.isEmpty else { return nil }
        let mss = flow.sendMSS(fromClient: senderIsClient)
        var evidence: [String: EvidenceValue] = [
            "largest_sent": .int(Int64(largestSent)),
            "largest_arrived": .int(Int64(largestArrived)),
            "large_copies_lost": .int(Int64(lost.count)),
            "large_copies_arrived": .int(0),
            "smaller_segments_arrived": .int(Int64(arrived.count)),
            "mss_announced": .int(Int64(mss)),
            "icmp_frag_needed_seen": .int(0),
            "head_copies": .int(Int64(headCopies.count)),
            "retransmission_intervals_ms": .list(intervals.map { .double($0) }),
            "backoff_growing": .bool(growing),
            "sender_shrank": .bool(shrunk != nil),
            "reached_peer_side": .bool(false),
        ]
        if let shrunk {
            evidence["shrunk_to"] = .int(Int64(shrunk.length))
            evidence["black_hole_ms"] = .double(Self.ms(shrunk.time - head.time))
            evidence["shrunk_frame"] = .int(Int64(shrunk.frame))
        }
        let vantage = traces[t].vantage
        let peerVantage = traces[peer.trace].vantage
        let frames = [vantage: FrameRefs(first: head.frame, decisive: headCopies.last?.frame ?? head.frame,
                                         related: headCopies.prefix(16).map(\.frame) + (shrunk.map { [$0.frame] } ?? [])),
                      peerVantage: FrameRefs(first: arrived[0].frame, decisive: arrived[arrived.count - 1].frame)]
        let senderEnd = senderIsClient ? flow.client : flow.server
        var sentence = "A path-MTU black hole: \(senderEnd)'s full-size segments (\(largestSent) bytes) never reached the \(peerVantage) "
            + "capture — \(lost.count) copies, the first retransmitted after \(intervals.map { Self.text($0) }.joined(separator: ", ")) ms"
            + (growing ? " (RTO backoff)" : "")
            + " — while segments of up to \(largestArrived) bytes arrived, and no ICMP \"fragmentation needed\" came back: "
            + "a link on the path has a smaller MTU and its router's ICMP is filtered."
        if let shrunk {
            sentence += " After \(Self.text(Self.ms(shrunk.time - head.time))) ms the sender shrank its segments to \(shrunk.length) bytes (MTU probing) and the transfer went on."
        }
        return Finding(kind: DiagnosisName.Kind.retransmission, cause: DiagnosisName.Cause.pathMTUBlackHole, flow: flow.flow,
                       vantage: [vantage, peerVantage], frames: frames, evidence: evidence, confidence: 0.9,
                       severity: shrunk == nil ? .critical : .major, sentence: sentence)
    }
}
