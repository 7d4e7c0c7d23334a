import Values

/// Retransmission findings: packet-loss (T1), spurious-delayed-ack (T2), rtt-exceeds-rto (T3),
/// congestion-loss (T4).
///
/// First, for every retransmitted segment: did the original reach the receiver?
/// - yes: a D-SACK reported the duplicate; the peer had acknowledged it before the copy; a
///   capture at the receiver's side saw the original (this one, or a second vantage point);
/// - no: a downstream capture never saw the original; this receiver-side capture has a gap
///   where it should be; duplicate ACKs or SACK blocks stood at it before the retransmission;
///   the ACK ends where the (resegmented) retransmission ends; SACK was in use and no D-SACK
///   came; or nothing ever acknowledged it while the peer fell silent.
/// Then, per recovery episode: lost originals → loss, congestion when the RTT samples just
/// before the loss had risen well above the connection's baseline; all originals arrived →
/// delayed ACK (the retransmission came ~RTO after the original, far longer than the path RTT,
/// and the receiver answered the duplicate at once with a D-SACK) or RTT above RTO (the first
/// ACK of the original came with an RTT far above the earlier smoothed RTT, and samples stayed
/// high); anything else is `undetermined`, saying what is missing.
extension DiagnosisContext {
    struct RetransmissionOutcome {
        var findings: [Finding] = []
        var absorbedByZeroWindow = 0
        var reorderings: [ReorderEvent] = []
    }


    private enum EpisodeCause: Hashable {
        case loss, congestion, delayedAck, rttAboveRTO, ackLoss, undetermined
    }

    private struct Episode {
        var events: [Int] = []
        var recoveryPoint: UInt32 = 0
        var cause: EpisodeCause = .undetermined
        /// Why originals were judged lost, and why others were judged to have arrived: kept
        /// apart, since the second kind is evidence of spurious retransmissions, never of loss.
        var reasons: [String] = []
        var arrivedReasons: [String] = []
        var strength = 0.0
        /// Every lost original was judged by duplicate ACKs alone, without SACK: a late original
        /// (reordering) draws the same duplicate ACKs and, without D-SACK, the same ACKs after.
        var lossOnlyByDupAcksWithoutSACK = false
        var lost = 0
        var lostSeqs = Set<UInt32>()
        var arrived = 0
        var rttBefore: TimeSpan?
        var rttBaseline: TimeSpan?
        var samplesBefore = 0
        var rttMeasurable = false
        var missing: [String] = []
        var decisive: UInt64 = 0
        var coverRTT: TimeSpan?
        var samplesAfter: TimeSpan?
        var dsackDelay: TimeSpan?
        var retransmissionDelay: TimeSpan?
        var receiverLimitedRTT = false
        /// The RTT baseline came from the same hosts' other flows (this one's started inflated).
        var baselineFromOtherFlows = false
        /// Only the lone last segment of a flight waited for its ACK (T2's shape).
        var loneTrailing = false
        /// The receiver's ACKs seen at its side and missing at the sender's (see `AckLoss`).
        var ackLoss: AckLoss?
        /// Too few samples of its own: another flow through the same queue was losing packets to
        /// it at that moment (see `congestedNeighbour`).
        var queueSharedWith: TCPEndpoint?
    }

    /// ACKs lost on the return path, as two vantage points show it: the receiver-side capture saw
    /// the receiver acknowledge the data before the sender's copy; the sender-side capture never
    /// saw those ACKs; the sender's own packets all reached the receiver's side.
    struct AckLoss {
        var receiverVantage: String
        /// The copy at the receiver's vantage, which the receiver had acknowledged before.
        var ackedCopyFrame: UInt64
        /// The receiver's packets seen leaving at its side and never seen at the sender's side.
        var missingACKs: Int
        var receiverPackets: Int
        var senderPacketsMissing: Int
    }

    /// The smallest Karn-clean RTT of data from the same sender host to the same receiver host
    /// over all flows of `member`'s vantage (handshake RTTs included): the path's own baseline.
    /// `othersOnly`: over the other flows only (the flow's own minimum includes its samples
    /// after the loss, which are not what it saw before it).
    func hostPairBaseline(_ member: GroupMember, fromClient: Bool, othersOnly: Bool = false) -> TimeSpan? {
        var best: TimeSpan?
        forEachSameHostPair(member, fromClient: fromClient, othersOnly: othersOnly) { other, senderIsClient in
            let samples = [other.direction(fromClient: senderIsClient).rtt.minimumIfAny,
                           other.shared.initialRTT > .zero ? other.shared.initialRTT : nil]
            for case let sample? in samples where sample > .zero { best = min(best ?? sample, sample) }
            return false
        }
        return best
    }

    /// Another flow from the same sender host to the same receiver host, at this vantage, that
    /// lost a segment within `window` of `time` after round trips risen far above `baseline` (at
    /// least 4 samples, three quarters of the recent ones inflated, ≥ 3× and ≥ 2 ms above): the
    /// queue those flows share was full and overflowing then. Returns that flow's sender.
    func congestedNeighbour(_ member: GroupMember, fromClient: Bool, at time: CaptureTime, within window: TimeSpan,
                            baseline: TimeSpan) -> TCPEndpoint? {
        var neighbour: TCPEndpoint?
        forEachSameHostPair(member, fromClient: fromClient, othersOnly: true) { other, senderIsClient in
            let congested = other.direction(fromClient: senderIsClient).recovery.events.contains { event in
                let apart = event.time >= time ? event.time - time : time - event.time
                guard apart <= window, event.samplesBefore >= 4, let median = event.recentMedianBefore else { return false }
                return Self.farAbove(median, baseline) && event.recentInflatedBefore * 4 >= event.recentCountBefore * 3
            }
            if congested { neighbour = senderIsClient ? other.client : other.server }
            return congested
        }
        return neighbour
    }

    /// The flows at `member`'s vantage from the same sender host to the same receiver host as
    /// its `fromClient` direction (its own too unless `othersOnly`), each with whether its client
    /// is that sender, until `body` returns true.
    private func forEachSameHostPair(_ member: GroupMember, fromClient: Bool, othersOnly: Bool,
                                     _ body: (ConversationState, _ senderIsClient: Bool) -> Bool) {
        let here = conversation(member)
        let senderIsHereClient = member.flipped ? !fromClient : fromClient
        let senderAddress = (senderIsHereClient ? here.client : here.server).address
        let receiverAddress = (senderIsHereClient ? here.server : here.client).address
        for (index, other) in digests[member.vantage].conversations.enumerated() where !othersOnly || index != member.conversation {
            let senderIsClient: Bool
            if other.client.address == senderAddress && other.server.address == receiverAddress {
                senderIsClient = true
            } else if other.server.address == senderAddress && other.client.address == receiverAddress {
                senderIsClient = false
            } else {
                continue
            }
            if body(other, senderIsClient) { return }
        }
    }

    /// A round trip that shows a full queue on a path whose own is `baseline`: ≥ 3× and ≥ 2 ms above.
    static func farAbove(_ rtt: TimeSpan, _ baseline: TimeSpan) -> Bool {
        rtt >= 3 * max(baseline, .nanoseconds(1)) && rtt - baseline >= .milliseconds(2)
    }

