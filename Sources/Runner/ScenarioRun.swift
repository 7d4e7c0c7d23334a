import Analysis
import CLinux
import Capture
import Foundation
import Glibc
import Impairment
import Netlink
import Peers
import Scenario

/// Settings shared by every scenario run of one `faultline run`.
public struct RunSettings: Sendable {
    /// Where each run's artifacts folder goes.
    public var artifactsRoot: String
    public var detector: DetectorChoice
    /// `--seed`: overrides the scenarios' own seeds.
    public var seed: UInt64?
    /// The `faultline` executable peers run as (`faultline peer ...`).
    public var faultlineBinary: String
    /// Keep the captures of runs that passed (false: only their findings and reports).
    public var keepPassedCaptures: Bool
    /// `--engine`: the engine for impairments the scenarios leave on `auto`.
    public var engine: EnginePreference
    /// Notes for the user (engine fallbacks, ...), said once each.
    public var say: @Sendable (String) -> Void
    /// How often the kernel's TCP_INFO of every socket is sampled (tcpinfo.jsonl); 0: not at all.
    public var tcpInfoIntervalMilliseconds: Double = 10
    /// Draw every flow in report.html, not only those with a finding.
    public var reportAllFlows = false

    public init(artifactsRoot: String, detector: DetectorChoice = .builtin, seed: UInt64? = nil,
                faultlineBinary: String = RunSettings.ownExecutable(), keepPassedCaptures: Bool = true,
                engine: EnginePreference = .auto, say: @escaping @Sendable (String) -> Void = { _ in }) {
        self.artifactsRoot = artifactsRoot
        self.detector = detector
        self.seed = seed
        self.faultlineBinary = faultlineBinary
        self.keepPassedCaptures = keepPassedCaptures
        self.engine = engine
        self.say = say
    }

    /// This process's executable (/proc/self/exe).
    public static func ownExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return CommandLine.arguments.first ?? "faultline" }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The outcome of one scenario run.
public struct ScenarioResult: Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        /// Every expectation held.
        case passed
        /// An expectation failed (or the time limit was hit).
        case failed
        /// The run could not happen or finish (bad input, environment, a kernel refusal).
        case error
        /// Ctrl-C or SIGTERM stopped it.
        case interrupted
    }

    public var name: String
    public var file: String
    /// 1-based, for --repeat.
    public var repetition: Int
    public var seed: UInt64
    public var status: Status
    public var seconds: Double
    public var artifacts: String
    /// The one-line diagnosis: the main failure finding's sentence, or that there was none.
    public var diagnosis: String
    public var expectations: [ExpectationResult]
    public var findings: [Finding]
    public var captures: [CaptureFile]
    /// Exit codes of the processes the steps started, by name.
    public var processes: [String: Int64]
    /// Why it errored (status error / failed on a time limit).
    public var error: String?
    /// The exit code this run asks for (0, 1, 2, 3, 130, 143).
    public var exitCode: Int32
    public var detector: String
    public var notes: [String]
    /// Which engine carried each impairment, and why.
    public var engines: [ImpairmentEngineUse]
    /// Seconds spent in each phase: setup (network, rules, captures, engines), timeline,
    /// teardown, analysis.
    public var phases: [String: Double]

    /// Expectations the detector could not express (tshark).
    public var notExpressible: [ExpectationResult] { expectations.filter { !$0.checked || $0.note != nil } }
    public var failedExpectations: [ExpectationResult] { expectations.filter { $0.checked && !$0.passed } }
}

/// One scenario, run once: its own uniquely named namespaces (`faultline-<pid>-<runid>-<node>`),
/// impairments, firewall rules, captures, processes on a timeline, a hard time limit, a
/// teardown that always runs, then analysis and the expectations.
public final class ScenarioRun: @unchecked Sendable {
    public let scenario: Scenario
    public let repetition: Int
    public let runID: String
    public let seed: UInt64
    public let artifacts: String
    let settings: RunSettings
    let cancellation: Cancellation

