import Foundation
import Glibc
import Testing
import TestSupport

/// `faultline analyze` never blocks on a file that has no end, reads standard input when asked,
/// and says when frames were skipped for their link type.
@Suite("analyze: inputs")
struct AnalyzeInputTests {
    static var fixture: String { TestSupport.repoRoot + "/Tests/AnalysisTests/Fixtures/r3-abort-bare-rsts-first.client.pcapng" }

    @Test("a FIFO is refused at once (exit 2), not read forever")
    func fifo() throws {
        let dir = TestSupport.temporaryDirectory("fl-fifo")
        defer { TestSupport.removeTree(dir) }
        #expect(mkfifo(dir + "/capture.pcap", 0o644) == 0)
        let started = Date()
        let r = try Faultline.run(["analyze", dir + "/capture.pcap"], directory: dir, timeout: 10)
        #expect(r.status == 2, "timed out or wrong status: \(String(describing: r.status))")
        #expect(r.error.contains("capture.pcap: is a FIFO"), "\(r.error)")
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test("- reads the capture from standard input")
    func standardInput() throws {
        let dir = TestSupport.temporaryDirectory("fl-stdin")
        defer { TestSupport.removeTree(dir) }
        let fromFile = try Faultline.run(["analyze", "--flags", Self.fixture], directory: dir, timeout: 30)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestSupport.faultlineBinaryPath())
        process.arguments = ["analyze", "--flags", "-"]
        process.standardInput = FileHandle(forReadingAtPath: Self.fixture)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(!fromFile.output.isEmpty)
        #expect(String(decoding: data, as: UTF8.self) == fromFile.output)
    }

    @Test("frames of an unsupported link type are reported on stderr, not silently skipped")
    func unsupportedLinkType() throws {
        let dir = TestSupport.temporaryDirectory("fl-linktype")
        defer { TestSupport.removeTree(dir) }
        // A pcap of link type 147 (USER0) with one 60-byte frame.
        var bytes: [UInt8] = []
        func le32(_ v: UInt32) { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
        func le16(_ v: UInt16) { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
        le32(0xa1b2_c3d4); le16(2); le16(4); le32(0); le32(0); le32(65535); le32(147)
        le32(1); le32(0); le32(60); le32(60)
        bytes += [UInt8](repeating: 0, count: 60)
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/user.pcap"))
        let r = try Faultline.run(["analyze", dir + "/user.pcap"], directory: dir, timeout: 30)
        #expect(r.status == 0)
        #expect(r.error.contains("1 of 1 frames have a link type this analyzer does not decode (link type 147)"), "\(r.error)")
    }

    @Test("ROLE: in front of a capture states where it was taken; NAME=PATH still names it; --flags reads the path")
    func statedRoles() throws {
        let dir = TestSupport.temporaryDirectory("fl-roles")
        defer { TestSupport.removeTree(dir) }
        let server = Self.fixture.replacingOccurrences(of: ".client.", with: ".server.")
        let r = try Faultline.run(["analyze", "--json", "client:" + Self.fixture, "server:edge=" + server], directory: dir, timeout: 30)
        #expect(r.status == 0, "\(r.error)")
        let document = try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any]
        let vantages = try #require(document?["vantages"] as? [[String: Any]])
        #expect(vantages.map { $0["name"] as? String } == ["r3-abort-bare-rsts-first.client", "edge"])
        #expect(vantages.map { $0["path"] as? String } == [Self.fixture, server])
        // The abort is read the same as the run's own analysis (tests/AnalysisTests: the regression).
        let findings = try #require(document?["findings"] as? [[String: Any]])
        #expect(findings.filter { $0["kind"] as? String == "rst" }.map { $0["cause"] as? String } == ["aborted-by-application"])
        let flags = try Faultline.run(["analyze", "--flags", "client:" + Self.fixture], directory: dir, timeout: 30)
        let plain = try Faultline.run(["analyze", "--flags", Self.fixture], directory: dir, timeout: 30)
        #expect(flags.status == 0 && flags.output == plain.output && !plain.output.isEmpty, "\(flags.error)")
    }
}
