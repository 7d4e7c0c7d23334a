/// The diagnosis vocabulary of docs/failure-modes.md (shared), spelled exactly as there.
///
/// A finding's `kind` and `cause` strings come only from here, so scenario expectations and
/// `faultline explain KIND/CAUSE` can rely on them.
public enum DiagnosisName {
    public enum Kind {
        public static let zeroWindow = "zero-window"
        public static let rst = "rst"
        public static let syn = "syn"
        public static let retransmission = "retransmission"
        public static let captureArtifact = "capture-artifact"
        public static let reordering = "reordering"
        public static let keepAlive = "keep-alive"
        // Issue #18 failure modes (Failures/).
        public static let connectionLost = "connection-lost"
        public static let stall = "stall"
        public static let latency = "latency"
        public static let throughput = "throughput"
    }

    public enum Cause {
        public static let receiverSlow = "receiver-slow"
        public static let receiverStoppedReading = "receiver-stopped-reading"
        public static let refusedByHost = "refused-by-host"
        public static let injectedByMiddlebox = "injected-by-middlebox"
        public static let abortedByApplication = "aborted-by-application"
        public static let peerHasNoConnection = "peer-has-no-connection"
        public static let duplicateAnsweredWithChallengeAck = "duplicate-answered-with-challenge-ack"
        public static let unanswered = "unanswered"
        public static let packetLoss = "packet-loss"
        public static let spuriousDelayedAck = "spurious-delayed-ack"
        public static let rttExceedsRTO = "rtt-exceeds-rto"
        public static let congestionLoss = "congestion-loss"
        public static let duplicatedCapture = "duplicated-capture"
        public static let pathReordering = "path-reordering"
        public static let benign = "benign"
        // Issue #18 failure modes (Failures/).
        public static let rejectedByICMP = "rejected-by-icmp"
        public static let listenQueueOverflow = "listen-queue-overflow"
        public static let peerOrPathDown = "peer-or-path-down"
        public static let middleboxStateExpired = "middlebox-state-expired"
        public static let nagleDelayedAck = "nagle-delayed-ack"
        public static let serverThinkTime = "server-think-time"
        public static let bufferbloat = "bufferbloat"
        public static let receiveWindowLimited = "receive-window-limited"
        public static let pathMTUBlackHole = "path-mtu-black-hole"
        /// Used with any kind when the evidence does not decide; the finding then carries a
        /// `missing` evidence field saying what would.
        public static let undetermined = "undetermined"
    }

    /// Every `kind/cause` pair the diagnosis can produce (undetermined ones included).
    public static let all: [String] = AnalyzerDiagnosis.allCases.map(\.rawValue)
}

/// How serious a finding is, for ordering reports (most serious first).
public enum Severity: Int, Sendable, Hashable, Comparable, CaseIterable {
    /// Explains an analysis flag; nothing is wrong (keep-alives, capture artifacts).
    case info = 0
    /// Costs time but the transfer goes on (reordering, spurious retransmissions, challenge ACKs).
    case minor = 1
    /// Slows the transfer markedly (loss, zero-window stalls).
    case major = 2
    /// The connection fails or stops (RSTs, unanswered SYNs, a receiver that stopped reading).
    case critical = 3

    public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }

    public var name: String {
        switch self {
        case .info: return "info"
        case .minor: return "minor"
        case .major: return "major"
        case .critical: return "critical"
        }
    }

    init?(name: String) {
        guard let found = Severity.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }
}

/// A TCP flow as a finding names it: client (the SYN's sender, or the first sender seen) and
/// server, each "address:port" ("[v6]:port" for IPv6).
public struct FlowRef: Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var client: String
    public var server: String

    public init(client: String, server: String) {
        self.client = client
        self.server = server
    }

    init(_ client: TCPEndpoint, _ server: TCPEndpoint) {
        self.client = client.description
        self.server = server.description
    }

    /// Reads `"A:P -> B:Q"` (or `→`), as external detectors may write a flow.
    public init?(parsing text: String) {
        for arrow in ["->", "→"] {
            let parts = text.split(separator: Substring(arrow), omittingEmptySubsequences: false)
            if parts.count == 2 {
                let a = parts[0].trimmingSpaces, b = parts[1].trimmingSpaces
                guard !a.isEmpty, !b.isEmpty else { return nil }
                self.init(client: a, server: b)
                return
            }
        }
        return nil
    }

    public static func < (a: FlowRef, b: FlowRef) -> Bool {
        a.client != b.client ? a.client < b.client : a.server < b.server
    }

    public var description: String { "\(client) -> \(server)" }

    /// (address, port) of one end written as `address:port`, `[v6]:port` or a bare address; port
    /// nil when not given.
    public static func split(_ endpoint: String) -> (address: String, port: UInt16?) {
        if endpoint.hasPrefix("["), let close = endpoint.firstIndex(of: "]") {
            let address = String(endpoint[endpoint.index(after: endpoint.startIndex)..<close])
            let rest = endpoint[endpoint.index(after: close)...]
            return (address, rest.hasPrefix(":") ? UInt16(rest.dropFirst()) : nil)
        }
        let colons = endpoint.filter { $0 == ":" }.count
        if colons == 1, let colon = endpoint.lastIndex(of: ":") {
            return (String(endpoint[..<colon]), UInt16(endpoint[endpoint.index(after: colon)...]))
        }
        return (endpoint, nil)
    }

    public var clientAddress: String { Self.split(client).address }
    public var clientPort: UInt16? { Self.split(client).port }
    public var serverAddress: String { Self.split(server).address }
    public var serverPort: UInt16? { Self.split(server).port }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (Analysis has no Foundation).
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

