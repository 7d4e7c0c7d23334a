import Analysis
import Foundation
import Testing

/// Captures from real runs where a diagnosis once went wrong, kept so it stays right.
@Suite("Diagnosis regressions from real runs")
struct DiagnosisRegressionTests {
    /// r3-close-unread, 1 run in 20: the server closed with unread data; its kernel unhashed the
    /// socket first, so 23 of the client's in-flight segments drew bare RSTs (IP ID 0, at their
    /// ACK number) about 0.2 ms before the abort's own RST/ACK (IP ID continuing the socket's).
    /// The wire's first RST looks like R4; the abort explains all of them.
    @Test("an abort whose bare consequences reach the wire before its own RST/ACK is still an abort")
    func abortAfterItsConsequences() throws {
        let fixtures = String(#filePath).replacingLastPathComponent(with: "Fixtures/")
        let result = try Diagnoser.diagnose([
            VantageCapture(name: "client", path: fixtures + "r3-abort-bare-rsts-first.client.pcapng", role: .client),
            VantageCapture(name: "server", path: fixtures + "r3-abort-bare-rsts-first.server.pcapng", role: .server),
        ])
        let rst = result.findings.filter { $0.kind == "rst" }
        #expect(rst.map(\.cause) == ["aborted-by-application"])
        #expect(!result.findings.contains { $0.cause == "peer-has-no-connection" })
    }
}
