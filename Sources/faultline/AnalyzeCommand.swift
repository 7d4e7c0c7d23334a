import Values
import Analysis
import ArgumentParser
import Foundation
import Glibc

/// `faultline analyze`: read captures, run the tshark-compatible TCP analysis, report.
struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Diagnose pcap/pcapng captures: findings (kind / cause) with evidence, or tshark-compatible flags.",
        discussion: HelpText.reflow("""
        Reads pcap (both byte orders, µs or ns timestamps) and pcapng
        (several interfaces, any if_tsresol); Ethernet, Linux cooked v1/v2,
        raw IP and BSD loopback links; VLAN tags; IPv4 and IPv6. Segment
        lengths come from the IP header, so captures cut to the headers
        analyse the same as full ones.

        --flags prints one line per flagged frame, as tshark 4.0.17 prints
        -T fields -E separator=, -E aggregator=';' -e frame.number
        -e tcp.analysis.<flag> for its 15 flags, e.g.
          22,retransmission;fast_retransmission
        (fast and spurious retransmissions also show "retransmission", as
        tshark's field does). With several files, lines start with "FILE:".

        Without --flags: a summary per TCP conversation, then the findings
        (kind / cause, e.g. rst / injected-by-middlebox) grouped by flow, most
        serious first, each with its evidence, confidence and frame numbers.
        Several files are judged together as vantage points of the same
        traffic (e.g. client.pcapng server.pcapng). --json for machines.

        Where a capture was taken helps when its packets cannot tell (a
        capture that never saw the connection, two captures that see the
        same TTLs): put client:, server: or router: in front of the file, e.g.
          faultline analyze client:c.pcapng server:s.pcapng
        A file's name is only a name: client.pcapng alone is not taken to be
        the client's capture. Without a role the diagnosis goes by the
        packets alone.

        A file cut in the middle of a packet is analysed up to the cut,
        with a warning on stderr. A corrupt file stops with exit status 2
        and an error naming the byte offset. Frames of a link type it does
        not decode are counted and reported on stderr, not silently skipped.

        Captures are regular files, or - for standard input (read to its
        end first, e.g. tcpdump -w - | faultline analyze -). A FIFO, a
        device or a folder is refused (exit 2) rather than read without end.

        '-' reads one capture from standard input (e.g. tcpdump -w - | \
        faultline analyze -). Finished connections are retired as the \
        capture goes, so memory follows the connections open at once: \
        cleanly closed ones 200 ms of capture time after their last packet, \
        other closed ones (RST, unacknowledged FIN) after 30 s, idle ones \
        after 10 min; --flags retires them at close. Findings and flags \
        stay those of the whole capture (docs/analyze-streaming.md). \
        --follow prints each connection's findings as it is retired.

        Examples:
          faultline analyze trace.pcapng
          faultline analyze --flags trace.pcap > trace.flags
          faultline analyze --json client:a.pcap server:b.pcapng
          faultline analyze laptop=a.pcap router:gw=b.pcapng
          faultline analyze trace.pcap --annotate annotated.pcapng
          tcpdump -i eth0 -w - | faultline analyze --follow -
          scripts/compare-tshark trace.pcap   (agreement per flag)
        """))

    @Argument(help: ArgumentHelp("Capture files (pcap or pcapng); several files are vantage points of the same traffic.",
                                 discussion: "Name a vantage with NAME=PATH (edge=c.pcapng); otherwise it is named after the file. "
                                    + "Say where it was taken with client:, server: or router: in front (client:c.pcapng, "
                                    + "server:edge=s.pcapng).",
                                 valueName: "[ROLE:][NAME=]PATH"))
    var files: [String]

    @Flag(name: .long, help: "Print only 'frame,flag;flag' lines for frames tshark would flag.")
    var flags = false

    @Flag(name: .long, help: "Print the findings as JSON (schema faultline.findings/1, see docs/findings-schema.md).")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Write a copy of the first capture with a pcapng comment on each packet a finding points at.", valueName: "OUT.pcapng"))
    var annotate: String?

    @Option(name: .long, help: ArgumentHelp("Also write a self-contained HTML report (time-sequence graphs of the flows with a finding).", valueName: "OUT.html"))
    var html: String?

    @Flag(name: .customLong("all-flows"), help: "With --html: draw every flow, not only those with a finding.")
    var allFlows = false

    @Flag(name: .long, help: ArgumentHelp("Live: print each finding as soon as its connection ends (one capture, e.g. '-' for a pipe from tcpdump -w -).",
                                          discussion: "Connections are judged on the capture so far; with --json, one finding per line."))
    var follow = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one capture file") }
        if flags && json { throw ValidationError("--flags and --json cannot be combined") }
        if flags && annotate != nil { throw ValidationError("--flags and --annotate cannot be combined") }
        if flags && html != nil { throw ValidationError("--flags and --html cannot be combined") }
        if files.contains(where: { VantageCapture(argument: $0).path == "-" })
            && (files.count > 1 || annotate != nil || html != nil) {
            throw ValidationError("standard input ('-') must be the only capture, without --annotate or --html")
        }
        if follow && (files.count != 1 || flags || html != nil || annotate != nil) {
            throw ValidationError("--follow takes one capture and no --flags, --html or --annotate")
        }
    }

    func run() throws {
        var resolved: [VantageCapture] = []
        var stdinCopy: String?
        defer { if let stdinCopy { unlink(stdinCopy) } }
        for argument in files {
            var capture = VantageCapture(argument: argument)
            if capture.path == "-" && (follow || flags) {
                // Live, or flags (one pass): read as it comes — a copy would wait for the end.
                resolved.append(capture)
                continue
            }
            if capture.path == "-" {
                // The whole-capture diagnosis may read a split conversation a second time: from a
                // copy of the stream (written as it comes, removed at exit).
                if stdinCopy == nil { stdinCopy = try Self.copyStandardInput() }
                capture.path = stdinCopy ?? "-"
                resolved.append(capture)
                continue
            }
            if let problem = Self.notARegularFile(capture.path) {
                Self.printError("error: \(capture.path): \(problem)")
                throw ExitCode(2)
            }
            resolved.append(capture)
        }
        if flags {
            try runFlags(resolved.map(\.path))
        } else if let html {
            try runHTML(html, resolved)
        } else {
            try runDiagnosis(resolved)
        }
    }

    /// Why `path` cannot be read as a capture (a FIFO would block forever), or nil.
    static func notARegularFile(_ path: String) -> String? {
        var s = stat()
        guard stat(path, &s) == 0 else { return "cannot open: \(Errno.current.message)" }
        switch s.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFIFO: return "is a FIFO (named pipe); expected a capture file, or - to read standard input"
        case S_IFDIR: return "is a folder; expected a capture file"
        case S_IFCHR, S_IFBLK: return "is a device; expected a capture file, or - to read standard input"
        default: return "is not a regular file; expected a capture file, or - to read standard input"
        }
    }

    /// Standard input, read to its end into an unlinked-on-exit temporary file.
    static func copyStandardInput() throws -> String {
        var template = Array("/tmp/faultline-stdin-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            printError("error: -: cannot make a temporary file for standard input: \(Errno.current.message)")
            throw ExitCode(3)
        }
        defer { close(fd) }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { raw in retryingInterrupts { read(0, raw.baseAddress, raw.count) } }
            if n == 0 { break }
            if n < 0 {
                unlink(path)
                printError("error: -: cannot read standard input: \(Errno.current.message)")
                throw ExitCode(2)
            }
            do throws(Errno) {
                try FileIO.writeAll(fd: fd, Array(buffer[0..<n]))
            } catch {
                unlink(path); printError("error: -: cannot store standard input in \(path)"); throw ExitCode(3)
            }
        }
        return path
    }

    /// A warning for frames of a link type the decoder does not know (they count for nothing).
    static func warnUnsupportedLinks(_ analysis: CaptureAnalysis, shownAs path: String) {
        let skipped = analysis.outcomeCounts[Int(DecodeOutcome.unsupportedLink.rawValue)]
        guard skipped > 0 else { return }
        let types = Set(analysis.interfaces.map { String($0.linkType.rawValue) }).sorted().joined(separator: ", ")
        printError("warning: \(path): \(skipped) of \(analysis.frames) frames have a link type this analyzer does not decode"
            + "\(types.isEmpty ? "" : " (link type \(types))"); they were not analysed. Supported: Ethernet, Linux cooked v1/v2, raw IP, BSD loopback")
    }

    /// tshark-compatible flags, one file after the other, streamed.
    private func runFlags(_ files: [String]) throws {
        let output = OutputBuffer(fd: 1)
        var failed = false
        for path in files {
            do throws(CaptureError) {
                var writer = FlagLinesWriter(output: output, prefix: files.count > 1 ? "\(path):" : "")
                // Finished conversations are retired: their tombstones keep every later flag as tshark's.
                let analysis = try CaptureAnalysis.run(path: path, observer: &writer, retirement: .flags)
                if let cut = analysis.truncation {
                    output.flush()
                    Self.printError("warning: \(path): \(cut); analysed the \(analysis.frames) frames before it")
                }
                output.flush()
                Self.warnUnsupportedLinks(analysis, shownAs: path)
            } catch {
                output.flush()
                Self.printError("error: \(path): \(error)")
                failed = true
            }
        }
        output.flush()
        if failed { throw ExitCode(2) }
    }

    /// Every file analysed, then judged together: flows matched across vantages.
    private func runDiagnosis(_ captures: [VantageCapture]) throws {
        if captures.count == 1 { return try runSingleDiagnosis(captures[0]) }
        var digests: [VantageDigest] = []
        var analyses: [CaptureAnalysis] = []
        var failed = false
        for capture in captures {
            do throws(CaptureError) {
                var observer = DiagnosisObserver(vantage: capture.name)
                let analysis = try CaptureAnalysis.run(path: capture.path, observer: &observer)
                if let cut = analysis.truncation {
                    Self.printError("warning: \(capture.path): \(cut); analysed the \(analysis.frames) frames before it")
                }
                Self.warnUnsupportedLinks(analysis, shownAs: capture.path)
                digests.append(observer.digest(of: analysis, role: capture.role))
                analyses.append(analysis)
            } catch {
                Self.printError("error: \(capture.path): \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(2) }
        do throws(CaptureError) {
            try Diagnoser.crossVantagePass(&digests)
        } catch {
            Self.printError("error: \(error)")
            throw ExitCode(2)
        }
        let result = Diagnoser.result(from: digests, analyses: analyses)
        let output = OutputBuffer(fd: 1)
        if json {
            Self.writeJSON(result, captures: analyses.map { (CaptureSummary($0), nil) }, to: output)
        } else {
            for analysis in analyses { output.append(CaptureSummary(analysis).text) }
            output.append(DiagnosisReport.text(result))
        }
        output.flush()
        try annotateIfAsked(result)
    }

    /// One capture (a file or '-'): finished connections are diagnosed and freed as the capture
    /// goes (memory follows the connections open at once); the findings are those of the
    /// whole-capture diagnosis, in the same order. With --follow each is printed at once.
    private func runSingleDiagnosis(_ capture: VantageCapture) throws {
        let output = OutputBuffer(fd: 1)
        // The conversation summaries (text, or JSON objects) wait in a temporary file, not in memory.
        let spool = follow ? nil : json ? ConversationSummarySpool(render: Self.jsonText, separator: ",") : ConversationSummarySpool()
        var observer = SpoolingObserver(inner: DiagnosisObserver(vantage: capture.name), spool: spool)
        if follow {
            let json = self.json
            observer.inner.follow { findings in
                if json {
                    for finding in findings { output.append(Self.jsonLine(finding)) }
                } else {
                    output.append(DiagnosisReport.text(findings))
                }
                output.flush()
            }
        }
        let analysis: CaptureAnalysis
        do throws(CaptureError) {
            analysis = try CaptureAnalysis.run(path: capture.path, observer: &observer, retirement: .diagnosis)
        } catch {
            output.flush()
            Self.printError("error: \(capture.path): \(error)")
            throw ExitCode(2)
        }
        if let cut = analysis.truncation {
            output.flush()
            Self.printError("warning: \(capture.path): \(cut); analysed the \(analysis.frames) frames before it")
        }
        Self.warnUnsupportedLinks(analysis, shownAs: capture.path)
        if ProcessInfo.processInfo.environment["FAULTLINE_RETIREMENT_STATS"] != nil {
            let counts = observer.inner.retirementCounts
            Self.printError("retirement: \(counts.retired) retired, \(counts.deferred) deferred to the end, "
                + "\(analysis.analyzer.revivedCount) revived, peak \(analysis.analyzer.peakOpenCount) open "
                + "of \(analysis.analyzer.conversationCount)")
        }
        let result = observer.inner.retiredRunResult(of: analysis, role: capture.role)
        if follow {
            // The connections still open at the end, judged with the whole capture.
            if json {
                for finding in result.findings { output.append(Self.jsonLine(finding)) }
            } else if !result.findings.isEmpty {
                output.append(DiagnosisReport.text(result.findings))
            }
            output.flush()
            return
        }
        if json, let spool {
            spool.appendHeld(of: analysis)
            Self.writeJSON(result, captures: [(CaptureSummary(analysis, includingConversations: false), spool)], to: output)
        } else if let spool {
            spool.appendHeld(of: analysis)
            output.append(CaptureSummary(analysis, includingConversations: false).headerText(conversationCount: spool.count))
            spool.write(to: output)
            output.append(DiagnosisReport.text(result))
        }
        output.flush()
        try annotateIfAsked(result)
    }

    /// --annotate: the first capture, with the findings as packet comments.
    private func annotateIfAsked(_ result: DiagnosisResult) throws {
        guard let annotate, let first = result.vantages.first else { return }
        do throws(AnnotateError) {
            let count = try PcapngAnnotator.annotate(result, vantage: first.name, output: annotate)
            Self.printError("annotated \(count) packets of \(first.path) in \(annotate)")
        } catch {
            Self.printError("error: --annotate \(annotate): \(error)")
            throw ExitCode(2)
        }
    }

    /// The diagnosis observer, with each retired conversation's summary put in a spool.
    struct SpoolingObserver: CaptureAnalysisObserver {
        var inner: DiagnosisObserver
        let spool: ConversationSummarySpool?

        mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
            inner.didAnalyze(frame, analyzer: analyzer)
        }

        mutating func didSkip(_ packet: PacketRecord, outcome: DecodeOutcome) {
            inner.didSkip(packet, outcome: outcome)
        }

        mutating func willRetire(slot: Int, analyzer: TCPAnalyzer) {
            inner.willRetire(slot: slot, analyzer: analyzer)
            spool?.append(analyzer.conversations[slot])
        }
    }

    static let summaryEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// One conversation's summary as the JSON encoder writes it inside `captures`.
    static func jsonText(_ conversation: CaptureSummary.Conversation) -> String {
        (try? summaryEncoder.encode(conversation)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// The `--json` document: the findings (schema faultline.findings/1) with the captures'
    /// summaries as "captures", each capture's conversations streamed from its spool when it has one.
    static func writeJSON(_ result: DiagnosisResult, captures: [(summary: CaptureSummary, spool: ConversationSummarySpool?)],
                          to output: OutputBuffer) {
        // The captures go where this mark is (a NUL cannot appear in rendered JSON: it is escaped).
        let mark = "\u{0}captures\u{0}"
        let document = FindingsJSON.render(result, extraMembers: ["captures": mark])
        let parts = document.components(separatedBy: mark)
        output.append(parts[0])
        output.append("[")
        for (index, capture) in captures.enumerated() {
            if index > 0 { output.append(",") }
            let encoded = (try? summaryEncoder.encode(capture.summary)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
            guard let spool = capture.spool, let empty = encoded.range(of: "\"conversations\":[]") else {
                output.append(encoded)
                continue
            }
            output.append(String(encoded[..<empty.lowerBound]) + "\"conversations\":[")
            spool.write(to: output)
            output.append("]" + String(encoded[empty.upperBound...]))
        }
        output.append("]")
        output.append(parts.count > 1 ? parts[1] : "")
        output.append("\n")
    }

    /// One finding as a JSON object on one line (--follow --json).
    static func jsonLine(_ finding: Finding) -> String {
        var array = Substring(FindingsJSON.render([finding], pretty: false))
        while let last = array.last, last.isWhitespace { array.removeLast() }
        return String(array.dropFirst().dropLast()) + "\n"
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
