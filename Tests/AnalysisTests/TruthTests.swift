@testable import Analysis
import Testing

/// Checks the diagnosis of every shared capture against its written truth (CaptureTruths.swift),
/// and every finding's sentence against its own evidence.
@Suite("Truth of the shared captures")
struct TruthTests {
    static func findings(_ truth: CaptureTruth) throws -> [Finding] {
        try Diagnoser.diagnose([VantageCapture(name: "capture", path: SharedCaptures.directory + "/" + truth.file)]).findings
    }

    /// What in `findings` breaks `truth`, in words (empty: the truth holds).
    static func violations(_ truth: CaptureTruth, _ findings: [Finding]) -> [String] {
        var problems: [String] = []
        for expected in truth.must where !findings.contains(where: { matches($0, expected) }) {
            problems.append("missing \(expected) \(limits(expected)); found \(findings.map(summary))")
        }
        for expected in truth.mustNot {
            for finding in findings where matches(finding, expected) {
                problems.append("must not report \(expected) \(limits(expected)): \(summary(finding)) — \(finding.sentence)")
            }
        }
        for finding in findings where finding.severity != .info {
            let listed = truth.must.contains { nameMatches(finding, $0.name) } || truth.allowed.contains { pattern in
                nameMatches(finding, pattern)
            }
            if !listed { problems.append("unexpected \(summary(finding)) — \(finding.sentence)") }
        }
        return problems
    }

    static func summary(_ finding: Finding) -> String {
        "\(finding.name) @\(finding.decisiveFrame ?? 0) \(finding.analyzerConfidence) \(finding.severityName)"
    }

    static func limits(_ e: CaptureTruth.Expected) -> String {
        var parts: [String] = []
        if let v = e.minConfidence { parts.append("confidence >= \(v)") }
        if let v = e.maxConfidence { parts.append("confidence <= \(v)") }
        if let v = e.minSeverity { parts.append("severity >= \(v)") }
        if let v = e.maxSeverity { parts.append("severity <= \(v)") }
        if !e.sentenceHas.isEmpty { parts.append("sentence has \(e.sentenceHas)") }
        if !e.sentenceLacks.isEmpty { parts.append("sentence lacks \(e.sentenceLacks)") }
        if !e.evidenceKeys.isEmpty { parts.append("evidence \(e.evidenceKeys)") }
        return parts.isEmpty ? "" : "(" + parts.joined(separator: ", ") + ")"
    }

    static func nameMatches(_ finding: Finding, _ pattern: String) -> Bool {
        let parts = pattern.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == finding.kind.rawValue else { return false }
        return parts[1] == "*" || parts[1].split(separator: "|").contains { String($0) == finding.cause.rawValue }
    }

    static func severityRank(_ name: String) -> Int {
        ["info", "minor", "major", "critical"].firstIndex(of: name) ?? 0
    }

    static func matches(_ finding: Finding, _ e: CaptureTruth.Expected) -> Bool {
        guard nameMatches(finding, e.name) else { return false }
        if let decisive = e.decisive, finding.decisiveFrame != decisive { return false }
        if let v = e.minConfidence, finding.analyzerConfidence < v { return false }
        if let v = e.maxConfidence, finding.analyzerConfidence > v { return false }
        if let v = e.minSeverity, (finding.severity?.rawValue ?? -1) < severityRank(v) { return false }
        if let v = e.maxSeverity, (finding.severity?.rawValue ?? -1) > severityRank(v) { return false }
        if !e.sentenceHas.allSatisfy({ finding.sentence.contains($0) }) { return false }
        if e.sentenceLacks.contains(where: { finding.sentence.contains($0) }) { return false }
        if !e.evidenceKeys.allSatisfy({ finding.evidence[$0] != nil }) { return false }
        return true
    }

    @Test("each shared capture's diagnosis meets its written truth", arguments: CaptureTruth.all)
    func truth(_ truth: CaptureTruth) throws {
        let findings = try Self.findings(truth)
        let problems = Self.violations(truth, findings)
        if let knownIssue = truth.knownIssue {
            withKnownIssue(Comment(rawValue: knownIssue)) {
                #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
            }
        } else {
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }
    }

