import Foundation
import Glibc
import Testing
import TestSupport

extension RunnerKernelTests {
    /// `faultline impair` follows the same rules as run and lab: any terminating signal tears it
    /// down and exits 128 + N; without root it exits 3 (this environment cannot run it).
    @Suite("impair: signals and exit codes")
    struct ImpairCommandTests {
        func stop(with signal: Int32) throws {
            let dir = TestSupport.temporaryDirectory("fl-impair-signal")
            defer { TestSupport.removeTree(dir) }
            let impair = try Faultline.Running(["impair", "--delay", "1ms", "--no-realtime"], directory: dir)
            let up = impair.waitUntil(seconds: 20) { impair.output.contains("Ctrl-C to stop") }
            #expect(up, "\(impair.output)\(impair.errorOutput)")
            #expect(Faultline.namespaces(of: impair.pid).count == 3)
            impair.kill(signal)
            #expect(impair.wait(seconds: 15) == 128 + signal, "\(impair.errorOutput)")
            #expect(Faultline.namespaces(of: impair.pid).isEmpty)
            #expect(!impair.errorOutput.contains("crashed"))
        }

        @Test("impair: Ctrl-C exits 130 after the teardown") func sigint() throws { try stop(with: SIGINT) }
        @Test("impair: SIGTERM exits 143 after the teardown") func sigterm() throws { try stop(with: SIGTERM) }
        @Test("impair: SIGQUIT exits 131 after the teardown, no crash screen") func sigquit() throws { try stop(with: SIGQUIT) }
        @Test("impair: SIGUSR1 exits 138 after the teardown") func sigusr1() throws { try stop(with: SIGUSR1) }

        @Test("impair -- PROGRAM runs it in the client through the impaired path and exits with its status; no impairment is said")
        func program() throws {
            let dir = TestSupport.temporaryDirectory("fl-impair-program")
            defer { TestSupport.removeTree(dir) }
            // In the client: its own address, and the server 20 ms away (one TCP connect to a closed port).
            let r = try Faultline.run(["impair", "--delay", "20ms", "--no-realtime", "--",
                                       "sh", "-c", "ip -o -4 addr show eth0 | grep -q 198.18.1.2 && exit 7"], directory: dir, timeout: 30)
            #expect(r.status == 7, "\(r.output)\(r.error)")
            #expect(r.output.contains("delay 20ms"), "the banner echoes the impairment: \(r.output)")
            let clean = try Faultline.run(["impair", "--no-realtime", "--", "true"], directory: dir, timeout: 30)
            #expect(clean.status == 0)
            #expect(clean.error.contains("no impairment given"))
            let missing = try Faultline.run(["impair", "--delay", "1ms", "--no-realtime", "--", "/nonexistent/prog"], directory: dir, timeout: 30)
            #expect(missing.status == 127, "\(missing.error)")
        }

        @Test("impair --capture client,server captures both ends and analyses them at the end: a connect to a closed port is rst/refused-by-host, in findings.json")
        func capture() throws {
            let dir = TestSupport.temporaryDirectory("fl-impair-capture")
            defer { TestSupport.removeTree(dir) }
            let r = try Faultline.run(["impair", "--delay", "5ms", "--no-realtime", "--capture", "client,server", "--",
                                       "bash", "-c", "exec 3<>/dev/tcp/198.18.2.2/9000"], directory: dir, timeout: 60)
            #expect(r.status == 1, "bash's connect fails: \(r.output)\(r.error)")
            #expect(r.output.contains("rst/refused-by-host"), "\(r.output)")
            let folders = ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/artifacts")) ?? []).filter { $0.hasPrefix("impair-") }
            let folder = try #require(folders.first.map { dir + "/artifacts/" + $0 }, "\(r.output)")
            let findings = try String(contentsOfFile: folder + "/findings.json", encoding: .utf8)
            #expect(findings.contains("refused-by-host"))
            #expect(FileManager.default.fileExists(atPath: folder + "/client-eth0.pcapng"))
            #expect(FileManager.default.fileExists(atPath: folder + "/server-eth0.pcapng"))
            let report = try String(contentsOfFile: folder + "/report.html", encoding: .utf8)
            #expect(report.contains("refused-by-host"), "report.html shows the finding")
            let wrong = try Faultline.run(["impair", "--capture", "client,sever", "--", "true"], directory: dir, timeout: 30)
            #expect(wrong.status == 2, "bad input: \(wrong.error)")
            #expect(wrong.error.contains("sever") && wrong.error.contains("server"), "names the node and what exists: \(wrong.error)")
        }

