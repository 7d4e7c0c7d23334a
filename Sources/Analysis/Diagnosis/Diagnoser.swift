import Values

/// One capture file, the name of the vantage point it was taken at ("client", "server-eth0", or
/// the file's base name), and where that is, when whoever took it says so.
public struct VantageCapture: Sendable, Equatable {
    public var name: String
    public var path: String
    /// Where it was taken (`.other`: not stated, and then the packets alone decide). Never
    /// guessed from `name` or the file's name.
    public var role: VantageRole

    public init(name: String, path: String, role: VantageRole = .other) {
        self.name = name
        self.path = path
        self.role = role
    }

    /// A command-line argument: `[ROLE:][NAME=]PATH` — a path (`c.pcapng`), a named one
    /// (`edge=/tmp/c.pcapng`), either with where it was taken in front (`client:c.pcapng`,
    /// `server:edge=s.pcapng`; roles: client, server, router). `./client:x.pcap` is the file
    /// of that name.
    public init(argument: String) {
        var rest = Substring(argument)
        var role = VantageRole.other
        if let colon = rest.firstIndex(of: ":"),
           let stated = VantageRole.stated.first(where: { $0.rawValue == rest[..<colon] }) {
            role = stated
            rest = rest[rest.index(after: colon)...]
        }
        if let equals = rest.firstIndex(of: "="), !rest[..<equals].contains("/"), equals != rest.startIndex {
            self.init(name: String(rest[..<equals]), path: String(rest[rest.index(after: equals)...]), role: role)
        } else {
            self.init(path: String(rest), role: role)
        }
    }

    /// Names the vantage after the file: `/tmp/run1/client.pcapng` → `client` (a name only: the
    /// role stays what is given); standard input (`-`) is `stdin`.
    public init(path: String, role: VantageRole = .other) {
        self.path = path
        self.role = role
        var base = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        for suffix in [".pcapng", ".pcap", ".trace", ".cap"] where base.hasSuffix(suffix) && base.count > suffix.count {
            base.removeLast(suffix.count)
            break
        }
        name = path == "-" ? "stdin" : base.isEmpty ? path : base
    }
}

extension DiagnosisObserver {
    /// What this vantage saw, with where it was taken (see `VantageDigest.role`).
    public func digest(of analysis: CaptureAnalysis, role: VantageRole) -> VantageDigest {
        var digest = digest(of: analysis)
        digest.role = role
        return digest
    }
}

/// What a diagnosis run produced.
public struct DiagnosisResult: Sendable {
    public static let schema = "faultline.findings/1"

    public struct Vantage: Sendable, Equatable {
        public var name: String
        public var path: String
        public var frames: UInt64
        public var tcpFrames: UInt64
        public var conversations: Int
        public var truncation: String?
    }

    public var vantages: [Vantage]
    /// Most serious first (see `Diagnoser.order`).
    public var findings: [Finding]
    /// The tshark-compatible analysis of each capture, in the order given.
    public var analyses: [CaptureAnalysis]

    /// Comments for `--annotate`: frame number → lines, for the capture of `vantage`.
    public func annotations(for vantage: String) -> [UInt64: [String]] {
        Diagnoser.annotations(findings, vantage: vantage)
    }
}

extension Diagnoser {
    /// Comments for `--annotate`: frame number → lines, for the capture of `vantage`.
    public static func annotations(_ findings: [Finding], vantage: String) -> [UInt64: [String]] {
        var comments: [UInt64: [String]] = [:]
        for finding in findings {
            guard let refs = finding.frames[vantage] else { continue }
            let label = "faultline: \(finding.name) (\(finding.confidenceLevel))"
            comments[refs.first, default: []].append("\(label): first frame of the symptom. \(finding.sentence)")
            if refs.decisive != refs.first {
                comments[refs.decisive, default: []].append("\(label): decisive frame. \(finding.sentence)")
            }
            for frame in refs.related where frame != refs.first && frame != refs.decisive {
                comments[frame, default: []].append("\(label): related frame")
            }
        }
        return comments
    }
}

