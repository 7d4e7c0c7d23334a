import Values
/// The diagnosis of conversations the analyzer retires (see `RetirementPolicy`): each finished
/// conversation is diagnosed when it is retired and its state freed, so memory follows the
/// connections open at once.
///
/// The findings stay those of a whole-capture diagnosis. A conversation's findings depend on its
/// own state and, for a few classifiers, on the whole capture (the host TTL baselines, the
/// capture's end and listening window). The digest a retired conversation is diagnosed with
/// carries a `WholeCaptureReadProbe`: when the classifiers read any of those, the findings are
/// dropped and the conversation's state is kept for the end of the capture (deferred), where it
/// is diagnosed with everything else still held, exactly as before. In `follow` mode nothing is
/// deferred: the conversation is judged on the capture so far (a live feed has no end).
/// Host TTL totals are kept per host in the order the whole-capture digest would add them, so
/// the baselines at the end are the same too; the findings are merged by conversation before
/// the final ordering, so their order is the same as well.
/// A packet that comes after its conversation was retired revives it in the analyzer (same
/// stream, same flags), but its diagnosis was made on the part before: such a conversation is
/// *split*. For a file, the end of the run reads the file once more for the split conversations
/// alone and diagnoses each whole, in place of its parts (a stream cannot be read again: there
/// the parts stand, as in follow mode).

/// Notes reads of whole-capture values of a `VantageDigest`.
final class WholeCaptureReadProbe: @unchecked Sendable {
    private(set) var touched = false
    @inline(__always) func read() { touched = true }
}

/// Per-host TTL totals, each value with the position where a whole-capture digest would first
/// add it (conversation id, side, histogram slot), so the final histograms are the same.
struct HostTTLTotals {
    struct Value {
        var ttl: UInt8
        var count: UInt32
        var order: UInt64
    }
    private(set) var hosts: [IPAddress: [Value]] = [:]

    mutating func add(_ conversation: ConversationState) {
        add(conversation.client.address, conversation.clientDir.ttl, id: conversation.id, side: 0)
        add(conversation.server.address, conversation.serverDir.ttl, id: conversation.id, side: 1)
    }

    private mutating func add(_ address: IPAddress, _ histogram: SmallHistogram, id: Int, side: UInt64) {
        // Merged in place through the dictionary's subscript (a copy taken out and stored back
        // copied the array each time), without building an array of the four slots.
        func merge(_ ttl: UInt8, _ count: UInt32, position: UInt64) {
            guard count > 0 else { return }
            let order = UInt64(id) << 4 | side << 3 | position
            Self.merge(&hosts[address, default: []], Value(ttl: ttl, count: count, order: order))
        }
        merge(histogram.values.0, histogram.counts.0, position: 0)
        merge(histogram.values.1, histogram.counts.1, position: 1)
        merge(histogram.values.2, histogram.counts.2, position: 2)
        merge(histogram.values.3, histogram.counts.3, position: 3)
    }

    private static func merge(_ values: inout [Value], _ value: Value) {
        if let index = values.firstIndex(where: { $0.ttl == value.ttl }) {
            values[index].count &+= value.count
            values[index].order = min(values[index].order, value.order)
        } else {
            values.append(value)
        }
    }

    func histogram(of address: IPAddress) -> SmallHistogram? {
        guard let values = hosts[address] else { return nil }
        var histogram = SmallHistogram()
        for value in values.sorted(by: { $0.order < $1.order }) { histogram.add(value.ttl, count: value.count) }
        return histogram
    }

    func histograms(of addresses: [IPAddress]) -> [IPAddress: SmallHistogram] {
        var result: [IPAddress: SmallHistogram] = [:]
        for address in addresses { result[address] = histogram(of: address) }
        return result
    }

    var allHistograms: [IPAddress: SmallHistogram] { histograms(of: Array(hosts.keys)) }
}

/// The diagnosis observer's state when conversations are retired.
struct ConversationRetirement {
    /// Conversations being followed, by analyzer slot.
    var live: ContiguousArray<ConversationState?> = []
    /// Retired conversations whose diagnosis needs the whole capture.
    var deferred: [ConversationState] = []
    /// Findings of retired conversations, by conversation id (kept unless `follow` takes them).
    var findings: [(id: Int, findings: [Finding])] = []
    var ttlTotals = HostTTLTotals()
    var firstTime: Int64?
    var latestTime: Int64 = .min
    /// Live mode: each retired conversation's findings go here at once, judged on the capture
    /// so far, and nothing is deferred.
    var follow: ((_ findings: [Finding]) -> Void)?
    private(set) var retiredConversations = 0
    private(set) var deferredConversations = 0
    /// Conversations revived after their diagnosis state was retired, in order of revival.
    private(set) var splitIDs: [Int] = []

