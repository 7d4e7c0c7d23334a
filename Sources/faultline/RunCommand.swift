import Values
import ArgumentParser
import Foundation
import Glibc
import Runner
import Impairment
import Scenario

extension EnginePreference: ExpressibleByArgument {}

/// `faultline run`: scenarios, in parallel, each in its own namespaces, checked against their
/// expectations.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run scenarios (a file or a folder) in parallel, each in its own namespaces, and check their expectations.",
        discussion: HelpText.reflow("""
        Each scenario run builds its own network (namespaces named faultline-<pid>-r<N>-<node>),
        its impairments and firewall rules, captures at its capture points, runs its timeline
        under a hard time limit, tears everything down (on success, failure, Ctrl-C or SIGTERM;
        a SIGKILLed run is swept at the next start), analyses the captures and checks the
        expectations. One artifacts folder per scenario run: the scenario, a pcapng per capture
        point, the peers' event logs, findings.json, result.json, timeline.log, report.txt.

        Examples:
          faultline run Scenarios                       the whole catalog, -j = cores
          faultline run Scenarios/r2-firewall-on-syn.yaml --repeat 20
              flake hunting: 20 runs, a pass count at the end
          faultline run Scenarios --shard 2/4 --junit results.xml
              the second quarter of the catalog (deterministic), JUnit XML for CI
          faultline run Scenarios --seed 7 --json | jq '.results[] | select(.status != "passed")'
          faultline run Scenarios --detector tshark
              check what tshark's expert flags can express; the rest is listed
          faultline run Scenarios --detector "cmd:python3 my_detector.py"
              regression-test your own detector: it gets the capture paths as arguments

        DETECTORS
          builtin        Faultline's analyzer and diagnoses (default)
          tshark         tshark's expert analysis: zero windows, RSTs, retransmissions are
                         checked by kind; causes it cannot tell apart (a firewall's RST from the
                         host's, a slow reader from a stopped one) are listed, not checked
          cmd:PROGRAM    runs `PROGRAM [ARGS] CAPTURE...` after each scenario; it must print
                         its findings as JSON on stdout and exit 0:
                           [{"kind": "rst", "cause": "refused-by-host",
                             "flow": {"client": "198.18.1.2:40000", "server": "198.18.2.2:9001"},
                             "vantage": ["client"], "frames": {"first": 1, "decisive": 2},
                             "evidence": {"ttl": 63}, "confidence": 0.9,
                             "sentence": "Nothing listens on 198.18.2.2:9001."}]
                         (or {"findings": [...]}). Only kind and cause are required; flow may be
                         "A:P -> B:Q"; vantage a node name or a capture path. Captures are named
                         <node>-<interface>.pcapng; FAULTLINE_CAPTURES (JSON [{path, node,
                         interface}]) and FAULTLINE_NODES (JSON {node: [addresses]}) describe them.

        EXIT STATUS
          0 every expectation met   1 an expectation failed (or a time limit was hit)
          2 bad input (a scenario file, a flag, a detector's output)
          3 this environment cannot run it (root, kernel features, tools; the reason is printed)
          128+N stopped by signal N, everything torn down: 130 SIGINT (Ctrl-C), 143 SIGTERM,
                129 SIGHUP, 131 SIGQUIT, 138/140 SIGUSR1/2, 142 SIGALRM; SIGPIPE is ignored
                (a closed stdout only stops the printing)
        """))

    @Argument(help: ArgumentHelp("Scenario files or folders of *.yaml files.", valueName: "path"))
    var paths: [String]

    @Option(name: [.short, .customLong("jobs")], help: ArgumentHelp("Scenarios run at once (default: the number of cores).", valueName: "n"))
    var jobs: Int?

    @Option(name: .customLong("repeat"), help: ArgumentHelp("Run each scenario this many times (flake hunting); the report gives a pass count.", valueName: "n"))
    var repeatCount: Int = 1

    @Option(help: ArgumentHelp("Seed for every random decision, overriding the scenarios' own.", valueName: "s"))
    var seed: UInt64?

    @Option(help: ArgumentHelp("Run only shard K of N: scenarios sorted by name, dealt round-robin.", valueName: "K/N"))
    var shard: String?

    @Option(help: ArgumentHelp("builtin, tshark, or cmd:PROGRAM (see below).", valueName: "detector"))
    var detector: String = "builtin"

    @Flag(help: "Print the results as one JSON document on stdout (the live view goes to stderr).")
    var json = false

    @Option(name: .customLong("tcpinfo-interval"), help: ArgumentHelp("Sample every TCP socket's TCP_INFO this often, in ms, into tcpinfo.jsonl (0: off).", valueName: "ms"))
    var tcpInfoInterval: Double = 10

    @Flag(name: .customLong("all-flows"), help: "Draw every flow in report.html, not only those with a finding.")
    var allFlows = false

    @Option(help: ArgumentHelp("Write JUnit XML here (one testcase per scenario run).", valueName: "file"))
    var junit: String?

    @Option(help: ArgumentHelp("Root folder of the artifacts; each run makes a folder <time>-<pid> in it.", valueName: "dir"))
    var artifacts: String = "artifacts"

    @Option(help: ArgumentHelp("Keep the pcapng files of passed runs: all or failed (default: all, or failed with --repeat > 1).", valueName: "which"))
    var keepCaptures: String?

    @Option(help: ArgumentHelp("The engine for impairments a scenario leaves on `engine: auto`: auto (the kernel's netem/tbf where it can express them and the kernel has them, else the userspace NFQUEUE engine), kernel (netem/tbf only; an impairment netem cannot express is refused, naming the key) or userspace. An impairment the scenario pins keeps its engine. Each run's report names the engine of every impairment and why.", valueName: "engine"))
    var engine: EnginePreference = .auto

    @Flag(name: .shortAndLong, help: "Print every expectation, finding and note of every run.")
    var verbose = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("give a scenario file or folder, e.g. `faultline run Scenarios`") }
        if let jobs, jobs < 1 { throw ValidationError("-j \(jobs): at least 1") }
        if repeatCount < 1 { throw ValidationError("--repeat \(repeatCount): at least 1") }
        if let keepCaptures, !["all", "failed"].contains(keepCaptures) {
            throw ValidationError("--keep-captures \(keepCaptures): expected all or failed")
        }
    }

    func run() throws {
        let errorOut = StandardStream(fd: 2)
        let liveFD: Int32 = json ? 2 : 1
        let detectorChoice: DetectorChoice
        let shardChoice: Shard?
        do {
            detectorChoice = try DetectorChoice(parsing: detector)
            shardChoice = try shard.map { text throws(RunnerError) in try Shard(parsing: text) }
            // Before anything is built: a report that cannot be written or a detector that
            // cannot start fails now, not after the catalog ran.
            if let junit { try Preflight.checkWritable(junit, flag: "--junit") }
            try Preflight.checkDetector(detectorChoice)
        } catch {
            errorOut.line("error: \(error)")
            throw ExitCode(error.exitCode)
        }
        var scenarios: [Scenario] = []
        for path in paths {
            do {
                scenarios += try Scenario.load(pathOrFolder: path, peerArguments: PeerCLI.check(arguments:))
            } catch {
                errorOut.line("error: \(error)")
                throw ExitCode(ScenarioError.exitCode)
            }
        }
        let names = scenarios.map(\.name)
        if let duplicate = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            errorOut.line("error: two scenarios are named '\(duplicate)' (\(scenarios.filter { $0.name == duplicate }.map(\.file).joined(separator: ", "))); names must be unique")
            throw ExitCode(2)
        }
        if let shardChoice { scenarios = shardChoice.select(scenarios) }
        for scenario in scenarios { for warning in scenario.warnings { errorOut.line("\(warning)") } }
        if let refusal = RootlessNote.refusal(command: "run") {
            errorOut.line(refusal)
            throw ExitCode(3)
        }
        if let note = RootlessNote.line { errorOut.line("note: \(note)") }
        if scenarios.isEmpty {
            errorOut.line("shard \(shard ?? ""): no scenario falls in this shard")
            return
        }
        let view = LiveView(fd: liveFD, repeatCount: repeatCount, verbose: verbose)
        // From here on every terminating signal tears down (and SIGPIPE is ignored), the sweep included.
        let cancellation = Cancellation()
        let watcher = SignalWatcher(cancellation: cancellation) { signal in
            view.emit(signal == SIGINT ? "\nCtrl-C: tearing everything down...\n" : "\(SignalWatcher.name(of: signal)): tearing everything down...\n")
        }
        _ = watcher
        CatalogRun.sweep(say: { view.say($0) })
        let runFolder: String
        do {
            runFolder = try CatalogRun.makeRunFolder(root: artifacts)
        } catch {
            errorOut.line("error: \(error)")
            throw ExitCode(error.exitCode)
        }
        let jobCount = jobs ?? ProcessInfo.processInfo.activeProcessorCount
        if let warning = Preflight.jobsWarning(jobs: jobCount, cores: ProcessInfo.processInfo.activeProcessorCount) {
            errorOut.line(warning)
        }
        let keepPassed = (keepCaptures ?? (repeatCount > 1 ? "failed" : "all")) == "all"
        var settings = RunSettings(artifactsRoot: runFolder, detector: detectorChoice, seed: seed, keepPassedCaptures: keepPassed,
                                   engine: engine)
        settings.tcpInfoIntervalMilliseconds = max(0, tcpInfoInterval)
        settings.reportAllFlows = allFlows
        let catalog = CatalogRun(scenarios: scenarios, options: .init(jobs: jobCount, repeatCount: repeatCount, settings: settings),
                                 runFolder: runFolder, cancellation: cancellation, observer: view)
        let began = Date()
        let results = catalog.run()
        let wall = Date().timeIntervalSince(began)
        view.close()
        var code = CatalogRun.exitCode(results, cancellation: cancellation)
        let summary = TextReport.summary(results, repeatCount: repeatCount, wallSeconds: wall, jobs: jobCount)
        StandardStream(fd: liveFD).write(summary + "artifacts: \(runFolder)\n")
        if let junit {
            let xml = JUnitReport.xml(results, wallSeconds: wall, repeatCount: repeatCount)
            do {
                try Preflight.write(xml, to: junit, flag: "--junit")
            } catch {
                // A report CI asked for and did not get is a failure, whatever the results.
                errorOut.line("error: \(error)")
                if code == 0 { code = error.exitCode }
            }
        }
        if json {
            let report = RunReport(results: results, wallSeconds: wall, jobs: jobCount, repeatCount: repeatCount,
                                   detector: detectorChoice.description, exitCode: code)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            if let data = try? encoder.encode(report) {
                StandardStream(fd: 1).write(String(decoding: data, as: UTF8.self) + "\n")
            }
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// Unbuffered writes to a file descriptor (stdout/stderr globals are off limits in Swift 6).
struct StandardStream {
    let fd: Int32
    func write(_ text: String) {
        try? FileIO.writeAll(fd: fd, text)
    }
    func line(_ text: String) { write(text + "\n") }
}