    /// Looks for `AckLoss` evidence for `event` (seen at `primary`, on the sender's side).
    ///
    /// With SACK, the first ACK the sender saw covering the segment must be the receiver's answer
    /// to the copy (a D-SACK reporting it): every ACK the receiver sent for the original before
    /// vanished. Counting packets alone misreads a path that slowed while the receiver-side
    /// capture went on longer than the sender's: the original's ACK arrived late (after the
    /// copy was sent, so it covers it first, without a D-SACK) and the receiver's last packets
    /// were still on their way when the sender's capture stopped.
    func ackLossAcross(_ group: FlowGroup, fromClient: Bool, primary: GroupMember, event: RetransmissionEvent,
                       sackInUse: Bool) -> AckLoss? {
        guard !event.peerAckedBefore, event.coverAckHasDSACK || !sackInUse else { return nil }
        for other in group.members where other.vantage != primary.vantage && nearSender(other, fromClient: fromClient) != true {
            let there = direction(other, fromClient: fromClient)
            guard let copy = there.retransmissions.first(where: { $0.seq == event.seq && $0.peerAckedBefore }) else { continue }
            let receiverThere = direction(other, fromClient: !fromClient).packets
            let receiverHere = direction(primary, fromClient: !fromClient).packets
            let senderMissing = max(0, direction(primary, fromClient: fromClient).packets - there.packets)
            // ACKs vanished between the captures; the sender's packets (nearly) all arrived.
            guard receiverThere > receiverHere, senderMissing * 10 <= max(there.packets, 1) else { continue }
            return AckLoss(receiverVantage: vantageName(other), ackedCopyFrame: copy.frame,
                           missingACKs: receiverThere - receiverHere, receiverPackets: receiverThere,
                           senderPacketsMissing: senderMissing)
        }
        return nil
    }

    /// The retransmitted segment was the last of a flight (sent within a round trip of the one
    /// before it, nothing after it), everything before it was acknowledged, and the RTT samples
    /// before it (those segments' ACKs) and after it were at the connection's usual level: only
    /// the lone trailing segment waited. A path that slowed would have delayed the whole flight
    /// and the samples after it.
    static func loneTrailingSegmentWaited(_ event: RetransmissionEvent) -> Bool {
        guard event.earlierCopies == 1, event.peerAckedUpToIt,
              event.senderHighSeq == event.seq &+ event.length &+ (event.fin ? 1 : 0),
              let median = event.recentMedianBefore, let minimum = event.minRTTBefore, event.recentCountBefore >= 2,
              let original = event.originalTime, let previous = event.previousSegmentTime,
              original - previous < max(minimum, .nanoseconds(1))
        else { return false }
        let usual = minimum * 2
        let after = Stats.median(event.samplesAfter)
        return median <= usual && (after.map { $0 <= usual } ?? true)
    }

    /// What became of a judged episode: reported under its cause, or left to another finding.
    private enum EpisodeFate {
        case reported
        /// Resends of data beyond a zero window: the zero-window finding explains them.
        case absorbedByZeroWindow
        /// The original came late after duplicate ACKs: the reordering finding reports it.
        case reordering(ReorderEvent)
        /// After the connection was reset, or a repeated FIN that arrived or was acknowledged: no finding.
        case explainedElsewhere
    }

    /// The retransmission findings of one direction, in the steps of the comment above.
    func retransmissionFindings(_ group: FlowGroup, fromClient: Bool, resetTime: CaptureTime?) -> RetransmissionOutcome {
        var outcome = RetransmissionOutcome()
        guard let view = retransmissionView(group, fromClient: fromClient, resetTime: resetTime) else { return outcome }
        // 1. Recovery episodes.
        var episodes = Self.recoveryEpisodes(view.events)
        // 2. Each episode's cause, from whether its originals arrived.
        for index in episodes.indices {
            var episode = episodes[index]
            switch judge(&episode, view) {
            case .reported: episodes[index] = episode
            case .absorbedByZeroWindow: outcome.absorbedByZeroWindow += episode.events.count
            case let .reordering(event): outcome.reorderings.append(event)
            case .explainedElsewhere: break
            }
        }
        // 3. In a direction that lost data, resends of data that had arrived belong to that loss.
        Self.joinArrivedToLoss(&episodes)
        // 4. One finding per cause.
        var byCause: [EpisodeCause: [Episode]] = [:]
        var order: [EpisodeCause] = []
        for episode in episodes where episode.decisive != 0 {
            if byCause[episode.cause] == nil { order.append(episode.cause) }
            byCause[episode.cause, default: []].append(episode)
        }
        for cause in order {
            guard let list = byCause[cause] else { continue }
            outcome.findings.append(makeFinding(cause: cause, episodes: list, view: view))
        }
        return outcome
    }

    /// The direction's retransmissions at the vantage nearest its sender, with what judging them needs.
    private func retransmissionView(_ group: FlowGroup, fromClient: Bool, resetTime: CaptureTime?) -> RetransmissionView? {
        guard let primary = retransmissionPrimary(group, fromClient: fromClient) else { return nil }
        let conversation = conversation(primary)
        let sending = direction(primary, fromClient: fromClient)
        guard !sending.retransmissions.isEmpty else { return nil }
        let receiving = direction(primary, fromClient: !fromClient)
        let sackInUse = (conversation.clientDir.handshake.sackPermitted && conversation.serverDir.handshake.sackPermitted)
            || receiving.acks.sentSACK
        let pathRTT = conversation.pathRTT
        return RetransmissionView(context: self, group: group, fromClient: fromClient, primary: primary,
                                  conversation: conversation, sending: sending, receiving: receiving,
                                  nearSender: nearSender(primary, fromClient: fromClient),
                                  sender: fromClient ? group.client : group.server,
                                  receiver: fromClient ? group.server : group.client, sackInUse: sackInUse, pathRTT: pathRTT,
                                  shortestRoundTrip: [pathRTT, sending.rtt.minimumIfAny].compactMap { $0 }.min(),
                                  resetTime: resetTime)
    }

    /// Step 1: a retransmission at or beyond the previous episode's recovery point starts a new episode.
    private static func recoveryEpisodes(_ events: [RetransmissionEvent]) -> [Episode] {
        var episodes: [Episode] = []
        for (index, event) in events.enumerated() {
            if let last = episodes.last, SeqNum.lessThan(event.seq, last.recoveryPoint) {
                episodes[episodes.count - 1].events.append(index)
            } else {
                var episode = Episode()
                episode.events = [index]
                episode.recoveryPoint = SeqNum.greaterThan(event.senderHighSeq, event.seq &+ event.length)
                    ? event.senderHighSeq : event.seq &+ max(event.length, 1)
                episodes.append(episode)
            }
        }
        return episodes
    }

    /// Step 2 for one episode: which originals arrived, then the cause — from the lost ones, else
    /// from the arrived ones, else what is missing to tell.
    private func judge(_ episode: inout Episode, _ view: RetransmissionView) -> EpisodeFate {
        let first = view.events[episode.events[0]]
        let tally = tallyArrivals(&episode, view)
        if let resetTime = view.resetTime, first.time >= resetTime - .milliseconds(1) {
            return .explainedElsewhere  // after the connection was reset: a consequence, explained by the RST finding
        }
        if tally.overran > 0 && episode.lost == 0 && episode.arrived == 0 { return .absorbedByZeroWindow }
        if let lost = tally.firstLost {
            judgeLoss(&episode, first: first, lost: lost, view)
            return .reported
        }
        if let arrived = tally.firstArrived { return judgeArrived(&episode, arrived, view) }
        return judgeUnknown(&episode, first: first, view)
    }

    /// Whether each original arrived (`RetransmissionView.arrival`), with the reasons kept apart;
    /// resends of data that went beyond a zero window are counted aside.
    private func tallyArrivals(_ episode: inout Episode, _ view: RetransmissionView)
        -> (overran: Int, firstLost: RetransmissionEvent?, firstArrived: RetransmissionEvent?) {
        var arrivedReasons: [String] = []
        var lossReasons: [String] = []
        var onlyDupAcks = true
        var firstLost: RetransmissionEvent?
        var firstArrived: RetransmissionEvent?
        var overran = 0
        for index in episode.events {
            let event = view.events[index]
            if view.overranZeroWindow(event) || view.probeInStall(event) {
                overran += 1
                continue
            }
            switch view.arrival(event) {
            case let .arrived(reason):
                episode.arrived += 1
                if firstArrived == nil { firstArrived = event }
                if !arrivedReasons.contains(reason) { arrivedReasons.append(reason) }
            case let .lost(reason, strength):
                episode.lost += 1
                episode.lostSeqs.insert(event.seq)
                episode.strength = max(episode.strength, strength)
                if firstLost == nil { firstLost = event }
                if !lossReasons.contains(reason) { lossReasons.append(reason) }
                if reason != Self.dupAckLossReason(view.receiver) { onlyDupAcks = false }
            case .unknown:
                break
            }
        }
        episode.reasons = lossReasons
        episode.arrivedReasons = arrivedReasons
        episode.lossOnlyByDupAcksWithoutSACK = episode.lost > 0 && onlyDupAcks && !view.sackInUse
        return (overran, firstLost, firstArrived)
    }

