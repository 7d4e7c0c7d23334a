import Values
import Foundation

/// Plain-text reports: one block per scenario run, and the catalog's closing summary.
public enum TextReport {
    /// `PASS name (1.23s) — diagnosis`, then, for a failure, each expectation that failed with
    /// what was expected and found, and the artifacts path.
    public static func scenario(_ r: ScenarioResult, verbose: Bool = false, repeatCount: Int = 1) -> String {
        let word: String
        switch r.status {
        case .passed: word = "PASS"
        case .failed: word = "FAIL"
        case .error: word = "ERROR"
        case .interrupted: word = "STOP"
        }
        let rep = repeatCount > 1 ? " #\(r.repetition)" : ""
        var out = "\(word)  \(r.name)\(rep) (\(String(format: "%.2f", r.seconds))s, seed \(r.seed)) — \(r.diagnosis)\n"
        for use in r.engines { out += "      impairment \(use)\n" }
        for note in r.notes where note.hasPrefix("this run's own timing was disturbed") { out += "      warning: \(note)\n" }
        if r.status != .passed || verbose {
            if let error = r.error, r.status != .error || verbose { out += "      \(error)\n" }
            for e in r.expectations where verbose || (e.checked && !e.passed) {
                let mark = !e.checked ? "skip" : (e.passed ? "ok  " : "FAIL")
                out += "      \(mark) \(e.expected)  [\(e.source)]\n"
                if !e.passed || verbose { out += "           found: \(e.found)\n" }
                if let note = e.note, verbose || !e.passed { out += "           note: \(note)\n" }
            }
        }
        // What the detector could not check is always listed (tshark: causes it cannot tell apart).
        let skipped = r.expectations.filter { !$0.checked }
        if !verbose && !skipped.isEmpty {
            out += "      \(skipped.count) expectation\(skipped.count == 1 ? "" : "s") the \(r.detector) detector cannot express (not checked):\n"
            for e in skipped { out += "        - \(e.expected) [\(e.source)]: \(e.note ?? "")\n" }
        }
        if r.status != .passed || verbose {
            if verbose {
                for f in r.findings { out += "      finding: \(f.summary)\(f.sentence.isEmpty ? "" : " — " + f.sentence)\n" }
                for n in r.notes { out += "      note: \(n)\n" }
            }
            out += "      artifacts: \(r.artifacts)\n"
        }
        return out
    }

    /// The closing lines: per scenario pass counts (with --repeat), totals, wall time.
    public static func summary(_ results: [ScenarioResult], repeatCount: Int, wallSeconds: Double, jobs: Int) -> String {
        var out = ""
        let byName = Dictionary(grouping: results, by: \.name)
        let names = results.map(\.name).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        if repeatCount > 1 {
            out += "pass counts (--repeat \(repeatCount)):\n"
            for name in names {
                let runs = byName[name] ?? []
                let passed = runs.filter { $0.status == .passed }.count
                let flaky = passed > 0 && passed < runs.count ? "  FLAKY" : ""
                out += "  \(passed)/\(runs.count)  \(name)\(flaky)\n"
            }
        }
        let passed = results.filter { $0.status == .passed }.count
        let failed = results.filter { $0.status == .failed }.count
        let errors = results.filter { $0.status == .error }.count
        let stopped = results.filter { $0.status == .interrupted }.count
        var parts = ["\(passed) passed"]
        if failed > 0 { parts.append("\(failed) failed") }
        if errors > 0 { parts.append("\(errors) could not run") }
        if stopped > 0 { parts.append("\(stopped) interrupted") }
        out += "\(results.count) run\(results.count == 1 ? "" : "s"): \(parts.joined(separator: ", ")) in \(String(format: "%.1f", wallSeconds))s wall (-j \(jobs))\n"
        return out
    }
}

/// JUnit XML for CI: one testsuite, one testcase per scenario run.
public enum JUnitReport {
    public static func xml(_ results: [ScenarioResult], wallSeconds: Double, repeatCount: Int) -> String {
        let failures = results.filter { $0.status == .failed }.count
        let errors = results.filter { $0.status == .error || $0.status == .interrupted }.count
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites tests=\"\(results.count)\" failures=\"\(failures)\" errors=\"\(errors)\" time=\"\(String(format: "%.3f", wallSeconds))\">\n"
        out += "  <testsuite name=\"faultline\" tests=\"\(results.count)\" failures=\"\(failures)\" errors=\"\(errors)\" time=\"\(String(format: "%.3f", wallSeconds))\">\n"
        for r in results {
            let name = repeatCount > 1 ? "\(r.name) #\(r.repetition)" : r.name
            out += "    <testcase classname=\"faultline.\(escape(r.name))\" name=\"\(escape(name))\" file=\"\(escape(r.file))\" time=\"\(String(format: "%.3f", r.seconds))\">\n"
            switch r.status {
            case .passed: break
            case .failed:
                let failed = r.failedExpectations
                let message = failed.first.map { "expected \($0.expected); found: \($0.found)" } ?? (r.error ?? "failed")
                out += "      <failure message=\"\(escape(message))\" type=\"expectation\">\(escape(details(r)))</failure>\n"
            case .error, .interrupted:
                out += "      <error message=\"\(escape(r.error ?? r.diagnosis))\" type=\"\(r.status.rawValue)\">\(escape(details(r)))</error>\n"
            }
            out += "      <system-out>\(escape("seed \(r.seed)\ndiagnosis: \(r.diagnosis)\nartifacts: \(r.artifacts)\n"))</system-out>\n"
            out += "    </testcase>\n"
        }
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }

    static func details(_ r: ScenarioResult) -> String {
        var text = ""
        for e in r.failedExpectations { text += "\(e.source): expected \(e.expected)\n  found: \(e.found)\n" }
        if let error = r.error { text += error + "\n" }
        text += "artifacts: \(r.artifacts)\n"
        return text
    }

    static func escape(_ s: String) -> String { MarkupText.escaped(s, replacement: "?") }
}

/// The `--json` document.
public struct RunReport: Codable, Sendable {
    public var results: [ScenarioResult]
    public var passed: Int
    public var failed: Int
    public var errors: Int
    public var interrupted: Int
    public var wallSeconds: Double
    public var jobs: Int
    public var repeatCount: Int
    public var detector: String
    public var exitCode: Int32
    /// Per scenario: [runs that passed, runs] (for --repeat).
    public var passCounts: [String: [Int]]

    public init(results: [ScenarioResult], wallSeconds: Double, jobs: Int, repeatCount: Int, detector: String, exitCode: Int32) {
        self.results = results
        passed = results.filter { $0.status == .passed }.count
        failed = results.filter { $0.status == .failed }.count
        errors = results.filter { $0.status == .error }.count
        interrupted = results.filter { $0.status == .interrupted }.count
        self.wallSeconds = wallSeconds
        self.jobs = jobs
        self.repeatCount = repeatCount
        self.detector = detector
        self.exitCode = exitCode
        var counts: [String: [Int]] = [:]
        for result in results {
            var entry = counts[result.name] ?? [0, 0]
            entry[1] += 1
            if result.status == .passed { entry[0] += 1 }
            counts[result.name] = entry
        }
        passCounts = counts
    }
}
