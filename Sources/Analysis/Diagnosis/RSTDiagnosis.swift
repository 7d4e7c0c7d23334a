import Values

/// RST findings: refused-by-host (R1), injected-by-middlebox (R2), aborted-by-application (R3),
/// peer-has-no-connection (R4).
///
/// Evidence, strongest first: whether a capture nearer the RST's claimed sender shows it being
/// sent; the RST's TTL against the usual TTL of that host's other packets (across all flows of
/// the capture); the RST's shape (answer to a SYN; bare RST at the ACK number of the segment it
/// answers; RST at the sender's next sequence number with no FIN, spontaneous or continuing the
/// socket's IP ID sequence). IP ID 0 does not tell a forged RST from a host's stateless one
/// (Linux sends both with IP ID 0). Only the first RST of a conversation is judged; the ones
/// after it are its consequences and are counted in its evidence.
extension DiagnosisContext {
    private struct RSTSighting {
        var member: GroupMember
        var record: RSTRecord
        var index: Int
    }

    private enum TTLVerdict {
        case noBaseline
        case consistent(TTLBaseline)
        case mismatch(TTLBaseline)
    }

    func rstFindings(_ group: FlowGroup) -> [Finding] {
        // The first RST each vantage saw, merged when it is the same packet.
        var clusters: [[RSTSighting]] = []
        for member in group.members {
            let conversation = conversation(member)
            guard let root = Self.rootRST(conversation.shared.rsts) else { continue }
            let senderIsClient = member.flipped ? !root.fromClient : root.fromClient
            if let existing = clusters.firstIndex(where: { cluster in
                let other = cluster[0]
                let otherSenderIsClient = other.member.flipped ? !other.record.fromClient : other.record.fromClient
                return otherSenderIsClient == senderIsClient && other.record.seq == root.seq
                    && other.record.hasACK == root.hasACK && other.record.ipID == root.ipID
            }) {
                clusters[existing].append(RSTSighting(member: member, record: root, index: 0))
            } else {
                clusters.append([RSTSighting(member: member, record: root, index: 0)])
            }
        }
        var findings: [Finding] = []
        for cluster in clusters {
            guard let finding = classify(cluster, group: group) else { continue }
            findings.append(finding)
            if let own = hostsOwnRST(after: cluster[0], finding: finding),
               let ownFinding = classify([own], group: group) {
                findings.append(ownFinding)
            }
        }
        return findings
    }

    /// After a forged RST the connection survived, a later RST without the forger's marks is the
    /// host's own act, judged on its own — not a consequence of the forged one.
    private func hostsOwnRST(after forged: RSTSighting, finding: Finding) -> RSTSighting? {
        guard finding.cause == DiagnosisName.Cause.injectedByMiddlebox,
              finding.evidence["connection_survived"] == .bool(true) else { return nil }
        let rsts = conversation(forged.member).shared.rsts
        guard let own = rsts.first(where: { later in
            later.time >= forged.record.time && later.frame != forged.record.frame && later.copiedIPIDFrom == nil
                && later.reservedBits == 0
                && later.peerPackets > forged.record.peerPackets
        }) else { return nil }
        return RSTSighting(member: forged.member, record: own, index: 0)
    }

    /// The RST that explains the others: usually the first. But when an application aborts
    /// (close with unread data, SO_LINGER 0), the kernel unhashes the socket before its own
    /// RST/ACK leaves, so the peer's segments already in flight can draw bare "no such
    /// connection" RSTs that reach the wire first (measured here: about 0.2 ms before the abort's
    /// RST/ACK, 1 run in 20 of the close-with-unread-data scenario). An RST/ACK from the same
    /// sender soon after, from the live socket (IP ID not 0: stateless RSTs have 0) and without
    /// a FIN before it, is that abort; the bare ones are its consequences.
    static func rootRST(_ rsts: [RSTRecord]) -> RSTRecord? {
        func fromLiveSocket(_ rst: RSTRecord) -> Bool { rst.hasACK && rst.ipID != 0 }
        guard let first = rsts.first else { return nil }
        if fromLiveSocket(first) { return first }
        for candidate in rsts.dropFirst() {
            if candidate.time - first.time > .milliseconds(10) { break }
            if candidate.fromClient == first.fromClient && fromLiveSocket(candidate) && !candidate.senderSentFIN {
                return candidate
            }
        }
        return first
    }

    private func ttlVerdict(_ record: RSTRecord, sender: TCPEndpoint, at member: GroupMember) -> TTLVerdict {
        guard let baseline = digests[member.vantage].baseline(of: sender.address), baseline.ttl != 0 || record.ttl != 0 else {
            return .noBaseline
        }
        if baseline.ttl == 0 && record.ttl == 0 { return .noBaseline }
        return baseline.matches(record.ttl) ? .consistent(baseline) : .mismatch(baseline)
    }

    /// One RST under judgement: where it was seen, whom it claims to come from, and what each step
    /// of `classify` found, in the order the steps run.
    private struct RSTJudgement {
        let cluster: [RSTSighting]
        /// The sighting farthest from the claimed sender (where the RST acted).
        let primary: RSTSighting
        let conversation: ConversationState
        let sender: TCPEndpoint
        let peer: TCPEndpoint
        let senderIsClient: Bool
        /// The sightings differ in TTL (the lowest was seen farthest from the sender).
        let ttlOrdered: Bool
        var evidence: [String: EvidenceValue] = [:]
        var caveats: [String] = []
        var missing: [String] = []
        /// Step 2: the RST's TTL against the sender's usual TTL, and how the sentence says it.
        var verdict = TTLVerdict.noBaseline
        var ttlSolid = false
        var viaTTL = ""
        /// Step 3: the other vantage points.
        var sides = SenderSideSightings()
        /// Step 4: the RST's shape.
        var shape = RSTShape()
        /// Step 5: signs of a forger.
        var forgery = ForgerySigns()

