import Foundation
import Glibc
@testable import Runner
import Testing
import TestSupport

extension RunnerKernelTests {
    /// What test authors write (issue #14): runs that must never pass for nothing, headlines that
    /// say what happened, `found:` that stays on the expectation's flow, and the examples folder.
    @Suite("Scenario language, run for real")
    struct ScenarioLanguageRunTests {
        /// Writes `yaml` to a temporary folder and runs it; returns the exit status and the report.
        func run(_ yaml: String, _ extra: [String] = []) throws -> (status: Int32?, report: RunReport?, output: String) {
            let dir = TestSupport.temporaryDirectory("fl-language")
            defer { TestSupport.removeTree(dir) }
            let file = dir + "/s.yaml"
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            let r = try Faultline.run(["run", file, "--json", "--artifacts", dir + "/a"] + extra, directory: dir)
            return (r.status, try? JSONDecoder().decode(RunReport.self, from: Data(r.output.utf8)), r.output + r.error)
        }

        @Test("a peer step whose arguments faultline peer refuses is a load error at its line (exit 2), though the expectations are only `not:` lines")
        func peerUsageError() throws {
            let r = try run("""
            name: bad-peer-arguments
            time-limit: 5s
            steps:
              - { at: 0s, on: server, peer: [listen, --port, "9000"] }
              - { at: 100ms, on: client, peer: [send, --to, "server:9000", --bytes, 1KiB, --rate, 1MiB/s] }
              - { at: 1s, stop: all }
            expect:
              - not: { kind: rst, cause: any }
            """)
            #expect(r.status == 2, "\(r.output)")
            #expect(r.report == nil, "nothing ran")
            #expect(r.output.contains("steps[1].peer: faultline peer refuses these arguments: Unknown option '--rate'. Did you mean '--pace'?; expected the arguments of `faultline peer send` (see `faultline peer send --help`)"),
                    "\(r.output)")
        }

