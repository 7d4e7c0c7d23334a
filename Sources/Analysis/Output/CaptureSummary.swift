/// A plain per-conversation summary of an analysed capture (Codable, for `--json`), and its text
/// rendering. The diagnosis layer builds its report on top of the same `CaptureAnalysis`.
public struct CaptureSummary: Codable, Sendable, Equatable {
    public struct Direction: Codable, Sendable, Equatable {
        public var packets: UInt64
        public var payloadBytes: UInt64
        public var syn: Bool
        public var fin: Bool
        public var rst: Bool
        /// Window-scale shift (-1 unknown, -2 no scaling).
        public var windowScale: Int
        /// Frames carrying each analysis flag, by tshark name; flags never seen are omitted.
        public var flags: [String: Int]
    }

    public struct Conversation: Codable, Sendable, Equatable {
        /// tshark's tcp.stream.
        public var id: Int
        public var client: String
        public var server: String
        public var firstFrame: UInt64
        public var lastFrame: UInt64
        public var durationSeconds: Double
        /// SYN → first ACK, milliseconds; nil when the handshake was not seen.
        public var initialRTTMilliseconds: Double?
        public var reusedPorts: Bool
        public var clientToServer: Direction
        public var serverToClient: Direction

        public init(_ conversation: TCPConversation) {
            id = conversation.id
            client = conversation.client.description
            server = conversation.server.description
            firstFrame = conversation.firstFrame
            lastFrame = conversation.lastFrame
            durationSeconds = (Double(conversation.lastTime) - Double(conversation.firstTime)) / 1e9
            initialRTTMilliseconds = conversation.knownInitialRTT.map { Double($0) / 1e6 }
            reusedPorts = conversation.reusedPorts
            clientToServer = Direction(conversation.clientFlow)
            serverToClient = Direction(conversation.serverFlow)
        }
    }

    public var file: String
    public var format: String
    public var frames: UInt64
    public var tcpFrames: UInt64
    /// Frames not analysed, by reason (`DecodeOutcome` names).
    public var skippedFrames: [String: UInt64]
    /// Why the file ends early, if it does.
    public var truncated: String?
    public var durationSeconds: Double
    /// Packets the capturing tool reported dropping (pcapng statistics); nil when it said nothing.
    public var captureDropped: UInt64?
    public var conversations: [Conversation]

    public init(_ analysis: CaptureAnalysis) {
        self.init(analysis, includingConversations: true)
    }

    /// `includingConversations: false` leaves `conversations` empty (they are written elsewhere,
    /// e.g. by a `ConversationSummarySpool`).
    public init(_ analysis: CaptureAnalysis, includingConversations: Bool) {
        file = analysis.path
        format = analysis.format.rawValue
        frames = analysis.frames
        tcpFrames = analysis.count(.tcp)
        var skipped: [String: UInt64] = [:]
        for outcome in DecodeOutcome.allCases where outcome != .tcp && analysis.count(outcome) > 0 {
            skipped["\(outcome)"] = analysis.count(outcome)
        }
        skippedFrames = skipped
        truncated = analysis.truncation?.description
        // In Double: a corrupt file's timestamps can be anywhere in Int64, and their difference overflow it.
        durationSeconds = (Double(analysis.lastTime ?? 0) - Double(analysis.firstTime ?? 0)) / 1e9
        captureDropped = analysis.captureStatistics.isEmpty ? nil : analysis.captureDropped
        let analyzer = analysis.analyzer
        if !includingConversations {
            conversations = []
        } else if analyzer.retirement == nil {
            conversations = analyzer.conversations.map(Conversation.init)
        } else {
            // Retired ones as they were when retired, then those still held; in tcp.stream order
            // (a conversation revived by a late packet appears once per life).
            let held = analyzer.heldSlots.map { Conversation(analyzer.conversations[$0]) }
            conversations = (analysis.retiredSummaries + held).enumerated()
                .sorted { $0.element.id != $1.element.id ? $0.element.id < $1.element.id : $0.offset < $1.offset }
                .map(\.element)
        }
    }

    /// Human-readable text, one block per conversation.
    public var text: String {
        headerText(conversationCount: conversations.count) + conversations.map(Self.text(of:)).joined()
    }

    /// The text before the conversations' blocks.
    public func headerText(conversationCount: Int) -> String {
        var lines: [String] = []
        var header = "\(file): \(format), \(frames) frames (\(tcpFrames) TCP), \(conversationCount) TCP conversations, \(Self.format(durationSeconds, digits: 3)) s"
        if !skippedFrames.isEmpty {
            header += "; not analysed: " + skippedFrames.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        }
        lines.append(header)
        if let truncated { lines.append("  warning: \(truncated)") }
        if let captureDropped, captureDropped > 0 {
            lines.append("  warning: the capture itself lost \(captureDropped) packets (the capturing tool's own count): "
                + "gaps and retransmissions here may be the capture's, not the network's")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One conversation's block of `text`.
    public static func text(of conversation: Conversation) -> String {
        var line = "  #\(conversation.id) \(conversation.client) -> \(conversation.server)"
        line += "  frames \(conversation.firstFrame)-\(conversation.lastFrame), \(format(conversation.durationSeconds, digits: 3)) s"
        if let rtt = conversation.initialRTTMilliseconds { line += ", initial RTT \(format(rtt, digits: 3)) ms" }
        if conversation.reusedPorts { line += ", reused ports" }
        return line + "\n      client->server " + describe(conversation.clientToServer)
            + "\n      server->client " + describe(conversation.serverToClient) + "\n"
    }

    private static func describe(_ direction: Direction) -> String {
        var parts = ["\(direction.packets) pkts", "\(direction.payloadBytes) B"]
        var control: [String] = []
        if direction.syn { control.append("SYN") }
        if direction.fin { control.append("FIN") }
        if direction.rst { control.append("RST") }
        if !control.isEmpty { parts.append(control.joined(separator: "+")) }
        let flags = AnalysisFlags.all.compactMap { entry in direction.flags[entry.name].map { "\(entry.name)=\($0)" } }
        if !flags.isEmpty { parts.append(flags.joined(separator: " ")) }
        return parts.joined(separator: ", ")
    }

    static func format(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (value * scale).rounded()
        let whole = Int64(scaled / scale)
        let fraction = Int64(abs(scaled) .truncatingRemainder(dividingBy: scale))
        var fractionText = String(fraction)
        while fractionText.count < digits { fractionText = "0" + fractionText }
        return (scaled < 0 && whole == 0 ? "-" : "") + "\(whole).\(fractionText)"
    }
}

extension CaptureSummary.Direction {
    init(_ flow: TCPFlowState) {
        packets = flow.packets
        payloadBytes = flow.payloadBytes
        syn = flow.sawSYN
        fin = flow.sawFIN
        rst = flow.sawRST
        windowScale = Int(flow.windowScale)
        var counts: [String: Int] = [:]
        for (flag, name) in AnalysisFlags.all where flow.flagCounts[flag] > 0 {
            counts[name] = flow.flagCounts[flag]
        }
        flags = counts
    }
}