        var record: RSTRecord { primary.record }
        var mismatch: Bool {
            if case .mismatch = verdict { return true }
            return false
        }
    }

    /// What an RST's own fields and timing say (step 4 of `classify`).
    private struct RSTShape {
        /// How soon the host's answer to a segment is expected at this vantage.
        var answerWindow = TimeSpan.seconds(1)
        /// The RST came within that time of the peer's last segment.
        var prompt = false
        /// RST/ACK acknowledging the peer's SYN (ISN + 1) from a side that never answered it otherwise.
        var refusal = false
        /// A bare RST at the ACK number of the peer's last segment.
        var answersAck = false
        /// At the sender's next sequence number.
        var atNextSeq = false
        /// Its IP ID follows the sender's own sequence.
        var continuesIPID = false
        /// After the sender's own FIN, at an ACK number the peer had sent, the peer's data unread.
        var closedWithUnreadData = false
    }

    /// What `classify` decided: the cause, how sure, and the sentence that says why.
    private struct RSTDecision {
        var cause: String
        var confidence: Double
        var sentence: String
    }

    /// Judges one RST (as the vantages in `cluster` saw it) in the steps below; nil when it is
    /// no failure (a late segment after a normal close drew it).
    private func classify(_ cluster: [RSTSighting], group: FlowGroup) -> Finding? {
        // 1. The primary sighting: the one farthest from the claimed sender (where the RST acted).
        var judgement = primarySighting(of: cluster, group: group)
        // 2. TTL against the sender's baseline at the primary vantage.
        judgeTTL(&judgement)
        // 3. Other vantage points: did the sender's side see this RST leave?
        judgeSenderSide(&judgement, group: group)
        // 4. Shape: what the RST answers, where its sequence number sits.
        judgeShape(&judgement)
        // 5. Signs of a forger in the RST itself and in what the claimed sender did after it.
        judgement.forgery = forgerySigns(judgement.record, in: judgement.conversation, sender: judgement.sender,
                                         peer: judgement.peer, verdict: TTLVerdictSummary(mismatch: judgement.mismatch),
                                         viaTTL: judgement.viaTTL, continuesIPID: judgement.shape.continuesIPID)
        for (key, value) in judgement.forgery.evidence { judgement.evidence[key] = value }
        // 6. Decide.
        guard var decision = decide(&judgement) else { return nil }
        qualifyBySilentSenderSide(&decision, judgement)
        if !judgement.caveats.isEmpty { judgement.evidence["caveat"] = .list(judgement.caveats.map { .string($0) }) }
        if !judgement.missing.isEmpty { judgement.evidence["missing"] = .list(judgement.missing.map { .string($0) }) }
        // 7. Frames in every vantage involved.
        let (vantages, frames) = rstFrames(judgement)
        // 8. What the RST cost.
        let consequence = rstConsequence(judgement, cause: decision.cause)
        for (key, value) in consequence.evidence { judgement.evidence[key] = value }
        if let clause = consequence.clause { decision.sentence += " " + clause }
        return Finding(kind: DiagnosisName.Kind.rst, cause: decision.cause, flow: group.flow, vantage: vantages,
                       frames: frames, evidence: judgement.evidence, confidence: decision.confidence,
                       severity: consequence.severity, sentence: decision.sentence)
    }

    /// Step 1: whom the RST claims to come from, the sighting farthest from that sender, and the
    /// RST's own fields.
    private func primarySighting(of cluster: [RSTSighting], group: FlowGroup) -> RSTJudgement {
        let first = cluster[0]
        let senderIsClient = first.member.flipped ? !first.record.fromClient : first.record.fromClient
        // The same packet loses one TTL per hop: the lowest TTL was seen farthest from the sender.
        let byTTL = cluster.sorted { $0.record.ttl < $1.record.ttl }
        let ttlOrdered = cluster.count > 1 && byTTL[0].record.ttl != byTTL[byTTL.count - 1].record.ttl
        let primary = ttlOrdered ? byTTL[0]
            : (cluster.first(where: { nearSender($0.member, fromClient: senderIsClient) == false }) ?? first)
        var judgement = RSTJudgement(cluster: cluster, primary: primary, conversation: conversation(primary.member),
                                     sender: senderIsClient ? group.client : group.server,
                                     peer: senderIsClient ? group.server : group.client,
                                     senderIsClient: senderIsClient, ttlOrdered: ttlOrdered)
        let record = primary.record
        judgement.evidence["sender"] = .string(judgement.sender.description)
        judgement.evidence["rst_ttl"] = .int(Int64(record.ttl))
        judgement.evidence["rst_ip_id"] = .int(Int64(record.ipID))
        judgement.evidence["rst_flags"] = .string(record.hasACK ? "RST/ACK" : "RST")
        judgement.evidence["rst_window"] = .int(Int64(record.window))
        // RSTs after this one (the record list is capped; the count is not).
        let recordedBefore = judgement.conversation.shared.rsts.filter { $0.frame < record.frame }.count
        let later = judgement.conversation.shared.rstCount - recordedBefore - 1
        if later > 0 { judgement.evidence["later_rsts"] = .int(Int64(later)) }
        return judgement
    }

