import Values

/// Findings other than RSTs and retransmissions: capture artifacts, SYNs (unanswered, late
/// duplicates answered with a challenge ACK), zero windows, reordering and keep-alives.
extension DiagnosisContext {
    // MARK: capture artifacts

    /// Every packet seen twice or more with identical IP ID and payload (TTL differing by the hop
    /// count, or not at all): the capture duplicated them. tshark's retransmissions and duplicate
    /// ACKs on the copies are artifacts; the copies are left out of every other diagnosis.
    func captureArtifacts(_ group: FlowGroup) -> [Finding] {
        var findings: [Finding] = []
        for member in group.members {
            let conversation = conversation(member)
            let copies = conversation.clientDir.captureCopies.count + conversation.serverDir.captureCopies.count
            let originals = conversation.clientDir.packets + conversation.serverDir.packets
            guard copies > 0, originals > 0, copies * 10 >= originals * 6 else { continue }
            var differences = SmallHistogram()
            for direction in [conversation.clientDir, conversation.serverDir] {
                for entry in direction.captureCopies.ttlDifferences.entries { differences.add(entry.value, count: entry.count) }
            }
            let ttlDifferences = differences.entries.map(\.value).sorted()
            let maxDelay = max(conversation.clientDir.captureCopies.maxDelay, conversation.serverDir.captureCopies.maxDelay)
            let perPacket = Double(copies + originals) / Double(originals)
            let ratio = Double(copies) / Double(originals)
            let firstCopy = [conversation.clientDir.captureCopies.firstFrame, conversation.serverDir.captureCopies.firstFrame]
                .filter { $0 > 0 }.min() ?? conversation.shared.firstFrame
            let related = (conversation.clientDir.captureCopies.frames + conversation.serverDir.captureCopies.frames).sorted().prefix(64)
            var evidence: [String: EvidenceValue] = [
                "packets": .int(Int64(originals)),
                "copies": .int(Int64(copies)),
                "times_seen_per_packet": .double((perPacket * 100).rounded() / 100),
                "same_ip_id_and_payload": .bool(true),
                "ttl_differences": .list(ttlDifferences.map { .int(Int64($0)) }),
                "max_copy_delay_ms": .double(Stats.ms(maxDelay)),
            ]
            let flagged = conversation.clientDir.retransmissionCount + conversation.serverDir.retransmissionCount
            evidence["retransmissions_left_after_removing_copies"] = .int(Int64(flagged))
            let hopText: String
            if let nonzero = ttlDifferences.first(where: { $0 > 0 }) {
                hopText = "TTL \(nonzero) lower in the copy: seen before and after a router"
            } else {
                hopText = "identical TTL, copies at most \(JSONText.number(Stats.ms(maxDelay))) ms apart: captured more than once at the same point"
            }
            let confidence = ratio >= 0.9 ? 0.9 : 0.75
            findings.append(Finding(
                kind: DiagnosisName.Kind.captureArtifact, cause: DiagnosisName.Cause.duplicatedCapture, flow: group.flow,
                vantage: [vantageName(member)],
                frames: [vantageName(member): FrameRefs(first: conversation.shared.firstFrame, decisive: firstCopy,
                                                        related: Array(related))],
                evidence: evidence, confidence: confidence, severity: .info,
                sentence: "Each packet of this flow is in the capture \(JSONText.number((perPacket * 10).rounded() / 10)) "
                    + "times with the same IP ID and payload (\(hopText)): the capture duplicated them, so tshark's "
                    + "retransmissions and duplicate ACKs here are artifacts, not loss."))
        }
        return findings
    }

    // MARK: SYN

