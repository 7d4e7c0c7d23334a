import Foundation
import Glibc
import Testing
import TestSupport
import Runner

extension RunnerKernelTests {
    /// `faultline run` on scenarios written for the test: addresses of the scenario's own, IPv6,
    /// the hard time limit, --repeat, --seed, JUnit.
    @Suite("faultline run")
    struct RunTests {
        static func write(_ text: String, to dir: String, name: String) throws -> String {
            let path = "\(dir)/\(name).yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        @Test("a scenario's own addresses (and IPv6) exist only in its namespaces; the root namespace is unchanged")
        func ownAddresses() throws {
            let dir = TestSupport.temporaryDirectory("fl-run")
            defer { TestSupport.removeTree(dir) }
            let path = try Self.write("""
                name: own-addresses
                time-limit: 5s
                topology:
                  line:
                    links:
                      client-router: { addresses: { client: [10.77.1.2/24, "fd00:77:1::2/64"], router: [10.77.1.1/24, "fd00:77:1::1/64"] } }
                      router-server: { addresses: { router: [10.77.2.1/24, "fd00:77:2::1/64"], server: [10.77.2.2/24, "fd00:77:2::2/64"] } }
                steps:
                  - { at: 0s, on: client, name: v4, peer: [connect, --to, "10.77.2.2:9001", --timeout, 2s] }
                  - { at: 0s, on: client, name: v6, peer: [connect, --to, "[fd00:77:2::2]:9001", --timeout, 2s] }
                expect:
                  - { kind: rst, cause: refused-by-host, flow: "10.77.1.2 -> 10.77.2.2:9001" }
                  - { kind: rst, cause: refused-by-host, flow: "[fd00:77:1::2] -> [fd00:77:2::2]:9001" }
                  - { peer: v4, connect-errno: ECONNREFUSED }
                  - { peer: v6, connect-errno: ECONNREFUSED }
                """, to: dir, name: "own")
            let before = TestSupport.rootSnapshot()
            let r = try Faultline.run(["run", path, "--artifacts", dir + "/artifacts"], directory: dir, timeout: 60)
            let after = TestSupport.rootSnapshot()
            #expect(r.status == 0, "\(r.output)\n\(r.error)")
            #expect(after.links == before.links)
            #expect(after.routes == before.routes)
            #expect(!after.routes.contains("10.77."), "the scenario's subnets never reach the root namespace's routes")
        }

        @Test("the time limit is hard: a run that does not end is stopped, torn down, and fails with the reason")
        func timeLimit() throws {
            let dir = TestSupport.temporaryDirectory("fl-run")
            defer { TestSupport.removeTree(dir) }
            let path = try Self.write("""
                name: never-ends
                time-limit: 1s
                steps:
                  - { at: 0s, on: server, peer: [listen, --port, "9000", --connections, "0"] }
                """, to: dir, name: "never")
            let began = Date()
            let run = try Faultline.Running(["run", path, "--artifacts", dir + "/artifacts", "--junit", dir + "/j.xml"], directory: dir)
            let status = run.wait(seconds: 30)
            #expect(status == 1)
            #expect(Date().timeIntervalSince(began) < 8)
            #expect(run.output.contains("time limit 1s reached with processes still running: server"), "\(run.output)")
            #expect(Faultline.namespaces(of: run.pid).isEmpty)
            #expect(Faultline.processes(mentioning: dir + "/artifacts").isEmpty)
            #expect((TestSupport.readFile(dir + "/j.xml") ?? "").contains("time limit"))
        }

        @Test("--repeat counts passes per scenario; --seed reaches the run; one artifacts folder per run with its files")
        func repeatAndArtifacts() throws {
            let dir = TestSupport.temporaryDirectory("fl-run")
            defer { TestSupport.removeTree(dir) }
            let r = try Faultline.run(["run", Faultline.scenario("r1-closed-port"), "--repeat", "3", "--seed", "42",
                                       "--keep-captures", "all", "--artifacts", dir + "/artifacts"], directory: dir, timeout: 120)
            #expect(r.status == 0, "\(r.output)\n\(r.error)")
            #expect(r.output.contains("3/3  r1-closed-port"))
            #expect(r.output.contains("seed 42"))
            let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/artifacts")
            let runFolder = try #require(runs.first)
            let folders = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/artifacts/\(runFolder)").sorted()
            #expect(folders == ["r1-closed-port-1", "r1-closed-port-2", "r1-closed-port-3"])
            let files = Set(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/artifacts/\(runFolder)/r1-closed-port-1"))
            for expected in ["scenario.yaml", "client-eth0.pcapng", "server-eth0.pcapng", "client.events.jsonl", "findings.json",
                             "result.json", "report.txt", "timeline.log"] {
                #expect(files.contains(expected), "missing \(expected) in \(files.sorted())")
            }
        }

        @Test("result.json places each capture where the run did, so a report rebuilt without the scenario's file (a scenario built in Swift has none) judges as the run did")
        func capturesKeepTheirRoles() throws {
            let dir = TestSupport.temporaryDirectory("fl-roles")
            defer { TestSupport.removeTree(dir) }
            let run = try Faultline.run(["run", Faultline.scenario("f1-syn-dropped"), "--json", "--tcpinfo-interval", "0",
                                         "--artifacts", dir + "/a"], directory: dir, timeout: 60)
            #expect(run.status == 0, "\(run.output)\(run.error)")
            let result = try #require(try JSONDecoder().decode(RunReport.self, from: Data(run.output.utf8)).results.first)
            let roles = Dictionary(result.captures.map { ($0.node, $0.role?.rawValue ?? "none") }, uniquingKeysWith: { a, _ in a })
            #expect(roles == ["client": "client", "server": "server"], "\(result.captures)")
            // The server's capture holds no packet of the connection: only its stated place says
            // that the SYNs never reached the server's side.
            let verdict = "the server&#39;s capture never saw the SYN, so the path dropped it"
            #expect(TestSupport.readFile(result.artifacts + "/report.html")?.contains(verdict) == true)
            try FileManager.default.removeItem(atPath: result.artifacts + "/scenario.yaml")
            try FileManager.default.removeItem(atPath: result.artifacts + "/report.html")
            let rebuilt = try Faultline.run(["report", result.artifacts], directory: dir)
            #expect(rebuilt.status == 0, "\(rebuilt.error)")
            #expect(TestSupport.readFile(result.artifacts + "/report.html")?.contains(verdict) == true,
                    "faultline report, without scenario.yaml, placed the captures differently from the run")
        }
    }
}
