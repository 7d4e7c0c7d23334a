import Values
import Analysis
import Foundation
import Impairment
import Scenario
import Testing

@Suite("Scenario loading: folders, defaults, vocabulary, warnings")
struct ScenarioLoadingTests {
    typealias S = Scenario

    /// A fresh folder under the system's temporary directory, removed by `body`'s end.
    func withTemporaryFolder(_ body: (String) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("faultline-scenario-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try body(folder)
    }

    @Test("a folder loads its *.yaml and *.yml files sorted by name, ignoring other files")
    func folderLoading() throws {
        try withTemporaryFolder { folder in
            try "name: second\n".write(toFile: folder + "/b.yaml", atomically: true, encoding: .utf8)
            try "name: first\n".write(toFile: folder + "/a.yml", atomically: true, encoding: .utf8)
            try "not yaml at all: [".write(toFile: folder + "/notes.txt", atomically: true, encoding: .utf8)
            try "name: hidden\n".write(toFile: folder + "/.swap.yaml", atomically: true, encoding: .utf8)
            let scenarios = try Scenario.load(folder: folder)
            #expect(scenarios.map(\.name) == ["first", "second"])
            #expect(scenarios.map(\.file) == [folder + "/a.yml", folder + "/b.yaml"])
            #expect(try Scenario.load(pathOrFolder: folder).map(\.name) == ["first", "second"])
            #expect(try Scenario.load(pathOrFolder: folder + "/b.yaml").map(\.name) == ["second"])
        }
    }

    @Test("two files of a folder may not share a scenario name; the second is reported at its name")
    func duplicateNamesInFolder() throws {
        try withTemporaryFolder { folder in
            try "name: same\n".write(toFile: folder + "/a.yaml", atomically: true, encoding: .utf8)
            try "# copy\nname: same\n".write(toFile: folder + "/b.yaml", atomically: true, encoding: .utf8)
            #expect(throws: ScenarioError(file: folder + "/b.yaml", line: 2, column: 7,
                                          message: "name: 'same' is also the name of \(folder)/a.yaml; expected scenario names to be unique in a folder")) {
                try Scenario.load(folder: folder)
            }
        }
    }

    @Test("a folder with no scenario file is bad input")
    func emptyFolder() throws {
        try withTemporaryFolder { folder in
            #expect(throws: ScenarioError(file: folder, line: 1, column: 1,
                                          message: "the folder holds no scenario; expected *.yaml or *.yml files")) {
                try Scenario.load(folder: folder)
            }
        }
    }

    @Test("the first bad file of a folder stops the load with its own location")
    func badFileInFolder() throws {
        try withTemporaryFolder { folder in
            try "name: ok\n".write(toFile: folder + "/a.yaml", atomically: true, encoding: .utf8)
            try "name: bad\nseed: many\n".write(toFile: folder + "/b.yaml", atomically: true, encoding: .utf8)
            do {
                _ = try Scenario.load(folder: folder)
                Issue.record("a folder with a bad file loaded")
            } catch let error as ScenarioError {
                #expect(error.description == "\(folder)/b.yaml:2:7: seed: found the text 'many'; expected a seed: a whole number from 0 to 18446744073709551615")
            }
        }
    }

    @Test("a minimal scenario gets the line, client and server captures, 30 s, no seed")
    func defaults() throws {
        let s = try Scenario.parse(text: "name: minimal\n", file: "m.yaml")
        #expect(s.topology.origin == .line)
        #expect(s.topology.nodes.map(\.name) == ["client", "router", "server"])
        #expect(s.topology.nodes.map(\.forwarding) == [false, true, false])
        #expect(s.topology.interfaces(of: "router").map(\.interface) == ["to-client", "to-server"])
        #expect(s.topology.addresses(of: "server").map(\.description) == ["198.18.2.2/24", "fd00:fa17:2::2/64"])
        #expect(s.topology.addresses(of: "client").map(\.description) == ["198.18.1.2/24", "fd00:fa17:1::2/64"])
        #expect(s.topology.links.map(\.offloads) == [.off, .off])
        #expect(s.captures == [S.CapturePoint(node: "client"), S.CapturePoint(node: "server")])
        #expect(s.timeLimit == .seconds(30))
        #expect(s.seed == nil)
        #expect(s.steps.isEmpty && s.expectations.isEmpty && s.impairments.isEmpty && s.firewall.isEmpty)
    }

    @Test("the line can be adjusted: sysctls, route metrics, MTU, offloads, its own addresses")
    func adjustedLine() throws {
        let text = """
            name: small-receive-buffer
            topology:
              line:
                nodes:
                  server: { sysctls: { net.ipv4.tcp_rmem: "4096 16384 16384" } }
                  client: { route-metrics: { rto-min: 5ms } }
                links:
                  server-router: { mtu: 9000, offloads: on, addresses: { router: 198.19.0.1/30, server: 198.19.0.2/30 } }
            """
        let s = try Scenario.parse(text: text, file: "adj.yaml")
        #expect(s.topology.origin == .line)
        #expect(s.topology.node(named: "server")?.sysctls == [S.Topology.Sysctl(name: "net.ipv4.tcp_rmem", value: "4096 16384 16384")])
        #expect(s.topology.node(named: "client")?.routeMetrics == S.Topology.RouteMetrics(rtoMin: .milliseconds(5)))
        // Written as server-router, it is still the line's router-server link, router first.
        let link = try #require(s.topology.link(between: "router", and: "server"))
        #expect(link.name == "router-server")
        #expect(link.mtu == 9000)
        #expect(link.offloads == .on)
        #expect(link.a.addresses.map(\.description) == ["198.19.0.1/30"])
        #expect(link.b.addresses.map(\.description) == ["198.19.0.2/30"])
        #expect(s.topology.link(between: "client", and: "router")?.mtu == nil)
    }

    @Test("a two-way link places the same impairment on both directions, each on its egress interface")
    func twoWayLink() throws {
        let s = try Scenario.parse(text: "name: t\nimpairments:\n  - { link: client-router, loss: 2% }\n", file: "t.yaml")
        #expect(s.impairments.map(\.spec.link.description) == ["client→router", "router→client"])
        #expect(s.impairments.map(\.interface) == ["eth0", "to-client"])
        #expect(s.impairments.allSatisfy { $0.spec.parameters.loss == .random(probability: Percentage(2)) })
    }

    @Test("both arrow spellings name the same direction")
    func arrows() throws {
        let a = try Scenario.parse(text: "name: t\nimpairments: [{ link: router->server, delay: 1ms }]\n", file: "a")
        let b = try Scenario.parse(text: "name: t\nimpairments: [{ link: router → server, delay: 1ms }]\n", file: "a")
        #expect(a.impairments.map(\.spec) == b.impairments.map(\.spec))
    }

    @Test("impairment warnings from the model are kept, located, and do not stop the load")
    func warnings() throws {
        let text = "name: t\nimpairments:\n  - link: router->server\n    delay: { time: 1ms, jitter: 5ms }\n"
        let s = try Scenario.parse(text: text, file: "w.yaml")
        #expect(s.warnings.count == 1)
        let warning = try #require(s.warnings.first)
        #expect(warning.location == S.SourceLocation(file: "w.yaml", line: 4, column: 33))
        #expect(warning.description.hasPrefix("w.yaml:4:33: warning: impairments[0].delay.jitter: delay 1ms with jitter 5ms"))
    }

    @Test("signals by any common spelling; processes are named after their node unless named")
    func signalsAndNames() throws {
        let text = """
            name: t
            steps:
              - { at: 0s, on: server, peer: [listen, --port, "80"] }
              - { at: 0s, on: server, name: tcpdump, run: [sleep, "10"] }
              - { at: 1s, signal: kill, to: server }
              - { at: 1s, signal: SIGSTOP, to: tcpdump }
              - { at: 2s, signal: CONT, to: tcpdump }
              - { at: 3s, stop: tcpdump }
            """
        let s = try Scenario.parse(text: text, file: "t.yaml")
        #expect(s.processes.map(\.name) == ["server", "tcpdump"])
        #expect(Array(s.steps.map(\.action)[2...4]) == [.signal(process: "server", signal: .kill),
                                                 .signal(process: "tcpdump", signal: .stop),
                                                 .signal(process: "tcpdump", signal: .cont)])
        #expect(S.Signal.kill.rawValue == 9 && S.Signal.kill.description == "SIGKILL")
    }

    @Test("arguments keep their text as written; a YAML standard tag is fine; CRLF files load")
    func argumentsAndLineEndings() throws {
        let text = "name: t\r\nsteps:\r\n  - { at: 0s, on: client, run: [echo, 9000, 1.50, yes, !!str 007, \"\"] }\r\n"
        let s = try Scenario.parse(text: text, file: "crlf.yaml")
        #expect(s.processes.first?.command == .argv(["echo", "9000", "1.50", "yes", "007", ""]))
        #expect(s.steps.first?.source == S.SourceLocation(file: "crlf.yaml", line: 3, column: 5))
    }

    @Test("a tab inside a block of text (after the indentation) is content, not an indentation error")
    func tabInBlockScalar() throws {
        let text = "name: t\nfirewall:\n  - name: raw\n    node: server\n    ruleset: |\n      table inet t {\n      \tchain c { type filter hook input priority 0; }\n      }\n"
        let s = try Scenario.parse(text: text, file: "tab.yaml")
        #expect(s.firewall.first?.body == .ruleset("table inet t {\n\tchain c { type filter hook input priority 0; }\n}\n"))
        #expect(s.firewall.first?.installed == true)
    }

    @Test("flows take node names, IPv4 and IPv6 addresses, with or without ports")
    func flows() throws {
        let text = """
            name: t
            expect:
              - { kind: syn, cause: unanswered, flow: "client -> 198.18.99.1:443" }
              - { kind: syn, cause: unanswered, flow: "[fd00:fa17:1::2]:40000 → [fd00:fa17:2:0::2]:80" }
              - { kind: syn, cause: unanswered, flow: "fd00:fa17:1::2 -> server" }
            """
        let s = try Scenario.parse(text: text, file: "f.yaml")
        let flows = s.expectations.compactMap { e -> S.Flow? in
            if case .present(let p, _) = e.check { return p.flow }
            return nil
        }
        #expect(flows.map(\.description) == ["client -> 198.18.99.1:443",
                                             "[fd00:fa17:1::2]:40000 -> [fd00:fa17:2::2]:80",
                                             "fd00:fa17:1::2 -> server"])
    }

    @Test("the diagnosis vocabulary is the analyzer's own: every kind/cause it can emit, undetermined included")
    func vocabulary() {
        // Every name once, grouped by kind (a kind's causes keep the analyzer's order).
        #expect(Set(S.DiagnosisVocabulary.all) == Set(DiagnosisName.all))
        #expect(S.DiagnosisVocabulary.all.count == DiagnosisName.all.count)
        #expect(S.DiagnosisVocabulary.causes(of: "retransmission")?.contains("undetermined") == true)
        #expect(S.DiagnosisVocabulary.kinds.prefix(4) == ["zero-window", "rst", "syn", "retransmission"])
    }

    @Test("errno names are Values' one table: every name it knows is accepted, an alias becomes the name peers report")
    func errnoNames() throws {
        func expected(_ errno: String) throws -> S.PeerValue? {
            let s = try Scenario.parse(text: """
                name: t
                steps:
                  - { at: 0s, on: client, peer: [send, --to, "server:9000", --bytes, 1KiB] }
                expect:
                  - { peer: client, write-errno: \(errno) }
                """, file: "e.yaml")
            guard case .peer(_, _, _, let value) = s.expectations.first?.check else { return nil }
            return value
        }
        #expect(Errno.names.count > 100, "the C library's whole table, not a hand-picked part")
        for name in ["ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTRECOVERABLE", "EHWPOISON"] {
            #expect(try expected(name) == .errno(name))
        }
        // Peers report `Errno.name`: EAGAIN, whatever the scenario calls it.
        #expect(try expected("EWOULDBLOCK") == .errno("EAGAIN"))
        #expect(try expected("ENOTSUP") == .errno("EOPNOTSUPP"))
        #expect(throws: ScenarioError.self) { try expected("ECONNREFUSE") }
    }

    @Test("every diagnosis of failure-modes.md's tables is accepted as an expectation")
    func failureModesDocumentDiagnoses() throws {
        // Read the shared document itself: the `kind / cause` pairs in its tables.
        let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/docs/failure-modes.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        var found: [String] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "`") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "`") else { break }
            let code = after[..<close]
            let parts = code.components(separatedBy: " / ")
            if parts.count == 2, parts != ["kind", "cause"], parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLowercase || $0 == "-" } }) {
                found.append(parts.joined(separator: "/"))
            }
            rest = after[after.index(after: close)...]
        }
        #expect(found.count >= 12)
        for diagnosis in found {
            #expect(S.DiagnosisVocabulary.all.contains(diagnosis), "\(diagnosis) from failure-modes.md is missing")
            let parts = diagnosis.split(separator: "/")
            let yaml = "name: t\nexpect:\n  - { kind: \(parts[0]), cause: \(parts[1]) }\n"
            _ = try Scenario.parse(text: yaml, file: "v.yaml")
        }
    }

    @Test("every complete scenario in Scenarios/README.md loads, and every fragment of a known section parses inside one")
    func readmeExamples() throws {
        let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: repoRoot.appendingPathComponent("Scenarios/README.md"), encoding: .utf8)
        let blocks = text.components(separatedBy: "```yaml\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
        var complete = 0
        for (i, block) in blocks.enumerated() {
            if block.hasPrefix("name:") {
                complete += 1
                let s = try Scenario.parse(text: block, file: "README block \(i)")
                #expect(!s.name.isEmpty)
            } else if block.hasPrefix("topology:") || block.hasPrefix("impairments:") || block.hasPrefix("firewall:")
                        || block.hasPrefix("capture:") {
                // A section fragment: it must load as the only section of a scenario (capture
                // shows alternatives, one per line).
                let lines = block.hasPrefix("capture:") ? block.split(separator: "\n").filter { $0.hasPrefix("capture: ") }.map(String.init) : [block]
                for fragment in lines {
                    _ = try Scenario.parse(text: "name: fragment\n" + fragment, file: "README block \(i)")
                }
            }
        }
        #expect(complete >= 4)
    }

    @Test("addresses are read strictly and printed canonically")
    func addresses() {
        #expect(IPAddress("fd00:fa17:0:0:0:0:0:1")?.description == "fd00:fa17::1")
        #expect(IPAddress("FD00:0:0:1::")?.description == "fd00:0:0:1::")
        #expect(IPAddress("::")?.description == "::")
        #expect(IPAddress("1:0:0:2:0:0:0:3")?.description == "1:0:0:2::3")
        #expect(IPAddress("::ffff:198.18.0.1")?.bytes.suffix(4) == [198, 18, 0, 1])
        #expect(IPAddress("198.18.0.1")?.bytes == [198, 18, 0, 1])
        for bad in ["198.18.01.1", "198.18.1", "198.18.1.256", "1::2::3", "1:2:3:4:5:6:7:8:9", "fd00:fa17:10000::", "", "x"] {
            #expect(IPAddress(bad) == nil, "\(bad) should not parse")
        }
    }
}

