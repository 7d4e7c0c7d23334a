import Foundation
import Glibc
import Testing
import TestSupport

extension RunnerKernelTests {
    /// `faultline lab`, `exec`, `list`, `explain`, `cleanup`, as a user types them.
    @Suite("Lab, exec, list, explain")
    struct LabTests {
        @Test("lab builds the network and runs the setup steps; exec reaches each node; Ctrl-C tears it all down")
        func labAndExec() throws {
            let dir = TestSupport.temporaryDirectory("fl-lab")
            defer { TestSupport.removeTree(dir) }
            let before = TestSupport.rootSnapshot()
            let lab = try Faultline.Running(["lab", Faultline.scenario("r2-firewall-on-syn")], directory: dir)
            let up = lab.waitUntil(seconds: 20) { lab.output.contains("Ctrl-C tears it down") }
            #expect(up, "stdout: \(lab.output)\nstderr: \(lab.errorOutput)")
            #expect(Faultline.namespaces(of: lab.pid).count == 3)
            #expect(lab.output.contains("faultline exec server -- bash"))
            // The setup step (the server's listener) runs; the client step at 250 ms does not.
            let listening = lab.waitUntil(seconds: 5) {
                ((try? Faultline.run(["exec", "server", "--lab", String(lab.pid), "--", "ss", "-ltnH"], directory: dir, timeout: 10))?.output ?? "")
                    .contains(":9000")
            }
            #expect(listening)
            let address = try Faultline.run(["exec", "client", "--lab", "r2-firewall-on-syn", "--", "ip", "-o", "-4", "addr", "show", "eth0"],
                                            directory: dir, timeout: 10)
            #expect(address.status == 0)
            #expect(address.output.contains("198.18.1.2/24"))
            // The firewall rule is in the router, not in the root namespace.
            let rules = try Faultline.run(["exec", "router", "--lab", String(lab.pid), "--", "nft", "list", "ruleset"], directory: dir, timeout: 10)
            #expect(rules.output.contains("reject with tcp reset"))
            // The exit status comes through exec.
            let failing = try Faultline.run(["exec", "client", "--lab", String(lab.pid), "--", "sh", "-c", "exit 7"], directory: dir, timeout: 10)
            #expect(failing.status == 7)
            let wrongNode = try Faultline.run(["exec", "nosuch", "--lab", String(lab.pid), "--", "true"], directory: dir, timeout: 10)
            #expect(wrongNode.status == 2)
            #expect(wrongNode.error.contains("no node 'nosuch'"))
            lab.kill(SIGINT)
            #expect(lab.wait(seconds: 15) == 130)
            #expect(Faultline.namespaces(of: lab.pid).isEmpty)
            #expect(Faultline.processes(mentioning: "lab-r2-firewall-on-syn-\(lab.pid)").isEmpty)
            let after = TestSupport.rootSnapshot()
            #expect(after.links == before.links)
            #expect(after.routes == before.routes)
            #expect(after.nftRuleset == before.nftRuleset)
        }

        @Test("lab --capture records while it runs and, when it ends, analyses like run: a connection to a closed port driven by hand is rst/refused-by-host")
        func labCapture() throws {
            let dir = TestSupport.temporaryDirectory("fl-lab-capture")
            defer { TestSupport.removeTree(dir) }
            let lab = try Faultline.Running(["lab", Faultline.scenario("r1-closed-port"), "--capture"], directory: dir)
            #expect(lab.waitUntil(seconds: 20) { lab.output.contains("Ctrl-C tears it down") }, "\(lab.output)\(lab.errorOutput)")
            let refused = try Faultline.run(["exec", "client", "--lab", String(lab.pid), "--", "faultline", "peer", "connect", "--to", "198.18.2.2:9001",
                                             "--timeout", "1s"], directory: dir, timeout: 15)
            #expect(refused.status == 1, "\(refused.output)\(refused.error)")
            usleep(200_000)
            lab.kill(SIGINT)
            #expect(lab.wait(seconds: 30) == 130, "\(lab.errorOutput)")
            #expect(lab.output.contains("rst/refused-by-host"), "\(lab.output)")
            #expect(lab.output.contains("findings.json"))
            #expect(Faultline.namespaces(of: lab.pid).isEmpty)
        }