    /// Lost originals: congestion when the RTT had risen before the loss, else loss.
    private func judgeLoss(_ episode: inout Episode, first: RetransmissionEvent, lost: RetransmissionEvent,
                           _ view: RetransmissionView) {
        episode.decisive = lost.frame
        episode.samplesBefore = first.samplesBefore
        episode.rttMeasurable = view.nearSender != false && first.samplesBefore >= 4 && first.recentMedianBefore != nil
        guard let median = first.recentMedianBefore, var baseline = first.minRTTBefore else {
            episode.cause = .loss
            return
        }
        let initialRTT = view.conversation.shared.initialRTT
        if initialRTT > .zero { baseline = min(baseline, initialRTT) }
        // A flow that started while the queue was already full has an inflated baseline of its
        // own; the same hosts' other flows at this vantage show the path's.
        if let shared = hostPairBaseline(view.primary, fromClient: view.fromClient), shared < baseline {
            baseline = shared
            episode.baselineFromOtherFlows = true
            if ranIntoStandingQueue(first, view) { episode.rttMeasurable = true }
        }
        episode.rttBefore = median
        episode.rttBaseline = baseline
        // Sustained (most of the last samples, not one scheduling hiccup) and large (≥ 3× and
        // ≥ 2 ms above the baseline): a queue that filled. (Against the other flows' baseline:
        // every sample of this flow was inflated.)
        let sustained = first.recentInflatedBefore * 4 >= first.recentCountBefore * 3
            || (episode.baselineFromOtherFlows && (first.minRTTBefore ?? .zero) >= baseline * 2)
        let inflated = episode.rttMeasurable && sustained && median >= 3 * max(baseline, .nanoseconds(1))
            && median - baseline >= .milliseconds(2)
        // A receiver that keeps its window (nearly) full delays its ACKs too: that RTT rise is the
        // receiver's, not a queue's.
        let receiverLimited = view.receiving.window.windowFullFrames > 0 || view.receiving.window.stallCount > 0
        if inflated && !receiverLimited {
            episode.cause = .congestion
        } else if !receiverLimited, let neighbour = queueSharedWithLosingFlow(episode, median: median, lost: lost, view) {
            // Its own round trips do not show a filling queue by themselves — too few of them
            // (all high), or above the path's but not 3× — while another flow between the same
            // hosts lost packets to a full queue at that moment: the queue they share overflowed
            // (another flow's burst filled it).
            episode.cause = .congestion
            episode.queueSharedWith = neighbour
        } else {
            if inflated { episode.receiverLimitedRTT = true }
            episode.cause = .loss
        }
    }

    /// Fewer than 4 samples suffice when every data round trip the flow measured before the loss
    /// lay far above the path's (its other flows'), and there were at least two such round trips
    /// (its handshake's counts when it was inflated too): it ran into a standing queue; no single
    /// scheduling hiccup inflates them all.
    private func ranIntoStandingQueue(_ first: RetransmissionEvent, _ view: RetransmissionView) -> Bool {
        guard view.nearSender != false,
              let others = hostPairBaseline(view.primary, fromClient: view.fromClient, othersOnly: true) else { return false }
        let handshake = view.conversation.shared.initialRTT
        let inflatedSamples = first.samplesBefore + (handshake > .zero && Self.farAbove(handshake, others) ? 1 : 0)
        return inflatedSamples >= 2 && Self.farAbove(first.minRTTBefore ?? .zero, others)
    }

    /// The sender of another flow between the same hosts that was losing packets to a full queue
    /// when this one lost `lost`, provided this flow's own round trips stood above the path's:
    /// ≥ 1.5× and 1 ms above when they are measurable, else (too few) far above.
    private func queueSharedWithLosingFlow(_ episode: Episode, median: TimeSpan, lost: RetransmissionEvent,
                                           _ view: RetransmissionView) -> TCPEndpoint? {
        guard view.nearSender != false,
              let others = hostPairBaseline(view.primary, fromClient: view.fromClient, othersOnly: true) else { return nil }
        let aboveThePath = episode.rttMeasurable
            ? median >= others + others / 2 && median - others >= .milliseconds(1)
            : Self.farAbove(median, others)
        guard aboveThePath else { return nil }
        return congestedNeighbour(view.primary, fromClient: view.fromClient, at: lost.time,
                                  within: max(median * 2, .milliseconds(200)), baseline: others)
    }

    /// The originals arrived: the retransmissions were spurious. Why — the receiver's closed
    /// window, a repeated FIN, ACKs lost on the way back, reordering, a delayed ACK, an RTT
    /// jump — or what is missing to tell.
    private func judgeArrived(_ episode: inout Episode, _ event: RetransmissionEvent, _ view: RetransmissionView) -> EpisodeFate {
        // A probe of the full window anywhere in the episode: the receiver held its ACK for the
        // whole flight, and the other copies (an RTO resend of the flight's first segment) waited
        // for that same ACK.
        let zeroWindow = event.peerWindowZero || event.dsackWindowZero || event.coverAckWindowZero
            || view.sentIntoZeroWindow(event) || episode.events.contains { view.probeOfFullWindow(view.events[$0]) }
            || view.ackHeldAsWindowClosed(event)
        if zeroWindow { return .absorbedByZeroWindow }
        if episode.events.allSatisfy({ view.events[$0].fin }) { return .explainedElsewhere }  // a repeated FIN that had arrived
        if view.nearSender != false,
           let lost = ackLossAcross(view.group, fromClient: view.fromClient, primary: view.primary, event: event,
                                    sackInUse: view.sackInUse) {
            // The receiver's capture shows it acknowledging the data before the copy; the
            // sender's never shows those ACKs: they vanished on the return path.
            episode.cause = .ackLoss
            episode.ackLoss = lost
            episode.decisive = event.frame
            return .reported
        }
        if event.lossSignal.contains(.duplicateAcks) || event.lossSignal.contains(.sackHole) {
            return .reordering(Self.lateOriginal(event))
        }
        episode.decisive = event.frame
        episode.retransmissionDelay = event.originalTime.map { event.time - $0 }
        if view.nearSender != false {
            judgeSpuriousAtSender(&episode, event, view)
        } else {
            judgeSpuriousAtReceiver(&episode, event, view)
        }
        if episode.cause == .undetermined && episode.missing.isEmpty {
            episode.missing.append("the original arrived (\(episode.arrivedReasons.joined(separator: "; "))), but neither a prompt "
                                   + "D-SACK after a late retransmission (delayed ACK) nor an RTT sample far above "
                                   + "the smoothed RTT (RTT jump) explains why it was resent")
        }
        return .reported
    }

    /// Duplicate ACKs, then the original turned up after all: reordering, the copy sent in vain.
    private static func lateOriginal(_ event: RetransmissionEvent) -> ReorderEvent {
        let opened = event.originalTime ?? event.time
        let filled = [event.coverAckTime, event.dsackTime].compactMap { $0 }.min() ?? event.time
        let fillFrame = (event.coverAckTime != nil && event.coverAckTime == filled) ? event.coverAckFrame : event.dsackFrame
        return ReorderEvent(openFrame: event.originalFrame ?? event.frame, fillFrame: fillFrame ?? event.frame,
                            delay: filled - opened, seq: event.seq, byIPID: false, spuriousRetransmissionFrame: event.frame)
    }