    /// The network, firewall, captures, sampler, impairments and processes of this run.
    private var testbed: Testbed?
    private var notes: [String] = []
    private var timelineLog: [String] = []
    /// The same lines as JSON with both clocks (timeline.jsonl): the report puts them on the
    /// captures' wall-clock axis and converts the peers' monotonic event times with them.
    private var timelineJSONLines: [String] = []
    private var start: UInt64 = 0
    /// The processes still running when the time limit ended the run.
    private var stillRunning: [String] = []
    /// An `after:` step whose event never came (the run stopped there and fails).
    private var eventFailure: String?
    /// How late the latest timed step ran (a busy machine: too many runs at once for its cores).
    private var worstLateness: UInt64 = 0
    /// Steps later than this mean the run's own timing was disturbed: its findings may show the
    /// machine, not the scenario (RTTs inflated, timers firing late).
    static let disturbedThreshold: UInt64 = 20_000_000
    private var phases: [String: Double] = [:]
    private var phaseStart: UInt64 = 0

    private func phase(_ name: String) {
        let now = fl_monotonic_ns()
        lock.withLock {
            if phaseStart != 0 { phases[name] = Double(now - phaseStart) / 1e9 }
            phaseStart = now
        }
    }
    private let lock = Lock()

    private static let counter = LockedBox(0)

    /// A fresh run id, unique in this process: `r1`, `r2`, ...
    static func nextRunID() -> String {
        "r" + String(counter.withLock { $0 += 1; return $0 })
    }

    public init(scenario: Scenario, repetition: Int = 1, seed: UInt64, artifacts: String, settings: RunSettings,
                cancellation: Cancellation) {
        self.scenario = scenario
        self.repetition = repetition
        self.seed = seed
        self.artifacts = artifacts
        self.settings = settings
        self.cancellation = cancellation
        self.runID = Self.nextRunID()
    }

    private func note(_ text: String) {
        lock.withLock { notes.append(text) }
    }

    private func log(_ text: String) {
        let monotonic = fl_monotonic_ns(), epoch = fl_realtime_ns()
        let t = start == 0 ? 0 : Double(monotonic &- start) / 1e9
        let json = "{\"epoch_ns\":\(epoch),\"mono_ns\":\(monotonic),\"text\":\(JSONString.quote(text))}\n"
        lock.withLock {
            timelineLog.append(String(format: "%9.6f  ", t) + text)
            timelineJSONLines.append(json)
        }
    }

    // MARK: run

