import Foundation
import Glibc
import Testing
import TestSupport

extension RunnerKernelTests {
    /// Requested outputs and detectors are checked before anything is built; bad files fail fast.
    @Suite("Inputs checked before the run")
    struct InputCheckTests {
        @Test("--junit into a folder that does not exist: exit 2 before anything runs")
        func junitFolderMissing() throws {
            let dir = TestSupport.temporaryDirectory("fl-junit")
            defer { TestSupport.removeTree(dir) }
            let started = Date()
            let r = try Faultline.run(["run", Faultline.scenario("r1-closed-port"), "--artifacts", dir + "/artifacts",
                                       "--junit", "/nonexistent/dir/x.xml"], directory: dir, timeout: 60)
            #expect(r.status == 2, "\(r.output)\(r.error)")
            #expect(r.error.contains("--junit /nonexistent/dir/x.xml"), "\(r.error)")
            #expect(r.error.contains("/nonexistent/dir does not exist"), "\(r.error)")
            #expect(!r.output.contains("PASS") && !r.output.contains("FAIL"), "the scenario ran: \(r.output)")
            #expect(access(dir + "/artifacts", F_OK) != 0, "an artifacts folder was made")
            #expect(Date().timeIntervalSince(started) < 10)
        }

        @Test("--detector cmd:/nonexistent: exit 2 before anything runs")
        func detectorMissing() throws {
            let dir = TestSupport.temporaryDirectory("fl-detector")
            defer { TestSupport.removeTree(dir) }
            let r = try Faultline.run(["run", Faultline.scenario("r1-closed-port"), "--artifacts", dir + "/artifacts",
                                       "--detector", "cmd:/nonexistent/detector --flag"], directory: dir, timeout: 60)
            #expect(r.status == 2, "\(r.output)\(r.error)")
            #expect(r.error.contains("no executable file at /nonexistent/detector"), "\(r.error)")
            #expect(!r.output.contains("PASS") && !r.output.contains("FAIL"), "the scenario ran: \(r.output)")
            #expect(access(dir + "/artifacts", F_OK) != 0)
        }

        @Test("a --junit that cannot be written at the end fails the run (not exit 0)")
        func junitWriteFailure() throws {
            let dir = TestSupport.temporaryDirectory("fl-junit-late")
            defer { TestSupport.removeTree(dir) }
            // Writable when checked, gone when written: the folder is removed mid-run.
            let folder = dir + "/reports"
            mkdir(folder, 0o755)
            let run = try Faultline.Running(["run", Faultline.scenario("zw2-never-read"), "--artifacts", dir + "/artifacts",
                                             "--junit", folder + "/x.xml"], directory: dir)
            let going = run.waitUntil(seconds: 20) { !Faultline.namespaces(of: run.pid).isEmpty }
            #expect(going)
            rmdir(folder)
            let status = run.wait(seconds: 60)
            #expect(status == 3, "\(run.output)\(run.errorOutput)")
            #expect(run.errorOutput.contains("cannot write --junit"), "\(run.errorOutput)")
        }

        @Test("-j far above the cores warns that timing diagnoses measure the contention")
        func jobsWarning() throws {
            let dir = TestSupport.temporaryDirectory("fl-jobs")
            defer { TestSupport.removeTree(dir) }
            let cores = ProcessInfo.processInfo.activeProcessorCount
            let r = try Faultline.run(["run", Faultline.scenario("r1-closed-port"), "--artifacts", dir + "/artifacts",
                                       "-j", String(cores * 8)], directory: dir, timeout: 60)
            #expect(r.status == 0)
            #expect(r.error.contains("warning: -j \(cores * 8) on \(cores) core"), "\(r.error)")
            let quiet = try Faultline.run(["run", Faultline.scenario("r1-closed-port"), "--artifacts", dir + "/artifacts"],
                                          directory: dir, timeout: 60)
            #expect(!quiet.error.contains("warning: -j"))
        }

        @Test("an alias bomb fails run and list within seconds, exit 2, with its line")
        func aliasBomb() throws {
            let dir = TestSupport.temporaryDirectory("fl-bomb")
            defer { TestSupport.removeTree(dir) }
            let path = TestSupport.repoRoot + "/Tests/ScenarioTests/Malformed/alias-bomb.yaml"
            for command in [["list", path], ["run", path, "--artifacts", dir + "/artifacts"]] {
                let started = Date()
                let r = try Faultline.run(command, directory: dir, timeout: 20)
                #expect(r.status == 2, "\(command[0]): \(r.error)")
                #expect(r.error.contains("alias-bomb.yaml:7:4:"), "\(r.error)")
                #expect(Date().timeIntervalSince(started) < 5)
            }
        }
    }
}