    /// Step 2: the RST's TTL against the usual TTL of the sender's other packets at the primary
    /// vantage (and of each stack, when more than one answers for the address).
    private func judgeTTL(_ j: inout RSTJudgement) {
        let record = j.record
        j.verdict = ttlVerdict(record, sender: j.sender, at: j.primary.member)
        switch j.verdict {
        case .noBaseline:
            j.evidence["sender_baseline_ttl"] = .string("none")
            if let hops = InitialTTL.hops(record.ttl), record.ttl > 0 {
                j.evidence["rst_hops_if_common_initial_ttl"] = .int(Int64(hops))
            }
            j.viaTTL = record.ttl == 0 ? "TTL not recorded" : "TTL \(record.ttl)"
        case let .consistent(baseline), let .mismatch(baseline):
            j.evidence["sender_baseline_ttl"] = .int(Int64(baseline.ttl))
            j.evidence["sender_baseline_packets"] = .int(Int64(baseline.packets))
            j.evidence["ttl_difference"] = .int(Int64(record.ttl) - Int64(baseline.ttl))
            j.ttlSolid = baseline.packets >= 3 && baseline.share >= 0.9
            if baseline.stacks.count > 1 {
                j.evidence["sender_stacks"] = .list(baseline.stacks.map { stack in
                    .string("\(stack.packets) packet\(stack.packets == 1 ? "" : "s") with TTL "
                            + "\(stack.ttls.map(String.init).joined(separator: "/")) (initial \(stack.initial))")
                })
                j.caveats.append("\(j.sender.address) speaks with more than one stack (initial TTLs "
                                 + "\(baseline.stacks.map { String($0.initial) }.joined(separator: " and ")))): a front end or NAT "
                                 + "answers for part of its traffic, and the RST's TTL tells only which of them sent it")
            }
            j.viaTTL = j.mismatch
                ? "TTL \(record.ttl) where \(j.sender.address)'s own packets arrive with \(baseline.ttl)"
                : Self.consistentTTLPhrase(record.ttl, baseline: baseline, address: j.sender.address)
        }
    }

    /// Step 3: what the captures nearer the sender say — one saw the RST leave, or one listened
    /// and never saw it, or one cannot tell whether it was listening.
    private func judgeSenderSide(_ j: inout RSTJudgement, group: FlowGroup) {
        j.sides = senderSideSightings(of: j, group: group)
        j.caveats += j.sides.caveats
        j.missing += j.sides.missing
        if let sentBy = j.sides.sentBy {
            j.evidence["seen_leaving_sender_at"] = .string(vantageName(sentBy))
        }
        if let absent = j.sides.absent {
            j.evidence["absent_at_sender_side"] = .string(digests[absent.vantage].vantage)
            j.evidence["sender_side_saw_flow"] = .bool(absent.member != nil)
            j.evidence["sender_side_window"] = .string(absent.coverage == .recorded ? "recorded" : "packets only")
        } else if let silent = j.sides.silent {
            j.evidence["sender_side_window"] = .string("unknown (\(silent))")
        }
    }

    /// Step 4: the RST's shape — how soon it followed the peer's last segment, what it answers,
    /// where its sequence number sits, whether its IP ID continues the sender's own.
    private func judgeShape(_ j: inout RSTJudgement) {
        let record = j.record
        var shape = RSTShape()
        if let rtt = j.conversation.pathRTT, rtt > .zero { shape.answerWindow = max(rtt * 4, .milliseconds(20)) }
        let answerDelay = record.peerLastTime.map { record.time - $0 }
        shape.prompt = answerDelay.map { $0 >= .zero && $0 <= shape.answerWindow } ?? false
        if let answerDelay, let frame = record.peerLastFrame {
            j.evidence["previous_peer_frame"] = .int(Int64(frame))
            j.evidence["since_previous_peer_packet_ms"] = .double(Stats.ms(answerDelay))
        }
        shape.refusal = !record.senderSentSYNACK && !record.senderSentData && record.hasACK && record.peerOnlySYN
            && record.peerISN.map { record.ack == $0 &+ 1 } == true
        shape.answersAck = !record.hasACK && record.peerLastHadACK && record.peerLastAck == record.seq
        shape.atNextSeq = record.senderSeqKnown && record.seq == record.senderHighSeq
        if record.senderIPIDKnown, record.ipID != 0 {
            let step = record.ipID &- record.senderLastIPID
            shape.continuesIPID = step >= 1 && step <= (record.senderIPIDSequential ? 64 : 4096)
            j.evidence["ip_id_continues_sender_sequence"] = .bool(shape.continuesIPID)
        }
        if shape.atNextSeq && shape.answersAck {
            j.evidence["rst_seq"] = .string("sender's next sequence number, the ACK number of the peer's last segment")
        } else if shape.atNextSeq {
            j.evidence["rst_seq"] = .string("sender's next sequence number")
        } else if shape.answersAck {
            j.evidence["rst_seq"] = .string("the ACK number of the segment it answers")
        }
        if shape.refusal { j.evidence["rst_seq"] = .string("0, acknowledging the SYN (ISN + 1)") }
        // The RST sits where the peer's ACKs (the last or an earlier one) put the sender's next
        // byte, after the sender's own FIN, with the peer's data never acknowledged: the sender's
        // application closed while data was still coming.
        let atPeerAck = record.peerAckOfSender.map { $0 == record.seq } ?? false
        shape.closedWithUnreadData = record.senderSentFIN && !record.peerSentFIN && record.senderHadUnackedPeerData
            && (shape.answersAck || atPeerAck)
        if record.senderSentFIN { j.evidence["sender_sent_fin_before"] = .bool(true) }
        j.shape = shape
    }

