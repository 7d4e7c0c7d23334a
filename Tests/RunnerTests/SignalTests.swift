import Foundation
import Glibc
import Netlink
import Testing
import TestSupport

extension RunnerKernelTests {
    /// Ctrl-C, SIGTERM and SIGKILL in the middle of a run: nothing may be left (for SIGKILL: after
    /// the next start).
    @Suite("Signals in the middle of a run")
    struct SignalTests {
        /// Starts zw2-never-read (about 3 s) and waits until its namespaces and both peers exist.
        static func startMidRun(_ dir: String) throws -> Faultline.Running {
            let run = try Faultline.Running(["run", Faultline.scenario("zw2-never-read"), "--artifacts", dir + "/artifacts"], directory: dir)
            let ready = run.waitUntil(seconds: 20) {
                Faultline.namespaces(of: run.pid).count == 3 && Faultline.processes(mentioning: dir + "/artifacts").count >= 2
            }
            #expect(ready, "the run never got going: \(run.errorOutput)")
            return run
        }

        func interrupt(with signal: Int32, expecting code: Int32) throws {
            let dir = TestSupport.temporaryDirectory("fl-signal")
            defer { TestSupport.removeTree(dir) }
            let before = TestSupport.rootSnapshot()
            let run = try Self.startMidRun(dir)
            run.kill(signal)
            let status = run.wait(seconds: 15)
            #expect(status == code, "exit status \(String(describing: status)); stderr: \(run.errorOutput)")
            #expect(Faultline.namespaces(of: run.pid).isEmpty)
            #expect(Faultline.processes(mentioning: dir + "/artifacts").isEmpty)
            let after = TestSupport.rootSnapshot()
            #expect(after.links == before.links)
            #expect(after.routes == before.routes)
            #expect(after.qdiscs == before.qdiscs)
            #expect(after.nftRuleset == before.nftRuleset)
            #expect(run.output.contains("STOP") || run.output.contains("interrupted"), "\(run.output)")
        }

        @Test("SIGINT (Ctrl-C) mid-run: everything torn down, exit 130")
        func sigint() throws { try interrupt(with: SIGINT, expecting: 130) }

        @Test("SIGTERM mid-run: everything torn down, exit 143")
        func sigterm() throws { try interrupt(with: SIGTERM, expecting: 143) }

        @Test("SIGHUP (terminal closed) mid-run: everything torn down, exit 129")
        func sighup() throws { try interrupt(with: SIGHUP, expecting: 129) }

        @Test("SIGQUIT (Ctrl-\\) mid-run: torn down, exit 131, no crash screen")
        func sigquit() throws { try interrupt(with: SIGQUIT, expecting: 131) }

        @Test("SIGUSR1 mid-run: everything torn down, exit 138")
        func sigusr1() throws { try interrupt(with: SIGUSR1, expecting: 138) }

        @Test("SIGUSR2 mid-run: everything torn down, exit 140")
        func sigusr2() throws { try interrupt(with: SIGUSR2, expecting: 140) }

        @Test("SIGALRM mid-run: everything torn down, exit 142")
        func sigalrm() throws { try interrupt(with: SIGALRM, expecting: 142) }

        @Test("a closed stdout (`faultline run ... | head -1`): no SIGPIPE death, the run finishes and tears down")
        func closedStdout() throws {
            let dir = TestSupport.temporaryDirectory("fl-sigpipe")
            defer { TestSupport.removeTree(dir) }
            let before = TestSupport.rootSnapshot()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try TestSupport.faultlineBinaryPath())
            process.arguments = ["run", Faultline.scenario("zw2-never-read"), "--artifacts", dir + "/artifacts"]
            process.currentDirectoryURL = URL(fileURLWithPath: dir)
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            // The reader is gone before the first line: every write to stdout meets a closed pipe.
            try pipe.fileHandleForReading.close()
            try process.run()
            try pipe.fileHandleForWriting.close()
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            #expect(!process.isRunning)
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
            #expect(process.terminationReason == .exit, "killed by signal \(process.terminationStatus)")
            #expect(process.terminationStatus == 0)
            #expect(Faultline.namespaces(of: process.processIdentifier).isEmpty)
            #expect(Faultline.processes(mentioning: dir + "/artifacts").isEmpty)
            let after = TestSupport.rootSnapshot()
            #expect(after.links == before.links)
            #expect(after.qdiscs == before.qdiscs)
            #expect(after.nftRuleset == before.nftRuleset)
        }

        @Test("SIGPIPE sent by kill mid-run is ignored: the run finishes normally, nothing left")
        func sigpipeByKill() throws {
            let dir = TestSupport.temporaryDirectory("fl-sigpipe-kill")
            defer { TestSupport.removeTree(dir) }
            let run = try Self.startMidRun(dir)
            run.kill(SIGPIPE)
            #expect(run.wait(seconds: 60) == 0, "\(run.errorOutput)")
            #expect(Faultline.namespaces(of: run.pid).isEmpty)
            #expect(Faultline.processes(mentioning: dir + "/artifacts").isEmpty)
        }

        @Test("SIGKILL mid-run: the peers die with the runner, the namespaces are swept at the next start")
        func sigkill() throws {
            let dir = TestSupport.temporaryDirectory("fl-sigkill")
            defer { TestSupport.removeTree(dir) }
            let before = TestSupport.rootSnapshot()
            let run = try Self.startMidRun(dir)
            let killed = run.pid
            run.kill(SIGKILL)
            _ = run.wait(seconds: 5)
            // The peers got their parent-death signal.
            let gone = run.waitUntil(seconds: 5) { Faultline.processes(mentioning: dir + "/artifacts").isEmpty }
            #expect(gone, "peers outlived the SIGKILLed runner: \(Faultline.processes(mentioning: dir + "/artifacts"))")
            // Named namespaces outlive a SIGKILL (that is what the sweep is for)...
            let leftovers = Faultline.namespaces(of: killed)
            #expect(!leftovers.isEmpty, "expected the killed run's namespaces to wait for the sweep")
            // ...until the next start.
            let next = try Faultline.run(["run", Faultline.scenario("r1-closed-port"), "--artifacts", dir + "/artifacts2", "--detector", "tshark"],
                                         directory: dir, timeout: 60)
            #expect(Faultline.namespaces(of: killed).isEmpty, "not swept: \(Faultline.namespaces(of: killed))")
            #expect(next.output.contains("swept"), "\(next.output)")
            let after = TestSupport.rootSnapshot()
            #expect(after.links == before.links)
            #expect(after.routes == before.routes)
            #expect(after.qdiscs == before.qdiscs)
            #expect(after.nftRuleset == before.nftRuleset)
        }
    }
}