    /// The copy was resent long after the original, far longer than the path RTT.
    /// `answeredWithin`: the D-SACK answering the copy came that long after it — a round trip of
    /// the path itself (it answers that copy and no other), so the path's RTT is at most that,
    /// however slow a busy host made the handshake look.
    private static func resentFarAboveRTT(_ episode: Episode, _ view: RetransmissionView,
                                          answeredWithin: TimeSpan? = nil) -> Bool {
        guard let delay = episode.retransmissionDelay,
              let pathRTT = [view.pathRTT, answeredWithin.flatMap { $0 >= .zero ? $0 : nil }].compactMap({ $0 }).min()
        else { return false }
        return delay >= 4 * pathRTT && delay >= .milliseconds(1)
    }

    /// A spurious retransmission seen at (or towards) the sender: the delayed ACK of a lone
    /// trailing segment (T2), an RTT above the RTO (T3), or a late copy answered at once by a
    /// D-SACK (T2).
    private func judgeSpuriousAtSender(_ episode: inout Episode, _ event: RetransmissionEvent, _ view: RetransmissionView) {
        if let dsackTime = event.dsackTime, dsackTime >= event.time, Self.loneTrailingSegmentWaited(event) {
            // T2, the delayed ACK's own shape: the rest of the flight was acknowledged at the
            // usual RTT and only the flight's last segment waited — a receiver holding its ACK
            // for a lone segment — and a D-SACK after the copy says the original had arrived.
            // The path did not slow (that would have delayed the whole flight).
            episode.cause = .delayedAck
            episode.loneTrailing = true
            episode.dsackDelay = dsackTime - event.time
            episode.decisive = event.dsackFrame ?? event.frame
            return
        }
        // T3: the first ACK of the original came with an RTT far above the earlier srtt.
        if let coverTime = event.coverAckTime, !event.coverAckHasDSACK, let originalTime = event.originalTime,
           let srtt = event.srttBefore, event.dsackFrame.map({ _ in (event.dsackTime ?? .epoch) > coverTime }) ?? true {
            let coverRTT = coverTime - originalTime
            let coverNanoseconds = Double(coverRTT.nanoseconds)
            if coverNanoseconds >= 3 * srtt && coverNanoseconds - srtt >= 1_000_000 {
                episode.cause = .rttAboveRTO
                episode.coverRTT = coverRTT
                episode.samplesAfter = Stats.median(event.samplesAfter)
                episode.decisive = event.coverAckFrame ?? event.frame
            }
        }
        // T2: retransmitted long after the original, the D-SACK came at once.
        if episode.cause == .undetermined, let dsackTime = event.dsackTime,
           Self.resentFarAboveRTT(episode, view, answeredWithin: dsackTime - event.time) {
            let dsackDelay = dsackTime - event.time
            let promptLimit = (view.pathRTT ?? .zero) * 2 + .milliseconds(2)
            if dsackDelay >= .zero && dsackDelay <= promptLimit {
                episode.cause = .delayedAck
                episode.dsackDelay = dsackDelay
                episode.decisive = event.dsackFrame ?? event.frame
            }
        }
    }

    /// A spurious retransmission seen at the receiver's side: it held its ACK until the duplicate
    /// arrived, then answered at once (T2); or it had acknowledged the original, and only the
    /// sender's side could tell a slow ACK from a lost one.
    private func judgeSpuriousAtReceiver(_ episode: inout Episode, _ event: RetransmissionEvent, _ view: RetransmissionView) {
        if !event.peerAckedBefore, let dsackTime = event.dsackTime,
           Self.resentFarAboveRTT(episode, view, answeredWithin: dsackTime - event.time),
           dsackTime - event.time <= .milliseconds(2) {
            episode.cause = .delayedAck
            episode.dsackDelay = dsackTime - event.time
            episode.decisive = event.dsackFrame ?? event.frame
        } else if event.peerAckedBefore {
            episode.missing.append("a capture at \(view.sender.address)'s side: \(view.receiver.address) acknowledged the "
                                   + "original before the copy came, so either that ACK took longer than the "
                                   + "sender's RTO (RTT jump) or it was lost")
        }
    }

    /// Nothing says whether the originals arrived: say what would (a repeated FIN that nothing
    /// acknowledged is worth a word of its own; one that was acknowledged is no finding).
    private func judgeUnknown(_ episode: inout Episode, first: RetransmissionEvent, _ view: RetransmissionView) -> EpisodeFate {
        let events = view.events
        let receiver = view.receiver
        if first.fin {
            guard episode.events.allSatisfy({ events[$0].coverAckFrame == nil }) else { return .explainedElsewhere }
            episode.missing.append(unacknowledgedFINQuestion(episode, view))
        } else if episode.events.contains(where: { view.receiverStalling(events[$0]) })
                    && episode.events.allSatisfy({ events[$0].coverAckFrame == nil && !events[$0].peerSpokeAfter }) {
            episode.missing.append("\(receiver.address) had nearly closed its window (\(first.peerWindow) bytes) "
                                   + "before it fell silent: a capture at its side would tell a hung receiver from "
                                   + "lost packets")
        } else if !view.sackInUse {
            episode.missing.append("D-SACK (SACK was not negotiated) or a capture at \(receiver.address)'s side, "
                                   + "to show whether the original arrived")
        } else {
            episode.missing.append("a capture at \(receiver.address)'s side to show whether the original arrived")
        }
        episode.decisive = first.frame
        return .reported
    }

    /// What is missing about a FIN repeated and never acknowledged (the close never completed),
    /// whether the peer fell silent or answered other packets.
    private func unacknowledgedFINQuestion(_ episode: Episode, _ view: RetransmissionView) -> String {
        let events = view.events
        let (sender, receiver) = (view.sender, view.receiver)
        guard episode.events.allSatisfy({ !events[$0].peerSpokeAfter }) else {
            // A FIN at the SYN's own sequence number (the ISN) lies below what the peer expects
            // (ISN + 1): out of window, so it is never acknowledged.
            let atISN = episode.events.contains { events[$0].finAtISN }
            // A FIN at the ISN is flagged from its first copy (it overlaps the SYN).
            let sent = episode.events.count + (events[episode.events[0]].finAtISN ? 0 : 1)
            return "why \(receiver.address), which answered other packets, never acknowledged "
                + "\(sender.address)'s FIN (sent \(sent) times)"
                + (atISN ? ": the FIN carries the SYN's own sequence number (the ISN), below "
                   + "what \(receiver.address) expects, so it is out of window — "
                   + "\(sender.address) closed before the handshake completed" : "")
        }
        if view.nearSender == false {
            return "the FINs reached \(receiver.address)'s side (this capture) and it never "
                + "answered: a capture at the host itself, or its socket state, would tell "
                + "whether it is gone"
        }
        return "any packet from \(receiver.address) after the FIN, or a capture at its side, "
            + "to tell a lost path from a peer that is gone"
    }

    /// Step 3: in a direction that lost data, resends of data that had arrived (go-back-N after
    /// a timeout, lost or late ACKs) belong to that loss recovery.
    private static func joinArrivedToLoss(_ episodes: inout [Episode]) {
        guard episodes.contains(where: { $0.cause == .loss || $0.cause == .congestion }) else { return }
        let lossCause: EpisodeCause = episodes.contains(where: { $0.cause == .loss }) ? .loss : .congestion
        for index in episodes.indices where episodes[index].cause == .undetermined && episodes[index].decisive != 0
            && episodes[index].arrived > 0 && episodes[index].lost == 0 {
            episodes[index].cause = lossCause
            episodes[index].missing = []
        }
    }