    /// Step 6: the cause, strongest evidence first — a sender-side capture that never saw the
    /// RST leave, signs of a forger — then the RST's shape. Nil: a late segment after a normal
    /// close drew a bare RST, a consequence and no failure.
    private func decide(_ j: inout RSTJudgement) -> RSTDecision? {
        let record = j.record, shape = j.shape
        if j.sides.absent != nil && j.sides.sentBy == nil { return injectedUnseenAtSender(j) }
        if j.sides.sentBy == nil, !j.forgery.intrinsic.isEmpty { return injectedBySigns(&j) }
        if shape.refusal { return refusedByHost(&j) }
        if shape.closedWithUnreadData { return closedWithUnreadData(&j) }
        if record.senderSentFIN && shape.answersAck { return nil }
        if let gaveUp = senderGaveUp(record, member: j.primary.member, senderIsClient: j.senderIsClient) {
            return retriesExhausted(&j, count: gaveUp.count, span: gaveUp.span)
        }
        if !record.senderSentFIN && (!shape.prompt || (record.hasACK && (shape.continuesIPID || shape.atNextSeq)))
            && (shape.atNextSeq || !record.senderSeqKnown) {
            return abortedByApplication(&j)
        }
        if shape.answersAck && shape.prompt {
            if let contradiction = noConnectionContradiction(record, peer: j.peer, sender: j.sender,
                                                             answerWindow: shape.answerWindow, at: j.primary.member) {
                return contradictedNoConnection(&j, contradiction)
            }
            return peerHasNoConnection(&j)
        }
        return unrecognisedShape(&j)
    }

    /// A capture nearer the sender was listening and never saw the RST leave: forged on the path.
    private func injectedUnseenAtSender(_ j: RSTJudgement) -> RSTDecision {
        let recorded = j.sides.absent?.coverage == .recorded
        let confidence = j.mismatch ? (recorded ? 0.97 : 0.93) : (recorded ? 0.9 : 0.8)
        let side = j.sides.absent.map { digests[$0.vantage].vantage } ?? "sender-side"
        let signs = j.forgery.phrases.isEmpty ? "" : "; " + j.forgery.phrases.joined(separator: "; ")
        return RSTDecision(cause: DiagnosisName.Cause.injectedByMiddlebox, confidence: confidence,
                           sentence: "The RST that reached \(j.peer) claims to come from \(j.sender), but the \(side) "
                               + "capture, nearer \(j.sender.address), never shows it leaving" + signs
                               + ": a middlebox on the path forged it.")
    }

    /// No capture saw the sender send it, and the RST carries a forger's marks.
    private func injectedBySigns(_ j: inout RSTJudgement) -> RSTDecision {
        if j.mismatch && !j.ttlSolid { j.caveats.append("few packets from \(j.sender.address) to take its usual TTL from") }
        if digests.count == 1 {
            j.missing.append("a capture at \(j.sender.address)'s side would show whether it really sent this RST")
        }
        return RSTDecision(cause: DiagnosisName.Cause.injectedByMiddlebox, confidence: j.forgery.confidence(ttlSolid: j.ttlSolid),
                           sentence: "The RST that reached \(j.peer) claims to come from \(j.sender), but "
                               + j.forgery.phrases.joined(separator: "; ")
                               + ": a box on the path (a firewall or middlebox) forged it.")
    }

    /// RST/ACK answering the SYN at once: nothing listens on the port (R1).
    private func refusedByHost(_ j: inout RSTJudgement) -> RSTDecision {
        var confidence: Double
        switch j.verdict {
        case .consistent: confidence = j.ttlSolid ? 0.9 : 0.78
        case .noBaseline:
            confidence = 0.6
            j.caveats.append("no other packet from \(j.sender.address) in this capture to compare the RST's TTL with: "
                             + "a firewall answering for it would look the same")
        case .mismatch: confidence = 0.6
        }
        if j.sides.sentBy != nil { confidence = 0.95 }
        return RSTDecision(cause: DiagnosisName.Cause.refusedByHost, confidence: confidence,
                           sentence: "\(j.sender) answered \(j.peer)'s SYN at once with RST/ACK (\(j.viaTTL)): nothing "
                               + "listens on port \(j.sender.port), and connect() fails with ECONNREFUSED.")
    }

    /// Data kept coming to a side that had closed (FIN sent, the peer's data never acknowledged):
    /// the host answers data for a closed socket with an RST at the sequence number the peer
    /// acknowledged — in any earlier peer segment, not only the last (R3).
    private func closedWithUnreadData(_ j: inout RSTJudgement) -> RSTDecision {
        let confidence: Double
        switch j.verdict {
        case .consistent: confidence = j.ttlSolid ? 0.85 : 0.75
        case .noBaseline, .mismatch: confidence = 0.6
        }
        j.evidence["unread_data"] = .bool(true)
        j.evidence["rst_seq"] = .string("the ACK number \(j.peer.address) had sent for \(j.sender.address)'s data")
        if let fin = j.record.senderFINFrame { j.evidence["sender_fin_frame"] = .int(Int64(fin)) }
        let finText = j.record.senderFINFrame.map { " (FIN, frame \($0))" } ?? " (FIN)"
        return RSTDecision(cause: DiagnosisName.Cause.abortedByApplication, confidence: confidence,
                           sentence: "\(j.sender) had closed its side\(finText) while \(j.peer) was still sending, and reset "
                               + "the connection when that data arrived — RST at the sequence number \(j.peer) had "
                               + "acknowledged, \(j.viaTTL): the application closed its socket with data unread (data for a "
                               + "closed socket draws an RST), so \(j.peer)'s data was never delivered and it gets ECONNRESET.")
    }