    public func run() -> ScenarioResult {
        let began = fl_monotonic_ns()
        var runError: RunnerError?
        var timedOut = false
        do {
            try prepareArtifacts()
        } catch {
            return result(status: .error, error: error, began: began, findings: [], expectations: [])
        }
        phaseStart = began
        do {
            timedOut = try execute()
        } catch {
            runError = error
        }
        phase(start == 0 ? "setup" : "timeline")
        teardown()
        phase("teardown")
        if cancellation.isCancelled {
            return result(status: .interrupted, error: nil, began: began, findings: [], expectations: [])
        }
        if let runError {
            return result(status: .error, error: runError, began: began, findings: [], expectations: [])
        }
        // Analysis: outside every namespace, on finished files.
        let captureFiles = lock.withLock { testbed }?.captureFiles ?? []
        let addresses = NetworkPlan.addresses(scenario.topology)
        let detection: Detection
        do {
            detection = try settings.detector.detector.detect(captureFiles, nodes: addresses, say: settings.say)
        } catch {
            return result(status: .error, error: error, began: began, findings: [], expectations: [])
        }
        let findings = detection.findings
        phase("analysis")
        let outcomes = processOutcomes()
        let checker = ExpectationChecker(scenario: scenario, findings: findings, marks: detection.marks, processes: outcomes,
                                         namesCauses: settings.detector.detector.namesCauses, addresses: addresses)
        let expectations = checker.check()
        var status: ScenarioResult.Status = expectations.allSatisfy { !$0.checked || $0.passed } ? .passed : .failed
        var error: RunnerError?
        if let failure = Self.startFailure(outcomes, scenario: scenario) {
            // The run tested nothing: whatever the expectations say, it is the scenario's error.
            return result(status: .error, error: .badInput("a program failed to start: \(failure)"), began: began,
                          findings: findings, expectations: expectations)
        }
        if let eventFailure = lock.withLock({ eventFailure }) {
            status = .failed
            error = .execution(eventFailure)
        } else if timedOut {
            status = .failed
            error = .execution("time limit \(Interval(scenario.timeLimit)) reached with processes still running: "
                + lock.withLock { stillRunning }.joined(separator: ", ")
                + " (end the timeline with `stop: all`, or raise `time-limit`)")
        }
        let outcome = result(status: status, error: error, began: began, findings: findings, expectations: expectations)
        do {
            try RunHTMLReport.write(artifacts: artifacts, captures: captureFiles, allFlows: settings.reportAllFlows)
        } catch {
            settings.say("report.html for \(scenario.name): \(error)")
        }
        if status == .passed && !settings.keepPassedCaptures {
            for capture in captureFiles { unlink(capture.path) }
        }
        return outcome
    }

    private func result(status: ScenarioResult.Status, error: RunnerError?, began: UInt64, findings: [Finding],
                        expectations: [ExpectationResult]) -> ScenarioResult {
        let seconds = Double(fl_monotonic_ns() - began) / 1e9
        let exitCode: Int32
        switch status {
        case .passed: exitCode = 0
        case .failed: exitCode = 1
        case .error: exitCode = error?.exitCode ?? 1
        case .interrupted: exitCode = RunExitCode.stopped(by: cancellation.signal)
        }
        let worst = lock.withLock { worstLateness }
        let disturbance = worst > Self.disturbedThreshold
            ? [String(format: "this run's own timing was disturbed: a step ran %.0f ms late (the machine was busy — fewer runs at once, -j, keep timing-bound scenarios honest)", Double(worst) / 1e6)]
            : []
        let processExit = Dictionary(processOutcomes().compactMap { name, o in o.exitStatus.map { (name, $0) } },
                                     uniquingKeysWith: { a, _ in a })
        var result = ScenarioResult(
            name: scenario.name, file: scenario.file, repetition: repetition, seed: seed, status: status, seconds: seconds,
            artifacts: artifacts, diagnosis: Self.oneLine(findings: findings, status: status, error: error, expectations: expectations),
            expectations: expectations, findings: findings, captures: lock.withLock { testbed }?.captureFiles ?? [], processes: processExit,
            error: error.map { "\($0.category): \($0)" }, exitCode: exitCode, detector: settings.detector.description,
            notes: lock.withLock { notes } + (lock.withLock { testbed }?.notes ?? []) + disturbance,
            engines: lock.withLock { testbed }?.impairments?.engineUses ?? [], phases: lock.withLock { phases })
        if status == .interrupted { result.diagnosis = "interrupted (\(SignalWatcher.name(of: cancellation.signal))): torn down" }
        writeArtifacts(result)
        return result
    }

    /// The first process that did not start what it was for (could not start, refused its
    /// arguments, could not resolve its target) — unless the scenario expects its exit status.
    static func startFailure(_ outcomes: [String: ProcessOutcome], scenario: Scenario) -> String? {
        let expectedExits = Set(scenario.expectations.compactMap { e -> String? in
            if case .peer(let process, .exitStatus, _, _) = e.check { return process }
            return nil
        })
        return outcomes.values.sorted { $0.name < $1.name }.lazy
            .filter { !expectedExits.contains($0.name) }.compactMap(\.startFailure).first
    }

