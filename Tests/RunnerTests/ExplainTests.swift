import Foundation
import Runner
import Scenario
import Testing
import TestSupport

/// `faultline explain` takes what users type: catalog codes, any letter case, every cause the
/// analyzer can emit; and prints JSON on request.
@Suite("explain: what users type")
struct ExplainTests {
    static func explain(_ arguments: [String]) throws -> (status: Int32?, output: String, error: String) {
        let dir = TestSupport.temporaryDirectory("fl-explain2")
        defer { TestSupport.removeTree(dir) }
        return try Faultline.run(["explain"] + arguments, directory: dir, timeout: 30)
    }

    @Test("catalog codes and any letter case name their diagnosis",
          arguments: [("R2", "rst/injected-by-middlebox"), ("t1", "retransmission/packet-loss"), ("zw2", "zero-window/receiver-stopped-reading"),
                      ("RST/Refused-By-Host", "rst/refused-by-host")])
    func codesAndCase(written: String, diagnosis: String) throws {
        let r = try Self.explain([written])
        #expect(r.status == 0, "\(r.error)")
        #expect(r.output.hasPrefix(diagnosis), "\(r.output.prefix(80))")
    }

    @Test("every kind/cause the analyzer can emit has an explanation (undetermined included)")
    func everyAnalyzerCause() throws {
        let analyzer = Scenario.DiagnosisVocabulary.all + Scenario.DiagnosisVocabulary.causesByKind.prefix(4).map { "\($0.kind)/undetermined" }
        for diagnosis in analyzer {
            #expect(Explanations.find(diagnosis) != nil, "no explanation for \(diagnosis)")
        }
        let r = try Self.explain(["retransmission/undetermined"])
        #expect(r.status == 0, "\(r.error)")
        #expect(r.output.contains("missing"))
    }

    @Test("--json prints the explanation as JSON")
    func json() throws {
        let r = try Self.explain(["--json", "T1"])
        #expect(r.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any]
        #expect(object?["diagnosis"] as? String == "retransmission/packet-loss")
        #expect(object?["rows"] as? String == "T1")
        let list = try Self.explain(["--json"])
        let all = try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [[String: Any]]
        #expect((all?.count ?? 0) >= Scenario.DiagnosisVocabulary.all.count)
    }
}