    /// The RST ends a run of unanswered retransmissions: the sender's TCP ran out of retries
    /// (tcp_retries2, or the platform's equivalent); no application decided it.
    private func retriesExhausted(_ j: inout RSTJudgement, count: Int, span: TimeSpan) -> RSTDecision {
        j.evidence["unanswered_retransmissions_before"] = .int(Int64(count))
        j.evidence["retransmitting_for_s"] = .double(span.inSeconds)
        j.missing.append("which of the path, the peer, or the peer's application stopped answering")
        return RSTDecision(cause: DiagnosisName.Cause.undetermined, confidence: 0.5,
                           sentence: "\(j.sender) reset the connection after \(count) unanswered retransmissions over "
                               + "\(JSONText.number(span.inSeconds)) s: its TCP gave up (retries exhausted), not an "
                               + "application; uncertain why \(j.peer) stopped answering.")
    }

    /// An RST at the sender's next byte with no FIN before it, unprompted or from the live socket (R3).
    private func abortedByApplication(_ j: inout RSTJudgement) -> RSTDecision {
        var confidence: Double
        switch j.verdict {
        case .consistent: confidence = j.ttlSolid ? 0.85 : 0.75
        case .noBaseline:
            confidence = 0.6
            j.caveats.append("no other packet from \(j.sender.address) to compare the RST's TTL with")
        case .mismatch: confidence = 0.6
        }
        if j.shape.continuesIPID { confidence += 0.05 }
        if j.sides.sentBy != nil { confidence += 0.05 }
        if j.record.senderHadUnackedPeerData { j.evidence["unread_data"] = .bool(true) }
        let when = j.shape.prompt ? "right after \(j.peer)'s last segment" : "without being prompted by \(j.peer)"
        return RSTDecision(cause: DiagnosisName.Cause.abortedByApplication, confidence: confidence,
                           sentence: "\(j.sender) tore the connection down with an RST \(when) — no FIN of its own before "
                               + "it, sequence number at its next byte, \(j.viaTTL): the application aborted it (SO_LINGER 0, "
                               + "close with unread data, or a killed process), and \(j.peer) gets ECONNRESET.")
    }

    /// The shape says "no such connection", but the packets say the host had one, or that the
    /// segment answered did not come from the peer's own stack.
    private func contradictedNoConnection(_ j: inout RSTJudgement,
                                          _ contradiction: (sentence: String, evidence: [String: EvidenceValue], strayPeer: Bool))
        -> RSTDecision {
        for (key, value) in contradiction.evidence { j.evidence[key] = value }
        return RSTDecision(cause: contradiction.strayPeer ? DiagnosisName.Cause.peerHasNoConnection : DiagnosisName.Cause.undetermined,
                           confidence: 0.45,
                           sentence: "Uncertain: \(j.sender) answered \(j.peer)'s segment with a bare RST at that segment's "
                               + "ACK number (\(j.viaTTL)), " + contradiction.sentence)
    }

    /// A bare RST at once, at the ACK number of the segment it answers: no such connection (R4).
    private func peerHasNoConnection(_ j: inout RSTJudgement) -> RSTDecision {
        var confidence: Double
        switch j.verdict {
        case .consistent: confidence = j.ttlSolid ? 0.8 : 0.7
        case .noBaseline:
            confidence = 0.55
            j.caveats.append("no other packet from \(j.sender.address) to compare the RST's TTL with: a middlebox "
                             + "answering for it would look the same")
        case .mismatch: confidence = 0.55
        }
        if j.sides.sentBy != nil { confidence = min(0.92, confidence + 0.12) }
        return RSTDecision(cause: DiagnosisName.Cause.peerHasNoConnection, confidence: confidence,
                           sentence: "\(j.sender) answered \(j.peer)'s segment with a bare RST at that segment's ACK number "
                               + "(\(j.viaTTL)): the host no longer has this connection (restarted, or its state was lost).")
    }

    /// None of the known shapes: say what the RST is not.
    private func unrecognisedShape(_ j: inout RSTJudgement) -> RSTDecision {
        if j.record.senderSentFIN { j.missing.append("the RST follows \(j.sender)'s own FIN: the close sequence before it") }
        j.missing.append("the RST neither answers a SYN nor sits at the ACK number of a segment it answers, nor at the "
                         + "sender's next sequence number")
        return RSTDecision(cause: DiagnosisName.Cause.undetermined, confidence: 0.3,
                           sentence: "\(j.sender) reset the connection, but its shape (\(j.evidence["rst_flags"]?.description ?? "RST"), "
                               + "\(j.viaTTL)) matches none of the known causes.")
    }

    /// The one capture that could tell the host's RST from a forged one is silent without saying
    /// it was listening: the shape's verdict is only one of two readings.
    private func qualifyBySilentSenderSide(_ decision: inout RSTDecision, _ j: RSTJudgement) {
        guard let silent = j.sides.silent, j.sides.absent == nil, j.sides.sentBy == nil,
              decision.cause != DiagnosisName.Cause.injectedByMiddlebox else { return }
        decision.confidence = min(decision.confidence, 0.5)
        decision.sentence += " Uncertain: the \(silent) capture, nearer \(j.sender.address), does not show this RST "
            + "leaving but does not record whether it was listening then; if it was, a middlebox forged the RST."
    }