    /// A retransmission finding's cause, confidence, severity and sentence, as each cause's
    /// builder writes them (the evidence goes straight into the finding's).
    private struct RetransmissionVerdict {
        var cause: String
        var confidence: Double
        var severity: Severity = .major
        var sentence: String
    }

    /// Step 4: the finding for the episodes of one cause.
    private func makeFinding(cause: EpisodeCause, episodes: [Episode], view: RetransmissionView) -> Finding {
        let all = episodes.flatMap(\.events)
        // What decided it, and the counts every retransmission finding gives.
        var evidence = commonEvidence(cause: cause, episodes: episodes, all: all, view)
        // Other vantage points that saw the segments.
        var crossFrames: [String: [UInt64]] = [:]
        var lostBetween: String?
        for index in all {
            if let sighting = view.events[index].crossVantage, !sighting.vantage.isEmpty {
                crossFrames[sighting.vantage, default: []] += sighting.frames
                if sighting.originalArrived == false {
                    evidence["lost_between_vantages"] = .string("\(vantageName(view.primary)) → \(sighting.vantage)")
                    lostBetween = sighting.vantage
                }
            }
        }
        // The cause's own evidence and sentence.
        var verdict: RetransmissionVerdict
        switch cause {
        case .loss, .congestion:
            verdict = lossVerdict(congestion: cause == .congestion, episodes: episodes, all: all, lostBetween: lostBetween,
                                  view, &evidence)
        case .delayedAck:
            verdict = delayedAckVerdict(episodes: episodes, all: all, view, &evidence)
        case .rttAboveRTO:
            verdict = rttAboveRTOVerdict(episodes: episodes, view, &evidence)
        case .ackLoss:
            verdict = ackLossVerdict(episodes: episodes, all: all, view, &evidence, crossFrames: &crossFrames)
        case .undetermined:
            verdict = undeterminedVerdict(episodes: episodes, all: all, view, &evidence)
        }
        // A connection that ends in unanswered retransmissions is dead, whatever lost them: the
        // segments, their ACKs, or the peer itself cannot be told apart from here.
        if let dead = deadConnection(events: view.events, indexes: all, resetTime: view.resetTime) {
            verdict.cause = DiagnosisName.Cause.undetermined
            verdict.severity = .critical
            verdict.confidence = min(verdict.confidence, 0.5)
            evidence["unanswered_at_end"] = .int(Int64(dead.count))
            evidence["silent_for_s"] = .double(dead.silence.inSeconds)
            evidence["missing"] = .list([.string("a capture at \(view.receiver.address)'s side would show whether the data "
                                                 + "arrived and the ACKs were lost, or the host was gone")])
            verdict.sentence = "\(view.sender) sent the same data \(dead.count + 1) times over "
                + "\(JSONText.number(dead.silence.inSeconds)) s with growing timeouts and \(view.receiver) never answered: "
                + "the connection is dead. Ambiguous between the segments (or their ACKs) lost on the path and a peer that "
                + "vanished — from one vantage point they look the same."
        }
        let (vantages, frames) = retransmissionFrames(episodes: episodes, all: all, crossFrames: crossFrames, view)
        return Finding(kind: DiagnosisName.Kind.retransmission, cause: verdict.cause, flow: view.group.flow,
                       vantage: vantages, frames: frames, evidence: evidence, confidence: verdict.confidence,
                       severity: verdict.severity, sentence: verdict.sentence)
    }

    /// The evidence every retransmission finding gives: counts, what decided the cause (loss
    /// reasons for loss, arrival reasons otherwise; arrivals in a loss episode are its spurious
    /// retransmissions and listed as such), the path RTT, duplicate ACKs, the vantage's position.
    private func commonEvidence(cause: EpisodeCause, episodes: [Episode], all: [Int], _ view: RetransmissionView)
        -> [String: EvidenceValue] {
        let events = view.events
        var evidence: [String: EvidenceValue] = [
            "sender": .string(view.sender.description),
            "retransmissions": .int(Int64(all.count)),
            "episodes": .int(Int64(episodes.count)),
        ]
        if view.sending.retransmissionCount > view.sending.retransmissions.count {
            evidence["retransmissions_total"] = .int(Int64(view.sending.retransmissionCount))
        }
        let lossCause = cause == .loss || cause == .congestion
        var reasons: [String] = []
        var spuriousReasons: [String] = []
        for episode in episodes {
            for reason in episode.reasons where !reasons.contains(reason) { reasons.append(reason) }
            for reason in episode.arrivedReasons {
                if lossCause {
                    if !spuriousReasons.contains(reason) { spuriousReasons.append(reason) }
                } else if !reasons.contains(reason) {
                    reasons.append(reason)
                }
            }
        }
        if !reasons.isEmpty { evidence["how_known"] = .list(reasons.map { .string($0) }) }
        if !spuriousReasons.isEmpty { evidence["why_some_were_spurious"] = .list(spuriousReasons.map { .string($0) }) }
        if let pathRTT = view.pathRTT { evidence["path_rtt_ms"] = .double(Stats.ms(pathRTT)) }
        let fast = all.filter { events[$0].flags.contains(.fastRetransmission) }.count
        if fast > 0 { evidence["fast_retransmissions"] = .int(Int64(fast)) }
        let maxDupAcks = all.map { events[$0].duplicateAcksBefore }.max() ?? 0
        if maxDupAcks > 0 { evidence["duplicate_acks_before"] = .int(Int64(maxDupAcks)) }
        if let rto = events[all[0]].tsharkRTO { evidence["first_rto_ms"] = .double(Stats.ms(rto)) }
        let position: String = view.nearSender == true ? "sender side" : view.nearSender == false ? "receiver side" : "unknown"
        evidence["vantage_position"] = .string(position)
        return evidence
    }

    /// Loss (T1) or congestion loss (T4): how many segments, and the RTT trend before the loss.
    private func lossVerdict(congestion: Bool, episodes: [Episode], all: [Int], lostBetween: String?,
                             _ view: RetransmissionView, _ evidence: inout [String: EvidenceValue]) -> RetransmissionVerdict {
        let lostSeqs = max(1, episodes.reduce(Set<UInt32>()) { $0.union($1.lostSeqs) }.count)
        evidence["lost_segments"] = .int(Int64(lostSeqs))
        let arrivedInRecovery = episodes.reduce(0) { $0 + $1.arrived }
        if arrivedInRecovery > 0 { evidence["spurious_in_recovery"] = .int(Int64(arrivedInRecovery)) }
        let lead = episodes.first(where: { $0.lost > 0 }) ?? episodes[0]
        if view.nearSender != false { Self.recordRTTTrend(before: lead, &evidence) }
        let burst = episodes.map(\.lost).max() ?? 0
        evidence["largest_burst"] = .int(Int64(burst))
        let confidence = episodes.map(\.strength).max() ?? 0.6
        guard congestion else {
            var verdict = packetLossVerdict(lead: lead, lostSeqs: lostSeqs, confidence: confidence, all: all,
                                            lostBetween: lostBetween, view, &evidence)
            if episodes.allSatisfy({ $0.lost == 0 || $0.lossOnlyByDupAcksWithoutSACK }) {
                Self.ambiguousWithReordering(&verdict, lostSeqs: lostSeqs, receiver: view.receiver, &evidence)
            }
            return verdict
        }
        let before = lead.rttBefore.map { JSONText.number(Stats.ms($0)) } ?? "?"
        let baseline = lead.rttBaseline.map { JSONText.number(Stats.ms($0)) } ?? "?"
        var congestionConfidence = max(confidence, 0.75)
        var shared = ""
        if let neighbour = episodes.compactMap(\.queueSharedWith).first {
            evidence["queue_shared_with"] = .string(neighbour.description)
            congestionConfidence = min(congestionConfidence, 0.8)
            if lead.queueSharedWith != nil {
                shared = (lead.rttMeasurable ? ", not enough by itself to show a full queue," : ", too few round trips "
                    + "of its own to show the trend,") + " while \(neighbour), between the same hosts, was losing packets "
                    + "to the same full queue"
            }
        }
        return RetransmissionVerdict(
            cause: DiagnosisName.Cause.congestionLoss, confidence: congestionConfidence,
            sentence: "The RTT of \(view.sender)'s data rose from \(baseline) ms to \(before) ms just before \(lostSeqs) "
                + "segment\(lostSeqs == 1 ? " was" : "s were") lost (largest burst \(burst))\(shared): a bottleneck queue "
                + "filled and overflowed — congestion loss, not random loss.")
    }