    func synFindings(_ group: FlowGroup, hasRSTFinding: Bool) -> [Finding] {
        var findings: [Finding] = []
        // Unanswered: SYNs from the client and nothing at all from the server, at every vantage.
        let answered = group.members.contains { direction($0, fromClient: false).packets > 0 }
        let synMembers = group.members.filter { direction($0, fromClient: true).handshake.synCount > 0 }
        if !answered && !hasRSTFinding, let primary = synMembers.max(by: {
            direction($0, fromClient: true).handshake.synCount < direction($1, fromClient: true).handshake.synCount
        }) {
            findings.append(unansweredSYN(group, primary: primary, synMembers: synMembers))
        }
        // Late duplicate SYN on an established connection, answered with a challenge ACK.
        for member in group.members {
            let conversation = conversation(member)
            guard let late = conversation.shared.lateSYNs.first(where: { $0.answerIsChallengeAck }),
                  let answerFrame = late.answerFrame else { continue }
            let senderIsClient = member.flipped ? !late.fromClient : late.fromClient
            let sender = senderIsClient ? group.client : group.server
            let answerer = senderIsClient ? group.server : group.client
            let synIndex = direction(member, fromClient: senderIsClient)
            var evidence: [String: EvidenceValue] = [
                "late_syn_frame": .int(Int64(late.frame)),
                "challenge_ack_frame": .int(Int64(answerFrame)),
                "answer_delay_ms": .double(Stats.ms(late.answerDelay ?? .zero)),
                "syn_seq_equals_isn": .bool(late.seq == synIndex.handshake.isn),
                "late_syns": .int(Int64(conversation.shared.lateSYNs.count)),
                "connection_survived": .bool(conversation.shared.rsts.isEmpty),
            ]
            if let first = synIndex.handshake.synTimes.first { evidence["since_first_syn_ms"] = .double(Stats.ms(late.time - first)) }
            findings.append(Finding(
                kind: DiagnosisName.Kind.syn, cause: DiagnosisName.Cause.duplicateAnsweredWithChallengeAck, flow: group.flow,
                vantage: [vantageName(member)],
                frames: [vantageName(member): FrameRefs(first: late.frame, decisive: answerFrame)],
                evidence: evidence, confidence: conversation.shared.rsts.isEmpty ? 0.9 : 0.75, severity: .minor,
                sentence: "A delayed copy of \(sender)'s SYN arrived after the connection was established; \(answerer) "
                    + "answered it within \(JSONText.number(Stats.ms(late.answerDelay ?? .zero))) ms with a challenge ACK "
                    + "(RFC 5961), not an RST, and the connection survived — tshark calls that ACK a duplicate ACK."))
            break
        }
        return findings
    }

