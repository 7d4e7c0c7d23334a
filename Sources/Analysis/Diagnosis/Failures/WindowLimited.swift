import Values

/// Throughput limited by the receive window, and window scaling stripped by a middlebox (issue
/// #18, item 7).
///
/// Without the window-scale option (RFC 7323) in both SYNs, a receiver can advertise at most
/// 65 535 bytes, so a sender can have at most that much in flight: on a path of RTT R the transfer
/// cannot exceed 64 KiB / R (26 Mbit/s at 20 ms, 5 Mbit/s at 100 ms) whatever the link carries.
/// On the wire: every segment ends at the receiver's window edge, bytes in flight pinned at the
/// advertised window, the window itself staying wide open (the receiver reads at once) — unlike a
/// slow receiver, whose window shrinks to zero, and unlike congestion, which loses packets. With a
/// vantage on each side of a middlebox that strips the option, the client's SYN carries it as sent
/// and arrives without it.
extension FailureContext {
    /// A window only limits when the round trip makes it matter.
    static let windowLimitedMinimumRTT = TimeSpan.milliseconds(2)

    mutating func windowLimited() {
        var found: [FlowRef: Finding] = [:]
        var order: [FlowRef] = []
        for (t, trace) in traces.enumerated() {
            for flow in trace.flows {
                for senderIsClient in [true, false] {
                    guard let finding = windowLimit(flow, senderIsClient: senderIsClient, at: t) else { continue }
                    if found[flow.flow] == nil { order.append(flow.flow) }
                    found[flow.flow] = Self.merged(found[flow.flow], finding)
                    break
                }
            }
        }
        findings += order.compactMap { found[$0] }
    }

    private func windowLimit(_ flow: FlowTrace, senderIsClient: Bool, at t: Int) -> Finding? {
        guard let rtt = flow.handshakeRTT, rtt >= Self.windowLimitedMinimumRTT,
              let use = WindowUse(flow, senderIsClient: senderIsClient), use.limited else { return nil }
        let scaling = scalingCause(of: flow)
        return windowLimitedFinding(flow, senderIsClient: senderIsClient, at: t, rtt: rtt, use: use, scaling: scaling)
    }

    /// How the sender used the window it was given, measured over the flow's notes.
    private struct WindowUse {
        var segments = 0
        var retransmissions = 0
        var zeroWindows = 0
        var acks = 0
        /// ACKs that came when the sender had filled the window (within two segments of the edge).
        var atEdge = 0
        var windows: [Int] = []
        var inFlight: [Int] = []
        var bytes: Int64 = 0
        var firstData: CaptureTime?
        var lastData = CaptureTime.epoch
        /// The segment sent last before the eleventh ACK at the window's edge.
        var decisive: PacketNote?

        init?(_ flow: FlowTrace, senderIsClient: Bool) {
            let mss = flow.sendMSS(fromClient: senderIsClient)
            var acked: UInt32?
            var window = 0
            var highestEnd: UInt32?
            var lastSent: PacketNote?
            for note in flow.notes {
                if note.fromClient == senderIsClient {
                    guard note.length > 0, !note.isRST, let acked else { continue }
                    if let end = highestEnd, !FailureContext.seqAtLeast(note.seq, end) { retransmissions += 1; continue }
                    highestEnd = note.end
                    segments += 1
                    bytes += Int64(note.length)
                    if firstData == nil { firstData = note.time }
                    lastData = note.time
                    inFlight.append(Int(note.end &- acked))
                    lastSent = note
                } else {
                    guard note.flags.contains(.ack), !note.isRST else { continue }
                    // When this ACK came, had the sender filled the window it was given? (It sends
                    // whole segments only: within two of the edge is at the edge.)
                    if let acked, let end = highestEnd, window > 0, note.ack != acked, FailureContext.seqAtLeast(note.ack, acked) {
                        acks += 1
                        if window - Int(end &- acked) < 2 * mss {
                            atEdge += 1
                            if decisive == nil && acks > 10 { decisive = lastSent }
                        }
                    }
                    if acked.map({ FailureContext.seqAtLeast(note.ack, $0) }) ?? true { acked = note.ack }
                    window = flow.advertisedWindow(note)
                    if !note.flags.contains(.syn) {
                        windows.append(window)
                        if window == 0 && !note.flags.contains(.fin) { zeroWindows += 1 }
                    }
                }
            }
            guard !windows.isEmpty, !inFlight.isEmpty else { return nil }
        }

        var fraction: Double { Double(atEdge) / Double(acks) }
        var largest: Int { windows.max() ?? 0 }
        var typical: Int { windows.sorted()[windows.count / 2] }
        var flightMedian: Int { inFlight.sorted()[inFlight.count / 2] }

        /// Enough data, none resent, no zero window; the window full at half the ACKs or more,
        /// and staying open (the receiver kept up: a slow receiver's window shrinks).
        var limited: Bool {
            segments >= 50 && retransmissions == 0 && zeroWindows == 0 && acks >= 20 && fraction >= 0.5
                && largest > 0 && Double(typical) >= 0.75 * Double(largest)
        }
    }

    /// Window scaling as the flow's SYNs show it at every vantage: offered, and who dropped it.
    private struct ScalingCause {
        var name: String
        var stripped: Bool
        /// Where the SYN was seen with the option and without it (stripped only).
        var near: FlowSighting?
        var far: FlowSighting?
    }