    /// The RTT before the loss against the baseline (measurable only towards the sender).
    private static func recordRTTTrend(before lead: Episode, _ evidence: inout [String: EvidenceValue]) {
        if let before = lead.rttBefore { evidence["rtt_before_loss_ms"] = .double(Stats.ms(before)) }
        if let baseline = lead.rttBaseline { evidence["rtt_baseline_ms"] = .double(Stats.ms(baseline)) }
        if lead.baselineFromOtherFlows {
            evidence["rtt_baseline_from"] = .string("other flows between the same hosts at this vantage")
        }
        if let before = lead.rttBefore, let baseline = lead.rttBaseline, baseline > .zero {
            evidence["rtt_inflation"] = .double((Double(before.nanoseconds) / Double(baseline.nanoseconds) * 100).rounded() / 100)
        }
        evidence["rtt_samples_before_loss"] = .int(Int64(lead.samplesBefore))
    }

    /// Packet loss (T1), said as far as the RTT trend goes: a risen RTT leaves congestion open.
    private func packetLossVerdict(lead: Episode, lostSeqs: Int, confidence: Double, all: [Int], lostBetween: String?,
                                   _ view: RetransmissionView, _ evidence: inout [String: EvidenceValue]) -> RetransmissionVerdict {
        let (sender, receiver) = (view.sender, view.receiver)
        var confidence = confidence
        if lead.receiverLimitedRTT {
            evidence["rtt_rise_explained_by"] = .string("\(receiver.address)'s window was full or zero: it delayed its ACKs")
        }
        if !lead.rttMeasurable {
            confidence = max(0.5, confidence - 0.1)
            evidence["caveat"] = .list([.string(view.nearSender == false
                ? "RTT trend not measurable at a receiver-side capture: congestion cannot be ruled out"
                : "fewer than 4 RTT samples before the loss: congestion cannot be ruled out")])
        }
        let retransmissions = all.count
        let maxDupAcks = all.map { view.events[$0].duplicateAcksBefore }.max() ?? 0
        var text = "\(lostSeqs) segment\(lostSeqs == 1 ? "" : "s") from \(sender) never reached \(receiver) and "
            + "\(lostSeqs == 1 ? "was" : "were") retransmitted"
            + (retransmissions > lostSeqs ? " (\(retransmissions) retransmissions)" : "")
        if maxDupAcks > 0 { text += " after \(maxDupAcks) duplicate ACK\(maxDupAcks == 1 ? "" : "s")" }
        if let lostAt = lostBetween {
            text += " (lost between the \(vantageName(view.primary)) and \(lostAt) captures)"
        }
        let inflation = evidence["rtt_inflation"]?.doubleValue ?? 1
        if lead.rttMeasurable, let before = lead.rttBefore, inflation > 1.5 {
            // Said only as far as the numbers go: a risen RTT is what a filling queue shows.
            confidence = min(confidence, 0.65)
            text += "; the RTT had risen to \(JSONText.number(Stats.ms(before))) ms (\(JSONText.number(inflation))× its "
                + "baseline) before it, so a filling queue (congestion) cannot be ruled out"
        } else if lead.rttMeasurable, let before = lead.rttBefore,
                  view.pathRTT.map({ before < 3 * $0 || before - $0 < .milliseconds(2) }) ?? true {
            text += "; the RTT stayed near \(JSONText.number(Stats.ms(before))) ms before it, so this is loss on the path, not a filling queue"
        } else {
            text += ": packet loss on the path"
        }
        return RetransmissionVerdict(cause: DiagnosisName.Cause.packetLoss, confidence: confidence, sentence: text + ".")
    }

    /// Without SACK a late original draws the same duplicate ACKs, and no D-SACK can say it came
    /// after all: when only duplicate ACKs said the segments were missing, loss and reordering
    /// cannot be told apart.
    private static func ambiguousWithReordering(_ verdict: inout RetransmissionVerdict, lostSeqs: Int, receiver: TCPEndpoint,
                                                _ evidence: inout [String: EvidenceValue]) {
        verdict.confidence = min(verdict.confidence, 0.45)
        evidence["alternative"] = .string(DiagnosisName.Cause.pathReordering)
        evidence["missing"] = .list([.string("SACK (not negotiated): a D-SACK would report a late original; "
                                             + "or a capture at \(receiver.address)'s side")])
        let sentence = verdict.sentence
        verdict.sentence = "Ambiguous between packet-loss and path-reordering: " + sentence.prefix(1).lowercased()
            + sentence.dropFirst().dropLast() + "; but only duplicate ACKs said the segment"
            + (lostSeqs == 1 ? " was" : "s were") + " missing, and without SACK a late original (reordering) "
            + "draws the same ACKs."
    }

    /// The receiver held its delayed ACK and the sender's RTO fired first (T2).
    private func delayedAckVerdict(episodes: [Episode], all: [Int], _ view: RetransmissionView,
                                   _ evidence: inout [String: EvidenceValue]) -> RetransmissionVerdict {
        let (sender, receiver, sending) = (view.sender, view.receiver, view.sending)
        let lead = episodes[0]
        if let delay = lead.retransmissionDelay { evidence["retransmitted_after_ms"] = .double(Stats.ms(delay)) }
        if let delay = lead.dsackDelay { evidence["dsack_after_retransmission_ms"] = .double(Stats.ms(delay)) }
        if let typical = sending.rtt.recentMedian { evidence["typical_ack_delay_ms"] = .double(Stats.ms(typical)) }
        evidence["dsacks"] = .int(Int64(all.filter { view.events[$0].dsackFrame != nil }.count))
        let after = lead.retransmissionDelay.map { JSONText.number(Stats.ms($0)) } ?? "?"
        let rtt = view.pathRTT.map { JSONText.number(Stats.ms($0)) } ?? "?"
        var verdict = RetransmissionVerdict(cause: DiagnosisName.Cause.spuriousDelayedAck, confidence: 0.85, severity: .minor,
                                            sentence: "")
        if lead.loneTrailing {
            evidence["lone_trailing_segment"] = .bool(true)
            let typical = sending.rtt.recentMedian.map { JSONText.number(Stats.ms($0)) } ?? rtt
            verdict.sentence = "The segments of \(sender)'s flight were acknowledged at the usual \(typical) ms RTT; only the "
                + "lone last one waited (\(after) ms, until the sender resent it) — \(receiver) was holding its "
                + "delayed ACK for a single segment — and a D-SACK after the copy says the original had arrived: "
                + "the retransmission was spurious, the path did not slow."
            return verdict
        }
        // The round trip the judgement used: the path's, or the D-SACK's answer to the copy when
        // that was quicker (the handshake of a busy host looks slower than the path is).
        let roundTrip: String
        if let answer = lead.dsackDelay, answer >= .zero, view.pathRTT.map({ answer < $0 }) ?? true {
            roundTrip = "far longer than a round trip of the path, which took \(JSONText.number(Stats.ms(answer))) ms "
                + "for the copy's answer"
        } else {
            roundTrip = "far longer than the \(rtt) ms path RTT"
        }
        verdict.sentence = "\(sender) resent data \(after) ms after the original — \(roundTrip) — "
            + "while \(receiver) was still holding its delayed ACK; \(receiver) answered the duplicate at once with a "
            + "D-SACK, so the retransmission was spurious: the sender's RTO is shorter than the receiver's delayed-ACK timer."
        return verdict
    }