/// Turns captures of one or more vantage points into findings.
///
/// ```swift
/// let result = try Diagnoser.diagnose([VantageCapture(name: "client", path: "c.pcapng"),
///                                      VantageCapture(name: "server", path: "s.pcapng")])
/// print(DiagnosisReport.text(result))
/// ```
///
/// Each capture is read once with the tshark-compatible analyzer and a `DiagnosisObserver`
/// (O(1) work per packet). Flows are matched across captures by their 4-tuple (and ISN when the
/// handshake was seen). When a flow seen by several vantage points has retransmissions, the
/// downstream captures are read a second time, looking only for those segments, to learn
/// whether the originals arrived.
public enum Diagnoser {
    /// Reads every capture and diagnoses them together.
    public static func diagnose(_ captures: [VantageCapture]) throws(CaptureError) -> DiagnosisResult {
        var digests: [VantageDigest] = []
        var analyses: [CaptureAnalysis] = []
        for capture in captures {
            var observer = DiagnosisObserver(vantage: capture.name)
            let analysis = try CaptureAnalysis.run(path: capture.path, observer: &observer)
            digests.append(observer.digest(of: analysis, role: capture.role))
            analyses.append(analysis)
        }
        try crossVantagePass(&digests)
        return result(from: digests, analyses: analyses)
    }

    /// The result for digests made by the caller's own `DiagnosisObserver` passes (one per
    /// capture, e.g. inside a per-file loop that handles errors itself). Run
    /// `crossVantagePass(&digests)` first to compare segments across vantage points.
    public static func result(from digests: [VantageDigest], analyses: [CaptureAnalysis]) -> DiagnosisResult {
        DiagnosisResult(
            vantages: digests.map {
                DiagnosisResult.Vantage(name: $0.vantage, path: $0.path, frames: $0.frames, tcpFrames: $0.tcpFrames,
                                        conversations: $0.conversationCount, truncation: $0.truncation)
            },
            findings: findings(from: digests), analyses: analyses)
    }

    /// Findings from digests already made (e.g. by a `DiagnosisObserver` the caller ran). No file
    /// is read again: segment arrival across vantage points is then judged without the second
    /// pass (call `crossVantagePass` first to have it).
    public static func findings(from digests: [VantageDigest]) -> [Finding] {
        let context = DiagnosisContext(digests: digests)
        var findings: [Finding] = []
        for group in context.groups {
            findings += context.diagnose(group)
        }
        // Issue #18: the failure modes of Failures/ (one more pass over the files), the one hook.
        findings = FailureDiagnosis.refine(findings, digests: digests)
        return order(findings)
    }

    /// The readable report (findings grouped by flow, most serious first).
    public static func renderReport(_ findings: [Finding]) -> String { DiagnosisReport.text(findings) }

    /// The findings as a JSON array (schema: docs/findings-schema.md).
    public static func renderJSON(_ findings: [Finding], pretty: Bool = true) -> String {
        FindingsJSON.render(findings, pretty: pretty)
    }

    /// Most serious first; then by flow, then by the first frame (what a finding does not say —
    /// another detector's — after what it does).
    public static func order(_ findings: [Finding]) -> [Finding] {
        findings.sorted { a, b in
            if a.severity != b.severity { return (a.severity?.rawValue ?? -1) > (b.severity?.rawValue ?? -1) }
            if a.flow != b.flow {
                guard let first = a.flow, let second = b.flow else { return b.flow == nil }
                return first < second
            }
            if a.vantage.first != b.vantage.first { return (a.vantage.first ?? "") < (b.vantage.first ?? "") }
            if a.firstFrame != b.firstFrame { return (a.firstFrame ?? 0) < (b.firstFrame ?? 0) }
            return a.name < b.name
        }
    }

