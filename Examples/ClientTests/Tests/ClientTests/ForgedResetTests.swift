import FaultlineTesting
import Testing

/// What a user writes: Faultline's scenarios run inside their own test suite, as root or as an
/// ordinary user (then through the `faultline` executable, which makes its own user namespace).
/// Needs that executable beside the tests (`swift build --product faultline`) or FAULTLINE_BINARY.
@Suite("A client under Faultline", .serialized)
struct ForgedResetTests {
    /// The catalog's forged RST mid-stream: the client sees ECONNRESET, the analyzer names the
    /// middlebox, not the server.
    @Test func clientSurvivesForgedReset() async throws {
        let run = try await Scenario(contentsOf: "../../Scenarios/r2-firewall-mid-stream.yaml").run()
        #expect(run.passed, "\(run.summary)")
        #expect(run.findings.contains { $0.cause == .injectedByMiddlebox })
    }

    /// The same story built in Swift: a firewall rule added once the client has sent 256 KiB.
    @Test func forgedResetBuiltInSwift() async throws {
        let scenario = try Scenario.build(name: "swift-forged-reset", timeLimit: "10s") {
            Firewall("cut", on: "router", rule: "tcp dport 9000 tcp flags & ack == ack reject with tcp reset", installed: false)
            Impairment("router→server", delay: "2ms")
            Step.at("0s", on: "server", peer: ["listen", "--port", "9000"])
            Step.after("server ready", on: "client", peer: ["send", "--to", "server:9000", "--bytes", "4MiB", "--write-size", "16KiB",
                                                             "--pace", "1ms"])
            Step.after("client sent 256KiB", addRule: "cut")
            Step.after("client exited", delay: "200ms", stop: "all")
            Expect.finding(.rst, cause: .injectedByMiddlebox, flow: "client -> server:9000")
            Expect.none(.retransmission, cause: .packetLoss)
            Expect.process("client", "write-errno", "ECONNRESET")
        }
        let run = try await scenario.run(ScenarioRunOptions(seed: 7))
        #expect(run.passed, "\(run.summary)")
        let reset = run.findings.first { $0.kind == .rst }
        #expect(reset?.cause == .injectedByMiddlebox)
        #expect(reset?.confidence ?? 0 >= 0.8)
    }

    /// A mistake in a Swift-built scenario is reported like one in a file: the key and what was expected.
    @Test func badValueNamesTheKey() throws {
        #expect {
            _ = try Scenario.build(name: "bad") {
                Impairment("router→server", delay: "20 parsecs")
            }
        } throws: { error in
            "\(error)".contains("impairments[0].delay")
        }
    }
}