@Suite("Scenario language: address names, counts, evidence, output")
struct ScenarioLanguageTests {
    typealias S = Scenario

    @Test("address names resolve at load time in run arguments, peer targets, firewall rules, matches and flows; program braces stay")
    func addressNames() throws {
        let yaml = """
        name: names
        firewall:
          - { name: r, node: router, rule: "ip6 daddr {server.ipv6} tcp dport 9000 reject with tcp reset" }
        impairments:
          - { link: router→server, match: { destination: "{server.ipv4}" }, delay: 5ms }
        steps:
          - { at: 0s, on: server, run: [python3, -m, http.server, --bind, "{server.ipv6}", "8000"] }
          - { at: 0s, on: client, name: c, run: [curl, "http://[{server.ipv6}]:8000/", -d, '{"a": 1}', "{1..3}", "{{x}"] }
          - { at: 0s, on: client, name: p, peer: [connect, --to, "[server]:9000"] }
        expect:
          - { kind: rst, cause: any, flow: "{client.eth0.ipv6} -> [server]:9000" }
        """
        let s = try Scenario.parse(text: yaml, file: "n.yaml")
        let server6 = "fd00:fa17:2::2", server4 = "198.18.2.2", client6 = "fd00:fa17:1::2"
        var argvs: [[String]] = []
        for step in s.steps {
            if case .run(let p) = step.action {
                switch p.command {
                case .argv(let a), .peer(let a): argvs.append(a)
                }
            }
        }
        #expect(argvs[0] == ["python3", "-m", "http.server", "--bind", server6, "8000"])
        #expect(argvs[1] == ["curl", "http://[\(server6)]:8000/", "-d", "{\"a\": 1}", "{1..3}", "{x}"])
        #expect(argvs[2] == ["connect", "--to", "[\(server6)]:9000"])
        guard case .rule(_, _, _, let statement) = s.firewall[0].body else { Issue.record("not a rule"); return }
        #expect(statement == "ip6 daddr \(server6) tcp dport 9000 reject with tcp reset")
        #expect(s.impairments[0].spec.match?.destination?.description == server4)
        guard case .present(let pattern, _) = s.expectations[0].check else { Issue.record("not present"); return }
        #expect(pattern.flow?.description == "\(client6) -> [\(server6)]:9000")
        #expect(pattern.cause == nil)
    }

