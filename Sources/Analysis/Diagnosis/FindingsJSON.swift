import Values
/// A minimal JSON writer with sorted object keys, so output is byte-for-byte deterministic
/// without Foundation. The format is documented in docs/findings-schema.md.
enum JSONValue {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])
    /// JSON text inserted as is (already valid JSON).
    case raw(String)

    func write(into out: inout String, indent: Int?, level: Int = 0) {
        switch self {
        case .null: out += "null"
        case let .bool(value): out += value ? "true" : "false"
        case let .int(value): out += String(value)
        case let .uint(value): out += String(value)
        case let .double(value): out += JSONText.number(value)
        case let .string(value): JSONText.quote(value, into: &out)
        case let .raw(text): out += text
        case let .array(values):
            if values.isEmpty { out += "[]"; return }
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                JSONText.newline(&out, indent: indent, level: level + 1)
                value.write(into: &out, indent: indent, level: level + 1)
            }
            JSONText.newline(&out, indent: indent, level: level)
            out += "]"
        case let .object(members):
            if members.isEmpty { out += "{}"; return }
            out += "{"
            for (index, member) in members.sorted(by: { $0.0 < $1.0 }).enumerated() {
                if index > 0 { out += "," }
                JSONText.newline(&out, indent: indent, level: level + 1)
                JSONText.quote(member.0, into: &out)
                out += indent == nil ? ":" : ": "
                member.1.write(into: &out, indent: indent, level: level + 1)
            }
            JSONText.newline(&out, indent: indent, level: level)
            out += "}"
        }
    }

    func text(pretty: Bool) -> String {
        var out = ""
        write(into: &out, indent: pretty ? 2 : nil)
        return out
    }
}

enum JSONText {
    static func newline(_ out: inout String, indent: Int?, level: Int) {
        guard let indent else { return }
        out += "\n"
        out += String(repeating: " ", count: indent * level)
    }

    static func quote(_ text: String, into out: inout String) {
        Values.JSONText.quote(text, into: &out)
    }

    /// A finite number with at most 6 decimals and no trailing zeros ("12.5", "0.041", "3").
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        let scaled = (value * 1_000_000).rounded()
        if abs(scaled) >= 9e18 { return String(Int64(value.rounded())) }
        let micro = Int64(scaled)
        let negative = micro < 0
        let magnitude = negative ? -micro : micro
        let whole = magnitude / 1_000_000
        var fraction = String(magnitude % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        let sign = negative && magnitude != 0 ? "-" : ""
        return fraction.isEmpty ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
    }
}

extension EvidenceValue {
    var json: JSONValue {
        switch self {
        case let .int(value): return .int(value)
        case let .double(value): return .double(value)
        case let .string(value): return .string(value)
        case let .bool(value): return .bool(value)
        case let .list(values): return .array(values.map(\.json))
        case let .object(members): return .object(members.map { ($0.key, $0.value.json) })
        case .null: return .null
        }
    }
}

extension Finding {
    /// The analyzer always says what is optional here; another detector's finding may not (null).
    var json: JSONValue {
        .object([
            ("kind", .string(kind.rawValue)),
            ("cause", .string(cause.rawValue)),
            ("flow", flow.map { .object([("client", .string($0.client)), ("server", .string($0.server))]) } ?? .null),
            ("vantage", .array(vantage.map { .string($0) })),
            ("first_frame", firstFrame.map { .uint($0) } ?? .null),
            ("decisive_frame", decisiveFrame.map { .uint($0) } ?? .null),
            ("frames", .object(frames.map { name, refs in
                (name, .object([("first", .uint(refs.first)), ("decisive", .uint(refs.decisive)),
                                ("related", .array(refs.related.map { .uint($0) }))]))
            })),
            ("evidence", .object(evidence.map { ($0.key, $0.value.json) })),
            ("confidence", confidence.map { .double($0) } ?? .null),
            ("confidence_level", confidence == nil ? .null : .string(confidenceLevel)),
            ("severity", severity.map { .int(Int64($0.rawValue)) } ?? .null),
            ("severity_name", severity.map { .string($0.name) } ?? .null),
            ("sentence", .string(sentence)),
        ])
    }
}

/// JSON rendering of findings (schema: docs/findings-schema.md).
public enum FindingsJSON {
    /// The findings alone, as a JSON array (most serious first, as `DiagnosisResult` orders them).
    public static func render(_ findings: [Finding], pretty: Bool = true) -> String {
        JSONValue.array(findings.map(\.json)).text(pretty: pretty) + "\n"
    }

    /// The whole result: schema name, the vantage captures read, and the findings.
    /// `extraMembers` adds top-level members whose values are JSON texts inserted verbatim (e.g.
    /// `"captures"`: the per-conversation summaries encoded by the caller).
    public static func render(_ result: DiagnosisResult, pretty: Bool = true, extraMembers: [String: String] = [:]) -> String {
        let vantages: [JSONValue] = result.vantages.map { vantage in
            var members: [(String, JSONValue)] = [
                ("name", .string(vantage.name)),
                ("path", .string(vantage.path)),
                ("frames", .uint(vantage.frames)),
                ("tcp_frames", .uint(vantage.tcpFrames)),
                ("conversations", .int(Int64(vantage.conversations))),
            ]
            members.append(("truncated", vantage.truncation.map { .string($0) } ?? .null))
            return .object(members)
        }
        var members: [(String, JSONValue)] = [
            ("schema", .string(DiagnosisResult.schema)),
            ("vantages", .array(vantages)),
            ("findings", .array(result.findings.map(\.json))),
        ]
        for (key, text) in extraMembers where !members.contains(where: { $0.0 == key }) {
            members.append((key, .raw(text)))
        }
        return JSONValue.object(members).text(pretty: pretty) + "\n"
    }
}
