import Values

/// Bufferbloat (issue #18, item 8).
///
/// A bottleneck with a deep FIFO queue (a rate limit with megabytes of buffer, a modem, a Wi-Fi
/// driver) never drops, so a loss-based congestion control keeps growing its window and the excess
/// stands in the queue: the round trip climbs from the path's own (a fraction of a millisecond
/// here) to hundreds of milliseconds while nothing is lost, and every other connection through
/// that queue waits behind it — a small request's handshake and answer take as long as the queue.
/// Look-alikes: congestion loss (the queue overflows: losses follow the RTT climb; here there are
/// none) and an RTT above the RTO (spurious retransmissions; here none).
extension FailureContext {
    /// An RTT from this much (and ten times the path's own) is a standing queue, not the path.
    static let bloatedRTT = TimeSpan.milliseconds(100)

    struct RTTSeries {
        var samples: [(time: CaptureTime, rtt: TimeSpan, frame: UInt64)] = []
        var retransmissions = 0
        var zeroWindows = 0
        var maxInFlight = 0
        var bytesAcked: Int64 = 0
    }

    /// One RTT sample per ACK that covers new data (from the newest segment it covers), at a
    /// vantage next to the sender.
    static func rttSeries(_ flow: FlowTrace, senderIsClient: Bool) -> RTTSeries {
        var series = RTTSeries()
        var outstanding: [(end: UInt32, time: CaptureTime, frame: UInt64)] = []
        var head = 0
        var highestEnd: UInt32?
        var acked: UInt32?
        for note in flow.notes {
            if note.fromClient == senderIsClient {
                guard note.length > 0, !note.isRST else { continue }
                if let end = highestEnd, !seqAtLeast(note.seq, end) {
                    series.retransmissions += 1
                    continue
                }
                highestEnd = note.end
                outstanding.append((note.end, note.time, note.frame))
                if let acked { series.maxInFlight = max(series.maxInFlight, Int(note.end &- acked)) }
            } else {
                guard note.flags.contains(.ack), !note.isRST else { continue }
                if note.window == 0 && !note.flags.contains(.syn) && !note.flags.contains(.fin) { series.zeroWindows += 1 }
                if let previous = acked, !seqAtLeast(note.ack, previous) { continue }
                if let previous = acked, note.ack != previous { series.bytesAcked += Int64(note.ack &- previous) }
                acked = note.ack
                var newest: (end: UInt32, time: CaptureTime, frame: UInt64)?
                while head < outstanding.count, seqAtLeast(note.ack, outstanding[head].end) {
                    newest = outstanding[head]
                    head += 1
                }
                if let newest { series.samples.append((note.time, note.time - newest.time, newest.frame)) }
            }
        }
        return series
    }

    mutating func bufferbloat() {
        var found: [FlowRef: Finding] = [:]
        var order: [FlowRef] = []
        for (t, trace) in traces.enumerated() {
            for flow in trace.flows {
                for senderIsClient in [true, false] {
                    guard case (var finding, let victims)? = bloat(flow, senderIsClient: senderIsClient, in: trace, at: t) else { continue }
                    queuedBehind.formUnion(victims)
                    // A connection that waited behind the queue may have timed out spuriously (its RTO
                    // was computed before the queue grew): the queue's symptom, said here.
                    var spurious = 0
                    for victim in victims {
                        // (A timeout that fired while the original waited also reads as reordering: the
                        // original arrived first, after the copy was sent.)
                        spurious += removeFindings(on: victim) { f in
                            (f.kind == DiagnosisName.Kind.retransmission
                                && (f.cause == DiagnosisName.Cause.rttExceedsRTO || f.cause == DiagnosisName.Cause.undetermined))
                                || f.kind == DiagnosisName.Kind.reordering
                        }.count
                    }
                    if spurious > 0 {
                        finding.evidence["other_connections_spurious_timeouts"] = .int(Int64(spurious))
                        finding.sentence += " The other connection's spurious retransmissions are the queue's doing too: its RTO, computed before the queue grew, fired while its segment waited."
                    }
                    if found[flow.flow] == nil { order.append(flow.flow) }
                    found[flow.flow] = Self.merged(found[flow.flow], finding)
                    break
                }
            }
        }
        findings += order.compactMap { found[$0] }
    }