    private func unansweredSYN(_ group: FlowGroup, primary: GroupMember, synMembers: [GroupMember]) -> Finding {
        let client = direction(primary, fromClient: true).handshake
        let times = client.synTimes
        let intervals = zip(times.dropFirst(), times).map { Stats.ms($0 - $1) }
        var evidence: [String: EvidenceValue] = [
            "syns": .int(Int64(client.synCount)),
            "syn_intervals_ms": .list(intervals.map { .double($0) }),
            "answers": .int(0),
        ]
        let growing = intervals.count >= 2 && zip(intervals.dropFirst(), intervals).allSatisfy { $0 >= $1 }
        if intervals.count >= 2 { evidence["intervals_growing"] = .bool(growing) }
        let digest = digests[primary.vantage]
        // How long the capture kept listening after the last SYN: its recorded end when it has one
        // (an answer that never came is absent only while it listened), else its last packet.
        let listenedUntil = max(digest.window.recordedEndTime ?? .distantPast, digest.lastPacketTime ?? times.last ?? .epoch)
        // (Not below zero: in a damaged file the capture's last time may lie before the SYN.)
        let captureAfter = max(.zero, listenedUntil - (times.last ?? .epoch))
        evidence["capture_after_last_syn_ms"] = .double(Stats.ms(captureAfter))
        var sighting = SYNSighting(vantages: [vantageName(primary)], frames: [
            vantageName(primary): FrameRefs(first: client.synFrames.first ?? 0, decisive: client.synFrames.last ?? 0,
                                            related: client.synFrames),
        ])
        synReachedServer(&sighting, primary: primary, synMembers: synMembers, times: times)
        if let reachedServer = sighting.reachedServer { evidence["reached_server_side"] = .bool(reachedServer) }
        if !sighting.caveats.isEmpty { evidence["caveat"] = .list(sighting.caveats.map { .string($0) }) }
        let cause: String
        let confidence: Double
        var sentence: String
        if client.synCount >= 2 || captureAfter >= .seconds(3) {
            cause = DiagnosisName.Cause.unanswered
            confidence = client.synCount >= 3 ? 0.9 : 0.75
            sentence = "\(group.client) sent \(client.synCount) SYN\(client.synCount == 1 ? "" : "s") to \(group.server)"
                + (intervals.isEmpty ? "" : " (retransmitted after \(intervals.map { JSONText.number($0) }.joined(separator: ", ")) ms)")
                + " and never got a SYN/ACK or an RST: "
            switch sighting.reachedServer {
            case .some(true): sentence += "the SYN reached the server's side, which stayed silent."
            case .some(false): sentence += "the server's capture never saw the SYN, so the path dropped it."
            case .none: sentence += "a silent drop on the path or an unreachable host; connect() will time out."
            }
        } else {
            cause = DiagnosisName.Cause.undetermined
            confidence = 0.3
            evidence["missing"] = .list([.string("the capture ends \(JSONText.number(Stats.ms(captureAfter))) ms after the "
                                                 + "only SYN: a retransmission or an answer may have followed")])
            sentence = "\(group.client) sent one SYN to \(group.server) and the capture ends before any answer or "
                + "retransmission could be seen."
        }
        return Finding(kind: DiagnosisName.Kind.syn, cause: cause, flow: group.flow, vantage: sighting.vantages,
                       frames: sighting.frames, evidence: evidence, confidence: confidence,
                       severity: cause == DiagnosisName.Cause.unanswered ? .critical : .minor, sentence: sentence)
    }

    /// Where unanswered SYNs were seen, and whether they reached the server's side.
    private struct SYNSighting {
        var vantages: [String]
        var frames: [String: FrameRefs]
        var reachedServer: Bool?
        var caveats: [String] = []
    }

    /// Did the SYNs reach the server's side? Yes when a capture there (or downstream) saw them; no
    /// when the server's capture was listening and never saw them.
    private func synReachedServer(_ sighting: inout SYNSighting, primary: GroupMember, synMembers: [GroupMember],
                                  times: [CaptureTime]) {
        for member in synMembers where member.vantage != primary.vantage {
            sighting.vantages.append(vantageName(member))
            let other = direction(member, fromClient: true).handshake
            sighting.frames[vantageName(member)] = FrameRefs(first: other.synFrames.first ?? 0, decisive: other.synFrames.last ?? 0)
            if nearSender(member, fromClient: true) == false || digests[member.vantage].role == .server {
                sighting.reachedServer = true
            }
        }
        guard sighting.reachedServer == nil else { return }
        for (index, other) in digests.enumerated() where index != primary.vantage && other.role == .server {
            guard !synMembers.contains(where: { $0.vantage == index }) else { continue }
            // The SYNs' absence means something only while that capture was listening.
            switch other.window.coverage(from: times.first ?? .epoch, to: times.last ?? .epoch) {
            case .recorded: break
            case .packets:
                sighting.caveats.append("the \(other.vantage) capture does not record when it was listening; its own "
                                        + "packets surround the SYNs, so it was running then as far as they show")
            case .outside, .unknown:
                sighting.caveats.append("the \(other.vantage) capture does not show the SYNs, but it cannot tell whether it "
                                        + "was listening when they were sent (capture window unknown or elsewhere)")
                continue
            }
            sighting.reachedServer = false
            sighting.vantages.append(other.vantage)
            sighting.frames[other.vantage] = FrameRefs(first: 0, decisive: 0)
        }
    }

    // MARK: zero window