    /// The original's ACK came far above the smoothed RTT the RTO was computed from (T3).
    private func rttAboveRTOVerdict(episodes: [Episode], _ view: RetransmissionView,
                                    _ evidence: inout [String: EvidenceValue]) -> RetransmissionVerdict {
        let lead = episodes[0]
        let srtt = view.events[lead.events[0]].srttBefore
        if let coverRTT = lead.coverRTT { evidence["rtt_of_original_ms"] = .double(Stats.ms(coverRTT)) }
        if let srtt { evidence["srtt_before_ms"] = .double(Stats.ms(srtt)) }
        if let after = lead.samplesAfter { evidence["rtt_after_ms"] = .double(Stats.ms(after)) }
        var confidence = lead.samplesAfter != nil ? 0.85 : 0.7
        if let after = lead.samplesAfter, let srtt, Double(after.nanoseconds) < 2 * srtt { confidence = 0.65 }
        return RetransmissionVerdict(
            cause: DiagnosisName.Cause.rttExceedsRTO, confidence: confidence,
            sentence: "The ACK for \(view.sender)'s segment came \(lead.coverRTT.map { JSONText.number(Stats.ms($0)) } ?? "?") ms "
                + "after it was sent, far above the \(srtt.map { JSONText.number(Stats.ms($0)) } ?? "?") ms smoothed RTT "
                + "the sender's RTO was computed from: the RTO fired first and the retransmission was spurious — the path's "
                + "RTT jumped above the RTO.")
    }

    /// Packet loss whose lost packets are the ACKs (the vocabulary has no cause of its own for it
    /// yet): `lost_packets` and `lost_direction` say which and where.
    private func ackLossVerdict(episodes: [Episode], all: [Int], _ view: RetransmissionView,
                                _ evidence: inout [String: EvidenceValue], crossFrames: inout [String: [UInt64]])
        -> RetransmissionVerdict {
        let (sender, receiver) = (view.sender, view.receiver)
        evidence["lost_packets"] = .string("acks")
        let lost = (episodes.first(where: { $0.ackLoss != nil }) ?? episodes[0]).ackLoss
        if let lost {
            evidence["lost_direction"] = .string("\(receiver.address) → \(sender.address)")
            evidence["acks_missing_at_sender_side"] = .int(Int64(lost.missingACKs))
            evidence["receiver_packets_at_receiver_side"] = .int(Int64(lost.receiverPackets))
            evidence["acknowledged_before_copy_at"] = .string("\(lost.receiverVantage) frame \(lost.ackedCopyFrame)")
            if lost.senderPacketsMissing > 0 { evidence["sender_packets_missing"] = .int(Int64(lost.senderPacketsMissing)) }
            crossFrames[lost.receiverVantage, default: []].append(lost.ackedCopyFrame)
        }
        let dsacks = all.filter { view.events[$0].dsackFrame != nil }.count
        if dsacks > 0 { evidence["dsacks"] = .int(Int64(dsacks)) }
        let missing = lost.map { "\($0.missingACKs) of \(receiver.address)'s packets seen leaving at the \($0.receiverVantage) capture" }
            ?? "\(receiver.address)'s ACKs"
        let retransmissions = all.count
        return RetransmissionVerdict(
            cause: DiagnosisName.Cause.packetLoss, confidence: 0.85,
            sentence: "\(receiver) had acknowledged \(sender)'s data before the sender resent it (the "
                + "\(lost?.receiverVantage ?? "receiver-side") capture shows it), but \(missing) never reached the "
                + "\(vantageName(view.primary)) capture: ACK loss — the ACKs, not the data, were lost, on the path from "
                + "\(receiver.address) to \(sender.address). "
                + "The data arrived; \(retransmissions == 1 ? "the retransmission was" : "the \(retransmissions) retransmissions were") "
                + "spurious" + (dsacks > 1 ? " (the D-SACKs say so)" : dsacks == 1 ? " (a D-SACK says so)" : "") + ".")
    }

    /// No cause could be told: what is missing to tell it.
    private func undeterminedVerdict(episodes: [Episode], all: [Int], _ view: RetransmissionView,
                                     _ evidence: inout [String: EvidenceValue]) -> RetransmissionVerdict {
        var missing: [String] = []
        for episode in episodes { for item in episode.missing where !missing.contains(item) { missing.append(item) } }
        evidence["missing"] = .list(missing.map { .string($0) })
        let retransmissions = all.count
        return RetransmissionVerdict(
            cause: DiagnosisName.Cause.undetermined, confidence: 0.3, severity: .minor,
            sentence: "\(view.sender) retransmitted \(retransmissions) segment\(retransmissions == 1 ? "" : "s"), but this "
                + "capture cannot tell why: \(missing.first ?? "evidence is missing").")
    }

    /// The finding's frames: the copies, their originals and D-SACKs at the primary vantage, and
    /// the frames other vantages saw of the same segments.
    private func retransmissionFrames(episodes: [Episode], all: [Int], crossFrames: [String: [UInt64]],
                                      _ view: RetransmissionView) -> (vantages: [String], frames: [String: FrameRefs]) {
        let events = view.events
        let first = events[all[0]]
        var related: [UInt64] = []
        for index in all.prefix(48) {
            related.append(events[index].frame)
            if let original = events[index].originalFrame { related.append(original) }
            if let dsack = events[index].dsackFrame { related.append(dsack) }
        }
        related = Array(Set(related)).sorted()
        let primaryName = vantageName(view.primary)
        var vantages = [primaryName]
        var frames: [String: FrameRefs] = [:]
        let decisive = episodes.first(where: { $0.decisive != 0 })?.decisive ?? first.frame
        frames[primaryName] = FrameRefs(first: first.originalFrame ?? first.frame, decisive: decisive,
                                        related: Array(related.prefix(64)))
        for (name, list) in crossFrames.sorted(by: { $0.key < $1.key }) where !list.isEmpty && frames[name] == nil {
            vantages.append(name)
            let sorted = list.sorted()
            frames[name] = FrameRefs(first: sorted[0], decisive: sorted[0], related: Array(sorted.prefix(64)))
        }
        return (vantages, frames)
    }

    /// The reason given when duplicate ACKs or SACK blocks stood at a segment before it was resent.
    static func dupAckLossReason(_ receiver: TCPEndpoint) -> String {
        "duplicate ACKs/SACK from \(receiver.address) stood at it before the retransmission"
    }

    /// The trailing run of retransmissions of the episode that nothing answered — no ACK covered
    /// them and the peer sent nothing after them — when it is long (at least 4, with growing
    /// intervals: the sender's RTO backing off) and the sender did not reset the connection
    /// nor anyone reset the connection. Returns the run's length and the time from the first copy to the last.
    private func deadConnection(events: [RetransmissionEvent], indexes: [Int], resetTime: CaptureTime?) -> (count: Int, silence: TimeSpan)? {
        let run = indexes.reversed().map { events[$0] }.prefix { $0.coverAckFrame == nil && !$0.peerSpokeAfter && !$0.fin }
        guard run.count >= 4, let last = run.first, let first = run.last else { return nil }
        let times = run.reversed().map(\.time)
        let intervals = zip(times.dropFirst(), times).map { $0 - $1 }
        guard zip(intervals.dropFirst(), intervals).allSatisfy({ $0 >= $1 }) else { return nil }
        // An RST after the run started ended the connection: the RST's finding tells that story.
        if let resetTime, resetTime >= (first.originalTime ?? first.time) { return nil }
        return (run.count, last.time - (first.originalTime ?? first.time))
    }
}

