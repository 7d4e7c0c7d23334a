import CLinux
import Foundation
import Glibc
import Netlink
import Testing
import TestSupport

extension RunnerKernelTests {
    /// Every process that ever ran in a node is gone when the node is: daemons of a `run:` step,
    /// grandchildren of a SIGKILLed run (after `faultline cleanup`), `faultline exec` sessions of
    /// a lab that ends.
    @Suite("No process outlives its node")
    struct ProcessLeakTests {
        /// A sleep duration no other process uses, to find ours by command line.
        static func marker() -> String { "32\(fl_monotonic_ns() % 1_000_000).5" }

        static func scenario(_ dir: String, name: String, command: String, stopAt: String, timeLimit: String = "10s") throws -> String {
            let path = "\(dir)/\(name).yaml"
            let escaped = command.replacingOccurrences(of: "\"", with: "\\\"")
            try """
            name: \(name)
            summary: a run step whose processes leave its process group
            time-limit: \(timeLimit)
            steps:
              - { at: 0s, on: client, run: [sh, -c, "\(escaped)"] }
              - { at: \(stopAt), stop: all }
            """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        @Test("a run: program that daemonizes (setsid, double fork) is gone when the run ends")
        func daemonsOfARun() throws {
            let dir = TestSupport.temporaryDirectory("fl-daemon")
            defer { TestSupport.removeTree(dir) }
            let mark = Self.marker()
            let path = try Self.scenario(dir, name: "daemonizes",
                                         command: "setsid sleep \(mark) & (sh -c 'sleep \(mark) &' &); (sleep \(mark); true) & exit 0",
                                         stopAt: "500ms")
            let r = try Faultline.run(["run", path, "--artifacts", dir + "/artifacts"], directory: dir, timeout: 60)
            #expect(r.status == 0, "\(r.output)\(r.error)")
            let leftover = Faultline.processes(mentioning: mark)
            for pid in leftover { kill(pid, SIGKILL) }
            #expect(leftover.isEmpty, "outlived the run: \(leftover)")
        }

        @Test("a grandchild survives SIGKILL of the runner only until `faultline cleanup`")
        func grandchildAfterSIGKILL() throws {
            let dir = TestSupport.temporaryDirectory("fl-grandchild")
            defer { TestSupport.removeTree(dir) }
            let mark = Self.marker()
            let path = try Self.scenario(dir, name: "grandchild", command: "(sleep \(mark); true) & sleep 20", stopAt: "8s")
            let run = try Faultline.Running(["run", path, "--artifacts", dir + "/artifacts"], directory: dir)
            let started = run.waitUntil(seconds: 20) { Faultline.processes(mentioning: "sleep \(mark)").count >= 1 }
            #expect(started, "\(run.errorOutput)")
            let killed = run.pid
            run.kill(SIGKILL)
            _ = run.wait(seconds: 5)
            let cleanup = try Faultline.run(["cleanup"], directory: dir, timeout: 30)
            #expect(cleanup.status == 0)
            #expect(cleanup.output.contains("removed faultline-\(killed)-"), "\(cleanup.output)")
            let gone = run.waitUntil(seconds: 2) { Faultline.processes(mentioning: mark).isEmpty }
            let leftover = Faultline.processes(mentioning: mark)
            for pid in leftover { kill(pid, SIGKILL) }
            #expect(gone, "outlived the SIGKILLed run and the cleanup: \(leftover)")
            #expect(Faultline.namespaces(of: killed).isEmpty)
        }

        @Test("processes started with `faultline exec` end with the lab; Ctrl-C exits 130")
        func execSessionsEndWithTheLab() throws {
            let dir = TestSupport.temporaryDirectory("fl-exec-survivor")
            defer { TestSupport.removeTree(dir) }
            let mark = Self.marker()
            let lab = try Faultline.Running(["lab", Faultline.scenario("r1-closed-port")], directory: dir)
            let up = lab.waitUntil(seconds: 20) { lab.output.contains("Ctrl-C tears it down") }
            #expect(up, "\(lab.output)\(lab.errorOutput)")
            // `faultline` inside a node is this binary, even when its folder is not in PATH.
            let inner = try ChildProcess.run([try TestSupport.faultlineBinaryPath(), "exec", "client", "--lab", String(lab.pid), "--",
                                              "faultline", "--version"],
                                             environment: ["PATH": "/usr/bin:/bin"], timeoutNanoseconds: 10_000_000_000)
            #expect(inner.status == .exited(0), "\(inner.standardError)")
            #expect(inner.standardOutput.contains("0.1.0"))
            let session = try Faultline.Running(["exec", "client", "--lab", String(lab.pid), "--", "sleep", mark], directory: dir)
            let daemon = try ChildProcess.run([try TestSupport.faultlineBinaryPath(), "exec", "server", "--lab", String(lab.pid), "--",
                                               "sh", "-c", "setsid sleep \(mark) </dev/null >/dev/null 2>&1 & exit 0"],
                                              timeoutNanoseconds: 10_000_000_000)
            #expect(daemon.status == .exited(0), "\(daemon.standardError)")
            #expect(lab.waitUntil(seconds: 5) { Faultline.processes(mentioning: "sleep \(mark)").count == 2 })
            lab.kill(SIGINT)
            #expect(lab.wait(seconds: 15) == 130, "\(lab.errorOutput)")
            #expect(session.wait(seconds: 5) == 128 + SIGKILL)
            let leftover = Faultline.processes(mentioning: mark)
            for pid in leftover { kill(pid, SIGKILL) }
            #expect(leftover.isEmpty, "outlived the lab: \(leftover)")
            #expect(Faultline.namespaces(of: lab.pid).isEmpty)
        }
    }
}
