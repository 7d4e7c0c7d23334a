import Analysis
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Replays every input in Tests/AnalysisTests/FuzzRegressions/ (crashes, hangs and memory
/// blow-ups `scripts/fuzz` found, plus hand-made hostile files) through the same steps as the
/// fuzzer (Fuzz/FuzzDriver.swift — keep the two in step): reader, tshark-compatible analysis,
/// flags, summary, diagnosis in memory; then the two-vantage diagnosis and the annotated copy
/// from a file. Errors are fine.
///
/// Each input runs in a child process (this test binary again, filtered to
/// `replayFileFromEnvironment`), so that a crash fails one test case with the child's report
/// instead of killing the whole test run; the child gets 60 s and 1 GiB of data memory.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let directory: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast()  // FuzzRegressionTests.swift
        return parts.joined(separator: "/") + "/FuzzRegressions"
    }()

    static let inputs: [String] = {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(".") || name.hasSuffix(".md") { continue }
            names.append(name)
        }
        return names.sorted()
    }()

    static let environmentKey = "FAULTLINE_FUZZ_REPLAY"
    static let timeLimitSeconds = 60
    static let dataLimitBytes = 1 << 30

    @Test("the regression folder holds inputs")
    func folderIsNotEmpty() {
        #expect(!Self.inputs.isEmpty, "no files in \(Self.directory)")
    }

    @Test("a saved input neither crashes, hangs nor exhausts memory (replayed in a child process)", arguments: inputs)
    func replay(_ name: String) throws {
        let outcome = try Self.runChild(file: Self.directory + "/" + name)
        #expect(outcome.status == 0, "\(name): \(outcome.summary)\n\(outcome.output)")
    }

    /// The child side of `replay`: runs only when the parent set the environment variable.
    @Test(.enabled(if: getenv(FuzzRegressionTests.environmentKey) != nil))
    func replayFileFromEnvironment() throws {
        guard let raw = getenv(Self.environmentKey) else { return }
        var limit = rlimit(rlim_cur: rlim_t(Self.dataLimitBytes), rlim_max: rlim_t(Self.dataLimitBytes))
        setrlimit(__rlimit_resource_t(RLIMIT_DATA.rawValue), &limit)
        let path = String(cString: raw)
        let bytes = try Self.read(path)
        bytes.withUnsafeBytes { Self.inMemory($0) }
        let scratch = "/tmp/faultline-fuzz-regression-\(getpid())"
        defer { unlink(scratch) }
        let fd = open(scratch, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        #expect(fd >= 0)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect(written == bytes.count)
        try Self.fromFiles(scratch)
    }

    struct ChildOutcome {
        var status: Int32
        var summary: String
        var output: String
    }

    /// Runs this test binary on `replayFileFromEnvironment` for `file`; kills it after the time limit.
    static func runChild(file: String) throws -> ChildOutcome {
        let executable = CommandLine.arguments[0]
        let log = "/tmp/faultline-fuzz-replay-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        defer { unlink(log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let arguments = [executable, "--testing-library", "swift-testing", "--filter", "replayFileFromEnvironment"]
        // Swift's backtracer names the trap and the source lines: that is the report.
        let backtrace = "SWIFT_BACKTRACE=enable=yes,interactive=no,color=no,threads=crashed,registers=none,images=none,sanitize=no"
        var environment = ["\(environmentKey)=\(file)", backtrace, "PATH=/usr/bin:/bin"]
        if let home = getenv("HOME") { environment.append("HOME=\(String(cString: home))") }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, &argv, &envp)
        guard rc == 0 else { throw CaptureError.cannotOpen(path: executable, errno: rc, message: "posix_spawn") }

        var status: Int32 = 0
        var timedOut = false
        var waited = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if waited >= timeLimitSeconds * 100 {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                timedOut = true
                break
            }
            usleep(10_000)
            waited += 1
        }
        let text = String(decoding: (try? read(log)) ?? [], as: UTF8.self)
        // Keep the lines that say what went wrong (the trap, the source frames, failed
        // expectations), not the whole transcript.
        let lines = text.split(separator: "\n").filter {
            $0.hasPrefix("***") || $0.contains("Fatal error") || $0.contains("✘")
                || ($0.contains(" at /") && !$0.contains("swift-generated") && !$0.contains("<compiler-generated>"))
        }.prefix(16)
        let exited = status & 0x7F == 0
        let summary: String
        if timedOut {
            summary = "still running after \(timeLimitSeconds) s (a hang), killed"
        } else if exited {
            summary = "child exited with status \((status >> 8) & 0xFF)"
        } else {
            summary = "child killed by signal \(status & 0x7F) (a crash)"
        }
        let verdict: Int32 = timedOut ? -1 : (exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F))
        return ChildOutcome(status: verdict, summary: summary, output: lines.joined(separator: "\n"))
    }

    // MARK: the fuzzer's steps (Fuzz/FuzzDriver.swift)

    struct Observers: CaptureAnalysisObserver {
        var diagnosis: DiagnosisObserver
        var flags: FlagLinesWriter
        mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
            diagnosis.didAnalyze(frame, analyzer: analyzer)
            flags.didAnalyze(frame, analyzer: analyzer)
        }
        mutating func didSkip(_ packet: PacketRecord, outcome: DecodeOutcome) {
            diagnosis.didSkip(packet, outcome: outcome)
            flags.didSkip(packet, outcome: outcome)
        }
    }

    static func inMemory(_ bytes: UnsafeRawBufferPointer) {
        let reader: CaptureReader
        do throws(CaptureError) {
            reader = try CaptureReader(bytes: bytes)
        } catch {
            _ = error.description
            return
        }
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        let output = OutputBuffer(fd: devNull, capacity: 4096)
        var observers = Observers(diagnosis: DiagnosisObserver(vantage: "fuzz"), flags: FlagLinesWriter(output: output))
        let analysis: CaptureAnalysis
        do throws(CaptureError) {
            analysis = try CaptureAnalysis.run(reader: reader, path: "fuzz", observer: &observers)
        } catch {
            _ = error.description
            return
        }
        _ = reader.interfaces
        _ = reader.comments
        _ = analysis.truncation?.description
        _ = CaptureSummary(analysis).text
        let findings = Diagnoser.findings(from: [observers.diagnosis.digest(of: analysis)])
        _ = DiagnosisReport.text(findings)
        _ = FindingsJSON.render(findings)
        output.flush()
    }

    static func fromFiles(_ path: String) throws {
        let result: DiagnosisResult
        do throws(CaptureError) {
            result = try Diagnoser.diagnose([VantageCapture(name: "client", path: path, role: .client),
                                             VantageCapture(name: "server", path: path, role: .server)])
        } catch {
            return
        }
        _ = DiagnosisReport.text(result)
        _ = FindingsJSON.render(result)
        let annotated = path + ".annotated.pcapng"
        defer { unlink(annotated) }
        do throws(AnnotateError) {
            try PcapngAnnotator.annotate(result, vantage: "client", output: annotated)
        } catch {
            return
        }
        // What the annotator wrote must read back without error, frame for frame.
        let copy = try CaptureReader(path: annotated)
        while try copy.next() != nil {}
        #expect(copy.truncation == nil)
        #expect(copy.framesRead == (result.analyses.first?.frames ?? 0))
    }

    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CaptureError.cannotOpen(path: path, errno: errno, message: "open") }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            data.append(contentsOf: buffer[0..<count])
        }
        return data
    }
}