    /// For flows seen by several vantage points: reads the downstream captures again, looking only
    /// for the retransmitted segments, and records which copies arrived there.
    public static func crossVantagePass(_ digests: inout [VantageDigest]) throws(CaptureError) {
        guard digests.count > 1 else { return }
        let context = DiagnosisContext(digests: digests)
        var questionsByVantage: [Int: [SegmentQuestion]] = [:]
        for group in context.groups where group.members.count > 1 {
            for fromClient in [true, false] {
                guard let primary = context.retransmissionPrimary(group, fromClient: fromClient) else { continue }
                let primaryConversation = context.conversation(primary)
                let senderEndpoint = fromClient ? group.client : group.server
                let receiverEndpoint = fromClient ? group.server : group.client
                let events = context.direction(primary, fromClient: fromClient).retransmissions
                guard !events.isEmpty else { continue }
                for member in group.members where member.vantage != primary.vantage {
                    guard context.isDownstream(member, of: primary, fromClient: fromClient) else { continue }
                    for (index, event) in events.enumerated() where event.length > 0 {
                        questionsByVantage[member.vantage, default: []].append(SegmentQuestion(
                            source: senderEndpoint, destination: receiverEndpoint, seq: event.seq, length: event.length,
                            originalIPID: event.originalIPID, retransmissionIPID: event.ipID,
                            timeFrom: primaryConversation.shared.firstTime - .seconds(5),
                            timeTo: primaryConversation.shared.lastTime + .seconds(5),
                            answerVantage: primary.vantage, conversation: primary.conversation,
                            senderIsConversationClient: primary.flipped ? !fromClient : fromClient, eventIndex: index,
                            askedVantage: member.vantage))
                    }
                }
            }
        }
        for (vantage, questions) in questionsByVantage {
            let answers = try SegmentScanner.scan(path: digests[vantage].path, questions: questions)
            for (question, sighting) in zip(questions, answers) {
                var named = sighting
                named.vantage = digests[vantage].vantage
                if question.senderIsConversationClient {
                    digests[question.answerVantage].conversations[question.conversation]
                        .clientDir.recovery.events[question.eventIndex].crossVantage = named
                } else {
                    digests[question.answerVantage].conversations[question.conversation]
                        .serverDir.recovery.events[question.eventIndex].crossVantage = named
                }
            }
        }
    }
}

/// A conversation as one vantage saw it, inside a flow group.
struct GroupMember: Sendable {
    var vantage: Int
    var conversation: Int
    /// The member's client is the group's server (the vantage missed the SYN).
    var flipped: Bool
}

/// The same flow seen from one or more vantage points.
struct FlowGroup: Sendable {
    var client: TCPEndpoint
    var server: TCPEndpoint
    var clientISN: UInt32?
    var firstTime: CaptureTime
    var lastTime: CaptureTime
    var members: [GroupMember]

    var flow: FlowRef { FlowRef(client, server) }
}

/// All digests, their flows matched across vantage points, and the classifiers.
struct DiagnosisContext {
    let digests: [VantageDigest]
    let groups: [FlowGroup]

    init(digests: [VantageDigest]) {
        self.digests = digests
        groups = Self.match(digests)
    }

    static let matchTolerance = TimeSpan.seconds(5)

    /// Groups conversations of all vantages: same endpoints, compatible ISN, overlapping time.
    static func match(_ digests: [VantageDigest]) -> [FlowGroup] {
        var groups: [FlowGroup] = []
        var byEndpoints: [EndpointPair: [Int]] = [:]
        for (vantageIndex, digest) in digests.enumerated() {
            for (index, conversation) in digest.conversations.enumerated() {
                let pair = EndpointPair(conversation.client, conversation.server)
                let clientISN = conversation.clientDir.handshake.firstISN
                var placed = false
                for groupIndex in byEndpoints[pair] ?? [] {
                    var group = groups[groupIndex]
                    if group.members.contains(where: { $0.vantage == vantageIndex }) { continue }
                    let flipped = conversation.client != group.client
                    let isn = flipped ? conversation.serverDir.handshake.firstISN : clientISN
                    if let a = group.clientISN, let b = isn, a != b { continue }
                    let first = conversation.shared.firstTime, last = conversation.shared.lastTime
                    if first > group.lastTime + matchTolerance || last < group.firstTime - matchTolerance { continue }
                    group.members.append(GroupMember(vantage: vantageIndex, conversation: index, flipped: flipped))
                    group.firstTime = min(group.firstTime, first)
                    group.lastTime = max(group.lastTime, last)
                    if group.clientISN == nil { group.clientISN = isn }
                    groups[groupIndex] = group
                    placed = true
                    break
                }
                if !placed {
                    byEndpoints[pair, default: []].append(groups.count)
                    groups.append(FlowGroup(client: conversation.client, server: conversation.server, clientISN: clientISN,
                                            firstTime: conversation.shared.firstTime, lastTime: conversation.shared.lastTime,
                                            members: [GroupMember(vantage: vantageIndex, conversation: index, flipped: false)]))
                }
            }
        }
        return groups
    }

    // Inlined: the callers read a field or two; a call returning the whole state copied it, a
    // retain and a release of each of its buffers (14 % of diagnosing 200,000 short connections).
    @inline(__always)
    func conversation(_ member: GroupMember) -> ConversationState {
        digests[member.vantage].conversations[member.conversation]
    }

    /// The member's direction sent by the group's client (true) or server (false).
    @inline(__always)
    func direction(_ member: GroupMember, fromClient: Bool) -> DirectionState {
        conversation(member).direction(fromClient: member.flipped ? !fromClient : fromClient)
    }

