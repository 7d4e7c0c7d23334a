import Analysis
import Foundation
import Glibc
import Netlink
@testable import Runner
import Scenario
import Testing

/// The runner's pure parts: shards, the findings schema, expectation matching, reports.
@Suite("Runner logic")
struct RunnerUnitTests {
    static func scenario(_ text: String) throws -> Scenario { try Scenario.parse(text: text, file: "t.yaml") }

    static let line = """
        name: t
        steps:
          - { at: 0s, on: client, peer: [connect, --to, "server:9001"] }
        expect:
          - { kind: rst, cause: refused-by-host, flow: "client -> server:9001" }
          - { kind: rst, cause: refused-by-host, vantage: server, min-count: 2 }
          - not: { kind: rst, cause: injected-by-middlebox }
          - not: { kind: zero-window }
          - { tshark: zero_window, vantage: client, min-count: 2 }
          - { peer: client, connect-errno: ECONNREFUSED }
        """

    @Test("shards are deterministic, disjoint, balanced and cover the catalog")
    func shards() throws {
        let names = ["e", "b", "a", "d", "c", "g", "f"]
        let scenarios = try names.map { try Self.scenario("name: \($0)\n") }
        var seen: [String] = []
        for k in 1...3 {
            let part = try Shard(parsing: "\(k)/3").select(scenarios).map(\.name)
            #expect(part == (try Shard(parsing: "\(k)/3").select(scenarios.reversed()).map(\.name)), "independent of input order")
            #expect(part.count == 2 || part.count == 3)
            seen += part
        }
        #expect(seen.sorted() == names.sorted())
        #expect(try Shard(parsing: "1/3").select(scenarios).map(\.name) == ["a", "d", "g"])
        #expect(throws: RunnerError.self) { try Shard(parsing: "0/3") }
        #expect(throws: RunnerError.self) { try Shard(parsing: "3") }
    }

