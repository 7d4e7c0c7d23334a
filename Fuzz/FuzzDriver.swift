// The work one fuzz input gets: everything `faultline analyze` can do to a capture file.
//
// Compiled into the fuzzer together with the Analysis sources (one module; see scripts/fuzz).
// Tests/AnalysisTests/FuzzRegressionTests.swift runs the same steps on the saved crash inputs:
// keep the two in step.
#if canImport(Glibc)
import Glibc
#endif

enum FuzzDriver {
    /// A sink for text output: /dev/null, opened once.
    static let devNull: Int32 = open("/dev/null", O_WRONLY | O_CLOEXEC)

    /// Runs the reader, the tshark-compatible analysis (flags, summary) and the diagnosis on
    /// `bytes`, in memory; then, for one input in four (chosen by its bytes, so a given input
    /// always takes the same path), the file-based paths (two vantage points, annotated copy) on
    /// a copy written to `scratch`: they read the file five times, and doing it for every input
    /// would cut the fuzzer's speed by four. Errors are expected and ignored; crashes, hangs and
    /// runaway memory are what the fuzzer looks for. The annotated copy must read back whole: a
    /// broken writer is a bug even without a crash.
    static func run(_ bytes: UnsafeRawBufferPointer, scratch: String) {
        inMemory(bytes)
        guard takesFilePath(bytes), writeFile(scratch, bytes) else { return }
        fromFiles(scratch)
    }

    /// FNV-1a of the first 64 bytes and the length, one in four.
    static func takesFilePath(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var hash: UInt32 = 2_166_136_261
        for byte in bytes.prefix(64) { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        hash = (hash ^ UInt32(truncatingIfNeeded: bytes.count)) &* 16_777_619
        return hash % 4 == 0
    }

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

    /// Per-frame flags and stream numbers, to compare a retiring run with a plain one.
    struct FlagRecorder: CaptureAnalysisObserver {
        var frames: [UInt64] = []
        mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
            frames.append(frame.frameNumber << 40 ^ UInt64(frame.flags.rawValue) << 24 ^ UInt64(frame.conversationID))
        }
    }

    /// Retiring finished conversations (issue #12) changes neither the flags nor the findings,
    /// whatever the policy: the diagnosis's own, and one that retires after every packet.
    static func retirementChangesNothing(_ path: String) {
        guard let whole = try? Diagnoser.diagnose([VantageCapture(name: "fuzz", path: path)]) else { return }
        var plain = FlagRecorder()
        guard (try? CaptureAnalysis.run(path: path, observer: &plain)) != nil else { return }
        let expected = FindingsJSON.render(whole.findings)
        for policy in [RetirementPolicy.diagnosis, RetirementPolicy(linger: 0, idleTimeout: 1_000)] {
            var observer = DiagnosisObserver(vantage: "fuzz")
            guard let analysis = try? CaptureAnalysis.run(path: path, observer: &observer, retirement: policy) else {
                fatalError("retirement: the retiring run failed where the plain one did not")
            }
            let got = FindingsJSON.render(observer.retiredRunResult(of: analysis).findings)
            if got != expected { fatalError("retirement (linger \(policy.linger)) changed the findings:\n\(got)\nwant:\n\(expected)") }
            var flags = FlagRecorder()
            _ = try? CaptureAnalysis.run(path: path, observer: &flags, retirement: policy)
            if flags.frames != plain.frames { fatalError("retirement (linger \(policy.linger)) changed flags or stream numbers") }
        }
    }

    static func fromFiles(_ path: String) {
        retirementChangesNothing(path)
        let result: DiagnosisResult
        do throws(CaptureError) {
            result = try Diagnoser.diagnose([VantageCapture(name: "client", path: path),
                                             VantageCapture(name: "server", path: path)])
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
        let expected = result.analyses.first?.frames ?? 0
        do throws(CaptureError) {
            let copy = try CaptureReader(path: annotated)
            while try copy.next() != nil {}
            if copy.truncation != nil || copy.framesRead != expected {
                fatalError("annotated copy: \(copy.framesRead) frames (truncation: \(String(describing: copy.truncation))), the input had \(expected)")
            }
        } catch {
            fatalError("annotated copy does not read back: \(error)")
        }
    }

    static func writeFile(_ path: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd < 0 { return false }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress.unsafelyUnwrapped + offset, bytes.count - offset)
            if written <= 0 { return false }
            offset += written
        }
        return true
    }
}
