import Values

/// Listen queue overflow (issue #18, item 2).
///
/// A listener whose accept queue is full (backlog too small, the application accepting slowly or
/// not at all) makes Linux ignore new SYNs (no SYN/ACK, no RST) and drop the final ACK of
/// handshakes already under way (the server then repeats its SYN/ACK). At the server's side the
/// wire shows a SYN that arrived and was repeated by the client (1 s apart with Linux's linear SYN
/// timeouts) without an answer, or SYN/ACKs repeated although the client acknowledged them, while
/// the same listener completes other handshakes — it is alive, just full. Look-alikes: a host that
/// is down (nothing answers at all) and a firewall dropping SYNs (the server's side never sees them).
extension FailureContext {
    mutating func listenQueueOverflows() {
        var done: Set<FlowRef> = []
        for (t, trace) in traces.enumerated() {
            for flow in trace.flows where !done.contains(flow.flow) && isServerSide(t, server: flow.server.address) {
                let synNotes = flow.notes.filter { $0.isSYN && $0.fromClient }
                let synAcks = flow.notes.filter { $0.isSYNACK && !$0.fromClient }
                guard !synNotes.isEmpty else { continue }
                // SYNs that arrived while no SYN/ACK answered them (before the first SYN/ACK).
                let firstAnswer = synAcks.first?.time ?? .distantFuture
                let ignored = synNotes.filter { $0.time < firstAnswer }.count - (synAcks.isEmpty ? 0 : 1)
                // Final ACKs the server ignored: a client ACK after a SYN/ACK, then the SYN/ACK again.
                // (Only after one: a client ACK before any SYN/ACK answers nothing of the server's.)
                var droppedACKs = 0
                var sawSYNACK = false
                var sawACKAfterSYNACK = false
                for note in flow.notes {
                    if note.isSYNACK && !note.fromClient {
                        if sawACKAfterSYNACK { droppedACKs += 1 }
                        sawSYNACK = true
                        sawACKAfterSYNACK = false
                    } else if sawSYNACK && note.fromClient && !note.isSYN && note.flags.contains(.ack) {
                        sawACKAfterSYNACK = true
                    }
                }
                guard ignored >= 1 || droppedACKs >= 1 else { continue }
                // The listener is alive: it completed another handshake on the same port.
                // Any other connection counts, an earlier one between the same ports too (the flows
                // the trace let go as well: it keeps their number per server).
                let others = trace.flows.filter { other in
                    other.server == flow.server && other.ordinal != flow.ordinal && other.serverAnswered
                }.count + trace.letGo.answered[flow.server, default: 0]
                guard others > 0 || !synAcks.isEmpty else { continue }
                done.insert(flow.flow)
                _ = removeFindings(on: flow.flow) { $0.kind == DiagnosisName.Kind.syn }
                findings.append(overflow(flow, at: t, syns: synNotes, synAcks: synAcks, ignored: ignored,
                                         droppedACKs: droppedACKs, otherAccepted: others))
            }
        }
    }

    private func overflow(_ flow: FlowTrace, at t: Int, syns: [PacketNote], synAcks: [PacketNote], ignored: Int,
                          droppedACKs: Int, otherAccepted: Int) -> Finding {
        let intervals = zip(syns.dropFirst(), syns).map { Self.ms($0.time - $1.time) }
        let established = flow.notes.contains { $0.fromClient && !$0.isSYN && $0.length > 0 }
            || (synAcks.last.map { answer in flow.notes.contains { $0.fromClient && $0.time > answer.time } } ?? false)
        var evidence: [String: EvidenceValue] = [
            "syns": .int(Int64(syns.count)),
            "syn_intervals_ms": .list(intervals.map { .double($0) }),
            "ignored_syns": .int(Int64(max(0, ignored))),
            "syn_acks": .int(Int64(synAcks.count)),
            "dropped_final_acks": .int(Int64(droppedACKs)),
            "other_connections_accepted": .int(Int64(otherAccepted)),
            "reached_server_side": .bool(true),
            "answered_eventually": .bool(!synAcks.isEmpty),
        ]
        // (Unknown, not negative, when the file's clock stepped back between the two.)
        if let answer = synAcks.first, let first = syns.first, answer.time >= first.time {
            evidence["handshake_delay_ms"] = .double(Self.ms(answer.time - first.time))
        }
        let decisive = synAcks.first?.frame ?? syns.last?.frame ?? 0
        let frames = [traces[t].vantage: FrameRefs(first: syns.first?.frame ?? 0, decisive: decisive,
                                                   related: (syns + synAcks).prefix(32).map(\.frame))]
        var sentence = "\(flow.server)'s listen queue was full: "
        if ignored >= 1 {
            sentence += "\(flow.client)'s SYN reached the server and was ignored \(ignored) time\(ignored == 1 ? "" : "s")"
                + (intervals.isEmpty ? "" : " (the client repeated it after \(intervals.map { Self.text($0) }.joined(separator: ", ")) ms)")
        } else {
            sentence += "the server ignored \(droppedACKs) final ACK\(droppedACKs == 1 ? "" : "s") of \(flow.client)'s handshake and repeated its SYN/ACK"
        }
        if otherAccepted > 0 {
            sentence += ", while the same listener completed \(otherAccepted) other handshake\(otherAccepted == 1 ? "" : "s") — it is alive but not accepting fast enough"
        }
        if let delay = evidence["handshake_delay_ms"]?.doubleValue {
            sentence += "; the connection was answered \(Self.text(delay)) ms after the first SYN."
        } else {
            sentence += "; the SYN was never answered."
        }
        _ = established
        let confidence = otherAccepted > 0 ? 0.85 : 0.6
        return Finding(kind: DiagnosisName.Kind.syn, cause: DiagnosisName.Cause.listenQueueOverflow, flow: flow.flow,
                       vantage: [traces[t].vantage], frames: frames, evidence: evidence, confidence: confidence,
                       severity: synAcks.isEmpty ? .critical : .major, sentence: sentence)
    }
}