    /// Step 7: the finding's frames in every vantage involved.
    private func rstFrames(_ j: RSTJudgement) -> (vantages: [String], frames: [String: FrameRefs]) {
        let record = j.record
        let primaryName = vantageName(j.primary.member)
        var vantages = [primaryName]
        var frames: [String: FrameRefs] = [:]
        let related = j.conversation.shared.rsts.filter { $0.frame > record.frame }.prefix(64).map(\.frame)
        let firstFrame = (j.shape.refusal || j.shape.prompt) ? (record.peerLastFrame ?? record.frame) : record.frame
        frames[primaryName] = FrameRefs(first: firstFrame, decisive: record.frame, related: Array(related))
        for sighting in j.cluster where sighting.member.vantage != j.primary.member.vantage {
            let name = vantageName(sighting.member)
            vantages.append(name)
            frames[name] = FrameRefs(first: sighting.record.frame, decisive: sighting.record.frame)
        }
        if let member = j.sides.sentBy, let frame = j.sides.sentFrame, frames[vantageName(member)] == nil {
            vantages.append(vantageName(member))
            frames[vantageName(member)] = FrameRefs(first: frame, decisive: frame)
        }
        if let absent = j.sides.absent, j.sides.sentBy == nil {
            let name = digests[absent.vantage].vantage
            if frames[name] == nil {
                vantages.append(name)
                frames[name] = absent.member.map(conversationFrames) ?? FrameRefs(first: 0, decisive: 0)
            }
        }
        return (vantages, frames)
    }

    /// Step 8: what the RST cost (see `consequence(of:refusal:pathRTT:)`). A forged RST the target
    /// went on after was rejected by it (an unacceptable sequence or ACK number) and cost nothing
    /// but its own packet.
    private func rstConsequence(_ j: RSTJudgement, cause: String)
        -> (severity: Severity, clause: String?, evidence: [String: EvidenceValue]) {
        let continued = j.forgery.peerContinued
        guard continued > 0 && cause == DiagnosisName.Cause.injectedByMiddlebox else {
            return Self.consequence(of: j.record, refusal: j.shape.refusal, pathRTT: j.conversation.pathRTT)
        }
        return (.minor, "\(j.peer) went on with the connection after it (\(continued) more "
                    + "packet\(continued == 1 ? "" : "s")): the forged RST was ignored.",
                ["connection_survived": .bool(true)])
    }

    /// What the captures other than the RST's own say of it: one nearer the sender saw it leave
    /// (the host sent it), or was listening and never saw it (absent: forged), or cannot say.
    private struct SenderSideSightings {
        var sentBy: GroupMember?
        var sentFrame: UInt64?
        var absent: (vantage: Int, member: GroupMember?, coverage: CaptureWindow.Coverage)?
        /// A capture nearer the sender that does not show the RST but cannot say it was listening.
        var silent: String?
        var caveats: [String] = []
        var missing: [String] = []
    }

    private func senderSideSightings(of j: RSTJudgement, group: FlowGroup) -> SenderSideSightings {
        var result = SenderSideSightings()
        let (primary, cluster, sender, senderIsClient) = (j.primary, j.cluster, j.sender, j.senderIsClient)
        let record = primary.record
        let primaryConversation = j.conversation
        for (index, digest) in digests.enumerated() where !cluster.contains(where: { $0.member.vantage == index }) {
            let member = group.members.first(where: { $0.vantage == index })
            let seenThere: RSTRecord? = member.flatMap { member in
                conversation(member).shared.rsts.first(where: { other in
                    (member.flipped ? !other.fromClient : other.fromClient) == senderIsClient
                        && other.seq == record.seq && other.hasACK == record.hasACK
                })
            }
            if let seenThere, let member {
                result.sentBy = member
                result.sentFrame = seenThere.frame
                continue
            }
            // Absence counts only where the capture is nearer the sender and was listening when
            // the RST, had the sender sent it, passed it: within a round trip before it arrived here.
            guard nearerToSender(vantage: index, member: member, than: primary.member, sender: sender,
                                 senderIsClient: senderIsClient) else { continue }
            let passed = record.time - max(primaryConversation.pathRTT ?? .zero, .zero)
            let coverage = digest.window.coverage(from: passed, to: record.time)
            switch coverage {
            case .recorded:
                result.absent = (index, member, coverage)
            case .packets:
                result.caveats.append("the \(digest.vantage) capture does not record when it was listening; its own packets "
                                      + "surround the RST's time, so it was running then as far as they show")
                result.absent = (index, member, coverage)
            case .outside:
                result.missing.append("the \(digest.vantage) capture, nearer \(sender.address), was not listening when the "
                                      + "RST passed (its recorded window excludes that moment)")
            case .unknown:
                result.silent = digest.vantage
                result.caveats.append("the \(digest.vantage) capture, nearer \(sender.address), does not show this RST, but "
                                      + "it does not record when it was listening and none of its packets surround the RST's "
                                      + "time: the capture window is unknown; had it been listening, a middlebox forged the RST")
            }
        }
        for sighting in cluster where sighting.member.vantage != primary.member.vantage
            && (nearSender(sighting.member, fromClient: senderIsClient) == true
                || (j.ttlOrdered && sighting.record.ttl > primary.record.ttl)) {
            result.sentBy = sighting.member
            result.sentFrame = sighting.record.frame
        }
        return result
    }

    /// "TTL 245, as all 4 of X's other packets" — or as many as really match, and from which stack.
    static func consistentTTLPhrase(_ ttl: UInt8, baseline: TTLBaseline, address: IPAddress) -> String {
        let stacks = baseline.stacks
        if stacks.count > 1 {
            let same = baseline.packetsOfStack(of: ttl)
            let others = stacks.filter { $0.packets > 0 && $0.initial != (InitialTTL.values.first(where: { $0 >= Int(ttl) }) ?? 255) }
            let otherText = others.map { "\($0.packets) with TTL \($0.ttls.map(String.init).joined(separator: "/"))" }
                .joined(separator: ", ")
            return "TTL \(ttl), as \(same) of \(address)'s \(baseline.packets) other packets — the rest (\(otherText)) "
                + "come from a second stack behind the same address"
        }
        let same = baseline.values.filter { $0.ttl == Int(ttl) }.reduce(0) { $0 + $1.count }
        if same == baseline.packets {
            return "TTL \(ttl), as \(baseline.packets == 1 ? "the" : "all \(baseline.packets) of") \(address)'s other "
                + "packet\(baseline.packets == 1 ? "" : "s")"
        }
        return "TTL \(ttl), near \(address)'s other packets (\(same) of \(baseline.packets) with exactly this TTL)"
    }