    /// One receiver's zero-window stalls at the vantage that judges them, measured: each stall
    /// lasts until the window reopened, or to the end of the capture.
    private struct ZeroWindowEpisodes {
        let window: WindowTracker
        let firstStall: ZeroWindowStall
        let lastStall: ZeroWindowStall
        let captureEnd: CaptureTime

        init?(_ window: WindowTracker, captureEnd: CaptureTime) {
            guard let first = window.stalls.first, let last = window.stalls.last else { return nil }
            self.window = window
            firstStall = first
            lastStall = last
            self.captureEnd = captureEnd
        }

        var stalls: [ZeroWindowStall] { window.stalls }
        /// (Never below zero: in a damaged file the capture's last time may lie before the stall.)
        func duration(_ stall: ZeroWindowStall) -> TimeSpan { max(.zero, (stall.endTime ?? captureEnd) - stall.startTime) }
        var total: TimeSpan { stalls.reduce(TimeSpan.zero) { $0 + duration($1) } }
        var longest: ZeroWindowStall { stalls.max(by: { duration($0) < duration($1) }) ?? firstStall }
        var probes: Int { stalls.reduce(0) { $0 + $1.probes } }
        /// Still zero when the capture ends.
        var ongoing: Bool { lastStall.endTime == nil }
        var reopened: [ZeroWindowStall] { stalls.filter { $0.endTime != nil } }
        /// Data segments sent beyond the zero window (dropped by the receiver, resent later).
        var overruns: Int { stalls.reduce(0) { $0 + $1.overruns } }
    }

    /// The receive window that `advertiserIsClient`'s side advertised hit zero. Stopped reading:
    /// it stays at zero to the end (or through several persist probes / seconds). Slow: it
    /// reopens after each read.
    func zeroWindowFindings(_ group: FlowGroup, advertiserIsClient: Bool, spuriousInStall: Int) -> [Finding] {
        guard let primary = zeroWindowPrimary(group, advertiserIsClient: advertiserIsClient) else { return [] }
        let conversation = conversation(primary)
        let captureEnd = max(conversation.shared.lastTime, digests[primary.vantage].lastPacketTime ?? conversation.shared.lastTime)
        guard let episodes = ZeroWindowEpisodes(direction(primary, fromClient: advertiserIsClient).window,
                                                captureEnd: captureEnd) else { return [] }
        let receiver = advertiserIsClient ? group.client : group.server
        let sender = advertiserIsClient ? group.server : group.client
        var evidence = zeroWindowEvidence(episodes, receiver: receiver, spuriousInStall: spuriousInStall)
        // Flow control that lasts a moment (the receiver not scheduled for a few µs) is not a
        // failure: every stall over, none longer than 2 RTTs (at least 1 ms), no probe.
        // Unless it recurs (a slow reader shows itself by recurring stalls, however brief) or
        // costs data (segments sent beyond the zero window were dropped and resent).
        let recurring = episodes.window.stallCount >= 3
        if recurring { evidence["recurring"] = .bool(true) }
        let momentary = max((conversation.pathRTT ?? .zero) * 2, .milliseconds(1))
        if !episodes.ongoing && episodes.probes == 0 && episodes.duration(episodes.longest) < momentary && !recurring
            && episodes.overruns == 0 && spuriousInStall == 0 {
            return []
        }
        var verdict = zeroWindowVerdict(episodes, receiver: receiver, sender: sender, &evidence)
        if episodes.overruns > 0 {
            verdict.sentence += overrunClause(episodes, sender: sender, receiver: receiver,
                                              sending: direction(primary, fromClient: !advertiserIsClient))
        }
        var related = episodes.stalls.prefix(32).map(\.startFrame) + episodes.stalls.prefix(32).compactMap(\.endFrame)
        related = Array(Set(related)).sorted()
        let cause = verdict.cause
        return [Finding(
            kind: DiagnosisName.Kind.zeroWindow, cause: cause, flow: group.flow, vantage: [vantageName(primary)],
            frames: [vantageName(primary): FrameRefs(first: episodes.firstStall.startFrame, decisive: verdict.decisive,
                                                     related: Array(related.prefix(64)))],
            evidence: evidence, confidence: verdict.confidence,
            severity: cause == DiagnosisName.Cause.receiverStoppedReading ? .critical : (cause == DiagnosisName.Cause.receiverSlow ? .major : .minor),
            sentence: verdict.sentence)]
    }