    /// The headline: what happened, in that order — the run's error, the time limit, the main
    /// failure finding, a failed expectation, or that all held.
    static func oneLine(findings: [Finding], status: ScenarioResult.Status, error: RunnerError?,
                        expectations: [ExpectationResult] = []) -> String {
        if let error, status == .error { return "\(error.category): \(error)" }
        if let error, status == .failed { return "\(error)" }   // "time limit 5s reached with …"
        let failed = expectations.filter { $0.checked && !$0.passed }
        if status == .failed, let first = failed.first {
            return "expectation failed: expected \(first.expected), found \(first.found)" + (failed.count > 1 ? " (+\(failed.count - 1) more)" : "")
        }
        let failures = findings.filter(\.isFailure).sorted { ($0.confidence ?? 0) > ($1.confidence ?? 0) }
        if let main = failures.first {
            let text = main.sentence.isEmpty ? main.summary : "\(main.name): \(main.sentence)"
            return failures.count > 1 ? text + " (+\(failures.count - 1) more)" : text
        }
        if let other = findings.first { return "no failure found (\(other.name))" }
        return "no failure found"
    }

    // MARK: setup and timeline

    private func prepareArtifacts() throws(RunnerError) {
        do {
            try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        } catch {
            throw .environment("cannot create the artifacts folder \(artifacts): \(error.localizedDescription)")
        }
        let copy = artifacts + "/scenario.yaml"
        if let data = FileManager.default.contents(atPath: scenario.file) {
            _ = FileManager.default.createFile(atPath: copy, contents: data)
        }
    }

    /// Builds everything, runs the timeline. Returns true when the time limit ended it.
    private func execute() throws(RunnerError) -> Bool {
        if cancellation.isCancelled { return false }
        let bed = Testbed(scenario: scenario, options: .init(label: runID, folder: artifacts, seed: seed, settings: settings))
        lock.withLock { testbed = bed }
        try bed.build()
        for use in bed.impairments?.engineUses ?? [] { log("impairment \(use)") }
        if cancellation.isCancelled { return false }
        guard let set = bed.impairments, let fw = bed.firewall else { throw .execution("the testbed was not built") }
        return try timeline(set: set, firewall: fw, bed: bed)
    }

    private enum Event {
        case step(Scenario.Step)
        case change(index: Int, ScheduledChange)
    }

    /// A step waiting for its event: when the event fired (0: not yet) and when it gives up.
    private struct PendingEventStep {
        var step: Scenario.Step
        var trigger: Scenario.EventTrigger
        var firedAt: UInt64 = 0
        /// From the timeline's start (which moves later while the timeline waits for a peer).
        var timeout: UInt64
    }