/// One direction's retransmissions as one vantage (the one nearest the sender) saw them, with
/// the context every judgement of them needs (did the original arrive? did it go beyond a closed
/// window? what do the other vantages say?).
struct RetransmissionView {
    let context: DiagnosisContext
    let group: FlowGroup
    /// The direction: sent by the group's client (true) or server (false).
    let fromClient: Bool
    let primary: GroupMember
    let conversation: ConversationState
    let sending: DirectionState
    let receiving: DirectionState
    let nearSender: Bool?
    let sender: TCPEndpoint
    let receiver: TCPEndpoint
    let sackInUse: Bool
    let pathRTT: TimeSpan?
    /// The shortest round trip seen at a sender-side capture: handshake or ACK samples.
    let shortestRoundTrip: TimeSpan?
    /// When the connection was reset (by an RST it did not survive), if it was.
    let resetTime: CaptureTime?

    var digests: [VantageDigest] { context.digests }
    var events: [RetransmissionEvent] { sending.retransmissions }

    enum Arrival {
        case arrived(String)
        case lost(String, Double)
        case unknown
    }

    func arrival(_ event: RetransmissionEvent) -> Arrival {
        if let sighting = event.crossVantage {
            if sighting.originalArrived == true { return .arrived("the \(sighting.vantage) capture saw the original arrive") }
            if sighting.originalArrived == false {
                // Its absence there counts only while that capture was listening.
                let sent = event.originalTime ?? event.time
                let window = digests.first(where: { $0.vantage == sighting.vantage })?.window
                switch window?.coverage(from: sent, to: sent + (pathRTT ?? .zero)) {
                case .recorded:
                    return .lost("the \(sighting.vantage) capture, nearer \(receiver.address), never saw the original", 0.95)
                case .packets:
                    return .lost("the \(sighting.vantage) capture, nearer \(receiver.address), never saw the original "
                                 + "(it records no capture window; its packets surround the moment)", 0.88)
                case .outside, .unknown, .none:
                    break
                }
            }
        }
        if event.dsackFrame != nil { return .arrived("a D-SACK reported the duplicate") }
        if nearSender == true, let coverTime = event.coverAckTime, let roundTrip = shortestRoundTrip, roundTrip > .zero,
           coverTime - event.time < roundTrip / 2 {
            return .arrived("the ACK covering it came \(JSONText.number(Stats.ms(coverTime - event.time))) ms after "
                            + "the retransmission, sooner than a round trip (\(JSONText.number(Stats.ms(roundTrip))) ms)")
        }
        if event.peerAckedBefore { return .arrived("the peer had acknowledged it before this copy") }
        if event.fin { return .unknown }
        if nearSender == false {
            if event.originalFrame == nil || event.lossSignal.contains(.gapAtVantage) {
                return .lost("this receiver-side capture never saw the original", 0.85)
            }
            if event.lossSignal.contains(.duplicateAcks) || event.lossSignal.contains(.sackHole) {
                return .lost("\(receiver.address) reported it missing although this capture saw it pass: dropped "
                             + "after the capture point, inside the receiving host", 0.75)
            }
            return .arrived("this receiver-side capture saw the original")
        }
        if event.coverAckMatchesRetransmissionOnly {
            return .lost("the ACK ends where the resegmented retransmission ends, not where the original did", 0.8)
        }
        if event.lossSignal.contains(.duplicateAcks) || event.lossSignal.contains(.sackHole) {
            return .lost(DiagnosisContext.dupAckLossReason(receiver), 0.85)
        }
        if event.lossSignal.contains(.gapAtVantage) && nearSender != true {
            return .lost("this capture has a gap where the original should be", 0.7)
        }
        if sackInUse && event.coverAckFrame != nil && !event.fin {
            return .lost("SACK was in use, yet no D-SACK reported a duplicate", 0.65)
        }
        if event.coverAckFrame == nil && !event.peerSpokeAfter && !event.fin && !receiverStalling(event) {
            return .lost("never acknowledged, and \(receiver.address) sent nothing afterwards", 0.6)
        }
        return .unknown
    }

    /// The receiver had (nearly) closed its window: it was not keeping up before it fell silent.
    func receiverStalling(_ event: RetransmissionEvent) -> Bool {
        event.peerWindowZero || (event.peerWindow != 0xFFFF_FFFF && event.peerWindow < 2 * max(event.length, 536))
            || receiving.window.windowFullFrames > 0
    }

    /// The original went out while the receiver's window was closed (or closing within a round
    /// trip): data beyond the window is dropped by the receiver and must be resent.
    func sentIntoZeroWindow(_ event: RetransmissionEvent) -> Bool {
        guard let sent = event.originalTime else { return false }
        let slack = pathRTT ?? .zero
        return receiving.window.stalls.contains { stall in
            sent >= stall.startTime - slack && sent <= (stall.endTime ?? .distantFuture)
        }
    }

    /// The copy resends data that had gone beyond the receiver's zero window (at or past its
    /// edge, first sent while it was zero): the receiver dropped it for want of room — the
    /// zero-window episode's consequence, not loss on the path.
    func overranZeroWindow(_ event: RetransmissionEvent) -> Bool {
        let slack = pathRTT ?? .zero
        return receiving.window.stalls.contains { stall in
            guard stall.overruns > 0, SeqNum.greaterOrEqual(event.seq, stall.edge), event.time >= stall.startTime
            else { return false }
            guard let sent = event.originalTime else { return event.seq == stall.edge }
            return sent >= stall.startTime - slack && sent <= (stall.endTime ?? .distantFuture)
        }
    }

    /// A probe of data that had filled the receiver's window, while the receiver withheld its
    /// ACK and then closed the window: the zero-window episode's own tail-loss probe, not an RTT
    /// jump. Closed either at once (a stall starting before the covering ACK plus a round trip),
    /// or later, when the covering ACK already advertised less room than the window the original
    /// filled: the receiver's buffer was filling while it held the ACK (Linux holds the ACK of
    /// data that cannot move the window's edge until the application reads), and it went on to
    /// reach zero.
    func probeOfFullWindow(_ event: RetransmissionEvent) -> Bool {
        guard event.originalFilledWindow, let sent = event.originalTime else { return false }
        let until = (event.coverAckTime ?? event.time) + max(pathRTT ?? .zero, .milliseconds(1)) * 2
        if receiving.window.stalls.contains(where: { $0.startTime >= sent && $0.startTime <= until }) { return true }
        guard let coverWindow = event.coverAckWindow, event.peerWindow != 0xFFFF_FFFF, coverWindow < event.peerWindow
        else { return false }
        return receiving.window.stalls.contains { $0.startTime >= sent }
    }

    /// The receiver held its ACK of the original while its buffer filled, and the window then
    /// closed: the covering ACK came late with less room than the window at the retransmission
    /// (Linux sends no ACK that cannot move the window's edge before its delayed-ACK timer fires
    /// when the application does not read), and a zero-window stall began soon after it — within
    /// four times the ACK's own delay. The sender's timer fired at the receiver's stall, not at a
    /// slow path; a reader that keeps up reopens the window in that ACK instead.
    func ackHeldAsWindowClosed(_ event: RetransmissionEvent) -> Bool {
        guard let sent = event.originalTime, let covered = event.coverAckTime, covered > sent,
              let coverWindow = event.coverAckWindow, event.peerWindow != 0xFFFF_FFFF, coverWindow < event.peerWindow
        else { return false }
        let until = covered + (covered - sent) * 4
        return receiving.window.stalls.contains { $0.startTime >= sent && $0.startTime <= until }
    }

    /// `probeOfFullWindow` where nothing but the absence of a D-SACK would call the original
    /// lost (a receiver out of room need not answer a duplicate): no duplicate ACKs or SACK
    /// hole at it, no gap, no other vantage that missed it.
    func probeInStall(_ event: RetransmissionEvent) -> Bool {
        guard probeOfFullWindow(event), event.lossSignal.isEmpty, !event.coverAckMatchesRetransmissionOnly else { return false }
        return event.crossVantage?.originalArrived != false
    }

}
