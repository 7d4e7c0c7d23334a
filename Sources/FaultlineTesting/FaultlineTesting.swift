import Analysis
import CLinux
import Foundation
import Glibc
import Netlink
@_exported import Impairment
@_exported import Runner
@_exported import Scenario

/// Faultline inside a user's own test suite: load (or build in Swift) a scenario, run it for real
/// — namespaces, impairments, captures, peers — and look at what was diagnosed.
///
/// ```swift
/// import FaultlineTesting
/// import Testing
///
/// @Test func clientSurvivesForgedReset() async throws {
///     let run = try await Scenario(contentsOf: "Scenarios/r2-firewall-mid-stream.yaml").run()
///     #expect(run.findings.contains { $0.cause == .injectedByMiddlebox })
/// }
/// ```
///
/// Running needs the `faultline` executable, whose `peer` programs the scenario's steps start (see
/// `PeerProgram`). As root the run happens in the test process; without root (an ordinary user, a
/// CI job without sudo) it goes through that executable, which makes a user namespace of its own
/// before `main` (a test process cannot: it has threads by then) — see `RootlessRun`.

extension Scenario {
    /// Loads and checks a scenario file (relative paths from the current directory), with the
    /// same errors as `faultline run` (file:line:column: what, expected what).
    public init(contentsOf path: String) throws {
        let checker = PeerProgram.argumentCheck()
        self = try Scenario.load(path: path, peerArguments: checker)
        if let text = try? String(contentsOfFile: path, encoding: .utf8) { ScenarioTexts.remember(self, text: text, path: path) }
    }

    /// Runs the scenario once, as `faultline run` does, and returns what happened. Throws when
    /// the run could not happen at all (no `faultline` executable, no user namespace without
    /// root); a run whose expectations failed returns normally — look at `passed` and
    /// `failedExpectations`.
    public func run(_ options: ScenarioRunOptions = ScenarioRunOptions()) async throws -> ScenarioOutcome {
        let binary = try options.faultlineBinary ?? PeerProgram.locate()
        if Rootless.mode == .unprivileged {
            return try await RootlessRun.run(self, options: options, binary: binary)
        }
        let root = options.artifactsRoot ?? TemporaryFolder.make()
        let folder = try CatalogRun.makeRunFolder(root: root)
        _ = CatalogRun.sweep(say: { _ in })
        let settings = RunSettings(artifactsRoot: folder, detector: options.detector, seed: options.seed, faultlineBinary: binary,
                                   keepPassedCaptures: true, engine: options.engine)
        let scenario = self
        let seed = options.seed ?? self.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        let artifacts = "\(folder)/\(name)"
        // The runner blocks and enters namespaces on threads it owns: keep it off the
        // concurrency pool, on a thread of its own.
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<ScenarioResult, Never>) in
            let thread = Thread {
                let run = ScenarioRun(scenario: scenario, seed: seed, artifacts: artifacts, settings: settings, cancellation: Cancellation())
                continuation.resume(returning: run.run())
            }
            thread.name = "fl-test-run"
            thread.stackSize = 4 << 20
            thread.start()
        }
        return ScenarioOutcome(result: result)
    }
}

/// How a test runs a scenario.
public struct ScenarioRunOptions: Sendable {
    /// Where the run's artifacts folder goes (default: a new folder under the system's temporary directory).
    public var artifactsRoot: String?
    /// Overrides the scenario's seed.
    public var seed: UInt64?
    /// The engine for impairments on `engine: auto`.
    public var engine: EnginePreference
    /// Faultline's analyzer (default), tshark, or your own detector (`.command([...])`).
    public var detector: DetectorChoice
    /// The `faultline` executable the peers run as (default: `PeerProgram.locate()`).
    public var faultlineBinary: String?

    public init(artifactsRoot: String? = nil, seed: UInt64? = nil, engine: EnginePreference = .auto,
                detector: DetectorChoice = .builtin, faultlineBinary: String? = nil) {
        self.artifactsRoot = artifactsRoot
        self.seed = seed
        self.engine = engine
        self.detector = detector
        self.faultlineBinary = faultlineBinary
    }
}

/// What one run showed: its findings (typed), its expectations and where its artifacts are.
public struct ScenarioOutcome: Sendable {
    /// Everything the runner reports (the same value as `result.json`).
    public let result: ScenarioResult

    public init(result: ScenarioResult) { self.result = result }

    /// Every expectation held (and the run could run).
    public var passed: Bool { result.status == .passed }
    /// What the detector found, kinds and causes typed (`$0.cause == .injectedByMiddlebox`).
    public var findings: [Finding] { result.findings }
    public var failedExpectations: [ExpectationResult] { result.failedExpectations }
    /// The run's artifacts folder: captures, event logs, report.html, result.json.
    public var artifacts: String { result.artifacts }
    /// The headline, as `faultline run` prints it.
    public var summary: String { TextReport.scenario(result, verbose: true) }
}

public struct FaultlineTestingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

enum TemporaryFolder {
    static func make() -> String {
        var template = Array("/tmp/faultline-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
            return String(cString: base)
        }
        return made ?? "/tmp/faultline-test-\(getpid())"
    }
}

/// The analyzer's one finding type and its vocabulary, by name, without the rest of the
/// analyzer's API in a test suite's namespace.
public typealias Finding = Analysis.Finding
public typealias DiagnosisKind = Analysis.DiagnosisKind
public typealias DiagnosisCause = Analysis.DiagnosisCause
public typealias FlowRef = Analysis.FlowRef
public typealias EvidenceValue = Analysis.EvidenceValue
