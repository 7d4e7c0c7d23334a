import Foundation
import Glibc
import Netlink
import Runner
import Scenario
import Synchronization

/// `Scenario.run()` without root: through the `faultline` executable.
///
/// A process that is not root builds its networks inside a user namespace of its own, and
/// `unshare(CLONE_NEWUSER)` refuses a process with more than one thread — a test process has
/// several long before a test runs. The `faultline` executable makes its user namespace in a
/// constructor, before `main` (Sources/FaultlineEntry), so the run goes there: the scenario's text
/// is handed to `faultline run --json` and its result (the same `ScenarioResult` as `result.json`)
/// is read back. Everything the run creates lives in that process's namespaces and ends with it.
enum RootlessRun {
    static func run(_ scenario: Scenario, options: ScenarioRunOptions, binary: String) async throws -> ScenarioOutcome {
        guard let source = ScenarioTexts.source(of: scenario) else {
            throw FaultlineTestingError("""
                without root a scenario runs in the faultline executable, which reads its text; this Scenario value \
                was changed after it was loaded or built (or made some other way), so there is no text that says it. \
                Change the file or the Scenario.build { } block instead, or run the tests as root
                """)
        }
        let folder = TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A file keeps its own path (relative paths in it mean what they meant); a built scenario is written out.
        let file: String
        if let path = source.path, (try? String(contentsOfFile: path, encoding: .utf8)) == source.text {
            file = path
        } else {
            file = "\(folder)/\(scenario.name).yaml"
            try source.text.write(toFile: file, atomically: true, encoding: .utf8)
        }
        let root = options.artifactsRoot ?? TemporaryFolder.make()
        var arguments = ["run", file, "--json", "--jobs", "1", "--artifacts", root, "--engine", options.engine.rawValue,
                         "--detector", options.detector.description]
        if let seed = options.seed { arguments += ["--seed", String(seed)] }

        let output = try await Task.detached { () throws -> (status: Int32, stdout: Data, stderr: Data) in
            try runProcess(binary, arguments)
        }.value
        let report: Report
        do {
            report = try JSONDecoder().decode(Report.self, from: output.stdout)
        } catch {
            let errors = String(decoding: output.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw FaultlineTestingError("faultline run (exit \(output.status)) gave no result: \(errors.isEmpty ? "\(error)" : errors)")
        }
        guard let result = report.results.first else {
            throw FaultlineTestingError("faultline run (exit \(output.status)) ran nothing: \(String(decoding: output.stderr, as: UTF8.self))")
        }
        return ScenarioOutcome(result: result)
    }

    /// The part of `faultline run --json`'s document read here.
    private struct Report: Decodable {
        var results: [ScenarioResult]
    }

    /// Runs `binary arguments`, stdout and stderr captured (read on their own threads so that
    /// neither pipe can fill up and stall the run).
    private static func runProcess(_ binary: String, _ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = Collected(), stderr = Collected()
        let group = DispatchGroup()
        for (pipe, collected) in [(out, stdout), (err, stderr)] {
            group.enter()
            Thread.detachNewThread {
                collected.data = pipe.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
        }
        group.wait()
        process.waitUntilExit()
        return (process.terminationStatus, stdout.data, stderr.data)
    }

    private final class Collected: @unchecked Sendable {
        var data = Data()
    }
}

/// The text each loaded or built `Scenario` came from, keyed by the value itself: a value changed
/// after loading no longer matches, so a rootless run never runs a text that says something else.
enum ScenarioTexts {
    struct Source: Sendable {
        var text: String
        /// The file it was read from (nil: built in Swift).
        var path: String?
    }

    private static let texts = Mutex<[Scenario: Source]>([:])

    static func remember(_ scenario: Scenario, text: String, path: String?) {
        texts.withLock { $0[scenario] = Source(text: text, path: path) }
    }

    static func source(of scenario: Scenario) -> Source? {
        texts.withLock { $0[scenario] }
    }
}
