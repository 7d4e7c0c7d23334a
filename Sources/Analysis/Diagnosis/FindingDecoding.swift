/// Findings as JSON between detectors and the runner: what an external detector prints
/// (`--detector cmd:PROGRAM`), and what run reports (`findings.json`, `result.json`,
/// `faultline run --json`) write and read back. `FindingsJSON` is the analyzer's own, fuller
/// document (`faultline analyze --json`); this reader takes that too, so the analyzer is one more
/// external detector.
///
/// Read leniently — only `kind` and `cause` are required, unknown keys are ignored:
/// ```json
/// {"kind": "rst", "cause": "refused-by-host",
///  "flow": {"client": "198.18.1.2:40000", "server": "198.18.2.2:9000"},
///  "vantage": ["client"], "frames": {"first": 1, "decisive": 2},
///  "evidence": {"rst_ttl": 63, "host_ttl": 63}, "confidence": 0.95,
///  "sentence": "The server's host answered the SYN with RST: nothing listens on port 9000."}
/// ```
/// - `kind`, `cause`: any word; one the analyzer does not know is kept as written.
/// - `flow`: that object, or `"198.18.1.2:40000 -> 198.18.2.2:9000"`.
/// - `vantage`: a list, or one string.
/// - `frames`: `{"first", "decisive"}` in the first vantage's capture, or per vantage as the
///   analyzer writes them (with `first_frame`, `decisive_frame`).
/// - `severity`: a number (0…3) or a name at the top level (or `severity_name`), or a name in
///   `evidence`, where run reports write it.
/// - `evidence`: any JSON values.
///
/// Written: `kind`, `cause`, `flow` (when known), `vantage`, `frames` `{first, decisive}` (when
/// known), `evidence` with the severity's name as `severity`, `confidence` (when known),
/// `sentence` — the run reports' form since the first of them.
extension Finding: Codable {
    private enum Key: String, CodingKey {
        case kind, cause, flow, vantage, frames, evidence, confidence, severity, sentence
        case firstFrame = "first_frame", decisiveFrame = "decisive_frame", severityName = "severity_name"
    }

    private enum PrimaryFrameKey: String, CodingKey { case first, decisive }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let kind = DiagnosisKind(rawValue: try c.decode(String.self, forKey: .kind))
        let cause = DiagnosisCause(rawValue: try c.decode(String.self, forKey: .cause))
        var flow: FlowRef?
        if let text = try? c.decodeIfPresent(String.self, forKey: .flow) {
            guard let parsed = FlowRef(parsing: text) else {
                throw DecodingError.dataCorruptedError(forKey: .flow, in: c,
                    debugDescription: "\"\(text)\" is not a flow; expected \"198.18.1.2:40000 -> 198.18.2.2:9000\" or {\"client\": ..., \"server\": ...}")
            }
            flow = parsed
        } else {
            flow = try c.decodeIfPresent(FlowRef.self, forKey: .flow)
        }
        let vantage: [String]
        if let one = try? c.decodeIfPresent(String.self, forKey: .vantage) {
            vantage = [one]
        } else {
            vantage = try c.decodeIfPresent([String].self, forKey: .vantage) ?? []
        }
        var first: UInt64?, decisive: UInt64?
        var frames: [String: FrameRefs] = [:]
        if c.contains(.frames), try !c.decodeNil(forKey: .frames) {
            let keys = try c.nestedContainer(keyedBy: AnyKey.self, forKey: .frames).allKeys
            if keys.allSatisfy({ PrimaryFrameKey(rawValue: $0.stringValue) != nil }) {
                let primary = try c.nestedContainer(keyedBy: PrimaryFrameKey.self, forKey: .frames)
                first = try primary.decodeIfPresent(UInt64.self, forKey: .first)
                decisive = try primary.decodeIfPresent(UInt64.self, forKey: .decisive)
            } else {
                frames = try c.decode([String: FrameRefs].self, forKey: .frames)
                let primary = vantage.first.flatMap { frames[$0] }
                first = primary?.first
                decisive = primary?.decisive
            }
        }
        first = try c.decodeIfPresent(UInt64.self, forKey: .firstFrame) ?? first
        decisive = try c.decodeIfPresent(UInt64.self, forKey: .decisiveFrame) ?? decisive
        var evidence = try c.decodeIfPresent([String: EvidenceValue].self, forKey: .evidence) ?? [:]
        var severity: Severity?
        if let rank = try? c.decodeIfPresent(Int.self, forKey: .severity) {
            severity = Severity(rawValue: rank)
        } else if let name = try? c.decodeIfPresent(String.self, forKey: .severity) {
            severity = Severity(name: name)
        }
        if severity == nil, let name = try? c.decodeIfPresent(String.self, forKey: .severityName) {
            severity = Severity(name: name)
        }
        if severity == nil, let name = evidence["severity"]?.stringValue, let stated = Severity(name: name) {
            // Where run reports keep it: read back into its place, written there again.
            severity = stated
            evidence["severity"] = nil
        }
        self.init(kind: kind, cause: cause, flow: flow, vantage: vantage, firstFrame: first, decisiveFrame: decisive,
                  frames: frames, evidence: evidence, confidence: try c.decodeIfPresent(Double.self, forKey: .confidence),
                  severity: severity, sentence: try c.decodeIfPresent(String.self, forKey: .sentence) ?? "")
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(kind.rawValue, forKey: .kind)
        try c.encode(cause.rawValue, forKey: .cause)
        try c.encodeIfPresent(flow, forKey: .flow)
        try c.encode(vantage, forKey: .vantage)
        if firstFrame != nil || decisiveFrame != nil {
            var primary = c.nestedContainer(keyedBy: PrimaryFrameKey.self, forKey: .frames)
            try primary.encodeIfPresent(firstFrame, forKey: .first)
            try primary.encodeIfPresent(decisiveFrame, forKey: .decisive)
        }
        var written = evidence
        if let severity, written["severity"] == nil { written["severity"] = .string(severity.name) }
        try c.encode(written, forKey: .evidence)
        try c.encodeIfPresent(confidence, forKey: .confidence)
        try c.encode(sentence, forKey: .sentence)
    }
}

/// What an external detector prints: a JSON array of findings, or an object whose `findings`
/// is one (as `faultline analyze --json` prints them).
public struct DetectorOutput: Decodable, Sendable {
    public var findings: [Finding]

    private enum Key: String, CodingKey { case findings }

    public init(from decoder: any Decoder) throws {
        if var list = try? decoder.unkeyedContainer() {
            var findings: [Finding] = []
            while !list.isAtEnd { findings.append(try list.decode(Finding.self)) }
            self.findings = findings
        } else {
            findings = try decoder.container(keyedBy: Key.self).decode([Finding].self, forKey: .findings)
        }
    }
}