    /// What the RST cost: a connection that fails with data outstanding is critical; one that was
    /// already closing, or idle with nothing outstanding either way, loses nothing.
    static func consequence(of record: RSTRecord, refusal: Bool, pathRTT: TimeSpan?)
        -> (severity: Severity, clause: String?, evidence: [String: EvidenceValue]) {
        if refusal { return (.critical, nil, [:]) }
        if record.senderSentFIN && !record.peerSentFIN && record.senderHadUnackedPeerData {
            return (.major, nil, ["closing_before_rst": .bool(true), "outstanding_data": .bool(true)])
        }
        if record.senderSentFIN || record.peerSentFIN {
            return (.minor, "The connection was already closing (a FIN came before the RST): nothing was lost.",
                    ["closing_before_rst": .bool(true)])
        }
        let outstanding = record.senderHadUnackedPeerData || record.senderDataUnacked
        let lastActivity = [record.senderLastTime, record.peerLastTime].compactMap { $0 }.max()
        let idle = lastActivity.map { record.time - $0 } ?? .zero
        let idleThreshold = max(.seconds(1), (pathRTT ?? .zero) * 10)
        if !outstanding && lastActivity != nil && idle >= idleThreshold {
            return (.minor, "Nothing was outstanding in either direction after \(JSONText.number(idle.inSeconds)) s idle: "
                        + "an abortive close of an idle connection, no data lost.",
                    ["outstanding_data": .bool(false), "idle_before_rst_s": .double(idle.inSeconds)])
        }
        return (.critical, nil, outstanding ? ["outstanding_data": .bool(true)] : [:])
    }

    /// Why "the host no longer has this connection" cannot be said of an RST answering the peer's
    /// segment: the host itself sent a segment in this connection moments before (it had the
    /// connection), or the segment answered came with a TTL of another initial value than the
    /// peer's other packets (not the peer's own stack: a stray or forged segment).
    private func noConnectionContradiction(_ record: RSTRecord, peer: TCPEndpoint, sender: TCPEndpoint,
                                           answerWindow: TimeSpan, at member: GroupMember)
        -> (sentence: String, evidence: [String: EvidenceValue], strayPeer: Bool)? {
        if let ttl = record.peerLastTTL, ttl != 0, let baseline = digests[member.vantage].baseline(of: peer.address),
           baseline.stacks.count > 1, baseline.packetsOfStack(of: ttl) * 2 <= baseline.packets {
            let others = baseline.stacks.filter { $0.initial != (InitialTTL.values.first(where: { $0 >= Int(ttl) }) ?? 255) }
            let otherTTLs = others.flatMap(\.ttls).map(String.init).joined(separator: "/")
            return ("and \(sender.address) has no such connection; but that segment arrived with TTL \(ttl) where "
                    + "\(peer.address)'s other packets arrive with \(otherTTLs) (another initial TTL): not the same "
                    + "host's stack — a stray or forged segment, so nothing says a host lost its state.",
                    ["answered_segment_ttl": .int(Int64(ttl)), "peer_other_ttls": .string(otherTTLs)], true)
        }
        if let last = record.senderLastTime, let frame = record.senderLastFrame, record.senderPackets > 0,
           record.time - last <= answerWindow {
            var text = "but \(sender.address) had itself sent a segment in this connection "
                + "\(JSONText.number(Stats.ms(record.time - last))) ms before (frame \(frame)): it had the connection"
            var evidence: [String: EvidenceValue] = ["sender_active_frame": .int(Int64(frame))]
            if let seq = record.peerLastSeq, let acked = record.senderAck, SeqNum.lessThan(seq, acked) {
                text += ", and the segment answered starts below what it had acknowledged (out of window)"
                evidence["answered_segment_out_of_window"] = .bool(true)
            }
            return (text + ". A reject rule or the host's answer to an invalid segment, not lost state.", evidence, false)
        }
        return nil
    }

    /// The run of retransmissions, none answered by the peer, that the sender's RST ends.
    private func senderGaveUp(_ record: RSTRecord, member: GroupMember, senderIsClient: Bool) -> (count: Int, span: TimeSpan)? {
        let fromClient = member.flipped ? !senderIsClient : senderIsClient
        let sending = conversation(member).direction(fromClient: fromClient)
        let unanswered = sending.retransmissions.reversed().prefix { $0.coverAckFrame == nil && !$0.peerSpokeAfter }
        guard unanswered.count >= 5, let last = unanswered.first, let first = unanswered.last,
              record.time >= last.time else { return nil }
        return (unanswered.count, record.time - (first.originalTime ?? first.time))
    }

    /// Whether the capture at `vantage` sits nearer `sender` than `reference` does: it sees the
    /// sender's packets with a higher TTL (fewer hops), or its position says so.
    private func nearerToSender(vantage: Int, member: GroupMember?, than reference: GroupMember, sender: TCPEndpoint,
                                senderIsClient: Bool) -> Bool {
        if let member, let near = nearSender(member, fromClient: senderIsClient),
           let referenceNear = nearSender(reference, fromClient: senderIsClient), near != referenceNear {
            return near
        }
        if let there = digests[vantage].baseline(of: sender.address),
           let here = digests[reference.vantage].baseline(of: sender.address), there.ttl != here.ttl {
            return there.ttl > here.ttl
        }
        // Packets do not tell: where the captures were taken does, when it was stated (VantageDigest.role).
        return digests[vantage].role == (senderIsClient ? .client : .server)
            && digests[reference.vantage].role != digests[vantage].role
    }
}

