import Analysis
import Foundation
import Glibc
import Netlink
@testable import Runner
import Scenario
import Testing
import TestSupport

extension RunnerKernelTests {
    /// The catalog itself, run once, as `scripts/faultline run Scenarios` runs it (the 20× repeat is
    /// scripts/flake-check).
    @Suite("The failure-mode catalog")
    struct CatalogTests {
        /// failure-modes.md, row by row: the file that reproduces it and the diagnosis it expects.
        static let rows: [(file: String, diagnosis: String?)] = [
            ("zw1-slow-reader", "zero-window/receiver-slow"),
            ("zw2-never-read", "zero-window/receiver-stopped-reading"),
            ("r1-closed-port", "rst/refused-by-host"),
            ("r2-firewall-on-syn", "rst/injected-by-middlebox"),
            ("r2-firewall-mid-stream", "rst/injected-by-middlebox"),
            ("r3-linger-zero", "rst/aborted-by-application"),
            ("r3-close-unread", "rst/aborted-by-application"),
            ("r4-half-open", "rst/peer-has-no-connection"),
            ("r5-duplicate-syn", "syn/duplicate-answered-with-challenge-ack"),
            ("t1-random-loss", "retransmission/packet-loss"),
            ("t1-deterministic-drop", "retransmission/packet-loss"),
            ("t2-delayed-ack", "retransmission/spurious-delayed-ack"),
            ("t3-rtt-jump", "retransmission/rtt-exceeds-rto"),
            ("t4-congestion", "retransmission/congestion-loss"),
            ("baseline-clean", nil),
            // Issue #18: failures engineers chase (failure-modes.md, "Failures engineers chase").
            ("f1-syn-dropped", "syn/unanswered"),
            ("f1-syn-icmp-reject", "syn/rejected-by-icmp"),
            ("f2-path-down", "connection-lost/peer-or-path-down"),
            ("f2-conntrack-idle", "connection-lost/middlebox-state-expired"),
            ("f3-listen-overflow", "syn/listen-queue-overflow"),
            ("f4-nagle-delayed-ack", "stall/nagle-delayed-ack"),
            ("f5-bufferbloat", "latency/bufferbloat"),
            ("f6-window-scale-stripped", "throughput/receive-window-limited"),
            ("f7-pmtu-black-hole", "retransmission/path-mtu-black-hole"),
            // Issue #11 items 9-13: live cases the analyzer once got wrong, each excluding the wrong cause.
            ("t5-ack-loss", "retransmission/packet-loss"),
            ("t6-shared-bottleneck", "retransmission/congestion-loss"),
            ("zw3-brief-stalls", "zero-window/receiver-slow"),
            ("zw4-probe-at-full-window", "zero-window/receiver-slow"),
            ("t7-fin-overtakes-data", "reordering/path-reordering"),
        ]

        @Test("one scenario per failure-modes.md row plus a clean baseline, each expecting its cause (and the look-alike's absence)")
        func catalogCoversEveryRow() throws {
            let scenarios = try Scenario.load(folder: Faultline.catalog)
            #expect(scenarios.count == Self.rows.count)
            for (file, diagnosis) in Self.rows {
                let scenario = try #require(scenarios.first { $0.file.hasSuffix("/\(file).yaml") }, "missing Scenarios/\(file).yaml")
                var present: [String] = []
                var absent: [String] = []
                for e in scenario.expectations {
                    if case .present(let p, _) = e.check { present.append(p.diagnosis) }
                    if case .absent(let p) = e.check { absent.append(p.diagnosis) }
                }
                if let diagnosis {
                    #expect(present == [diagnosis], "\(file) expects \(present)")
                    #expect(!absent.isEmpty, "\(file) should exclude a look-alike")
                } else {
                    #expect(present.isEmpty)
                    #expect(Set(absent) == Set(DiagnosisName.kinds.filter(DiagnosisName.isFailure(kind:))), "the baseline must exclude every failure kind")
                }
                #expect(scenario.timeLimit <= .seconds(12), "\(file): catalog scenarios are quick")
            }
            // The look-alikes of R1 and R2 exclude each other.
            let r1 = try #require(scenarios.first { $0.name == "r1-closed-port" })
            #expect(r1.expectations.contains { $0.check == .absent(.init(kind: "rst", cause: "injected-by-middlebox")) })
            for name in ["r2-firewall-on-syn", "r2-firewall-mid-stream"] {
                let r2 = try #require(scenarios.first { $0.name == name })
                #expect(r2.expectations.contains { $0.check == .absent(.init(kind: "rst", cause: "refused-by-host")) })
            }
        }