        @Test("list shows the catalog; --shard splits it into disjoint parts that cover it")
        func list() throws {
            let dir = TestSupport.temporaryDirectory("fl-list")
            defer { TestSupport.removeTree(dir) }
            let all = try Faultline.run(["list", Faultline.catalog], directory: dir, timeout: 30)
            #expect(all.status == 0)
            for (file, diagnosis) in CatalogTests.rows {
                #expect(all.output.contains(file))
                if let diagnosis { #expect(all.output.contains(diagnosis)) }
            }
            var seen: [String] = []
            for k in 1...3 {
                let part = try Faultline.run(["list", Faultline.catalog, "--shard", "\(k)/3", "--json"], directory: dir, timeout: 30)
                struct Entry: Decodable { var name: String }
                seen += try JSONDecoder().decode([Entry].self, from: Data(part.output.utf8)).map(\.name)
            }
            #expect(seen.count == CatalogTests.rows.count)
            #expect(Set(seen).count == CatalogTests.rows.count)
        }

        @Test("explain prints the correct explanation with the myths corrected")
        func explain() throws {
            let dir = TestSupport.temporaryDirectory("fl-explain")
            defer { TestSupport.removeTree(dir) }
            // The text is wrapped for the terminal: compare it with its line breaks undone.
            func explain(_ diagnosis: String) throws -> (status: Int32?, text: String) {
                let r = try Faultline.run(["explain", diagnosis], directory: dir, timeout: 30)
                return (r.status, r.output.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " "))
            }
            let t2 = try explain("retransmission/spurious-delayed-ack")
            #expect(t2.status == 0)
            #expect(t2.text.contains("Mainline Linux has no tcp_delack_* sysctls"))
            #expect(t2.text.contains("TCP_QUICKACK"))
            #expect(t2.text.contains("D-SACK"))
            let r5 = try explain("syn/duplicate-answered-with-challenge-ack")
            #expect(r5.text.contains("challenge ACK"))
            #expect(r5.text.contains("on a current Linux stack it does not"))
            let r2 = try explain("rst/injected-by-middlebox")
            #expect(r2.text.contains("TTL 64"))
            #expect(r2.text.contains("IP ID 0"))
            let zw = try explain("zero-window/receiver-slow")
            #expect(zw.text.contains("congestion does not cause zero windows by itself"))
            let unknown = try Faultline.run(["explain", "rst/refused-by-hots"], directory: dir, timeout: 30)
            #expect(unknown.status == 2)
            #expect(unknown.error.contains("did you mean rst/refused-by-host?"))
        }

        @Test("a bad scenario file is bad input: exit 2, file:line:column, nothing built")
        func badInput() throws {
            let dir = TestSupport.temporaryDirectory("fl-bad")
            defer { TestSupport.removeTree(dir) }
            try "name: bad\nsteps:\n  - { at: 0s, on: srever, peer: [listen, --port, \"9000\"] }\n".write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
            let r = try Faultline.Running(["run", dir + "/bad.yaml", "--artifacts", dir + "/artifacts"], directory: dir)
            #expect(r.wait(seconds: 30) == 2)
            #expect(r.errorOutput.contains("bad.yaml:3:"))
            #expect(r.errorOutput.contains("srever"))
            #expect(Faultline.namespaces(of: r.pid).isEmpty)
            let shard = try Faultline.run(["run", Faultline.catalog, "--shard", "4/3"], directory: dir, timeout: 30)
            #expect(shard.status == 2)
            #expect(shard.error.contains("1 ≤ K ≤ N"))
        }
    }
}
