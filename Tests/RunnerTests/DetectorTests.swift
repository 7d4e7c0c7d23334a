import Foundation
import Glibc
import Testing
import TestSupport

extension RunnerKernelTests {
    /// `--detector cmd:PROGRAM` (people's own detectors) and `--detector tshark`, on real runs.
    @Suite("Detectors")
    struct DetectorTests {
        /// Writes an executable detector script that first checks it was given readable pcapng
        /// captures (exit 3 otherwise), then prints `json`.
        static func detector(in dir: String, named name: String, printing json: String) throws -> String {
            let path = "\(dir)/\(name)"
            let script = """
                #!/bin/sh
                [ $# -ge 1 ] || { echo "no captures given" >&2; exit 3; }
                for f in "$@"; do
                  case "$f" in *.pcapng) ;; *) echo "not a capture: $f" >&2; exit 3;; esac
                  [ -s "$f" ] || { echo "empty capture: $f" >&2; exit 3; }
                done
                echo "$FAULTLINE_CAPTURES" | grep -q '"node":"client"' || { echo "FAULTLINE_CAPTURES lacks the client" >&2; exit 3; }
                echo "$FAULTLINE_CAPTURES" | grep -q '"role":"client"' || { echo "FAULTLINE_CAPTURES does not place the client" >&2; exit 3; }
                cat <<'JSON'
                \(json)
                JSON
                """
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
            return path
        }

        static let refusedFinding = """
            [{"kind": "rst", "cause": "refused-by-host", "flow": "198.18.1.2:40000 -> 198.18.2.2:9001",
              "vantage": "client", "sentence": "Nothing listens on 198.18.2.2:9001."}]
            """

        @Test("a cmd: detector gets the capture paths and its right findings pass")
        func rightFindings() throws {
            let dir = TestSupport.temporaryDirectory("fl-detector")
            defer { TestSupport.removeTree(dir) }
            let program = try Self.detector(in: dir, named: "good-detector", printing: Self.refusedFinding)
            let r = try Faultline.run(["run", Faultline.scenario("r1-closed-port"), "--detector", "cmd:\(program)",
                                       "--artifacts", dir + "/artifacts"], directory: dir, timeout: 60)
            #expect(r.status == 0, "stdout: \(r.output)\nstderr: \(r.error)")
            #expect(r.output.contains("PASS"))
            #expect(r.output.contains("Nothing listens on 198.18.2.2:9001."), "the one-line diagnosis is the detector's sentence")
        }

        @Test("a cmd: detector that returns wrong findings makes the run fail with a readable difference")
        func wrongFindings() throws {
            let dir = TestSupport.temporaryDirectory("fl-detector")
            defer { TestSupport.removeTree(dir) }
            // It mistakes the host's refusal for a firewall's RST: the look-alike.
            let program = try Self.detector(in: dir, named: "confused-detector", printing: """
                {"findings": [{"kind": "rst", "cause": "injected-by-middlebox",
                  "flow": {"client": "198.18.1.2:40000", "server": "198.18.2.2:9001"}, "vantage": ["client"], "confidence": 0.7}]}
                """)
            let r = try Faultline.run(["run", Faultline.scenario("r1-closed-port"), "--detector", "cmd:\(program)",
                                       "--artifacts", dir + "/artifacts", "--junit", dir + "/junit.xml"], directory: dir, timeout: 60)
            #expect(r.status == 1, "stdout: \(r.output)\nstderr: \(r.error)")
            // Expected vs found, for both expectations the wrong finding breaks, and where to look.
            #expect(r.output.contains("FAIL  r1-closed-port"))
            #expect(r.output.contains("FAIL rst/refused-by-host on client -> server:9001"))
            #expect(r.output.contains("found: rst/injected-by-middlebox on 198.18.1.2:40000 -> 198.18.2.2:9001 at client"))
            #expect(r.output.contains("FAIL no rst/injected-by-middlebox"))
            #expect(r.output.contains("r1-closed-port.yaml:9:5"), "the failed expectation's file:line:column")
            #expect(r.output.contains("artifacts: \(dir)/artifacts/"))
            let junit = TestSupport.readFile(dir + "/junit.xml") ?? ""
            #expect(junit.contains("<failure message=\"expected rst/refused-by-host on client -&gt; server:9001; found: rst/injected-by-middlebox"))
        }