    private func timeline(set: ImpairmentSet, firewall fw: Firewall, bed: Testbed) throws(RunnerError) -> Bool {
        var events: [(at: Duration, order: Int, event: Event)] = []
        var waiting: [PendingEventStep] = []
        phase("setup")
        start = fl_monotonic_ns()
        let timeLimit = UInt64(Self.nanoseconds(scenario.timeLimit))
        for (i, step) in scenario.steps.enumerated() {
            if let trigger = step.after {
                let timeout = trigger.timeout.map { UInt64(Self.nanoseconds($0)) } ?? timeLimit
                waiting.append(PendingEventStep(step: step, trigger: trigger, timeout: timeout))
            } else {
                events.append((step.at, 1_000 + i, .step(step)))
            }
        }
        for (i, change) in set.scheduledChanges.enumerated() { events.append((change.at, i, .change(index: change.index, change.change))) }
        events.sort { ($0.at, $0.order) < ($1.at, $1.order) }
        log("timeline start (seed \(seed), namespaces faultline-\(getpid())-\(runID)-*)")
        let watch = EventWatch()
        var next = 0
        while next < events.count || !waiting.isEmpty {
            // The next timed step, or — while event steps wait — a look every millisecond.
            var wake = next < events.count ? start + UInt64(Self.nanoseconds(events[next].at)) : UInt64.max
            if !waiting.isEmpty { wake = min(wake, fl_monotonic_ns() + 1_000_000) }
            if cancellation.sleep(until: wake) { return false }
            if let failure = set.failure { throw .execution("the userspace impairment engine failed: \(failure)") }
            let now = fl_monotonic_ns()
            while next < events.count, start + UInt64(Self.nanoseconds(events[next].at)) <= now {
                let entry = events[next]
                next += 1
                let late = now - (start + UInt64(Self.nanoseconds(entry.at)))
                lock.withLock { worstLateness = max(worstLateness, late) }
                switch entry.event {
                case .change(let index, let change):
                    log("impair \(scenario.impairments[index].spec.link): \(change.parameters)")
                    do { try set.change(index, change) } catch { throw RunnerError(error) }
                case .step(let step):
                    if try perform(step, firewall: fw, bed: bed) { return false }
                }
            }
            if try serviceEventSteps(&waiting, watch: watch, set: set, firewall: fw, bed: bed) { return false }
        }
        // No `stop: all`: the run ends when every process has exited, or at the time limit.
        while true {
            let running = bed.processes.filter { $0.child.poll() == nil }
            if running.isEmpty { log("every process has exited"); return false }
            if cancellation.isCancelled { return false }
            let limit = start + timeLimit
            if fl_monotonic_ns() >= limit {
                log("time limit reached; still running: \(running.map(\.process.name).joined(separator: ", "))")
                lock.withLock { stillRunning = running.map(\.process.name) }
                return true
            }
            let pidfds = running.map { fl_pidfd_open($0.child.pid) }
            cancellation.wait(fds: pidfds.filter { $0 >= 0 }, until: min(limit, fl_monotonic_ns() + 50_000_000))
            for fd in pidfds where fd >= 0 { close(fd) }
        }
    }

    /// Fires the event steps whose event has come (after their delay), and fails the run for
    /// those whose event did not come in time. True when a fired step was `stop: all`.
    private func serviceEventSteps(_ waiting: inout [PendingEventStep], watch: EventWatch, set: ImpairmentSet,
                                   firewall fw: Firewall, bed: Testbed) throws(RunnerError) -> Bool {
        guard !waiting.isEmpty else { return false }
        let started = Dictionary(bed.processes.map { ($0.process.name, (eventsPath: $0.events, exited: $0.child.poll() != nil)) },
                                 uniquingKeysWith: { a, _ in a })
        let capture = bed.capture
        var i = 0
        while i < waiting.count {
            let now = fl_monotonic_ns()
            if waiting[i].firedAt == 0 {
                if watch.holds(waiting[i].trigger.condition, started: started, zeroWindowSeen: { node in capture?.firstZeroWindow(at: node) != nil }) {
                    waiting[i].firedAt = now
                    log("event \(waiting[i].trigger.condition) (for the step at \(waiting[i].step.source))")
                } else if now >= start + waiting[i].timeout {
                    // The run stops here (nothing after this step can happen as written) and fails.
                    let what = waiting[i].trigger.condition
                    let message = "\(waiting[i].step.source): the step waits for \(what), which did not happen within "
                        + "\(Interval(.nanoseconds(Int64(waiting[i].timeout)))) of the start"
                    log(message)
                    lock.withLock { eventFailure = message }
                    return true
                }
            }
            if waiting[i].firedAt != 0, now >= waiting[i].firedAt + UInt64(Self.nanoseconds(waiting[i].trigger.delay)) {
                let pending = waiting.remove(at: i)
                if case .impair(let link, let match, let change) = pending.step.action {
                    guard let index = set.entryIndex(link: link, match: match) else {
                        throw .execution("\(pending.step.source): no impairment entry for \(link)")
                    }
                    log("impair \(link) \(pending.trigger): \(change.parameters)")
                    do { try set.change(index, change) } catch { throw RunnerError(error) }
                } else if try perform(pending.step, firewall: fw, bed: bed) {
                    return true
                }
                continue
            }
            i += 1
        }
        return false
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let c = d.components
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }

    /// Performs one step; true when it was `stop: all`.
    private func perform(_ step: Scenario.Step, firewall fw: Firewall, bed: Testbed) throws(RunnerError) -> Bool {
        switch step.action {
        case .run(let process):
            try startProcess(process, bed: bed, source: step.source)
        case .impair:
            break   // the scenario loader folds impair steps into the specs' schedules
        case .addRule(let name):
            log("add-rule \(name)")
            try fw.add(name)
        case .removeRule(let name):
            log("remove-rule \(name)")
            try fw.remove(name)
        case .signal(let name, let signal):
            log("signal \(signal) to \(name)")
            guard let child = bed.processes.first(where: { $0.process.name == name })?.child else {
                throw .execution("\(step.source): no process '\(name)' to signal")
            }
            child.signal(signal.rawValue)
        case .stop(.process(let name)):
            log("stop \(name)")
            Testbed.stop(bed.processes.filter { $0.process.name == name }.map(\.child))
        case .stop(.all):
            log("stop all")
            return true
        }
        return false
    }

    /// `HOST:PORT` split at its last colon, when PORT is a number; nil for any other argument.
    static func hostAndPort(_ argument: String) -> (host: String, port: Substring)? {
        guard let colon = argument.lastIndex(of: ":") else { return nil }
        let port = argument[argument.index(after: colon)...]
        guard !port.isEmpty, port.allSatisfy(\.isNumber) else { return nil }
        return (String(argument[..<colon]), port)
    }

    /// Rewrites `node:port` arguments to the node's address (IPv4 first).
    static func rewrite(_ argument: String, topology: Scenario.Topology) -> String {
        guard let (host, port) = hostAndPort(argument), topology.node(named: host) != nil else { return argument }
        let addresses = topology.addresses(of: host)
        if let v4 = addresses.first(where: { $0.address.family == .ipv4 }) { return "\(v4.address):\(port)" }
        if let v6 = addresses.first { return "[\(v6.address)]:\(port)" }
        return argument
    }

    /// Starts a step's process in the testbed; for a peer, the timeline holds until it is ready
    /// (see `Testbed.readyEvent`): on a loaded machine exec alone can take a few hundred
    /// milliseconds, and later steps shift by the wait.
    private func startProcess(_ process: Scenario.Process, bed: Testbed, source: Scenario.SourceLocation) throws(RunnerError) {
        // A step waiting for this peer's byte counts needs them as they grow, not every 100 ms.
        let watchedBytes = scenario.steps.contains { step in
            switch step.after?.condition {
            case .sent(let p, _)?, .received(let p, _)?: return p == process.name
            default: return false
            }
        }
        var extra: [String] = []
        if case .peer(let arguments) = process.command, watchedBytes, !arguments.contains("--progress-interval") {
            extra = ["--progress-interval", "1ms"]
        }
        let started = try bed.start(process, source: source, extraPeerArguments: extra)
        log("start \(process.name) on \(process.node): \(started.child.argv.dropFirst(process.command.isPeer ? 1 : 0).joined(separator: " "))")
        if let event = Testbed.readyEvent(of: process), let eventsPath = started.events {
            let began = fl_monotonic_ns()
            let ready = Self.waitForEvent(event, eventsPath: eventsPath, child: started.child, cancellation: cancellation,
                                          timeoutNanoseconds: 5_000_000_000)
            let waited = fl_monotonic_ns() - began
            start += waited
            log("\(process.name) \(ready ? "ready (\(event))" : "NOT ready (no \(event) event)") after \(waited / 1_000_000) ms; the timeline waited")
        }
    }