/// Frame numbers of one finding in one vantage's capture, numbered as tshark numbers them
/// (from 1, over every record of the file).
public struct FrameRefs: Codable, Sendable, Hashable {
    public var first: UInt64
    public var decisive: UInt64
    /// Other frames the finding points at (the packets `--annotate` comments), at most 64.
    public var related: [UInt64]

    public init(first: UInt64, decisive: UInt64, related: [UInt64] = []) {
        self.first = first
        self.decisive = decisive
        self.related = related
    }

    private enum CodingKeys: String, CodingKey { case first, decisive, related }

    /// `related` may be left out (another detector's frames).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        first = try c.decode(UInt64.self, forKey: .first)
        decisive = try c.decode(UInt64.self, forKey: .decisive)
        related = try c.decodeIfPresent([UInt64].self, forKey: .related) ?? []
    }
}

/// An evidence value: a number, a string, a flag, a list or an object of them, or null (the last
/// two only in other detectors' findings: the analyzer writes neither).
public enum EvidenceValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case int(Int64)
    case double(Double)
    case string(String)
    case bool(Bool)
    case list([EvidenceValue])
    case object([String: EvidenceValue])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let values = try? container.decode([EvidenceValue].self) {
            self = .list(values)
        } else if let members = try? container.decode([String: EvidenceValue].self) {
            self = .object(members)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .int(value): try container.encode(value)
        // JSON has no infinity or NaN.
        case let .double(value): try container.encode(value.isFinite ? value : 0)
        case let .string(value): try container.encode(value)
        case let .bool(value): try container.encode(value)
        case let .list(values): try container.encode(values)
        case let .object(members): try container.encode(members)
        case .null: try container.encodeNil()
        }
    }

    public var description: String {
        switch self {
        case let .int(value): return String(value)
        case let .double(value): return JSONText.number(value)
        case let .string(value): return value
        case let .bool(value): return value ? "yes" : "no"
        case let .list(values):
            let separator = values.allSatisfy({ $0.stringValue != nil }) ? "; " : ", "
            return "[" + values.map(\.description).joined(separator: separator) + "]"
        case let .object(members):
            return "{" + members.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case .null: return "null"
        }
    }

    public var intValue: Int64? {
        switch self {
        case let .int(value): return value
        case let .double(value): return Int64(exactly: value.rounded())
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case let .int(value): return Double(value)
        case let .double(value): return value
        default: return nil
        }
    }

    public var stringValue: String? {
        if case let .string(value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case let .bool(value) = self { return value }
        return nil
    }
}

extension EvidenceValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
}

/// One diagnosis: what went wrong on a flow, why, where it shows, and how sure it is.
///
/// The one finding type of every layer: the analyzer's classifiers make them, an external
/// detector's JSON is read into them (FindingDecoding.swift), and the runner, the reports and
/// FaultlineTesting hand them on. What another detector may leave unsaid — the flow, the frames,
/// the confidence, the severity — is optional; the analyzer always says it.
public struct Finding: Sendable, Hashable {
    /// `zero-window`, `rst`, `syn`, `retransmission`, ... (`DiagnosisKind`), or another
    /// detector's own word, kept as written.
    public var kind: DiagnosisKind
    /// The cause, exactly as failure-modes.md names it, `undetermined`, or another detector's own word.
    public var cause: DiagnosisCause
    /// The connection; nil only for another detector's finding that names none.
    public var flow: FlowRef?
    /// The vantage points whose captures support the finding, the primary one first.
    public var vantage: [String]
    /// First frame of the symptom and the frame that decides the cause, in `vantage[0]`'s capture
    /// (nil: not said).
    public var firstFrame: UInt64?
    public var decisiveFrame: UInt64?
    /// The same per vantage (every vantage in `vantage`, for the analyzer's findings).
    public var frames: [String: FrameRefs]
    /// Measured values: TTLs, windows, delays (milliseconds, `_ms`), counts; `missing` lists
    /// what evidence an undetermined finding lacks.
    public var evidence: [String: EvidenceValue]
    /// 0...1 (nil: not said), and the same as a word (`high` ≥ 0.8, `medium` ≥ 0.5, `low`;
    /// `unknown` without a confidence).
    public var confidence: Double?
    public var confidenceLevel: String
    /// nil: not said (another detector's finding).
    public var severity: Severity?
    /// One sentence a student understands.
    public var sentence: String