    /// Position relative to the group's client and server.
    func position(_ member: GroupMember) -> VantagePosition {
        let position = conversation(member).position
        guard member.flipped else { return position }
        switch position {
        case .nearClient: return .nearServer
        case .nearServer: return .nearClient
        case .unknown: return .unknown
        }
    }

    /// Whether `member` sits nearer the sender (true), the receiver (false) of the direction, or
    /// nil when the capture does not tell.
    func nearSender(_ member: GroupMember, fromClient: Bool) -> Bool? {
        switch position(member) {
        case .nearClient: return fromClient
        case .nearServer: return !fromClient
        case .unknown: return nil
        }
    }

    func vantageName(_ member: GroupMember) -> String { digests[member.vantage].vantage }

    /// The member whose capture is nearest the sender of a direction and holds retransmissions.
    func retransmissionPrimary(_ group: FlowGroup, fromClient: Bool) -> GroupMember? {
        let candidates = group.members.filter { !direction($0, fromClient: fromClient).retransmissions.isEmpty }
        guard !candidates.isEmpty else { return nil }
        if let near = candidates.first(where: { nearSender($0, fromClient: fromClient) == true }) { return near }
        if candidates.count > 1 {
            // Higher TTL of the sender's packets: fewer hops from the sender.
            return candidates.max { a, b in
                (direction(a, fromClient: fromClient).ttl.mode ?? 0) < (direction(b, fromClient: fromClient).ttl.mode ?? 0)
            }
        }
        return candidates.first
    }

    /// `member` sees the direction's packets after `reference` does (it is nearer the receiver).
    func isDownstream(_ member: GroupMember, of reference: GroupMember, fromClient: Bool) -> Bool {
        let mine = direction(member, fromClient: fromClient).ttl.mode ?? 0
        let theirs = direction(reference, fromClient: fromClient).ttl.mode ?? 0
        if mine > 0 && theirs > 0 && mine != theirs { return mine < theirs }
        if let near = nearSender(member, fromClient: fromClient), let other = nearSender(reference, fromClient: fromClient),
           near != other {
            return !near
        }
        return false
    }

    /// Frames of a conversation's first and last packet at a member's vantage.
    func conversationFrames(_ member: GroupMember) -> FrameRefs {
        let conversation = conversation(member)
        return FrameRefs(first: conversation.shared.firstFrame, decisive: conversation.shared.lastFrame)
    }

    func diagnose(_ group: FlowGroup) -> [Finding] {
        var findings: [Finding] = []
        findings += captureArtifacts(group)
        let rst = rstFindings(group)
        findings += rst
        findings += synFindings(group, hasRSTFinding: !rst.isEmpty)
        var absorbed: [Bool: Int] = [:]
        var retransmissions: [Finding] = []
        var reorderingFromRetransmissions: [Bool: [ReorderEvent]] = [:]
        // A forged RST the connection survived ended nothing: retransmissions after it still count.
        let ending = rst.filter { $0.evidence["connection_survived"] != .bool(true) }
        let resetTime = ending.isEmpty ? nil
            : group.members.compactMap { conversation($0).shared.rsts.first?.time }.min()
        for fromClient in [true, false] {
            let outcome = retransmissionFindings(group, fromClient: fromClient, resetTime: resetTime)
            retransmissions += outcome.findings
            absorbed[fromClient] = outcome.absorbedByZeroWindow
            reorderingFromRetransmissions[fromClient] = outcome.reorderings
        }
        findings += retransmissions
        for advertiserIsClient in [true, false] {
            // The client's window stalls the server's data: those retransmissions are the server's.
            findings += zeroWindowFindings(group, advertiserIsClient: advertiserIsClient,
                                           spuriousInStall: absorbed[!advertiserIsClient] ?? 0)
            findings += narrowWindowFindings(group, advertiserIsClient: advertiserIsClient)
        }
        findings += reorderingFindings(group, extra: reorderingFromRetransmissions)
        findings += keepAliveFindings(group)
        return findings
    }
}

/// An unordered pair of endpoints (the key for matching flows across captures).
struct EndpointPair: Hashable {
    var low: TCPEndpoint
    var high: TCPEndpoint

    init(_ a: TCPEndpoint, _ b: TCPEndpoint) {
        if a < b { low = a; high = b } else { low = b; high = a }
    }
}