        @Test("a peer step with several mistakes names them all, not only the first")
        func peerSeveralMistakes() throws {
            let r = try run("""
            name: several-mistakes
            time-limit: 5s
            steps:
              - { at: 0s, on: server, peer: [listen, --port, "9000", --never-read, --respond, "10", --accept-after-overflows, "0"] }
              - { at: 1s, stop: all }
            """)
            #expect(r.status == 2, "\(r.output)")
            #expect(r.output.contains("steps[0].peer: faultline peer refuses these arguments: --never-read excludes --read-chunk, --read-interval and --respond: it reads nothing; --accept-after-overflows must be 1 or more"),
                    "\(r.output)")
            #expect(!r.output.contains("Usage:"), "the peer's usage lines are not problems: \(r.output)")
        }

        @Test("a misspelt role is named as such (not 'Unknown option --to'), when the file is loaded")
        func misspeltRole() throws {
            let r = try run("""
            name: misspelt-role
            time-limit: 5s
            steps:
              - { at: 0s, on: client, peer: [sned, --to, "server:9000", --bytes, 1KiB] }
            expect:
              - not: { kind: rst, cause: any }
            """)
            #expect(r.status == 2)
            #expect(r.output.contains("faultline peer refuses these arguments: unknown role 'sned' (did you mean 'send'?); expected one of: listen, send, connect, request, hold"),
                    "\(r.output)")
        }

        @Test("a run: program that is not there, or exits with a usage error, fails the run — unless the scenario expects that exit status")
        func programFailures() throws {
            let missing = try run("""
            name: usage-error
            time-limit: 5s
            steps:
              - { at: 0s, on: client, name: tool, run: [sh, -c, "echo 'usage: tool FILE' >&2; exit 2"] }
            expect:
              - not: { kind: rst, cause: any }
            """)
            #expect(missing.status == 2)
            #expect(missing.report?.results.first?.diagnosis == "bad input: a program failed to start: tool exited 2, a usage error: usage: tool FILE")
            let expected = try run("""
            name: usage-error-expected
            time-limit: 5s
            steps:
              - { at: 0s, on: client, name: tool, run: [sh, -c, "echo 'usage: tool FILE' >&2; exit 2"] }
            expect:
              - { peer: tool, exit-status: 2, stderr: "usage: tool" }
            """)
            #expect(expected.status == 0, "\(expected.output)")
        }

        @Test("a target that cannot be resolved fails the run; `[server]:9000` and {server.ipv6} are the server's IPv6 address")
        func addressNamesAtRunTime() throws {
            let r = try run("""
            name: ipv6-by-name
            time-limit: 5s
            steps:
              - { at: 0s, on: server, peer: [listen, --port, "9000"] }
              - { at: 100ms, on: client, peer: [send, --to, "[server]:9000", --bytes, 4KiB] }
              - { at: 100ms, on: client, name: shell, run: [sh, -c, "echo {server.ipv6} {client.eth0.ipv4}"] }
              - { at: 1s, stop: all }
            expect:
              - { peer: client, bytes-sent: "== 4KiB", connect-errno: none }
              - { peer: shell, stdout: "fd00:fa17:2::2 198.18.1.2", exit-status: 0 }
            """)
            #expect(r.status == 0, "\(r.output)")
            let unresolved = try run("""
            name: unresolvable
            time-limit: 5s
            steps:
              - { at: 0s, on: client, peer: [connect, --to, "nosuchhost.invalid:9000", --timeout, 1s] }
            expect:
              - not: { kind: rst, cause: any }
            """)
            #expect(unresolved.status == 2)
            #expect(unresolved.report?.results.first?.diagnosis.contains("client could not resolve its target") == true,
                    "\(unresolved.report?.results.first?.diagnosis ?? unresolved.output)")
        }

        @Test("headlines say what happened: an expectation that failed; found: stays on the expectation's flow")
        func headlines() throws {
            let r = try run("""
            name: wrong-expectation
            time-limit: 5s
            steps:
              - { at: 0s, on: server, peer: [listen, --port, "9000"] }
              - { at: 100ms, on: client, name: refused, peer: [connect, --to, "server:9001", --timeout, 1s] }
              - { at: 200ms, on: client, name: ok, peer: [send, --to, "server:9000", --bytes, 1KiB] }
              - { at: 1s, stop: all }
            expect:
              - { kind: rst, cause: any, flow: "client -> server:9000" }
            """)
            #expect(r.status == 1)
            let result = try #require(r.report?.results.first)
            #expect(result.diagnosis == "expectation failed: expected rst on client -> server:9000, found no finding on that flow", "\(result.diagnosis)")
            #expect(result.expectations.first?.found == "no finding on that flow")
        }

        @Test("an event that never comes stops the run at its timeout and fails it, saying which step waited for what")
        func eventTimeout() throws {
            let r = try run("""
            name: event-never-comes
            time-limit: 5s
            steps:
              - { at: 0s, on: server, peer: [listen, --port, "9000"] }
              - { after: server connected, timeout: 500ms, stop: all }
            expect:
              - not: { kind: rst, cause: any }
            """)
            #expect(r.status == 1)
            let result = try #require(r.report?.results.first)
            #expect(result.status == .failed)
            #expect(result.diagnosis.hasSuffix("s.yaml:5:5: the step waits for server connected, which did not happen within 500ms of the start"),
                    "\(result.diagnosis)")
            #expect(result.seconds < 4, "the run should stop at the timeout, not at the time limit")
        }

        @Test("a run whose steps ran late (the runner itself held up) says its own timing was disturbed")
        func disturbedTiming() throws {
            let dir = TestSupport.temporaryDirectory("fl-disturbed")
            defer { TestSupport.removeTree(dir) }
            let file = dir + "/s.yaml"
            try """
            name: disturbed
            time-limit: 5s
            steps:
              - { at: 0s, on: server, peer: [listen, --port, "9000"] }
              - { at: 1s, stop: all }
            """.write(toFile: file, atomically: true, encoding: .utf8)
            let run = try Faultline.Running(["run", file, "--json", "--artifacts", dir + "/a"], directory: dir)
            // Hold the whole runner still across the step's time, as an overloaded machine would.
            // Not while the runner waits for the server to be ready: that wait shifts the timeline
            // (steps after it run that much later, on time), so a stop inside it disturbs nothing.
            // Once the server has logged `listening`, give the runner (it looks every millisecond)
            // 200 ms to see it, then stop it for 1.5 s: across the step, due 1 s after it saw it.
            let started = run.waitUntil(seconds: 20) {
                guard let path = FileManager.default.enumerator(atPath: dir + "/a")?
                    .compactMap({ $0 as? String }).first(where: { $0.hasSuffix("server.events.jsonl") }) else { return false }
                return TestSupport.readFile(dir + "/a/" + path)?.contains("\"event\":\"listening\"") == true
            }
            #expect(started)
            usleep(200_000)
            run.kill(SIGSTOP)
            usleep(1_500_000)
            run.kill(SIGCONT)
            #expect(run.wait(seconds: 30) == 0, "\(run.errorOutput)")
            let report = try JSONDecoder().decode(RunReport.self, from: Data(run.output.utf8))
            let note = report.results.first?.notes.first { $0.hasPrefix("this run's own timing was disturbed") }
            #expect(note != nil, "\(report.results.first?.notes ?? [])")
        }

        @Test("every example in Scenarios/examples passes 5 times out of 5")
        func examples() throws {
            let dir = TestSupport.temporaryDirectory("fl-examples")
            defer { TestSupport.removeTree(dir) }
            let r = try Faultline.run(["run", Faultline.catalog + "/examples", "--repeat", "5", "--json", "--keep-captures", "failed",
                                       "--artifacts", dir + "/a"], directory: dir, timeout: 300)
            let report = try JSONDecoder().decode(RunReport.self, from: Data(r.output.utf8))
            #expect(report.results.count >= 15)
            for result in report.results where result.status != .passed {
                Issue.record("\(result.name) #\(result.repetition): \(result.status) — \(result.diagnosis)\n\(TextReport.scenario(result))")
            }
            #expect(r.status == 0)
        }
    }
}