    /// The analyzer's finding: its classifiers name kinds and causes by `DiagnosisName`'s strings.
    /// The primary vantage's frames become `firstFrame`/`decisiveFrame`; the confidence is
    /// clamped to 0...1 and rounded to two decimals, and a sentence at 0.5 or below says it is
    /// uncertain.
    public init(kind: String, cause: String, flow: FlowRef, vantage: [String], frames: [String: FrameRefs],
                evidence: [String: EvidenceValue], confidence: Double, severity: Severity, sentence: String) {
        self.kind = DiagnosisKind(rawValue: kind)
        self.cause = DiagnosisCause(rawValue: cause)
        self.flow = flow
        self.vantage = vantage
        let primary = vantage.first.flatMap { frames[$0] }
        firstFrame = primary?.first ?? 0
        decisiveFrame = primary?.decisive ?? 0
        self.frames = frames
        self.evidence = evidence
        let clamped = min(1, max(0, confidence))
        let rounded = (clamped * 100).rounded() / 100
        self.confidence = rounded
        confidenceLevel = Finding.level(clamped)
        self.severity = severity
        self.sentence = Finding.flaggingUncertainty(sentence, confidence: rounded)
    }

    /// A finding as another detector states it: kept as given, nothing derived but the
    /// confidence's word.
    public init(kind: DiagnosisKind, cause: DiagnosisCause, flow: FlowRef? = nil, vantage: [String] = [],
                firstFrame: UInt64? = nil, decisiveFrame: UInt64? = nil, frames: [String: FrameRefs] = [:],
                evidence: [String: EvidenceValue] = [:], confidence: Double? = nil, severity: Severity? = nil,
                sentence: String = "") {
        self.kind = kind
        self.cause = cause
        self.flow = flow
        self.vantage = vantage
        self.firstFrame = firstFrame
        self.decisiveFrame = decisiveFrame
        self.frames = frames
        self.evidence = evidence
        self.confidence = confidence
        confidenceLevel = confidence.map(Finding.level) ?? "unknown"
        self.severity = severity
        self.sentence = sentence
    }

    /// Words by which a sentence already says that its evidence does not decide.
    static let uncertaintyMarkers = ["Uncertain", "uncertain", "Ambiguous", "ambiguous", "cannot tell", "cannot be told",
                                     "does not decide", "matches none", "not in the capture", "could be seen"]

    /// A finding at confidence 0.5 or below is a reading the evidence does not decide
    /// (docs/confidence.md): its text must say so, whichever classifier wrote it.
    static func flaggingUncertainty(_ sentence: String, confidence: Double) -> String {
        guard confidence <= 0.5, !uncertaintyMarkers.contains(where: { sentence.contains($0) }) else { return sentence }
        return "Uncertain (confidence \(JSONText.number(confidence))): " + sentence
    }

    /// `kind/cause`, e.g. `rst/injected-by-middlebox`: what scenario expectations match.
    public var name: String { "\(kind)/\(cause)" }

    /// `rst/refused-by-host on 198.18.1.2:40000 -> 198.18.2.2:9000 at client+server`
    public var summary: String {
        var text = name
        if let flow { text += " on \(flow)" }
        if !vantage.isEmpty { text += " at \(vantage.joined(separator: "+"))" }
        return text
    }

    /// `critical`, `major`, `minor`, `info`, or `unknown` when not said.
    public var severityName: String { severity?.name ?? "unknown" }

    public static func level(_ confidence: Double) -> String {
        confidence >= 0.8 ? "high" : confidence >= 0.5 ? "medium" : "low"
    }

    /// Whether this finding reports a failure: one answer for every layer (`DiagnosisName.isFailure`).
    public var isFailure: Bool { DiagnosisName.isFailure(kind: kind.rawValue) }
}