    /// The vantage nearest the receiver (it sees its window as sent), else the one with the most stalls.
    private func zeroWindowPrimary(_ group: FlowGroup, advertiserIsClient: Bool) -> GroupMember? {
        let candidates = group.members.filter { direction($0, fromClient: advertiserIsClient).window.stallCount > 0 }
        return candidates.first(where: { nearSender($0, fromClient: advertiserIsClient) == true })
            ?? candidates.max(by: {
                direction($0, fromClient: advertiserIsClient).window.stallCount
                    < direction($1, fromClient: advertiserIsClient).window.stallCount
            })
    }

    /// The stalls' measures: how many, how long, the probes, the windows before the first.
    private func zeroWindowEvidence(_ episodes: ZeroWindowEpisodes, receiver: TCPEndpoint, spuriousInStall: Int)
        -> [String: EvidenceValue] {
        let window = episodes.window
        let longest = episodes.longest
        var evidence: [String: EvidenceValue] = [
            "receiver": .string(receiver.description),
            "stalls": .int(Int64(window.stallCount)),
            "time_at_zero_ms": .double(Stats.ms(episodes.total)),
            "longest_stall_ms": .double(Stats.ms(episodes.duration(longest))),
            "zero_window_advertisements": .int(Int64(window.zeroAdvertisements)),
            "probes": .int(Int64(episodes.probes)),
            "window_full_frames": .int(Int64(window.windowFullFrames)),
            "reopened": .int(Int64(episodes.reopened.count)),
            "still_zero_at_end": .bool(episodes.ongoing),
        ]
        if !window.windowsBeforeFirstStall.isEmpty {
            evidence["windows_before_first_zero"] = .list((window.windowsBeforeFirstStall + [0]).map { .int(Int64($0)) })
        }
        let intervals = longest.probeIntervals.map { Stats.ms($0) }
        if !intervals.isEmpty { evidence["probe_intervals_ms"] = .list(intervals.map { .double($0) }) }
        if spuriousInStall > 0 { evidence["retransmissions_around_stall"] = .int(Int64(spuriousInStall)) }
        let overruns = episodes.overruns
        if overruns > 0 {
            evidence["overrun_segments"] = .int(Int64(overruns))
            if let frame = episodes.stalls.compactMap(\.firstOverrunFrame).first {
                evidence["first_overrun_frame"] = .int(Int64(frame))
            }
        }
        return evidence
    }

    /// A zero-window finding's cause, confidence, decisive frame and sentence.
    private struct ZeroWindowVerdict {
        var cause: String
        var confidence: Double
        var decisive: UInt64
        var sentence: String
    }