        @Test("a cmd: detector that prints no valid JSON is bad input (exit 2), with the reason")
        func brokenDetector() throws {
            let dir = TestSupport.temporaryDirectory("fl-detector")
            defer { TestSupport.removeTree(dir) }
            let program = try Self.detector(in: dir, named: "broken-detector", printing: #"[{"kind": "rst"}]"#)
            let r = try Faultline.run(["run", Faultline.scenario("r1-closed-port"), "--detector", "cmd:\(program)",
                                       "--artifacts", dir + "/artifacts"], directory: dir, timeout: 60)
            #expect(r.status == 2, "stdout: \(r.output)\nstderr: \(r.error)")
            #expect(r.output.contains("missing key 'cause' at [0]"), "\(r.output)")
            let missing = try Faultline.run(["run", Faultline.scenario("r1-closed-port"), "--detector", "cmd:\(dir)/no-such-program",
                                             "--artifacts", dir + "/artifacts"], directory: dir, timeout: 60)
            // Checked before anything is built (InputCheckTests): the scenario does not run.
            #expect(missing.status == 2)
            #expect(missing.error.contains("no executable file at \(dir)/no-such-program"), "\(missing.error)")
            #expect(!missing.output.contains("PASS") && !missing.output.contains("FAIL"), "\(missing.output)")
        }

        @Test("--detector tshark checks what tshark's flags express and lists what they cannot (firewall vs host RST)")
        func tshark() throws {
            let dir = TestSupport.temporaryDirectory("fl-detector")
            defer { TestSupport.removeTree(dir) }
            let r = try Faultline.run(["run", Faultline.scenario("r2-firewall-on-syn"), "--detector", "tshark",
                                       "--artifacts", dir + "/artifacts", "--json"], directory: dir, timeout: 60)
            #expect(r.status == 0, "stdout: \(r.output)\nstderr: \(r.error)")
            let report = try JSONDecoder().decode(RunReportView.self, from: Data(r.output.utf8))
            let result = try #require(report.results.first)
            let present = try #require(result.expectations.first { $0.expected.hasPrefix("rst/injected-by-middlebox") })
            #expect(present.checked && present.passed)
            #expect(present.found.contains("rst frame"))
            #expect(present.note?.contains("cannot tell a firewall's RST from the host's") == true)
            let absent = try #require(result.expectations.first { $0.expected == "no rst/refused-by-host" })
            #expect(!absent.checked)
            // The report (on stderr with --json) lists what tshark cannot express, even on a pass.
            #expect(r.error.contains("1 expectation the tshark detector cannot express (not checked):"), "\(r.error)")
            #expect(r.error.contains("- no rst/refused-by-host [") )
            // A check tshark can express, and that fails when it should: no RST at all is false here.
            let strict = dir + "/strict.yaml"
            let text = (TestSupport.readFile(Faultline.scenario("r2-firewall-on-syn")) ?? "")
                .replacingOccurrences(of: "name: r2-firewall-on-syn", with: "name: r2-strict")
                + "  - not: { kind: rst }\n"
            try text.write(toFile: strict, atomically: true, encoding: .utf8)
            let failing = try Faultline.run(["run", strict, "--detector", "tshark", "--artifacts", dir + "/artifacts"], directory: dir, timeout: 60)
            #expect(failing.status == 1)
            #expect(failing.output.contains("FAIL no rst [tshark: no rst]"), "\(failing.output)")
        }

        /// The parts of the --json report these tests read.
        struct RunReportView: Decodable {
            struct Result: Decodable {
                struct Expectation: Decodable {
                    var expected: String
                    var found: String
                    var passed: Bool
                    var checked: Bool
                    var note: String?
                }
                var name: String
                var expectations: [Expectation]
            }
            var results: [Result]
        }
    }
}