        @Test("impair --change-at applies the change on time: a connect that took ~1 ms takes 50 ms after it")
        func scheduledChange() throws {
            let dir = TestSupport.temporaryDirectory("fl-impair-change")
            defer { TestSupport.removeTree(dir) }
            // One SYN to a closed port before the change and one after: the RST comes back one round trip later.
            let probe = "t() { s=$(date +%s%N); (exec 3<>/dev/tcp/198.18.2.2/9) 2>/dev/null; echo $(( ($(date +%s%N) - s) / 1000000 )); }; "
                + "a=$(t); sleep 1; b=$(t); echo \"before $a after $b\"; [ $a -lt 40 ] && [ $b -ge 50 ]"
            let r = try Faultline.run(["impair", "--delay", "1ms", "--change-at", "500ms", "--change-delay", "50ms", "--no-realtime", "--",
                                       "bash", "-c", probe], directory: dir, timeout: 60)
            #expect(r.status == 0, "\(r.output)\(r.error)")
        }

        @Test("impair without root runs rootless (a user namespace of its own); with FAULTLINE_ROOTLESS=0 it exits 3 and says why")
        func notRoot() throws {
            let dir = TestSupport.temporaryDirectory("fl-impair-user")
            defer { TestSupport.removeTree(dir) }
            chmod(dir, 0o777)
            let user = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/env", "HOME=\(dir)"]
            // The program runs in the client, as root of the run's user namespace (uid 65534 outside).
            let r = try Faultline.run(user + [try TestSupport.faultlineBinaryPath(), "impair", "--delay", "1ms", "--",
                                              "sh", "-c", "ip -o -4 addr show eth0 | grep -q 198.18.1.2 && grep -qE '^ +0 +65534 +1' /proc/self/uid_map"],
                                      directory: dir, timeout: 30, executable: "/usr/bin/setpriv")
            #expect(r.status == 0, "\(r.error)")
            #expect(r.error.contains("note: rootless"), "the one line on what runs differently: \(r.error)")
            let off = try Faultline.run(user + ["FAULTLINE_ROOTLESS=0", try TestSupport.faultlineBinaryPath(), "impair", "--delay", "1ms"],
                                        directory: dir, timeout: 30, executable: "/usr/bin/setpriv")
            #expect(off.status == 3, "\(off.error)")
            #expect(off.error.contains("cannot build its network"), "\(off.error)")
        }

        /// Rootless, a packet the engine changes (here: the first SYN's window-scale option
        /// stripped) must still leave the router. Whether the kernel applies a changed packet
        /// carried in the verdict is asked of the kernel (doctor's nfqueue_payload, the engine's
        /// own probe): recent kernels drop it inside a user namespace, and the engine then sends
        /// the changed copy itself. Either way the SYN reaches the server, where nothing listens
        /// on port 9: refused at once, not after the SYN's first retransmission (1 s).
        @Test("rootless, a packet the engine changes reaches the server (verdict or raw socket, as the kernel answers)")
        func changedPacketRootless() throws {
            let dir = TestSupport.temporaryDirectory("fl-impair-changed")
            defer { TestSupport.removeTree(dir) }
            chmod(dir, 0o777)
            let binary = try TestSupport.faultlineBinaryPath()
            let user = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/env", "HOME=\(dir)"]
            let doctor = try Faultline.run(user + [binary, "doctor", "--json"], directory: dir, timeout: 60, executable: "/usr/bin/setpriv")
            let object = try JSONSerialization.jsonObject(with: Data(doctor.output.utf8)) as? [String: Any]
            let features = try #require(object?["features"] as? [[String: Any]], "\(doctor.output)\(doctor.error)")
            let payload = try #require(features.first { $0["name"] as? String == "nfqueue_payload" })
            let applies = try #require(payload["available"] as? Bool)
            let detail = payload["detail"] as? String ?? ""
            if applies {
                #expect(detail.contains("applies"), "\(detail)")
            } else {
                #expect(detail.contains("raw socket"), "refused here: the engine's other way is named: \(detail)")
            }
            let connect = "s=$(date +%s%N); (exec 3<>/dev/tcp/198.18.2.2/9) 2>/dev/null; echo \"ms=$(( ($(date +%s%N) - s) / 1000000 ))\""
            let r = try Faultline.run(user + [binary, "impair", "--link", "client→router", "--action", "syn:1:strip-window-scale",
                                              "--", "bash", "-c", connect],
                                      directory: dir, timeout: 60, executable: "/usr/bin/setpriv")
            let ms = r.output.split(separator: "\n").compactMap { $0.hasPrefix("ms=") ? Int($0.dropFirst(3)) : nil }.first
            #expect(ms != nil && ms! < 800, "the stripped SYN was answered at once (kernel applies verdict payloads: \(applies)): \(r.output)\(r.error)")
        }
    }
}
