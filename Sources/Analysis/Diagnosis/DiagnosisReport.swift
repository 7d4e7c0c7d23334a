/// The readable report: findings grouped by flow, the flow with the most serious finding first,
/// each finding with its sentence, frames per vantage, evidence and confidence.
public enum DiagnosisReport {
    public static func text(_ result: DiagnosisResult) -> String {
        var lines: [String] = []
        for vantage in result.vantages {
            var line = "\(vantage.name): \(vantage.path) — \(vantage.frames) frames (\(vantage.tcpFrames) TCP), "
                + "\(vantage.conversations) TCP conversation\(vantage.conversations == 1 ? "" : "s")"
            if let cut = vantage.truncation { line += "; warning: \(cut)" }
            lines.append(line)
        }
        lines.append("")
        lines.append(text(result.findings))
        return lines.joined(separator: "\n")
    }

    /// Findings alone, grouped by flow (`findings` in the order `Diagnoser.order` gives).
    public static func text(_ findings: [Finding]) -> String {
        let failures = findings.filter(\.isFailure).count
        var lines: [String] = []
        if findings.isEmpty {
            lines.append("No findings: nothing in the capture points to a failure.")
            return lines.joined(separator: "\n") + "\n"
        }
        lines.append("\(findings.count) finding\(findings.count == 1 ? "" : "s") (\(failures) failure\(failures == 1 ? "" : "s")), "
                     + "most serious first.")
        var flowOrder: [FlowRef?] = []
        var byFlow: [FlowRef?: [Finding]] = [:]
        for finding in findings {
            if byFlow[finding.flow] == nil { flowOrder.append(finding.flow) }
            byFlow[finding.flow, default: []].append(finding)
        }
        for flow in flowOrder {
            guard let list = byFlow[flow] else { continue }
            lines.append("")
            lines.append(flow.map { "Flow \($0.client) → \($0.server)" } ?? "No flow named")
            for finding in list {
                lines.append("  [\(finding.severityName)] \(finding.name) — confidence \(finding.confidenceLevel)"
                             + (finding.confidence.map { " (\(JSONText.number($0)))" } ?? ""))
                lines += wrap(finding.sentence, indent: "    ", width: 100)
                var where_: [String] = []
                for vantage in finding.vantage {
                    guard let refs = finding.frames[vantage] else { continue }
                    if refs.first == 0 && refs.decisive == 0 {
                        where_.append("\(vantage): not seen")
                    } else if refs.first == refs.decisive {
                        where_.append("\(vantage): frame \(refs.decisive)")
                    } else {
                        where_.append("\(vantage): frames \(refs.first) (first) … \(refs.decisive) (decisive)")
                    }
                }
                lines.append("    where: " + where_.joined(separator: "; "))
                let evidence = finding.evidence.filter { $0.key != "missing" && $0.key != "caveat" }
                    .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                if !evidence.isEmpty { lines += wrap("evidence: " + evidence.joined(separator: ", "), indent: "    ", width: 100) }
                if let missing = finding.evidence["missing"] {
                    lines += wrap("missing: " + listText(missing), indent: "    ", width: 100)
                }
                if let caveat = finding.evidence["caveat"] {
                    lines += wrap("caveat: " + listText(caveat), indent: "    ", width: 100)
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func listText(_ value: EvidenceValue) -> String {
        if case let .list(items) = value { return items.map(\.description).joined(separator: "; ") }
        return value.description
    }

    static func wrap(_ text: String, indent: String, width: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            if current.isEmpty {
                current = indent + word
            } else if current.count + 1 + word.count > width {
                lines.append(current)
                current = indent + "  " + word
            } else {
                current += " " + word
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}