    @Test("findings JSON: objects or strings for flows, one vantage or several, unknown keys ignored; errors say where")
    func findingsSchema() throws {
        let captures = [CaptureFile(path: "/a/client-eth0.pcapng", node: "client", interface: "eth0")]
        let parsed = try CommandDetector.parse("""
            {"findings": [
              {"kind": "rst", "cause": "refused-by-host", "flow": "198.18.1.2:40000 -> 198.18.2.2:9001", "vantage": "client-eth0.pcapng",
               "evidence": {"ttl": 63, "seen": [1, 2], "why": "no listener", "ratio": 0.5}, "extra": true},
              {"kind": "zero-window", "cause": "receiver-slow", "flow": {"client": "[fd00:fa17:1::2]:5", "server": "[fd00:fa17:2::2]:9000"},
               "vantage": ["client", "server"], "frames": {"first": 3, "decisive": 9}, "confidence": 0.8}
            ]}
            """, detector: "d", captures: captures)
        #expect(parsed.count == 2)
        #expect(parsed[0].vantage == ["client"], "a capture file name maps to its node")
        #expect(parsed[0].flow?.serverPort == 9001)
        #expect(parsed[0].evidence["ttl"] == .int(63))
        #expect(parsed[1].flow?.clientAddress == "fd00:fa17:1::2")
        #expect(parsed[1].firstFrame == 3 && parsed[1].decisiveFrame == 9)
        // Round trip through the runner's own encoding.
        let data = try JSONEncoder().encode(parsed)
        #expect(try JSONDecoder().decode([Finding].self, from: data) == parsed)
        do {
            _ = try CommandDetector.parse(#"[{"kind": "rst", "cause": 5}]"#, detector: "d", captures: captures)
            Issue.record("a number as cause was accepted")
        } catch {
            #expect(error.exitCode == 2)
            #expect(error.description.contains("at [0].cause"), "\(error)")
        }
    }

    @Test("expectations: flows in either direction, vantage, min-count, absence, tshark flags, peer values")
    func expectationMatching() throws {
        let s = try Self.scenario(Self.line)
        let addresses = NetworkPlan.addresses(s.topology)
        let refusedForward = Finding(kind: "rst", cause: "refused-by-host",
                                     flow: FlowRef(client: "198.18.1.2:40000", server: "198.18.2.2:9001"), vantage: ["client"])
        // The same connection written the other way round, seen at the server.
        let refusedBackward = Finding(kind: "rst", cause: "refused-by-host",
                                      flow: FlowRef(client: "198.18.2.2:9001", server: "198.18.1.2:40000"), vantage: ["server"])
        let mark = PacketMark(vantage: "client", frame: 3, source: "198.18.2.2", sourcePort: 9001, destination: "198.18.1.2",
                              destinationPort: 40000, flags: ["zero_window"])
        let outcome = ProcessOutcome(name: "client", node: "client", exitStatus: 1, eventLog: """
            {"ts_ns":1,"event":"error","call":"connect","errno":"ECONNREFUSED"}
            {"ts_ns":2,"event":"summary","connect_result":"ECONNREFUSED","bytes_written":0}
            """)
        var checker = ExpectationChecker(scenario: s, findings: [refusedForward, refusedBackward], marks: [mark, mark],
                                         processes: ["client": outcome], namesCauses: true, addresses: addresses)
        var results = checker.check()
        #expect(results.map(\.passed) == [true, false, true, true, true, true])
        #expect(results[1].found.contains("only 1"))
        // The look-alike appears: the absence fails and says what was found.
        checker.findings.append(Finding(kind: "rst", cause: "injected-by-middlebox",
                                        flow: FlowRef(client: "198.18.1.2:40001", server: "198.18.2.2:9001"), vantage: ["client"]))
        checker.marks = [mark]
        results = checker.check()
        #expect(results[2].passed == false)
        #expect(results[2].found == "rst/injected-by-middlebox on 198.18.1.2:40001 -> 198.18.2.2:9001 at client")
        #expect(results[4].passed == false, "one zero_window frame is fewer than min-count 2")
        // Another port is another flow.
        checker.findings = [Finding(kind: "rst", cause: "refused-by-host", flow: FlowRef(client: "198.18.1.2:40000", server: "198.18.2.2:9002"))]
        #expect(checker.check()[0].passed == false)
    }

    @Test("captures' roles come from what the scenario's nodes do, and are what the catalog's node names used to imply")
    func vantageRoles() throws {
        // The rule the analyzer once applied to vantage names, kept here as the reference.
        func formerGuess(_ name: String) -> VantageRole {
            VantageRole.stated.first { name.lowercased().hasPrefix($0.rawValue) } ?? .other
        }
        let catalog = try Scenario.load(folder: Faultline.catalog)
        #expect(catalog.count >= 15)
        for scenario in catalog {
            let roles = CaptureVantages.roles(scenario)
            let runPeers = Set(scenario.steps.compactMap { step -> String? in
                guard case .run(let process) = step.action, process.command.isPeer else { return nil }
                return process.node
            })
            for node in scenario.topology.nodes {
                let role = roles[node.name] ?? .other
                if formerGuess(node.name) == .client && !runPeers.contains(node.name) {
                    // t7's client runs a Python program of its own: the runner cannot know its
                    // side (the analyzer reads the client role only for RSTs, which t7 has none of).
                    #expect(role == .other, "\(scenario.name) \(node.name)")
                } else if formerGuess(node.name) == .other && node.forwarding {
                    // f7's r1 and r2: routers now, where their names said nothing (the analyzer
                    // treats a router's capture as it did an unnamed one).
                    #expect(role == .router, "\(scenario.name) \(node.name)")
                } else {
                    #expect(role == formerGuess(node.name), "\(scenario.name) \(node.name)")
                }
            }
        }
        // Names are not roles: a scenario calling its listener "client" makes it the server.
        let swapped = try Self.scenario("""
            name: swapped
            steps:
              - { at: 0s, on: client, peer: [listen, --port, "9000"] }
              - { at: 20ms, on: server, peer: [connect, --to, "client:9000"] }
            """)
        #expect(CaptureVantages.roles(swapped) == ["client": .server, "router": .router, "server": .client])
        // Captures without a role take their node's; one the run placed keeps its own.
        let placed = CaptureVantages.placed([CaptureFile(path: "/a/client-eth0.pcapng", node: "client", interface: "eth0"),
                                             CaptureFile(path: "/a/server-eth0.pcapng", node: "server", interface: "eth0", role: .router)],
                                            by: swapped)
        #expect(placed.map(\.role) == [.server, .router])
        // A node a peer connects to is the server's side, named or by address; a program of the
        // scenario's own says nothing the runner can know; a node on both sides is left unstated.
        let own = try Self.scenario("""
            name: own
            steps:
              - { at: 0s, on: client, run: [sh, -c, "sleep 1"] }
              - { at: 0s, on: server, peer: [connect, --to, "198.18.1.2:9000"] }
              - { at: 0s, on: router, name: r, peer: [connect, --to, "server:9000"] }
            """)
        #expect(CaptureVantages.roles(own) == ["client": .server, "router": .client, "server": .other])
        // Vantage names: the node, or node-interface when the node has several captures.
        let files = [CaptureFile(path: "/a/client-eth0.pcapng", node: "client", interface: "eth0", role: .client),
                     CaptureFile(path: "/a/router-eth0.pcapng", node: "router", interface: "eth0", role: .router),
                     CaptureFile(path: "/a/router-eth1.pcapng", node: "router", interface: "eth1", role: .router)]
        #expect(CaptureVantages.vantages(files) == [
            VantageCapture(name: "client", path: "/a/client-eth0.pcapng", role: .client),
            VantageCapture(name: "router-eth0", path: "/a/router-eth0.pcapng", role: .router),
            VantageCapture(name: "router-eth1", path: "/a/router-eth1.pcapng", role: .router),
        ])
    }

    @Test("under --detector tshark, causes are listed as not expressible and kinds are checked")
    func tsharkMapping() throws {
        let s = try Self.scenario(Self.line)
        let rst = PacketMark(vantage: "client", frame: 2, source: "198.18.2.2", sourcePort: 9001, destination: "198.18.1.2",
                             destinationPort: 40000, flags: ["rst"])
        let checker = ExpectationChecker(scenario: s, findings: [], marks: [rst], processes: [:], namesCauses: false,
                                         addresses: NetworkPlan.addresses(s.topology))
        let results = checker.check()
        #expect(results[0].checked && results[0].passed)
        #expect(results[0].note?.contains("cannot tell a firewall's RST from the host's") == true)
        #expect(!results[2].checked, "the absence of one RST cause cannot be expressed")
        #expect(results[3].checked && results[3].passed, "no zero_window frames: no zero window")
    }

    @Test("routes: every node reaches every subnet through forwarding nodes only")
    func routes() throws {
        let s = try Self.scenario("""
            name: chain
            topology:
              nodes: { a: { route-metrics: { rto-min: 5ms } }, r1: {}, r2: {}, b: {}, c: {} }
              links: { a-r1: {}, r1-r2: {}, r2-b: {}, b-c: {} }
            """)
        let routes = NetworkPlan.routes(s.topology)
        func has(_ node: String, _ destination: String, via gateway: String) -> Bool {
            routes.contains { $0.node == node && $0.route.destination?.description == destination && $0.route.gateway?.description == gateway }
        }
        // Links: 1 a-r1, 2 r1-r2, 3 r2-b, 4 b-c; r1 and r2 forward (two links each), b too.
        #expect(has("a", "198.18.3.0/24", via: "198.18.1.1"))
        #expect(has("a", "fd00:fa17:3::/64", via: "fd00:fa17:1::1"))
        #expect(has("r2", "198.18.1.0/24", via: "198.18.2.1"))
        #expect(has("a", "198.18.4.0/24", via: "198.18.1.1"), "through r1, r2 and b, which all forward")
        #expect(routes.filter { $0.node == "a" }.allSatisfy { $0.route.metrics.rtoMinMilliseconds == 5 })
        #expect(!routes.contains { $0.route.destination == nil }, "no default route: nothing leaves for addresses the scenario does not own")
        #expect(NetworkPlan.connectedRoutes(s.topology).map(\.route.destination?.description) == ["198.18.1.0/24"])
    }

    @Test("peer arguments: node:port becomes the node's address")
    func rewrite() throws {
        let s = try Self.scenario("name: t\n")
        #expect(ScenarioRun.rewrite("server:9000", topology: s.topology) == "198.18.2.2:9000")
        #expect(ScenarioRun.rewrite("client:1", topology: s.topology) == "198.18.1.2:1")
        #expect(ScenarioRun.rewrite("nosuch:9000", topology: s.topology) == "nosuch:9000")
        #expect(ScenarioRun.rewrite("server", topology: s.topology) == "server")
        #expect(ScenarioRun.rewrite("198.18.2.2:80", topology: s.topology) == "198.18.2.2:80")
    }

    @Test("every diagnosis of the vocabulary has an explanation, with a fix")
    func explanations() {
        for diagnosis in Scenario.DiagnosisVocabulary.all {
            let e = Explanations.find(diagnosis)
            #expect(e != nil, "no explanation for \(diagnosis)")
            #expect(e.map { !$0.fix.isEmpty && !$0.wire.isEmpty } ?? false)
        }
        // Each once: no explanation without a diagnosis, none twice.
        #expect(Explanations.all.count == Scenario.DiagnosisVocabulary.all.count)
        #expect(Set(Explanations.all.map(\.diagnosis)).count == Explanations.all.count)
    }

    @Test("JUnit XML escapes what it must and marks failures and errors")
    func junit() throws {
        let failed = ScenarioResult(name: "a<b", file: "f.yaml", repetition: 1, seed: 1, status: .failed, seconds: 1.5, artifacts: "/x",
                                    diagnosis: "d", expectations: [ExpectationResult(source: "f.yaml:1:1", expected: "x -> y", found: "\"z\" & w", passed: false)],
                                    findings: [], captures: [], processes: [:], error: nil, exitCode: 1, detector: "builtin", notes: [], engines: [], phases: [:])
        var errored = failed
        errored.status = .error
        errored.error = "environment: no root"
        let xml = JUnitReport.xml([failed, errored], wallSeconds: 2, repeatCount: 1)
        #expect(xml.contains(#"name="a&lt;b""#))
        #expect(xml.contains(#"<failure message="expected x -&gt; y; found: &quot;z&quot; &amp; w""#))
        #expect(xml.contains(#"<error message="environment: no root""#))
        #expect(xml.contains(#"tests="2" failures="1" errors="1""#))
    }

    @Test("exit codes: interrupted beats everything, then environment, bad input, failure")
    func exitCodes() {
        func result(_ code: Int32) -> ScenarioResult {
            ScenarioResult(name: "n", file: "f", repetition: 1, seed: 0, status: code == 0 ? .passed : .failed, seconds: 0, artifacts: "",
                           diagnosis: "", expectations: [], findings: [], captures: [], processes: [:], error: nil, exitCode: code,
                           detector: "builtin", notes: [], engines: [], phases: [:])
        }
        let none = Cancellation()
        #expect(CatalogRun.exitCode([result(0), result(1)], cancellation: none) == 1)
        #expect(CatalogRun.exitCode([result(1), result(3), result(2)], cancellation: none) == 3)
        #expect(CatalogRun.exitCode([result(0)], cancellation: none) == 0)
        let stopped = Cancellation()
        stopped.cancel(signal: SIGTERM)
        #expect(CatalogRun.exitCode([result(0)], cancellation: stopped) == 143)
    }
}
