import Values

/// Unanswered SYN versus ICMP rejection (issue #18, item 3).
///
/// A firewall that rejects with ICMP answers the SYN with a destination-unreachable error whose
/// quoted segment carries the SYN's ports and sequence number (its ISN). The error's source address
/// says where the connection was stopped: the server itself (port unreachable from a host without
/// TCP listener rules) or a router/firewall on the path. The silent drop stays `syn/unanswered`
/// (the main pass); this turns a SYN answered by ICMP into `syn/rejected-by-icmp`.
extension FailureContext {
    mutating func icmpRejections() {
        var done: Set<FlowRef> = []
        for (t, trace) in traces.enumerated() {
            for error in trace.icmpErrors where error.isUnreachable {
                guard let i = flowIndex(t, client: error.quotedSource, server: error.quotedDestination,
                                        clientISN: error.quotedSeq) else { continue }
                let flow = trace.flows[i]
                guard !done.contains(flow.flow) else { continue }
                // A connection that got its SYN/ACK anyway was not rejected.
                let sightings = sightings(of: flow)
                if sightings.contains(where: { self.flow($0).sawSYNACK }) { continue }
                done.insert(flow.flow)
                _ = removeFindings(on: flow.flow) { $0.kind == DiagnosisName.Kind.syn }
                findings.append(rejection(error, flow: flow, at: t, sightings: sightings))
            }
        }
    }

    private func rejection(_ error: ICMPError, flow: FlowTrace, at t: Int, sightings: [FlowSighting]) -> Finding {
        let syns = flow.notes.filter { $0.isSYN && $0.fromClient }
        let before = syns.last { $0.time <= error.time } ?? syns.first
        let fromServer = error.source == flow.server.address
        var evidence: [String: EvidenceValue] = [
            "icmp_type": .int(Int64(error.type)),
            "icmp_code": .int(Int64(error.code)),
            "icmp_meaning": .string(error.meaning),
            "icmp_source": .string(error.source.description),
            "icmp_from_server": .bool(fromServer),
            "icmp_ttl": .int(Int64(error.ttl)),
            "icmp_frame": .int(Int64(error.frame)),
            "syns": .int(Int64(syns.count)),
            "errno": .string(error.linuxErrno),
        ]
        if let before { evidence["answer_delay_ms"] = .double(Self.ms(error.time - before.time)) }
        var vantages = [traces[t].vantage]
        var frames = [traces[t].vantage: FrameRefs(first: before?.frame ?? error.frame, decisive: error.frame,
                                                   related: syns.prefix(16).map(\.frame))]
        // Did the SYN reach the server's side? A server-side capture that saw the SYN, or one that
        // was listening and did not.
        var reached: Bool?
        for s in sightings where s.trace != t && isServerSide(s.trace, server: flow.server.address) {
            if self.flow(s).notes.contains(where: { $0.isSYN }) {
                reached = true
                vantages.append(traces[s.trace].vantage)
                let first = self.flow(s).notes.first { $0.isSYN }?.frame ?? 0
                frames[traces[s.trace].vantage] = FrameRefs(first: first, decisive: first)
            }
        }
        if reached == nil, let first = syns.first?.time {
            for (other, _) in traces.enumerated() where other != t && isServerSide(other, server: flow.server.address) {
                guard !sightings.contains(where: { $0.trace == other }), listened(other, from: first, to: error.time) else { continue }
                reached = false
                vantages.append(traces[other].vantage)
                frames[traces[other].vantage] = FrameRefs(first: 0, decisive: 0)
            }
        }
        if let reached { evidence["reached_server_side"] = .bool(reached) }
        let who = fromServer ? "the server \(error.source) itself" : "\(error.source), not the server (a router or firewall on the path)"
        var sentence = "\(flow.client)'s SYN to \(flow.server) was rejected with ICMP \(error.meaning) (type \(error.type) code "
            + "\(error.code)) from \(who)"
        if let before { sentence += ", \(Self.text(Self.ms(error.time - before.time))) ms after the SYN" }
        sentence += ": connect() fails at once with \(error.linuxErrno), without retransmitting"
        switch reached {
        case .some(false): sentence += "; the server's capture never saw the SYN."
        case .some(true): sentence += "; the SYN did reach the server's side."
        case .none: sentence += "."
        }
        return Finding(kind: DiagnosisName.Kind.syn, cause: DiagnosisName.Cause.rejectedByICMP, flow: flow.flow,
                       vantage: vantages, frames: frames, evidence: evidence,
                       confidence: syns.isEmpty ? 0.8 : 0.95, severity: .critical, sentence: sentence)
    }
}