    @inline(__always)
    mutating func observe(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
        let slot = frame.slot
        if firstTime == nil { firstTime = frame.timestamp }
        if frame.timestamp > latestTime { latestTime = frame.timestamp }
        if slot >= live.count { live.append(contentsOf: repeatElement(nil, count: slot + 1 - live.count)) }
        if Self.heldID(live, slot) != frame.conversationID {
            live[slot] = ConversationState(id: frame.conversationID, client: analyzer.conversations[slot].client,
                                           server: analyzer.conversations[slot].server,
                                           reusedPorts: analyzer.conversations[slot].reusedPorts)
            if analyzer.lastRevivedID >= 0 && splitIDs.last != analyzer.lastRevivedID {
                splitIDs.append(analyzer.lastRevivedID)
            }
        }
        live[slot]!.observe(frame)
    }

    /// The id of the conversation held in `slot`, read in place: `live[slot]?.id` copied the
    /// whole state out of the array, a retain and a release of each of its buffers, per packet.
    @inline(__always)
    static func heldID(_ live: ContiguousArray<ConversationState?>, _ slot: Int) -> Int? {
        live.withUnsafeBufferPointer { $0[slot]?.id }
    }

    mutating func retire(slot: Int, vantage: String) {
        // Moved out of its slot, not copied (a copy retains every buffer of the state).
        guard slot < live.count, let state = live[slot].take() else { return }
        retiredConversations += 1
        ttlTotals.add(state)
        // Most of a busy server's connections: nothing any classifier starts from.
        guard !state.quiet else { return }
        let probe = WholeCaptureReadProbe()
        let digest = VantageDigest(vantage: vantage, path: "", frames: 0, tcpFrames: 0, firstTime: firstTime,
                                   lastTime: latestTime == .min ? nil : latestTime, truncation: nil,
                                   conversations: [state],
                                   hostTTLs: ttlTotals.histograms(of: [state.client.address, state.server.address]),
                                   probe: probe)
        let context = DiagnosisContext(digests: [digest])
        var found: [Finding] = []
        for group in context.groups { found += context.diagnose(group) }
        if let follow {
            if !found.isEmpty { follow(Diagnoser.order(found)) }
        } else if probe.touched {
            deferred.append(state)
            deferredConversations += 1
        } else if !found.isEmpty {
            findings.append((state.id, found))
        }
    }
}

extension DiagnosisObserver {
    public mutating func willRetire(slot: Int, analyzer: TCPAnalyzer) {
        retiring.retire(slot: slot, vantage: vantage)
        failureTrace.retire(client: analyzer.conversations[slot].client, server: analyzer.conversations[slot].server,
                            lastFrame: analyzer.conversations[slot].lastFrame)
    }

    /// Live mode for a run that retires conversations: each finished conversation's findings go
    /// to `handler` as it is retired (judged on the capture so far).
    public mutating func follow(_ handler: @escaping (_ findings: [Finding]) -> Void) {
        retiring.follow = handler
    }

    /// Conversations retired, and how many of them waited for the end of the capture.
    public var retirementCounts: (retired: Int, deferred: Int) {
        (retiring.retiredConversations, retiring.deferredConversations)
    }

    /// The result of a single-capture run that retired conversations
    /// (`CaptureAnalysis.run(path:observer:retirement:)`): the conversations still held and the
    /// deferred ones are diagnosed now, with the whole capture; the findings of those retired
    /// earlier join them (in follow mode they were handed out already, and only the rest come
    /// back). The same findings, in the same order, as `Diagnoser.diagnose` of the file: the
    /// conversations split by a late packet are diagnosed whole from a second reading of the
    /// file (only when there are any, and not for a stream). The held state is moved out, not
    /// copied: call once, at the end of the run.
    /// `role`: where the capture was taken, when the caller knows (`VantageDigest.role`).
    public mutating func retiredRunResult(of analysis: CaptureAnalysis, role: VantageRole = .other) -> DiagnosisResult {
        var split = Set(retiring.splitIDs)
        var whole: [ConversationState] = []
        var recounted: HostTTLTotals?
        if !split.isEmpty {
            if retiring.follow == nil, analysis.path != "-", let policy = analysis.analyzer.retirement {
                var again = SplitConversationsObserver(ids: split)
                do throws(CaptureError) {
                    // The split conversations are never retired this time: their analysis stays whole.
                    _ = try CaptureAnalysis.run(reader: CaptureReader(path: analysis.path), path: analysis.path,
                                                observer: &again, retirement: policy, pinned: split)
                    again.finish()
                    whole = Array(again.states.values)
                    recounted = again.totals
                } catch {
                    split = []
                }
            } else {
                split = []
            }
        }
        var remaining = retiring.deferred
        retiring.deferred = []
        var totals = retiring.ttlTotals
        remaining.reserveCapacity(remaining.count + retiring.live.count + whole.count)
        for slot in retiring.live.indices {
            guard let state = retiring.live[slot] else { continue }
            retiring.live[slot] = nil
            totals.add(state)
            remaining.append(state)
        }
        if !split.isEmpty {
            remaining.removeAll { split.contains($0.id) }
            remaining += whole
            if let recounted { totals = recounted }
        }
        remaining.sort { $0.id < $1.id }
        var digest = VantageDigest(vantage: vantage, path: analysis.path, frames: analysis.frames,
                                   tcpFrames: analysis.count(.tcp), firstTime: analysis.firstTime,
                                   lastTime: analysis.lastTime, truncation: analysis.truncation?.description,
                                   window: analysis.window, conversations: remaining,
                                   hostTTLs: totals.allHistograms,
                                   failureTrace: finishedFailureTrace(
                                       path: analysis.path, rereading: Set(whole.map { EndpointPair($0.client, $0.server) })))
        digest.role = role
        let context = DiagnosisContext(digests: [digest])
        var byConversation = retiring.findings
        retiring.findings = []
        if !split.isEmpty { byConversation.removeAll { split.contains($0.id) } }
        for group in context.groups {
            let found = context.diagnose(group)
            if !found.isEmpty { byConversation.append((remaining[group.members[0].conversation].id, found)) }
        }
        // The order a whole-capture diagnosis meets them in: by conversation. Then the failure
        // modes' pass over the file, as `Diagnoser.findings(from:)` makes it.
        let merged = byConversation.enumerated()
            .sorted { $0.element.id != $1.element.id ? $0.element.id < $1.element.id : $0.offset < $1.offset }
            .flatMap(\.element.findings)
        return DiagnosisResult(
            vantages: [DiagnosisResult.Vantage(name: vantage, path: analysis.path, frames: analysis.frames,
                                               tcpFrames: analysis.count(.tcp),
                                               conversations: analysis.analyzer.conversationCount,
                                               truncation: analysis.truncation?.description)],
            findings: Diagnoser.order(FailureDiagnosis.refine(merged, digests: [digest])), analyses: [analysis])
    }
}