        @Test("--engine kernel refuses an impairment netem cannot express, naming the key, before any traffic; --engine userspace carries a plain rate in NFQUEUE")
        func enginePreference() throws {
            let dir = TestSupport.temporaryDirectory("fl-engine")
            defer { TestSupport.removeTree(dir) }
            let refused = try Faultline.run(["run", Faultline.catalog + "/r5-duplicate-syn.yaml", "--engine", "kernel", "--artifacts", dir + "/a"],
                                            directory: dir)
            #expect(refused.status == 2, "\(refused.output)\(refused.error)")
            #expect(refused.output.contains("impairment on client→router: --engine kernel, but netem cannot express actions"), "\(refused.output)")
            let userspace = try Faultline.run(["run", Faultline.catalog + "/t4-congestion.yaml", "--engine", "userspace", "--json",
                                               "--artifacts", dir + "/b"], directory: dir)
            let report = try JSONDecoder().decode(RunReport.self, from: Data(userspace.output.utf8))
            let use = try #require(report.results.first?.engines.first)
            #expect(use.engine == "userspace NFQUEUE" && use.reason == "pinned" && use.detail == "--engine userspace")
        }

        @Test("the whole catalog passes with default parallelism, within 60 s, and the root namespace is left exactly as it was")
        func wholeCatalog() throws {
            let dir = TestSupport.temporaryDirectory("fl-catalog")
            defer { TestSupport.removeTree(dir) }
            let before = TestSupport.rootSnapshot()
            let run = try Faultline.Running(["run", Faultline.catalog, "--json", "--artifacts", dir + "/artifacts"], directory: dir)
            let status = run.wait(seconds: 240)
            let after = TestSupport.rootSnapshot()
            #expect(after.links == before.links)
            #expect(after.routes == before.routes)
            #expect(after.qdiscs == before.qdiscs)
            #expect(after.nftRuleset == before.nftRuleset)
            #expect(Faultline.namespaces(of: run.pid).isEmpty)
            #expect(Faultline.processes(mentioning: dir).isEmpty)
            #expect(status == 0, "faultline run Scenarios exited \(String(describing: status)):\n\(run.errorOutput)")
            let report = try JSONDecoder().decode(RunReport.self, from: Data(run.output.utf8))
            #expect(report.results.count == Self.rows.count)
            for result in report.results where result.status != .passed {
                Issue.record("\(result.name): \(result.status) — \(result.diagnosis)\n\(TextReport.scenario(result))")
            }
            // Which engine carried each impairment follows what the kernel answers to netem.
            let randomLoss = try #require(report.results.first { $0.name == "t1-random-loss" })
            let netem = try #require(randomLoss.engines.first)
            if KernelFeatures.hasNetem {
                #expect(netem.engine == "kernel netem" && netem.reason == "chosen" && netem.interface == "to-server")
            } else {
                #expect(netem.engine == "userspace NFQUEUE" && netem.reason == "fallback")
                #expect(netem.detail == "the kernel refused netem: RTM_NEWQDISC kind \"netem\": ENOENT, kernel says \"Specified qdisc kind is unknown\"")
            }
            let actions = try #require(report.results.first { $0.name == "r5-duplicate-syn" }?.engines.first)
            #expect(actions.engine == "userspace NFQUEUE" && actions.reason == "chosen" && actions.detail.hasPrefix("netem cannot express actions"))
            let rate = try #require(report.results.first { $0.name == "t4-congestion" }?.engines.first)
            #expect(rate.engine == "kernel tbf" && rate.reason == "chosen")
            #expect(report.wallSeconds <= 60, "the catalog took \(report.wallSeconds) s")
            print("catalog wall time: \(String(format: "%.1f", report.wallSeconds)) s with -j \(report.jobs)")
            for result in report.results {
                let phases = result.phases.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.2f", $0.value))" }.joined(separator: ", ")
                print("  \(result.name): \(String(format: "%.2f", result.seconds)) s (\(phases))")
            }
        }
    }
}