    /// Stopped reading (zero to the end, or a long pause through probes), slow (reopened after
    /// each read), or too close to the capture's end to tell.
    private func zeroWindowVerdict(_ episodes: ZeroWindowEpisodes, receiver: TCPEndpoint, sender: TCPEndpoint,
                                   _ evidence: inout [String: EvidenceValue]) -> ZeroWindowVerdict {
        let (firstStall, lastStall) = (episodes.firstStall, episodes.lastStall)
        let stoppedAtEnd = episodes.ongoing && (episodes.duration(lastStall) >= .seconds(1) || lastStall.probes >= 2)
        let longPause = episodes.stalls.first { $0.probes >= 3 || episodes.duration($0) >= .seconds(2) }
        let reopened = episodes.reopened
        let stallCount = episodes.window.stallCount
        var verdict: ZeroWindowVerdict
        if stoppedAtEnd {
            verdict = ZeroWindowVerdict(
                cause: DiagnosisName.Cause.receiverStoppedReading, confidence: lastStall.probes >= 2 ? 0.9 : 0.8,
                decisive: lastStall.lastZeroFrame,
                sentence: "\(receiver)'s receive window fell to zero at frame \(lastStall.startFrame) and stayed there for "
                    + "the rest of the capture (\(JSONText.number(Stats.ms(episodes.duration(lastStall)))) ms, \(lastStall.probes) "
                    + "persist probe\(lastStall.probes == 1 ? "" : "s") answered with zero): the application stopped "
                    + "reading (check Recv-Q with ss -tn).")
        } else if let pause = longPause {
            verdict = ZeroWindowVerdict(
                cause: DiagnosisName.Cause.receiverStoppedReading, confidence: 0.7, decisive: pause.lastZeroFrame,
                sentence: "\(receiver)'s receive window stayed at zero for \(JSONText.number(Stats.ms(episodes.duration(pause)))) ms "
                    + "through \(pause.probes) persist probe\(pause.probes == 1 ? "" : "s") before reopening: the application "
                    + "stopped reading for that long, then resumed.")
        } else if !reopened.isEmpty {
            verdict = ZeroWindowVerdict(
                cause: DiagnosisName.Cause.receiverSlow, confidence: reopened.count >= 2 ? 0.85 : 0.75,
                decisive: reopened[0].endFrame ?? firstStall.startFrame,
                sentence: "\(receiver)'s receive window hit zero \(stallCount) time\(stallCount == 1 ? "" : "s") "
                    + "and reopened after each read (\(JSONText.number(Stats.ms(episodes.total))) ms at zero in all): the "
                    + "application reads, but slower than \(sender) sends — read faster or in larger chunks, or give the "
                    + "socket a larger buffer.")
        } else {
            evidence["missing"] = .list([.string("the capture ends \(JSONText.number(Stats.ms(episodes.duration(lastStall)))) ms "
                                                 + "after the window hit zero: not long enough to tell a slow reader from one that stopped")])
            verdict = ZeroWindowVerdict(
                cause: DiagnosisName.Cause.undetermined, confidence: 0.3, decisive: lastStall.startFrame,
                sentence: "\(receiver)'s receive window hit zero just before the capture ends; whether it would reopen is not in the capture.")
        }
        if verdict.decisive == 0 { verdict.decisive = firstStall.startFrame }
        return verdict
    }

    /// The segments sent beyond the zero window: dropped by the receiver, so the retransmissions
    /// from that edge belong to this episode.
    private func overrunClause(_ episodes: ZeroWindowEpisodes, sender: TCPEndpoint, receiver: TCPEndpoint,
                               sending: DirectionState) -> String {
        let overruns = episodes.overruns
        let plural = overruns == 1 ? "" : "s"
        var edgeText = ""
        // Relative to the sender's ISN, as tshark shows it, when the handshake was seen.
        if let edge = episodes.stalls.first(where: { $0.overruns > 0 })?.edge, sending.handshake.synCount + sending.handshake.synAckCount > 0 {
            edgeText = " (at or past its edge, relative sequence \(edge &- sending.handshake.isn))"
        }
        return " \(sender) sent \(overruns) segment\(plural) beyond the zero window" + edgeText + ", which \(receiver) had no "
            + "room for and dropped: the retransmissions from that edge are this episode's consequence, not loss on the path."
    }

    // MARK: reordering

