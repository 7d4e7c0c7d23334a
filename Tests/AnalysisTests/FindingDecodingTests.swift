@testable import Analysis
import Foundation
import Testing

/// The one `Finding` read from other detectors' JSON (FindingDecoding.swift) and written in the
/// run reports' form, and its one answer to "is this a failure".
@Suite("Findings from other detectors")
struct FindingDecodingTests {
    static func decode(_ text: String) throws -> [Finding] {
        try JSONDecoder().decode(DetectorOutput.self, from: Data(text.utf8)).findings
    }

    static func encode(_ findings: [Finding]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(findings), as: UTF8.self)
    }

    @Test("an external detector's finding with a kind and cause of its own and no flow is kept as written")
    func unknownKindWithoutFlow() throws {
        let findings = try Self.decode("""
            [{"kind": "tls-alert", "cause": "certificate-expired", "vantage": "client-eth0.pcapng",
              "evidence": {"alert": 45, "seen": null, "where": {"hop": 2}}, "note": "unknown keys are ignored"}]
            """)
        let finding = try #require(findings.first)
        #expect(finding.kind == DiagnosisKind("tls-alert") && finding.cause == DiagnosisCause("certificate-expired"))
        #expect(finding.name == "tls-alert/certificate-expired")
        #expect(finding.flow == nil && finding.firstFrame == nil && finding.decisiveFrame == nil)
        #expect(finding.confidence == nil && finding.severity == nil && finding.sentence.isEmpty)
        #expect(finding.vantage == ["client-eth0.pcapng"])
        #expect(finding.evidence == ["alert": .int(45), "seen": .null, "where": .object(["hop": .int(2)])])
        #expect(finding.isFailure, "a kind the analyzer does not know is not a benign one")
        #expect(finding.summary == "tls-alert/certificate-expired at client-eth0.pcapng")
        // Written back as it came (no flow, frames or confidence invented), and read back the same.
        let written = try Self.encode(findings)
        #expect(written == #"[{"cause":"certificate-expired","evidence":{"alert":45,"seen":null,"where":{"hop":2}},"#
                + #""kind":"tls-alert","sentence":"","vantage":["client-eth0.pcapng"]}]"#)
        #expect(try Self.decode(written) == findings)
        // The analyzer's own document renders it too, with nulls for what was not said.
        let rendered = FindingsJSON.render(findings, pretty: false)
        #expect(rendered.contains(#""confidence":null,"confidence_level":null"#) && rendered.contains(#""flow":null"#))
    }

    @Test("flows as text or objects, one vantage or several, frames either way, severity wherever it is written")
    func lenientShapes() throws {
        let findings = try Self.decode("""
            {"findings": [
              {"kind": "rst", "cause": "refused-by-host", "flow": "198.18.1.2:40000 -> 198.18.2.2:9001",
               "frames": {"first": 3}, "evidence": {"severity": "critical"}},
              {"kind": "rst", "cause": "refused-by-host", "flow": {"client": "[fd00::2]:5", "server": "[fd00::3]:9000"},
               "vantage": ["server", "client"], "first_frame": 7,
               "frames": {"server": {"first": 7, "decisive": 8, "related": [9]}, "client": {"first": 1, "decisive": 2}},
               "severity": 2, "confidence": 0.5},
              {"kind": "keep-alive", "cause": "benign", "severity_name": "info", "evidence": {"severity": "loud"}}
            ]}
            """)
        #expect(findings.count == 3)
        #expect(findings[0].flow == FlowRef(client: "198.18.1.2:40000", server: "198.18.2.2:9001"))
        #expect(findings[0].flow?.serverPort == 9001 && findings[0].flow?.clientAddress == "198.18.1.2")
        #expect(findings[0].firstFrame == 3 && findings[0].decisiveFrame == nil)
        #expect(findings[0].severity == .critical && findings[0].evidence["severity"] == nil, "read back into its place")
        #expect(findings[1].flow?.clientAddress == "fd00::2" && findings[1].flow?.clientPort == 5)
        #expect(findings[1].firstFrame == 7 && findings[1].decisiveFrame == 8)
        #expect(findings[1].frames["client"] == FrameRefs(first: 1, decisive: 2))
        #expect(findings[1].severity == .major && findings[1].confidenceLevel == "medium")
        #expect(findings[2].severity == .info && findings[2].evidence["severity"] == .string("loud"), "not a severity: kept as evidence")
        #expect(!findings[2].isFailure)
        // The run reports' form keeps the severity in evidence, as it always did.
        #expect(try Self.encode([findings[0]]) == #"[{"cause":"refused-by-host","evidence":{"severity":"critical"},"#
                + #""flow":{"client":"198.18.1.2:40000","server":"198.18.2.2:9001"},"frames":{"first":3},"#
                + #""kind":"rst","sentence":"","vantage":[]}]"#)
    }

    @Test("what is not a finding fails with where: a missing cause, a number for a cause, a flow that is no flow")
    func errors() throws {
        func failure(_ text: String) -> DecodingError? {
            do { _ = try Self.decode(text); return nil } catch { return error as? DecodingError }
        }
        guard case .keyNotFound(let key, let context)? = failure(#"[{"kind": "rst"}]"#) else {
            Issue.record("a missing cause was accepted"); return
        }
        #expect(key.stringValue == "cause" && context.codingPath.map(\.intValue) == [0])
        guard case .typeMismatch(_, let mismatch)? = failure(#"{"findings": [{"kind": "rst", "cause": 5}]}"#) else {
            Issue.record("a number as cause was accepted"); return
        }
        #expect(mismatch.codingPath.map(\.stringValue).suffix(1) == ["cause"])
        #expect(mismatch.codingPath.first?.stringValue == "findings")
        guard case .dataCorrupted(let corrupt)? = failure(#"[{"kind": "rst", "cause": "x", "flow": "nowhere"}]"#) else {
            Issue.record("a flow without an arrow was accepted"); return
        }
        #expect(corrupt.debugDescription.contains("\"nowhere\" is not a flow"))
    }

    @Test("the analyzer's own --json reads back as a detector's output: the analyzer is one such detector")
    func analyzerAsDetector() throws {
        let result = try CaptureWindowTests.diagnose(CaptureWindowTests.firewalledSYN(), windows: [.server: CaptureWindowTests.wholeTest])
        #expect(!result.findings.isEmpty)
        let read = try Self.decode(FindingsJSON.render(result))
        #expect(read.map(\.name) == result.findings.map(\.name))
        for (again, finding) in zip(read, result.findings) {
            #expect(again.flow == finding.flow && again.vantage == finding.vantage && again.frames == finding.frames)
            #expect(again.firstFrame == finding.firstFrame && again.decisiveFrame == finding.decisiveFrame)
            #expect(again.confidence == finding.confidence && again.severity == finding.severity)
            #expect(again.sentence == finding.sentence && Set(again.evidence.keys) == Set(finding.evidence.keys))
        }
        // And the run reports' form: what it carries comes back (not the per-vantage frames).
        let reported = try JSONDecoder().decode([Finding].self, from: Data(try Self.encode(result.findings).utf8))
        #expect(reported.map(\.severity) == result.findings.map(\.severity))
        #expect(reported.map(\.decisiveFrame) == result.findings.map(\.decisiveFrame))
        #expect(reported.allSatisfy { $0.evidence["severity"] == nil && $0.frames.isEmpty })
    }

    @Test("one answer to isFailure: the analyzer's benign kinds, for its findings and anyone's")
    func isFailure() throws {
        for kind in DiagnosisName.kinds {
            let stated = Finding(kind: DiagnosisKind(kind), cause: "undetermined")
            #expect(stated.isFailure == !DiagnosisName.benignKinds.contains(kind), "\(kind)")
        }
        // Reordering that cost nothing is not a failure — wherever the finding comes from.
        #expect(try !Self.decode(#"[{"kind": "reordering", "cause": "path-reordering"}]"#)[0].isFailure)
        let made = Finding(kind: DiagnosisName.Kind.reordering, cause: DiagnosisName.Cause.pathReordering,
                           flow: FlowRef(client: "a:1", server: "b:2"), vantage: ["client"], frames: [:], evidence: [:],
                           confidence: 0.9, severity: .minor, sentence: "")
        #expect(!made.isFailure)
    }
}