/// The second reading of a file (see `ConversationRetirement`): follows the given conversations
/// whole (the analyzer never retires them), and recounts every host's TTLs — a split
/// conversation's parts may count a capture copy its whole would not.
struct SplitConversationsObserver: CaptureAnalysisObserver {
    let ids: Set<Int>
    var states: [Int: ConversationState] = [:]
    var live: ContiguousArray<ConversationState?> = []
    var totals = HostTTLTotals()

    mutating func willRetire(slot: Int, analyzer: TCPAnalyzer) {
        // Moved out of its slot, not copied (a copy retains every buffer of the state).
        guard slot < live.count, let state = live[slot].take() else { return }
        totals.add(state)
    }

    /// The TTL totals of the whole capture, once it is read.
    mutating func finish() {
        for slot in live.indices { if let state = live[slot] { totals.add(state) } }
        live = []
        for state in states.values { totals.add(state) }
    }

    mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
        let id = frame.conversationID
        guard ids.contains(id) else {
            let slot = frame.slot
            if slot >= live.count { live.append(contentsOf: repeatElement(nil, count: slot + 1 - live.count)) }
            if ConversationRetirement.heldID(live, slot) != id {
                live[slot] = ConversationState(id: id, client: analyzer.conversations[slot].client,
                                               server: analyzer.conversations[slot].server,
                                               reusedPorts: analyzer.conversations[slot].reusedPorts)
            }
            live[slot]!.observe(frame)
            return
        }
        if states[id] == nil {
            states[id] = ConversationState(id: id, client: analyzer.conversations[frame.slot].client,
                                           server: analyzer.conversations[frame.slot].server,
                                           reusedPorts: analyzer.conversations[frame.slot].reusedPorts)
        }
        states[id]!.observe(frame)
    }
}

extension ConversationState {
    /// Nothing in this conversation alone that any classifier of `DiagnosisContext.diagnose`
    /// starts from — each clause is the negation of one classifier's first condition: no RST
    /// (RST), no late SYN and both sides heard from (SYN), no capture copies (capture artifacts),
    /// and per direction no retransmission, zero or narrow window, reordering or keep-alive. Such a
    /// conversation, retired, is not diagnosed: building its one-conversation digest and context
    /// was a third of the time of diagnosing 200,000 short connections. (RetirementTests prove
    /// the findings the same on every capture in the repository and every fuzzer input.)
    var quiet: Bool {
        shared.rsts.isEmpty && shared.lateSYNs.isEmpty && clientDir.packets > 0 && serverDir.packets > 0
            && clientDir.quiet && serverDir.quiet
    }
}

extension DirectionState {
    /// See `ConversationState.quiet`.
    var quiet: Bool {
        captureCopies.count == 0 && recovery.count == 0 && recovery.events.isEmpty && window.stallCount == 0
            && window.zeroAdvertisements == 0 && window.narrow.stalls.isEmpty && !window.narrow.open && reorders.events.isEmpty && !reorders.any
            && keepAlives.benign == 0 && keepAlives.answeredByRST == 0
    }
}