    @Test("every shared capture has a written truth")
    func everyCaptureHasATruth() {
        let written = Set(CaptureTruth.all.map { $0.file.replacingOccurrences(of: "semantics/", with: "semantics__") })
        let missing = SharedCaptures.all.map(\.name).filter { !written.contains($0) }
        #expect(missing.isEmpty, "no truth for \(missing)")
    }

    @Test("no finding's sentence contradicts its evidence", arguments: CaptureTruth.all)
    func sentenceAgreesWithEvidence(_ truth: CaptureTruth) throws {
        for finding in try Self.findings(truth) {
            let contradictions = SentenceCheck.contradictions(finding)
            #expect(contradictions.isEmpty, "\(finding.name) @\(finding.decisiveFrame): \(contradictions)")
        }
    }
}

/// Claims a sentence can make that its evidence must back.
enum SentenceCheck {
    static func contradictions(_ finding: Finding) -> [String] {
        var found: [String] = []
        let text = finding.sentence
        // "as the host's other packets" needs the RST's TTL to be the baseline's.
        if text.contains("other packets"), let difference = finding.evidence["ttl_difference"]?.intValue, difference != 0 {
            found.append("says the TTL matches the host's other packets, but ttl_difference = \(difference)")
        }
        // "stayed near X before it, so ... not a filling queue" needs a small RTT inflation.
        if text.contains("not a filling queue"), let inflation = finding.evidence["rtt_inflation"]?.doubleValue, inflation > 1.5 {
            found.append("says the RTT stayed flat, but rtt_inflation = \(inflation)")
        }
        // ... and a path RTT far below the RTT "before it" says the queue had filled.
        if text.contains("not a filling queue"), let path = finding.evidence["path_rtt_ms"]?.doubleValue,
           let before = finding.evidence["rtt_before_loss_ms"]?.doubleValue, before >= 3 * path, before - path >= 2 {
            found.append("says the RTT stayed flat, but rtt_before_loss_ms = \(before) against path_rtt_ms = \(path)")
        }
        // A finding at <= 0.5 is uncertain and its text must say so.
        if finding.analyzerConfidence <= 0.5 && finding.isFailure {
            if !Finding.uncertaintyMarkers.contains(where: { text.contains($0) }) {
                found.append("confidence \(finding.analyzerConfidence) but the sentence does not say it is uncertain")
            }
        }
        return found
    }
}

/// docs/confidence.md's promise, checked over every labelled case: findings at >= 0.8 are right in
/// at least 95 % of cases; findings at <= 0.5 say in their text that they are uncertain.
@Suite("Confidence calibration over the written truths")
struct CalibrationTests {
    @Test("high-confidence findings are right >= 95 %; low-confidence ones say they are uncertain")
    func calibration() throws {
        var high = (right: 0, wrong: [String]())
        for truth in CaptureTruth.all where truth.knownIssue == nil {
            for finding in try TruthTests.findings(truth) {
                if finding.analyzerConfidence <= 0.5 {
                    #expect(Finding.uncertaintyMarkers.contains { finding.sentence.contains($0) },
                            "\(truth.file): \(finding.name) at \(finding.analyzerConfidence) does not say it is uncertain")
                }
                guard finding.analyzerConfidence >= 0.8 else { continue }
                // Right: named by the truth (must or allowed) and hit by no must-not.
                let named = truth.must.contains { TruthTests.nameMatches(finding, $0.name) }
                    || truth.allowed.contains { TruthTests.nameMatches(finding, $0) } || finding.severity == .info
                let refuted = truth.mustNot.contains { TruthTests.matches(finding, $0) }
                if named && !refuted {
                    high.right += 1
                } else {
                    high.wrong.append("\(truth.file): \(TruthTests.summary(finding))")
                }
            }
        }
        let total = high.right + high.wrong.count
        #expect(total > 0)
        #expect(Double(high.right) >= 0.95 * Double(total), "wrong at >= 0.8: \(high.wrong)")
    }
}
