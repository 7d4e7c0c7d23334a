import Foundation
import Glibc
import Testing
import TestSupport

/// `faultline analyze -` reads a capture from a real pipe, and `--follow` prints each finding as
/// its connection ends, before the stream does (issue #12).
@Suite("analyze from a pipe")
struct AnalyzeStreamTests {
    static let capture = TestSupport.sharedRoot + "/captures/chrissanders__http-client-refuse.pcap"

    @Test("cat FILE | faultline analyze - gives the findings of faultline analyze FILE")
    func stdinMatchesFile() throws {
        let binary = try TestSupport.faultlineBinaryPath()
        let fromFile = TestSupport.runCommandCapturingErrors([binary, "analyze", "--json", Self.capture])
        let fromPipe = TestSupport.runCommandCapturingErrors(
            ["/bin/sh", "-c", "cat '\(Self.capture)' | '\(binary)' analyze --json -"])
        #expect(fromFile.status == 0 && fromPipe.status == 0, "\(fromFile.error) \(fromPipe.error)")
        let file = try JSONSerialization.jsonObject(with: Data(fromFile.output.utf8)) as? [String: Any]
        let pipe = try JSONSerialization.jsonObject(with: Data(fromPipe.output.utf8)) as? [String: Any]
        let fileFindings = try #require(file?["findings"] as? [[String: Any]])
        let pipeFindings = try #require(pipe?["findings"] as? [[String: Any]])
        #expect(!fileFindings.isEmpty)
        // The same findings, in the same order (the vantage is named after the file or "stdin").
        let key = { (finding: [String: Any]) in "\(finding["kind"] ?? "")/\(finding["cause"] ?? "")/\(finding["decisive_frame"] ?? "")" }
        #expect(fileFindings.map(key) == pipeFindings.map(key))
        // Text mode too: the same report.
        let text = TestSupport.runCommandCapturingErrors(["/bin/sh", "-c", "cat '\(Self.capture)' | '\(binary)' analyze -"])
        #expect(text.status == 0 && text.output.contains(": pcap, 29 frames (29 TCP), 2 TCP conversations"),
                "\(text.output.prefix(200)) \(text.error)")
    }

    @Test("--json of one capture streams its conversations' summaries: the same as the whole-capture summary of a two-capture run")
    func jsonSummariesStreamed() throws {
        let binary = try TestSupport.faultlineBinaryPath()
        let capture = TestSupport.sharedRoot + "/captures/zeek__smb3_multichannel.pcap"
        let single = TestSupport.runCommandCapturingErrors([binary, "analyze", "--json", capture])
        let double = TestSupport.runCommandCapturingErrors([binary, "analyze", "--json", "a=" + capture, "b=" + capture])
        #expect(single.status == 0 && double.status == 0, "\(single.error) \(double.error)")
        let one = try JSONSerialization.jsonObject(with: Data(single.output.utf8)) as? [String: Any]
        let two = try JSONSerialization.jsonObject(with: Data(double.output.utf8)) as? [String: Any]
        let streamed = try #require((one?["captures"] as? [[String: Any]])?.first)
        let held = try #require((two?["captures"] as? [[String: Any]])?.first)
        let conversations = try #require(streamed["conversations"] as? [[String: Any]])
        #expect(conversations.count > 1)
        #expect(conversations.map { $0["id"] as? Int ?? -1 } == Array(0..<conversations.count))
        #expect(NSDictionary(dictionary: streamed).isEqual(to: held))
    }

    @Test("--follow prints a finding while the stream is still open")
    func followPrintsBeforeEOF() throws {
        let binary = try TestSupport.faultlineBinaryPath()
        // The capture, then a copy of its last packet an hour later: capture time moves past the
        // reset connection's linger, so it is retired (and reported) while the pipe stays open.
        let original = try #require(FileManager.default.contents(atPath: Self.capture))
        var bytes = [UInt8](original)
        #expect(bytes[0] == 0xD4 && bytes[1] == 0xC3, "little-endian classic pcap expected")
        var offset = 24, last = 24
        while offset + 16 <= bytes.count {
            last = offset
            let length = Int(bytes[offset + 8]) | Int(bytes[offset + 9]) << 8 | Int(bytes[offset + 10]) << 16
            offset += 16 + length
        }
        var record = Array(bytes[last..<bytes.count])
        var seconds = UInt32(record[0]) | UInt32(record[1]) << 8 | UInt32(record[2]) << 16 | UInt32(record[3]) << 24
        seconds &+= 3600
        for i in 0..<4 { record[i] = UInt8(truncatingIfNeeded: seconds >> (8 * i)) }
        bytes += record
        let directory = TestSupport.temporaryDirectory("faultline-follow")
        defer { TestSupport.removeTree(directory) }
        let path = directory + "/late.pcap"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        // The writer keeps the pipe open 10 s; faultline is killed after 4 s, long before EOF.
        let started = Date()
        let run = TestSupport.runCommandCapturingErrors(
            ["/bin/sh", "-c", "(cat '\(path)'; sleep 10) | timeout -s KILL 4 '\(binary)' analyze --follow --json -; true"])
        #expect(Date().timeIntervalSince(started) < 30)
        let lines = run.output.split(separator: "\n")
        #expect(!lines.isEmpty, "nothing printed before EOF: \(run.error)")
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["kind"] as? String == "rst", "\(line)")
        }
    }
}