    func reorderingFindings(_ group: FlowGroup, extra: [Bool: [ReorderEvent]]) -> [Finding] {
        var best: (member: GroupMember, events: [(Bool, ReorderEvent)])?
        for member in group.members {
            var events: [(Bool, ReorderEvent)] = []
            for fromClient in [true, false] {
                events += direction(member, fromClient: fromClient).reorders.events.map { (fromClient, $0) }
            }
            if events.count > (best?.events.count ?? 0) { best = (member, events) }
        }
        if let primary = group.members.first {
            var extraEvents: [(Bool, ReorderEvent)] = []
            for (fromClient, events) in extra { extraEvents += events.map { (fromClient, $0) } }
            if !extraEvents.isEmpty {
                if best == nil { best = (retransmissionPrimaryAny(group) ?? primary, []) }
                best?.events += extraEvents
            }
        }
        guard let best, !best.events.isEmpty else { return [] }
        let events = best.events.sorted { $0.1.fillFrame < $1.1.fillFrame }
        let first = events[0].1
        let delays = events.map { Stats.ms($0.1.delay) }
        let byIPID = events.filter { $0.1.byIPID }.count
        let conversation = conversation(best.member)
        var evidence: [String: EvidenceValue] = [
            "events": .int(Int64(events.count)),
            "max_fill_delay_ms": .double(delays.max() ?? 0),
            "fill_delays_ms": .list(delays.prefix(16).map { .double($0) }),
            "shown_by_ip_id_order": .int(Int64(byIPID)),
        ]
        let spurious = events.compactMap { $0.1.spuriousRetransmissionFrame }
        evidence["spurious_retransmissions"] = .int(Int64(spurious.count))
        if !spurious.isEmpty { evidence["spurious_retransmission_frames"] = .list(spurious.prefix(16).map { .int(Int64($0)) }) }
        if let rtt = conversation.pathRTT { evidence["path_rtt_ms"] = .double(Stats.ms(rtt)) }
        let senders = Set(events.map { $0.0 }).map { $0 ? group.client.description : group.server.description }.sorted()
        evidence["senders"] = .list(senders.map { .string($0) })
        let confidence = byIPID > 0 ? 0.85 : 0.75
        return [Finding(
            kind: DiagnosisName.Kind.reordering, cause: DiagnosisName.Cause.pathReordering, flow: group.flow,
            vantage: [vantageName(best.member)],
            frames: [vantageName(best.member): FrameRefs(first: first.openFrame, decisive: first.fillFrame,
                                                         related: Array(events.prefix(32).flatMap { [$0.1.openFrame, $0.1.fillFrame] }))],
            evidence: evidence, confidence: confidence, severity: .minor,
            sentence: "\(events.count) segment\(events.count == 1 ? "" : "s") arrived after later ones and filled the "
                + "hole within \(JSONText.number(delays.max() ?? 0)) ms"
                + (spurious.isEmpty ? " without being retransmitted"
                    : " (\(spurious.count) retransmitted in vain after duplicate ACKs; the original still arrived first)")
                + (byIPID > 0 ? "; their IP IDs show they were sent in order" : "")
                + ": the path reordered them; this is not loss.")]
    }

    func retransmissionPrimaryAny(_ group: FlowGroup) -> GroupMember? {
        retransmissionPrimary(group, fromClient: true) ?? retransmissionPrimary(group, fromClient: false)
    }

    // MARK: keep-alives

    func keepAliveFindings(_ group: FlowGroup) -> [Finding] {
        guard let member = group.members.max(by: {
            direction($0, fromClient: true).keepAlives.benign + direction($0, fromClient: false).keepAlives.benign
                < direction($1, fromClient: true).keepAlives.benign + direction($1, fromClient: false).keepAlives.benign
        }) else { return [] }
        let client = direction(member, fromClient: true), server = direction(member, fromClient: false)
        let count = client.keepAlives.benign + server.keepAlives.benign
        guard count > 0 else { return [] }
        let frames = (client.keepAlives.benignFrames + server.keepAlives.benignFrames).sorted()
        return [Finding(
            kind: DiagnosisName.Kind.keepAlive, cause: DiagnosisName.Cause.benign, flow: group.flow,
            vantage: [vantageName(member)],
            frames: [vantageName(member): FrameRefs(first: frames.first ?? 0, decisive: frames.first ?? 0, related: frames)],
            evidence: ["keep_alives": .int(Int64(count)), "from_client": .int(Int64(client.keepAlives.benign)),
                       "from_server": .int(Int64(server.keepAlives.benign)), "peer_window_zero": .bool(false)],
            confidence: 0.9, severity: .info,
            sentence: "\(count) keep-alive\(count == 1 ? "" : "s") (one byte behind the next sequence number) while the "
                + "peer's window was open: the idle connection is being checked, nothing is wrong.")]
    }
}