/// What marks an RST as built by a box on the path rather than by the host it claims to come
/// from. The intrinsic signs are in the RST itself (each independent of the others: a forger may
/// get any of them right); the supporting ones are what the claimed sender did, and count only
/// beside an intrinsic one (a host may well go on talking after answering a stray segment).
struct ForgerySigns {
    enum Sign: String {
        case ttlOff = "TTL off the sender's path"
        case copiedIPID = "IP ID copied from the segment answered"
        case copiedIPIDRun = "a run of RSTs, each with the IP ID of the segment it answers"
        case reservedBits = "reserved header bits set"
        case ackAtISN = "ACK number at the ISN, not ISN + 1"
        case hostContinued = "the claimed sender kept talking after it"
        case breaksIPIDSequence = "IP ID outside the sender's own sequence"
    }

    var intrinsic: [Sign] = []
    var supporting: [Sign] = []
    var phrases: [String] = []
    var evidence: [String: EvidenceValue] = [:]
    /// Packets the RST's target sent after it (RSTs left out): the connection went on.
    var peerContinued = 0

    /// TTL alone keeps its measured confidence (0.88 with a solid baseline), any other single
    /// sign starts at 0.55; every further independent sign removes 40 % of the remaining doubt,
    /// up to 0.95 (one vantage can still be fooled by an odd host).
    func confidence(ttlSolid: Bool) -> Double {
        guard let first = intrinsic.first else { return 0 }
        let base = first == .ttlOff ? (ttlSolid ? 0.88 : 0.7) : 0.55
        let further = intrinsic.count - 1 + supporting.count
        var doubt = 1 - base
        for _ in 0..<further { doubt *= 0.6 }
        return min(0.95, 1 - doubt)
    }
}

extension DiagnosisContext {
    /// Reads every sign of a forger an RST and its conversation offer (see `ForgerySigns`).
    func forgerySigns(_ record: RSTRecord, in conversation: ConversationState, sender: TCPEndpoint, peer: TCPEndpoint,
                      verdict: TTLVerdictSummary, viaTTL: String, continuesIPID: Bool) -> ForgerySigns {
        var signs = ForgerySigns()
        if verdict.mismatch {
            signs.intrinsic.append(.ttlOff)
            signs.phrases.append("it arrived with \(viaTTL)")
        }
        if let answered = record.copiedIPIDFrom {
            let run = conversation.shared.rsts.filter { $0.fromClient == record.fromClient && $0.copiedIPIDFrom != nil }.count
            signs.evidence["rsts_copying_answered_ip_id"] = .int(Int64(run))
            signs.evidence["ip_id_copied_from_frame"] = .int(Int64(answered))
            signs.intrinsic.append(.copiedIPID)
            if run >= 2 {
                signs.intrinsic.append(.copiedIPIDRun)
                signs.phrases.append("\(run) RSTs, one per segment of \(peer.address)'s in flight, each carry the IP ID of "
                                     + "the segment they answer (the first that of frame \(answered)), as a box copying "
                                     + "the packet it answers does")
            } else {
                signs.phrases.append("it carries the IP ID \(record.ipID) of the segment it answers (frame \(answered)), "
                                     + "not one of \(sender.address)'s own")
            }
        }
        if record.reservedBits != 0 {
            signs.intrinsic.append(.reservedBits)
            signs.evidence["rst_reserved_bits"] = .string("0x" + String(record.reservedBits, radix: 16))
            signs.phrases.append("it has reserved TCP header bits set (0x\(String(record.reservedBits, radix: 16))), "
                                 + "which no host's stack sends")
        }
        if record.hasACK, record.peerOnlySYN, let isn = record.peerISN, record.ack == isn {
            signs.intrinsic.append(.ackAtISN)
            signs.evidence["rst_ack_is_isn"] = .bool(true)
            signs.phrases.append("its ACK number is \(peer.address)'s ISN itself, not ISN + 1: it does not acknowledge the "
                                 + "SYN as the host's own TCP would")
        }
        // What the claimed sender and the target did after it.
        let senderDirection = conversation.direction(fromClient: record.fromClient)
        let peerDirection = conversation.direction(fromClient: !record.fromClient)
        let senderAfter = senderDirection.packets - senderDirection.rsts - record.senderPackets
        signs.peerContinued = max(0, peerDirection.packets - peerDirection.rsts - record.peerPackets)
        if senderAfter > 0 {
            signs.supporting.append(.hostContinued)
            signs.evidence["host_kept_talking_after_rst"] = .bool(true)
            signs.evidence["host_packets_after_rst"] = .int(Int64(senderAfter))
            signs.phrases.append("\(sender.address) went on with the connection after it (\(senderAfter) more "
                                 + "packet\(senderAfter == 1 ? "" : "s") with its own IP IDs): it never reset it")
        }
        if record.senderIPIDKnown && record.senderIPIDSequential && record.ipID != 0 && !continuesIPID {
            signs.supporting.append(.breaksIPIDSequence)
            signs.evidence["ip_id_breaks_sender_sequence"] = .bool(true)
        }
        if !signs.intrinsic.isEmpty {
            signs.evidence["forgery_signs"] = .list((signs.intrinsic + signs.supporting).map { .string($0.rawValue) })
        } else {
            signs.phrases = []
            signs.evidence = signs.evidence.filter { $0.key == "host_packets_after_rst" }
        }
        return signs
    }
}

/// The TTL verdict as the sign reader needs it.
struct TTLVerdictSummary {
    var mismatch: Bool
}