    private func scalingCause(of flow: FlowTrace) -> ScalingCause {
        let sightings = sightings(of: flow)
        var offered = false
        var sentWithScale = false
        var arrivedWithout = false
        var answered = false
        for s in sightings {
            let f = self.flow(s)
            if let syn = f.syn {
                if syn.windowScale >= 0 { sentWithScale = true; offered = true } else { arrivedWithout = true }
            }
            if let synAck = f.synAck, synAck.windowScale >= 0 { answered = true }
        }
        let stripped = sentWithScale && arrivedWithout
        let name: String
        if stripped {
            name = "stripped-on-path"
        } else if !offered {
            name = "not-offered"
        } else if !answered {
            name = "not-answered"
        } else {
            name = "in-use"
        }
        return ScalingCause(name: name, stripped: stripped,
                            near: stripped ? sightings.first { self.flow($0).syn.map { $0.windowScale >= 0 } ?? false } : nil,
                            far: stripped ? sightings.first { self.flow($0).syn.map { $0.windowScale < 0 } ?? false } : nil)
    }

    private func windowLimitedFinding(_ flow: FlowTrace, senderIsClient: Bool, at t: Int, rtt: TimeSpan, use: WindowUse,
                                      scaling: ScalingCause) -> Finding {
        let duration = use.lastData - (use.firstData ?? use.lastData)
        let throughput = duration > .zero ? Double(use.bytes) * 8 / duration.inSeconds : 0
        let ceiling = Double(use.largest) * 8 / rtt.inSeconds
        let (fraction, largest, flightMedian) = (use.fraction, use.largest, use.flightMedian)
        var evidence: [String: EvidenceValue] = [
            "rtt_ms": .double(Self.ms(rtt)),
            "data_segments": .int(Int64(use.segments)),
            "acks": .int(Int64(use.acks)),
            "acks_with_window_full": .int(Int64(use.atEdge)),
            "window_limited_fraction": .double((fraction * 1000).rounded() / 1000),
            "advertised_window_max": .int(Int64(largest)),
            "advertised_window_median": .int(Int64(use.typical)),
            "bytes_in_flight_median": .int(Int64(flightMedian)),
            "throughput_mbit": .double((throughput / 1e3).rounded() / 1e3),
            "window_ceiling_mbit": .double((ceiling / 1e3).rounded() / 1e3),
            "retransmissions": .int(0),
            "zero_windows": .int(0),
            "window_scaling": .string(scaling.name),
            "window_scale_stripped": .bool(scaling.stripped),
        ]
        var sentAt = "near the client"
        var receivedAt = "at the server"
        if let near = scaling.near, let syn = self.flow(near).syn {
            evidence["window_scale_sent"] = .int(Int64(syn.windowScale))
            evidence["sent_at"] = .string(traces[near.trace].vantage)
            sentAt = "seen at \(traces[near.trace].vantage), frame \(syn.frame)"
            evidence["syn_frame_sent"] = .int(Int64(syn.frame))
        }
        if let far = scaling.far, let syn = self.flow(far).syn {
            evidence["received_at"] = .string(traces[far.trace].vantage)
            receivedAt = "seen at \(traces[far.trace].vantage), frame \(syn.frame)"
            evidence["syn_frame_received"] = .int(Int64(syn.frame))
        }
        let sender = senderIsClient ? flow.client : flow.server
        let receiver = senderIsClient ? flow.server : flow.client
        let head = use.decisive ?? flow.notes.first { $0.fromClient == senderIsClient && $0.length > 0 }
        let frames = [traces[t].vantage: FrameRefs(first: flow.syn?.frame ?? head?.frame ?? 0, decisive: head?.frame ?? 0,
                                                   related: [flow.syn?.frame, flow.synAck?.frame].compactMap { $0 })]
        var sentence = "\(sender)'s transfer was limited by \(receiver)'s receive window: "
            + "at \(Int(fraction * 100))% of the ACKs it had filled the window it was given, bytes in flight pinned at ~\(flightMedian) "
            + "(the advertised window, at most \(largest) bytes, stayed open — the receiver kept up), so on this "
            + "\(Self.text(Self.ms(rtt))) ms round trip it could not go faster than \(Self.text((ceiling / 1e4).rounded() / 100)) Mbit/s "
            + "(it reached \(Self.text((throughput / 1e4).rounded() / 100)))."
        switch scaling.name {
        case "stripped-on-path":
            sentence += " The cause is on the path: the client's SYN left with the window-scale option "
                + "(\(sentAt)) and arrived without it "
                + "(\(receivedAt)) — a middlebox stripped it, so both ends fell back to 64 KiB windows."
        case "not-offered":
            sentence += " The client's SYN offered no window scaling (net.ipv4.tcp_window_scaling, or a box before the first capture removed it)."
        case "not-answered":
            sentence += " The SYN/ACK carried no window-scale option: the server (or a box in front of the capture) declined it."
        default:
            sentence += " Window scaling was in use: the receive buffer (tcp_rmem, SO_RCVBUF) is what is too small for this path."
        }
        return Finding(kind: DiagnosisName.Kind.throughput, cause: DiagnosisName.Cause.receiveWindowLimited, flow: flow.flow,
                       vantage: [traces[t].vantage], frames: frames, evidence: evidence,
                       confidence: scaling.stripped ? 0.9 : 0.8, severity: .major, sentence: sentence)
    }
}
