import Foundation
@testable import Runner
import Testing
import TestSupport

extension RunnerKernelTests {
    /// The kernel's view, sampled while a real scenario runs: zw2's server never reads, so the
    /// kernel must show the server's receive queue full and the client facing a zero window.
    @Suite("TCP_INFO sampler and the report's artifacts")
    struct TCPInfoSamplerTests {
        struct Sample: Decodable {
            var t_ns: Int64
            var node: String
            var local: String
            var remote: String
            var state: String
            var rqueue: Int
            var snd_wnd: Int?
            var cwnd: Int?
            var srtt_us: Int?
        }

        @Test("zw2: tcpinfo.jsonl holds both ends every ~10 ms, the client's snd_wnd at 0 and the server's queue full; the sampler costs little; faultline report rebuilds the same report.html")
        func neverReadSampled() throws {
            let dir = TestSupport.temporaryDirectory("fl-tcpinfo")
            defer { TestSupport.removeTree(dir) }
            let run = try Faultline.run(["run", Faultline.scenario("zw2-never-read"), "--json", "--artifacts", dir + "/a"], directory: dir)
            #expect(run.status == 0, "\(run.output)\(run.error)")
            let report = try JSONDecoder().decode(RunReport.self, from: Data(run.output.utf8))
            let result = try #require(report.results.first)
            let text = try #require(TestSupport.readFile(result.artifacts + "/tcpinfo.jsonl"), "no tcpinfo.jsonl")
            let samples = try text.split(separator: "\n").map { try JSONDecoder().decode(Sample.self, from: Data($0.utf8)) }
            let client = samples.filter { $0.node == "client" && $0.remote == "198.18.2.2:9000" }
            // The dual-stack listener's socket is named by its IPv4 address, as the captures name it.
            let server = samples.filter { $0.node == "server" && $0.local == "198.18.2.2:9000" }
            #expect(client.count >= 20 && server.count >= 20, "client \(client.count), server \(server.count) samples")
            #expect(client.contains { $0.snd_wnd == 0 && $0.state == "ESTABLISHED" }, "the client never saw a zero window")
            #expect(server.contains { $0.rqueue > 0 }, "the server's receive queue never held data")
            #expect(client.contains { ($0.cwnd ?? 0) > 0 && ($0.srtt_us ?? 0) > 0 })
            // Rounds every ~10 ms: the median gap between one socket's samples.
            let gaps = zip(client.dropFirst(), client).map { Double($0.t_ns - $1.t_ns) / 1e6 }.sorted()
            let median = gaps[gaps.count / 2]
            #expect(median >= 8 && median <= 15, "median gap \(median) ms")
            // Its own cost, from the run's notes.
            let note = try #require(result.notes.first { $0.hasPrefix("tcpinfo sampler:") }, "\(result.notes)")
            let share = note.split(separator: ",").first { $0.contains("% of one CPU") }
                .flatMap { Double($0.trimmingCharacters(in: .whitespaces).split(separator: "%")[0]) }
            #expect((share ?? 100) < 5, "\(note)")
            // The report the run wrote is the report `faultline report` rebuilds.
            let written = try #require(TestSupport.readFile(result.artifacts + "/report.html"))
            #expect(written.contains("receiver-stopped-reading") && written.contains("kernel's view"))
            try FileManager.default.moveItem(atPath: result.artifacts + "/report.html", toPath: dir + "/first.html")
            let rebuilt = try Faultline.run(["report", result.artifacts], directory: dir)
            #expect(rebuilt.status == 0, "\(rebuilt.error)")
            #expect(TestSupport.readFile(result.artifacts + "/report.html") == written, "faultline report wrote a different report")
        }

        @Test("--tcpinfo-interval 0 turns the sampler off: no tcpinfo.jsonl, no note")
        func samplerOff() throws {
            let dir = TestSupport.temporaryDirectory("fl-tcpinfo-off")
            defer { TestSupport.removeTree(dir) }
            let run = try Faultline.run(["run", Faultline.scenario("r1-closed-port"), "--json", "--tcpinfo-interval", "0",
                                         "--artifacts", dir + "/a"], directory: dir)
            #expect(run.status == 0, "\(run.output)\(run.error)")
            let report = try JSONDecoder().decode(RunReport.self, from: Data(run.output.utf8))
            let result = try #require(report.results.first)
            #expect(!FileManager.default.fileExists(atPath: result.artifacts + "/tcpinfo.jsonl"))
            #expect(!result.notes.contains { $0.hasPrefix("tcpinfo sampler") })
            #expect(FileManager.default.fileExists(atPath: result.artifacts + "/report.html"))
        }
    }
}
