import Analysis
import Foundation

/// One diagnosis a detector reports: what went wrong on which connection, seen from where, on
/// which frames, with what evidence and how sure.
///
/// This is the runner's view of a finding and the JSON schema an external detector
/// (`--detector cmd:PROGRAM`) prints. The built-in detector converts the Diagnosis layer's
/// findings into it; `tshark` builds it from tshark's expert flags.
///
/// JSON (one object per finding; unknown keys are ignored):
/// ```json
/// {"kind": "rst", "cause": "refused-by-host",
///  "flow": {"client": "198.18.1.2:40000", "server": "198.18.2.2:9000"},
///  "vantage": ["client"], "frames": {"first": 1, "decisive": 2},
///  "evidence": {"rst_ttl": 63, "host_ttl": 63}, "confidence": 0.95,
///  "sentence": "The server's host answered the SYN with RST: nothing listens on port 9000."}
/// ```
/// Only `kind` and `cause` are required. `flow` may also be a string
/// `"198.18.1.2:40000 -> 198.18.2.2:9000"`; `vantage` may be one string, a node name or a capture
/// file path given to the detector.
public struct Finding: Codable, Sendable, Hashable {
    public var kind: String
    public var cause: String
    public var flow: FindingFlow?
    /// Capture points (node names) the finding was seen from.
    public var vantage: [String]
    public var frames: FindingFrames?
    public var evidence: [String: FindingValue]
    /// 0 … 1.
    public var confidence: Double?
    /// One sentence a student understands.
    public var sentence: String

    public init(kind: String, cause: String, flow: FindingFlow? = nil, vantage: [String] = [], frames: FindingFrames? = nil,
                evidence: [String: FindingValue] = [:], confidence: Double? = nil, sentence: String = "") {
        self.kind = kind
        self.cause = cause
        self.flow = flow
        self.vantage = vantage
        self.frames = frames
        self.evidence = evidence
        self.confidence = confidence
        self.sentence = sentence
    }

    /// `kind/cause`, the string expectations match.
    public var diagnosis: String { "\(kind)/\(cause)" }

    /// Kinds that mean something went wrong (the rest — capture artifacts, reordering, benign
    /// keep-alives — are recognised so that they are *not* mistaken for failures).
    /// The analyzer's rule (`DiagnosisName.isFailure`): one answer for the runner and the analyzer.
    public static var failureKinds: Set<String> { Set(DiagnosisName.kinds.filter(DiagnosisName.isFailure(kind:))) }
    public var isFailure: Bool { DiagnosisName.isFailure(kind: kind) }

    enum CodingKeys: String, CodingKey { case kind, cause, flow, vantage, frames, evidence, confidence, sentence }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(String.self, forKey: .kind)
        cause = try c.decode(String.self, forKey: .cause)
        if let text = try? c.decodeIfPresent(String.self, forKey: .flow) {
            guard let parsed = FindingFlow(parsing: text) else {
                throw DecodingError.dataCorruptedError(forKey: .flow, in: c,
                    debugDescription: "\"\(text)\" is not a flow; expected \"198.18.1.2:40000 -> 198.18.2.2:9000\" or {\"client\": ..., \"server\": ...}")
            }
            flow = parsed
        } else {
            flow = try c.decodeIfPresent(FindingFlow.self, forKey: .flow)
        }
        if let one = try? c.decodeIfPresent(String.self, forKey: .vantage) {
            vantage = [one]
        } else {
            vantage = try c.decodeIfPresent([String].self, forKey: .vantage) ?? []
        }
        frames = try c.decodeIfPresent(FindingFrames.self, forKey: .frames)
        evidence = try c.decodeIfPresent([String: FindingValue].self, forKey: .evidence) ?? [:]
        confidence = try c.decodeIfPresent(Double.self, forKey: .confidence)
        sentence = try c.decodeIfPresent(String.self, forKey: .sentence) ?? ""
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(cause, forKey: .cause)
        try c.encodeIfPresent(flow, forKey: .flow)
        try c.encode(vantage, forKey: .vantage)
        try c.encodeIfPresent(frames, forKey: .frames)
        try c.encode(evidence, forKey: .evidence)
        try c.encodeIfPresent(confidence, forKey: .confidence)
        try c.encode(sentence, forKey: .sentence)
    }

    /// `rst/refused-by-host on 198.18.1.2:40000 -> 198.18.2.2:9000 at client`
    public var summary: String {
        var text = diagnosis
        if let flow { text += " on \(flow)" }
        if !vantage.isEmpty { text += " at \(vantage.joined(separator: "+"))" }
        return text
    }
}

/// A connection: who opened it (`client`) and who accepted it (`server`), as `address:port`
/// (`[v6]:port` for IPv6).
public struct FindingFlow: Codable, Sendable, Hashable, CustomStringConvertible {
    public var client: String
    public var server: String

    public init(client: String, server: String) {
        self.client = client
        self.server = server
    }

    /// Reads `"A:P -> B:Q"` (or `→`).
    public init?(parsing text: String) {
        for arrow in ["->", "→"] {
            let parts = text.components(separatedBy: arrow)
            if parts.count == 2 {
                let a = parts[0].trimmingCharacters(in: .whitespaces)
                let b = parts[1].trimmingCharacters(in: .whitespaces)
                guard !a.isEmpty, !b.isEmpty else { return nil }
                self.init(client: a, server: b)
                return
            }
        }
        return nil
    }

    public var description: String { "\(client) -> \(server)" }

    /// (address, port) of one end; port nil when not given.
    static func split(_ endpoint: String) -> (address: String, port: UInt16?) {
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

    static func endpoint(_ address: String, _ port: UInt16) -> String {
        address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

public struct FindingFrames: Codable, Sendable, Hashable {
    /// The first frame of the episode.
    public var first: UInt64?
    /// The frame that decided the diagnosis.
    public var decisive: UInt64?

    public init(first: UInt64? = nil, decisive: UInt64? = nil) {
        self.first = first
        self.decisive = decisive
    }
}

/// A JSON value of a finding's evidence.
public enum FindingValue: Codable, Sendable, Hashable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([FindingValue])
    case object([String: FindingValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int64.self) { self = .int(i); return }
        if let d = try? c.decode(Double.self) { self = .double(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([FindingValue].self) { self = .array(a); return }
        if let o = try? c.decode([String: FindingValue].self) { self = .object(o); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a JSON value")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d.isFinite ? d : 0)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return "\(i)"
        case .double(let d): return "\(d)"
        case .string(let s): return s
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        }
    }
}