    @Test("count, min-count, max-count; cause any and undetermined; evidence conditions; stdout/stderr")
    func expectations() throws {
        let yaml = """
        name: expectations
        steps:
          - { at: 0s, on: client, name: c, run: [curl, x] }
        expect:
          - { kind: rst, cause: any, count: 1 }
          - { kind: zero-window, cause: receiver-slow, max-count: 2 }
          - { kind: retransmission, cause: undetermined, min-count: 0, max-count: 0 }
          - { kind: rst, cause: injected-by-middlebox, evidence: { rst_ttl: 64, forged: yes, ttl_difference: ">= 1", how_known: "absent at the server" } }
          - { not: { kind: retransmission, cause: undetermined } }
          - { peer: c, stdout: "200 OK", stderr: { matches: "^curl: \\\\(7\\\\)" }, exit-status: 0 }
          - { peer: c, stdout: { lacks: "Traceback" } }
        """
        let s = try Scenario.parse(text: yaml, file: "e.yaml")
        let checks = s.expectations.map(\.check)
        guard case .present(let any, let one) = checks[0], case .present(_, let atMostTwo) = checks[1],
              case .present(let undetermined, let none) = checks[2], case .present(let forged, _) = checks[3] else {
            Issue.record("unexpected checks \\(checks)")
            return
        }
        #expect(any.cause == nil && one == S.CountBound(min: 1, max: 1) && one.description == " (exactly 1)")
        #expect(atMostTwo == S.CountBound(min: 0, max: 2) && atMostTwo.allows(0) && !atMostTwo.allows(3))
        #expect(undetermined.cause == "undetermined" && none.allows(0) && !none.allows(1))
        #expect(forged.evidence == [
            S.EvidenceCondition(key: "rst_ttl", value: .number(64)),
            S.EvidenceCondition(key: "forged", value: .bool(true)),
            S.EvidenceCondition(key: "ttl_difference", comparison: .greaterOrEqual, value: .number(1)),
            S.EvidenceCondition(key: "how_known", value: .text("absent at the server")),
        ])
        #expect(checks[4] == S.Expectation.Check.absent(S.DiagnosisPattern(kind: "retransmission", cause: "undetermined")))
        #expect(checks[5] == S.Expectation.Check.output(process: "c", stream: .stdout, match: .contains("200 OK")))
        #expect(checks[6] == S.Expectation.Check.output(process: "c", stream: .stderr, match: .matches("^curl: \\(7\\)")))
        #expect(checks[8] == S.Expectation.Check.output(process: "c", stream: .stdout, match: .lacks("Traceback")))
    }
}

@Suite("Durations for people")
struct ReadableDurationTests {
    @Test("a peer's duration is printed in the unit that fits, three significant digits",
          arguments: [(Int64(2_480_828_484), "2.48 s"), (35_215_000, "35.2 ms"), (870_400, "870 µs"), (1_000_000_000, "1 s"),
                      (999, "999 ns"), (120_500_000_000, "120 s"), (1_500_000, "1.5 ms")])
    func readable(nanoseconds: Int64, text: String) {
        #expect(Scenario.PeerValue.duration(.nanoseconds(nanoseconds)).readable == text)
    }
}
