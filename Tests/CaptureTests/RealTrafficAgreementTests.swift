import Analysis
import Foundation
import Glibc
import Netlink
import Testing
import TestSupport

/// The analyzer against tshark on traffic nobody wrote by hand: `faultline _bench-capture` (the
/// benchmark's own capture maker) runs bulk TCP flows through a router that drops 1% of forwarded
/// packets, captured with the Capture module at snap length 128; then faultline's flags and
/// tshark's are compared frame by frame, flag by flag.
@Suite("Real traffic agreement")
struct RealTrafficAgreementTests {
    /// frame number → tshark field names set on it.
    typealias FlagTable = [UInt64: Set<String>]

    struct Collector: CaptureAnalysisObserver {
        var table: FlagTable = [:]
        mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
            let flags = frame.tsharkFlags
            if !flags.isEmpty { table[frame.frameNumber] = Set(flags.names) }
        }
    }

    /// tshark exactly as shared/captures/README.md makes the reference `.flags` files.
    static func tsharkFlags(_ tshark: String, file: String) throws -> FlagTable {
        let names = AnalysisFlags.all.map(\.name)
        var argv = [tshark, "-n", "-r", file, "-Y", "tcp.analysis.flags", "-T", "fields",
                    "-E", "separator=,", "-E", "aggregator=;", "-e", "frame.number"]
        for name in names { argv += ["-e", "tcp.analysis." + name] }
        let run = TestSupport.runCommand(argv)
        guard run.status == 0 else { throw TestSupportError("tshark exited with \(run.status) on \(file)") }
        var table: FlagTable = [:]
        for line in run.output.split(separator: "\n") {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard let first = fields.first, let frame = UInt64(first) else {
                throw TestSupportError("tshark printed an unexpected line: \(line)")
            }
            var set = Set<String>()
            for (index, value) in fields.dropFirst().enumerated() where !value.isEmpty && index < names.count {
                set.insert(names[index])
            }
            table[frame] = set
        }
        return table
    }

    @Test("1% loss in a router, 20k real packets at snap length 128: every flag agrees with tshark on ≥ 99.5% of the frames either sets it on",
          .timeLimit(.minutes(1)))
    func flagsAgreeWithTsharkOnRealLossyTraffic() throws {
        let faultline = try TestSupport.faultlineBinaryPath()
        // scripts/setup installs tshark: its absence is a broken environment, not a reason to skip.
        let tshark = try #require(ChildProcess.resolveInPath("tshark"), "tshark is not installed (scripts/setup installs it)")
        let directory = TestSupport.temporaryDirectory("faultline-real-agreement")
        defer { TestSupport.removeTree(directory) }
        let file = directory + "/lossy.pcapng"

        let made = TestSupport.runCommand([faultline, "_bench-capture", "--out", file, "--packets", "20000",
                                           "--flows", "4", "--loss", "1%", "--snaplen", "128", "--buffer-mib", "32",
                                           "--timeout", "15"])
        try #require(made.status == 0, "faultline _bench-capture failed (\(made.status)):\n\(made.output)")
        let lastLine = try #require(made.output.split(separator: "\n").last.map(String.init))
        let report = try #require(try JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any])
        let packets = (report["packets"] as? NSNumber)?.intValue ?? 0
        let routerDropped = (report["router_dropped"] as? NSNumber)?.intValue ?? 0
        let captureDropped = (report["capture_dropped"] as? NSNumber)?.intValue ?? -1
        #expect(packets >= 20_000, "\(made.output)")
        // 1% of ≥ 20k forwarded packets: the rule really dropped some (binomial, far from 0).
        #expect(routerDropped >= 40, "\(made.output)")
        #expect(captureDropped == 0, "the capture itself lost packets: \(made.output)")

        var collector = Collector()
        let analysis = try CaptureAnalysis.run(path: file, observer: &collector)
        #expect(analysis.frames == UInt64(packets))
        #expect(analysis.count(.tcp) >= UInt64(packets) * 99 / 100, "nearly every frame is TCP")
        #expect(analysis.interfaces.first?.snapLength == 128)
        let ours = collector.table
        let theirs = try Self.tsharkFlags(tshark, file: file)

        // The loss must show, or agreement would be vacuous: retransmissions and dup ACKs on both sides.
        for required in ["retransmission", "duplicate_ack"] {
            #expect(theirs.values.contains { $0.contains(required) }, "tshark found no \(required) in a 1% lossy capture")
        }
        var lines: [String] = []
        for (_, name) in AnalysisFlags.all {
            let a = Set(theirs.compactMap { $0.value.contains(name) ? $0.key : nil })
            let b = Set(ours.compactMap { $0.value.contains(name) ? $0.key : nil })
            let either = a.union(b)
            if either.isEmpty { continue }
            let both = a.intersection(b).count
            let agreement = Double(both) / Double(either.count)
            lines.append("\(name): \(both)/\(either.count) = \(String(format: "%.2f", agreement * 100))%")
            #expect(agreement >= 0.995,
                    "\(name): \(both) of \(either.count) frames agree; tshark only \(a.subtracting(b).sorted().prefix(10)), faultline only \(b.subtracting(a).sorted().prefix(10))")
        }
        #expect(!lines.isEmpty)
        print("real-traffic agreement on \(packets) packets (router dropped \(routerDropped)): " + lines.joined(separator: ", "))
    }
}