extension DiagnosisContext {
    // MARK: narrow window (receiver-limited without reaching zero)

    /// The receiver's window fell below one of the sender's segments, the sender waited, and it
    /// sent at once when the window reopened: the receiver limited the transfer without ever
    /// advertising zero. Reported (as the zero-window family's receiver-slow) only when the
    /// receiver had no zero-window stall, which the zero-window finding already explains.
    func narrowWindowFindings(_ group: FlowGroup, advertiserIsClient: Bool) -> [Finding] {
        for member in group.members {
            let advertiser = direction(member, fromClient: advertiserIsClient)
            let sending = direction(member, fromClient: !advertiserIsClient)
            guard advertiser.window.stallCount == 0 else { continue }
            let rtt = conversation(member).pathRTT ?? .zero
            // Long enough to matter (not one delayed ACK), the sender idle while it lasted, and
            // resuming at once when it ended: the window, not the application, held it back.
            let minimum = max(.milliseconds(200), rtt * 4)
            let prompt = max(.milliseconds(10), rtt * 2)
            let limiting = advertiser.window.narrow.stalls.filter { stall in
                guard let end = stall.endTime, let resumed = stall.resumedDelay else { return false }
                return end - stall.startTime >= minimum && stall.dataDuring <= 2 && resumed <= prompt
            }
            guard let first = limiting.first, let firstEnd = first.endTime else { continue }
            let receiver = advertiserIsClient ? group.client : group.server
            let sender = advertiserIsClient ? group.server : group.client
            let longest = limiting.map { ($0.endTime ?? $0.startTime) - $0.startTime }.max() ?? .zero
            let total = limiting.reduce(TimeSpan.zero) { $0 + (($1.endTime ?? $1.startTime) - $1.startTime) }
            let smallest = limiting.map(\.window).min() ?? first.window
            var related: [UInt64] = []
            for stall in limiting.prefix(20) {
                related.append(stall.startFrame)
                if let end = stall.endFrame { related.append(end) }
                if let resumed = stall.resumedFrame { related.append(resumed) }
            }
            let evidence: [String: EvidenceValue] = [
                "window_reached_zero": .bool(false),
                "smallest_window": .int(Int64(smallest)),
                "sender_segment_size": .int(Int64(sending.sequence.largestSegment)),
                "stalls": .int(Int64(limiting.count)),
                "longest_stall_ms": .double(Stats.ms(longest)),
                "total_stalled_ms": .double(Stats.ms(total)),
                "first_stall_ms": .double(Stats.ms(firstEnd - first.startTime)),
                "sender_resumed_after_ms": .double(Stats.ms(first.resumedDelay ?? .zero)),
            ]
            let count = limiting.count
            let sentence = "\(receiver)'s receive window fell to \(first.window) bytes at frame \(first.startFrame) — less "
                + "than one of \(sender)'s \(sending.sequence.largestSegment)-byte segments, though never zero — and \(sender) "
                + "waited \(JSONText.number(Stats.ms(firstEnd - first.startTime))) ms until the window "
                + "reopened, sending at once when it did"
                + (count > 1 ? " (\(count) such stalls, \(JSONText.number(Stats.ms(total))) ms in all)" : "")
                + ": the receiver reads slowly and its window, not the network, limited the transfer."
            let confidence = count > 1 || longest >= .seconds(1) ? 0.8 : 0.7
            return [Finding(kind: DiagnosisName.Kind.zeroWindow, cause: DiagnosisName.Cause.receiverSlow, flow: group.flow,
                            vantage: [vantageName(member)],
                            frames: [vantageName(member): FrameRefs(first: first.startFrame, decisive: first.endFrame ?? first.startFrame,
                                                                    related: Array(related.prefix(64)))],
                            evidence: evidence, confidence: confidence, severity: .major, sentence: sentence)]
        }
        return []
    }
}