    private func bloat(_ flow: FlowTrace, senderIsClient: Bool, in trace: FailureTrace, at t: Int) -> (Finding, [FlowRef])? {
        let series = Self.rttSeries(flow, senderIsClient: senderIsClient)
        guard series.samples.count >= 10, series.retransmissions == 0, series.zeroWindows == 0 else { return nil }
        let sorted = series.samples.map(\.rtt).sorted()
        let p90 = sorted[sorted.count * 9 / 10]
        let maximum = sorted[sorted.count - 1]
        let handshake = flow.handshakeRTT
        let base = min(handshake ?? sorted[0], sorted[0])
        guard p90 >= Self.bloatedRTT, p90 >= max(base, .nanoseconds(1)) * 10 else { return nil }
        // The RTT climbed: it started near the path's own.
        let early = medianSpan(series.samples.prefix(max(3, series.samples.count / 10)).map(\.rtt))
        guard early * 2 < p90 else { return nil }
        let peakIndex = series.samples.firstIndex { $0.rtt == maximum } ?? 0
        let peak = series.samples[peakIndex]
        let first = series.samples[0]
        let span = series.samples[series.samples.count - 1].time - first.time
        let rate = span > .zero ? Double(series.bytesAcked) * 8 / span.inSeconds : 0
        let queueDelay = p90 - base
        let standing = rate > 0 ? Int64(rate / 8 * Double(queueDelay.nanoseconds) / 1e9) : 0
        // Other connections through the same queue: started while this one ran, toward the same
        // receiver, each waiting about as long.
        let receiver = senderIsClient ? flow.server.address : flow.client.address
        var victims: [(flow: FlowTrace, wait: TimeSpan)] = []
        let during = (from: first.time, to: series.samples[series.samples.count - 1].time)
        for other in trace.flows where other.flow != flow.flow && other.lastTime >= during.from && other.firstTime <= during.to {
            let towardSame = other.server.address == receiver || other.client.address == receiver
            guard towardSame else { continue }
            // Its round trips while this transfer filled the queue: the handshake, and its data's ACKs.
            var waits = Self.rttSeries(other, senderIsClient: true).samples
                .filter { $0.time >= during.from && $0.time <= during.to }.map(\.rtt)
            if let rtt = other.handshakeRTT, let syn = other.syn, syn.time >= during.from, syn.time <= during.to { waits.append(rtt) }
            guard let wait = waits.max(), wait >= max(Self.bloatedRTT / 2, p90 / 4) else { continue }
            victims.append((other, wait))
        }
        let sender = senderIsClient ? flow.client : flow.server
        var evidence: [String: EvidenceValue] = [
            "rtt_samples": .int(Int64(series.samples.count)),
            "base_rtt_ms": .double(Self.ms(base)),
            "early_rtt_ms": .double(Self.ms(early)),
            "p90_rtt_ms": .double(Self.ms(p90)),
            "max_rtt_ms": .double(Self.ms(maximum)),
            "queue_delay_ms": .double(Self.ms(queueDelay)),
            "retransmissions": .int(0),
            "max_bytes_in_flight": .int(Int64(series.maxInFlight)),
            "throughput_mbit": .double((rate / 1e3).rounded() / 1e3),
            "standing_queue_bytes": .int(standing),
            "other_connections_delayed": .int(Int64(victims.count)),
        ]
        if !victims.isEmpty {
            evidence["other_connection_wait_ms"] = .list(victims.prefix(16).map { .double(Self.ms($0.wait)) })
            evidence["other_connections"] = .list(victims.prefix(16).map { .string("\($0.flow.client) -> \($0.flow.server)") })
        }
        let frames = [traces[t].vantage: FrameRefs(first: first.frame, decisive: peak.frame,
                                                   related: victims.prefix(16).compactMap { $0.flow.syn?.frame })]
        var sentence = "A deep queue on the path (bufferbloat): \(sender)'s round trip climbed from \(Self.text(Self.ms(base))) ms "
            + "to \(Self.text(Self.ms(p90))) ms (90th percentile; max \(Self.text(Self.ms(maximum))) ms) under its own transfer "
            + "while nothing was lost or retransmitted — up to \(series.maxInFlight) bytes in flight, about \(standing) of them "
            + "standing in a queue drained at \(Self.text((rate / 1e4).rounded() / 100)) Mbit/s"
        if let victim = victims.first {
            sentence += "; another connection through the same queue (\(victim.flow.client) -> \(victim.flow.server)) waited "
                + "\(Self.text(Self.ms(victim.wait))) ms for its round trip"
        }
        sentence += ". An AQM (fq_codel, cake) or a smaller queue at the bottleneck keeps the delay down without losing throughput."
        let confidence = victims.isEmpty ? (handshake == nil ? 0.7 : 0.8) : 0.9
        let finding = Finding(kind: DiagnosisName.Kind.latency, cause: DiagnosisName.Cause.bufferbloat, flow: flow.flow,
                              vantage: [traces[t].vantage], frames: frames, evidence: evidence, confidence: confidence,
                              severity: .major, sentence: sentence)
        return (finding, victims.map(\.flow.flow))
    }
}