    static func outputPath(_ artifacts: String, _ process: String, _ stream: Scenario.OutputStream) -> String {
        Testbed.outputPath(artifacts, process, stream)
    }

    /// Polls a peer's event log for an event (every millisecond), until it comes, the peer
    /// exits, the timeout, or cancellation. True when it came.
    static func waitForEvent(_ event: String, eventsPath: String, child: ChildProcess, cancellation: Cancellation,
                             timeoutNanoseconds: UInt64) -> Bool {
        let deadline = fl_monotonic_ns() + timeoutNanoseconds
        // Read incrementally: each look reads only what the peer appended since the last.
        let watch = EventWatch()
        while fl_monotonic_ns() < deadline {
            if watch.refresh(process: "", eventsPath: eventsPath).events.contains(event) { return true }
            if child.poll() != nil { return false }
            if cancellation.sleep(until: fl_monotonic_ns() + 1_000_000) { return false }
        }
        return false
    }

    // MARK: teardown

    /// Always runs: captures, processes, engines, firewall and namespaces, in that order.
    /// Captures stop first: what the scenario observed ends with its timeline (at `stop: all`,
    /// the time limit, or when every process has exited); the RSTs and FINs of processes
    /// being killed for the teardown are not part of it.
    private func teardown() {
        if let bed = lock.withLock({ testbed }), bed.teardown() { log("processes stopped") }
        log("torn down")
    }

    private func processOutcomes() -> [String: ProcessOutcome] {
        let list = lock.withLock { testbed }?.processes ?? []
        var out: [String: ProcessOutcome] = [:]
        for (process, child, eventsPath) in list.map({ ($0.process, $0.child, $0.events) }) {
            var outcome = ProcessOutcome(name: process.name, node: process.node)
            for stream in Scenario.OutputStream.allCases {
                if let data = FileManager.default.contents(atPath: Self.outputPath(artifacts, process.name, stream)) {
                    outcome.output[stream] = String(decoding: data, as: UTF8.self)
                }
            }
            if let status = child.poll() {
                switch status {
                case .exited(let code): outcome.exitStatus = Int64(code)
                case .signaled(let sig): outcome.exitStatus = 128 + Int64(sig)
                }
            }
            if let eventsPath {
                do {
                    outcome.events = try PeerEvents.read(path: eventsPath)
                } catch {
                    outcome.eventsError = "its event log cannot be read: \(error)"
                }
            }
            out[process.name] = outcome
        }
        return out
    }

    private func writeArtifacts(_ result: ScenarioResult) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let data = try? encoder.encode(result.findings) {
            _ = FileManager.default.createFile(atPath: artifacts + "/findings.json", contents: data)
        }
        if let data = try? encoder.encode(result) {
            _ = FileManager.default.createFile(atPath: artifacts + "/result.json", contents: data)
        }
        let timeline = lock.withLock { timelineLog }.joined(separator: "\n") + "\n"
        _ = FileManager.default.createFile(atPath: artifacts + "/timeline.log", contents: Data(timeline.utf8))
        _ = FileManager.default.createFile(atPath: artifacts + "/timeline.jsonl", contents: Data(lock.withLock { timelineJSONLines }.joined().utf8))
        _ = FileManager.default.createFile(atPath: artifacts + "/report.txt", contents: Data(TextReport.scenario(result, verbose: true).utf8))
    }

    static func classify(_ error: NetlinkError, doing what: String, badInputOnMissing: Bool = false) -> RunnerError {
        switch error.errno {
        case .EPERM, .EACCES:
            return .environment("\(what): \(error)")
        case .ENOENT where badInputOnMissing:
            return .badInput("\(what): \(error)")
        case .EOPNOTSUPP:
            return .environment("\(what): \(error)")
        default:
            return .execution("\(what): \(error)")
        }
    }
}

extension Scenario.Process.Command {
    var isPeer: Bool {
        if case .peer = self { return true }
        return false
    }
}
