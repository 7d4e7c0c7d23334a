import Values
import ArgumentParser
import CLinux
import Glibc
import Impairment
import Netlink
import Runner
import Scenario
import Foundation

/// `faultline impair`: builds the line topology, applies one impairment with the userspace
/// (NFQUEUE) engine on the router, and holds it until Ctrl-C. Hidden `--bench` runs the engine's
/// benchmark (`scripts/bench impairment`).
struct ImpairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "impair",
        abstract: "Build client — router — server and impair the router's forwarding path until Ctrl-C.",
        discussion: HelpText.reflow("""
        Uses the userspace engine: NFQUEUE on the router, one queue and one
        thread per direction. It works without sch_netem and can also pick
        single packets (--action). The network is the one `faultline lab`
        builds (the same testbed as `faultline run`), so your own programs can
        run in it meanwhile:
          faultline exec server -- iperf3 -s
          faultline exec client -- iperf3 -c 198.18.2.2
        (or `ip netns exec faultline-<pid>-lab.impair-NODE CMD`, printed at
        start). With --capture client,server the ends are captured and, when
        it ends, analysed as `faultline run` analyses a scenario: findings
        printed and written to artifacts/impair-<pid>/findings.json beside
        the captures. Ctrl-C prints the engine's counters, removes the rules
        and the namespaces.

        Values are written as tc writes them: durations "20ms", "1.5s";
        percentages "1%"; rates "10mbit" (bits/s) or "1MBps" (bytes/s);
        sizes "64KiB".

        Examples:
          faultline impair --delay 20ms --jitter 5ms --distribution normal
          faultline impair --loss 1% --both
          faultline impair --gemodel 2%,25%      # bursts of mean 1/r = 4
          faultline impair --rate 10mbit --queue-limit 50 --delay 10ms
          faultline impair --action data:5,6:drop
              (drops the 5th and 6th TCP data segments client → server)
          faultline impair --action syn:1:duplicate=300ms
              (a late duplicate SYN: the server answers with a challenge ACK)
          faultline impair --delay 2ms --change-at 10s --change-delay 400ms
          faultline impair --loss 5% --seed 7 --decision-log /tmp/d.log
          faultline impair --loss 2% --capture client,server -- curl -sS http://198.18.2.2:8000/

        With `-- PROGRAM ARGS…` the program runs in the client through the impaired path and the command exits with its status: `faultline impair --delay 20ms --loss 1% -- curl -sS http://198.18.2.2:8000/`.

        If the engine dies, traffic on that direction stops (there is no
        --queue-bypass) and the command exits with status 4, saying why.
        Ctrl-C or any terminating signal tears everything down and exits
        128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM); without
        root it exits 3.
        """))

    @Option(help: "Link direction to impair: router→NODE (leaving toward NODE) or NODE→router.")
    var link = "router→server"

    @Flag(help: "Also impair the opposite direction (same parameters, its own random stream).")
    var both = false

    @Option(help: "Added delay, e.g. 20ms.") var delay: String?
    @Option(help: "Delay variation around --delay (uniform ±J, or σ with --distribution).") var jitter: String?
    @Option(help: "Jitter distribution: uniform, normal, pareto, paretonormal.") var distribution: String?
    @Option(name: .customLong("delay-correlation"), help: "Correlation of successive delay draws, e.g. 25%.") var delayCorrelation: String?
    @Option(help: "Random loss probability, e.g. 1%.") var loss: String?
    @Option(name: .customLong("loss-correlation"), help: "netem-style loss correlation.") var lossCorrelation: String?
    @Option(help: "Gilbert–Elliott loss: p,r[,1-h[,1-k]] in percent, e.g. 2%,25%.") var gemodel: String?
    @Option(help: "Duplicate probability, e.g. 1%.") var duplicate: String?
    @Option(help: "Corruption probability (one flipped bit, stale checksum), e.g. 0.1%.") var corrupt: String?
    @Option(help: "Reorder probability (sent at once, overtaking delayed packets); needs --delay.") var reorder: String?
    @Option(help: "Reorder gap: after a reordered packet, the next gap−1 are delayed.") var gap: UInt32?
    @Option(help: "Bandwidth, e.g. 10mbit.") var rate: String?
    @Option(name: .customLong("queue-limit"), help: "Queue before the rate limit: packets (50) or bytes (64KiB).") var queueLimit: String?
    @Option(help: "netem's queue limit in packets (default 1000).") var limit: UInt32?
    @Option(help: "Targeted action MATCH:N[,N...]:ACTION; MATCH syn|data|pure-ack|tcp|udp|any, ACTION drop|corrupt|delay=DUR|duplicate=DUR. Repeatable.")
    var action: [String] = []
    @Option(name: .customLong("change-at"), help: "Time of a scheduled change (with --change-delay / --change-loss).") var changeAt: String?
    @Option(name: .customLong("change-delay"), help: "Delay from --change-at on.") var changeDelay: String?
    @Option(name: .customLong("change-loss"), help: "Loss from --change-at on.") var changeLoss: String?
    @Option(help: "Seed of every random decision (same seed, same packets: same decisions).") var seed: UInt64 = 1
    @Option(name: .customLong("decision-log"), help: "Write one line per packet decision to this file.") var decisionLog: String?
    @Option(name: .customLong("stats-every"), help: "Print the counters every N seconds (0: only at the end).") var statsEvery: UInt32 = 0
    @Flag(name: .customLong("no-realtime"), help: "Run the engine's threads with normal scheduling and let idle CPUs sleep (less precise delays; by default the engine holds /dev/cpu_dma_latency at 0 while it runs).")
    var noRealtime = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("A program to run in the client through the impaired path: `faultline impair --delay 20ms -- ./my-client ARGS`. The command then ends when the program does, with its exit status.", valueName: "program"))
    var program: [String] = []

    @Option(help: ArgumentHelp("Capture at these nodes (e.g. client,server) while it runs; when it ends, analyse the captures as `faultline run` does (findings printed and written to findings.json beside them, in artifacts/impair-PID).", valueName: "nodes"))
    var capture: String?

    @Flag(help: .hidden) var bench = false
    @Option(name: .customLong("bench-seconds"), help: .hidden) var benchSeconds: Double = 2
    @Option(name: .customLong("bench-rounds"), help: .hidden) var benchRounds: Int = 3
    @Flag(name: .customLong("bench-socket-sink"), help: .hidden) var benchSocketSink = false

    func run() throws {
        if bench { return try runBenchmark() }
        let spec = try buildSpec()
        var specs = [spec]
        if both {
            // The line's router has two neighbours; the opposite direction leaves toward (or
            // arrives from) the other one.
            func other(_ node: String) -> String? { node == "client" ? "server" : node == "server" ? "client" : nil }
            var reverse = spec
            if spec.link.from == "router", let o = other(spec.link.to) {
                reverse.link = LinkDirection(from: "router", to: o)
            } else if spec.link.to == "router", let o = other(spec.link.from) {
                reverse.link = LinkDirection(from: o, to: "router")
            } else {
                throw ValidationError("--both: \(spec.link) is not a direction through the line's router")
            }
            specs.append(reverse)
        }
        for (i, s) in specs.enumerated() {
            let issues = s.validate(at: "")
            for issue in issues where issue.severity == .warning { printError("warning: \(issue)") }
            let errors = issues.filter { $0.severity == .error }
            if !errors.isEmpty { throw ValidationError(errors.map { "impairment \(i): \($0)" }.joined(separator: "\n")) }
        }

        if specs.allSatisfy({ $0.parameters.isEmpty && $0.actions.isEmpty && $0.schedule.isEmpty }) {
            printError("note: no impairment given (--delay, --loss, --rate, --action, …): the path is clean")
        }
        if let refusal = RootlessNote.refusal(command: "impair") {
            printError(refusal)
            throw ExitCode(3)
        }
        if let note = RootlessNote.line { printError("note: \(note)") }
        let scenario = try impairScenario(specs)
        // Every terminating signal tears down and exits 128 + its number; a closed stdout
        // (SIGPIPE) only stops the printing.
        var signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM]
        _ = fl_ignore_signal(SIGPIPE)
        _ = fl_block_signals(&signals, Int32(signals.count))
        let signalFD = fl_signalfd(&signals, Int32(signals.count))
        defer { if signalFD >= 0 { close(signalFD) } }

        CatalogRun.sweep(say: { printError("note: \($0)") })
        let failureFD = fl_eventfd(0)
        defer { close(failureFD) }
        let tuning = EngineTuning(realtime: !noRealtime, decisionLogPath: decisionLog, onFailure: { failure in
            printError("faultline impair: \(failure)")
            var one: UInt64 = 1
            _ = write(failureFD, &one, 8)
        })
        // The same testbed as `faultline lab`: captures (--capture) land in the folder and are analysed at the end.
        let capturing = !scenario.captures.isEmpty
        let folder = capturing ? "artifacts/impair-\(getpid())" : NSTemporaryDirectory() + "faultline-impair-\(getpid())"
        let settings = RunSettings(artifactsRoot: folder, seed: seed, engine: .userspace, say: { printError("note: \($0)") })
        let lab = Lab(scenario: scenario, folder: folder, settings: settings, engineTuning: tuning)
        var finished = false
        defer {
            if !finished { lab.teardown() }
            if !capturing { try? FileManager.default.removeItem(atPath: folder) }
        }
        let lines: [String]
        do {
            lines = try lab.start(seed: seed, capture: capturing)
        } catch {
            printError("error: \(error)")
            throw ExitCode(error.exitCode)
        }
        let uses = lab.engineUses.map { "\($0.link) on \($0.node)" }.joined(separator: " and ")
        say("impairing \(uses) with the userspace engine (seed \(seed)): \(spec.parameters)"
            + (spec.actions.isEmpty ? "" : "; actions: " + spec.actions.map { "\($0.action) on \($0.nth.map(String.init).joined(separator: ","))" }.joined(separator: "; "))
            + (spec.schedule.isEmpty ? "" : "; then " + spec.schedule.map { "at \($0.at): \($0.parameters)" }.joined(separator: ", ")))
        for line in lines where !line.hasPrefix("impairment ") { say(line) }
        if let decisionLog { say("decisions → \(decisionLog)") }
        if capturing { say("capturing at \(scenario.captures.map(\.node).joined(separator: ", ")) into \(folder); analysed when it ends") }

        // With a program: it runs in the client, its stdio this terminal's; its end ends the command.
        var child: ChildProcess?
        if !program.isEmpty {
            let client: NetworkNamespace
            do { client = try lab.namespace("client") } catch {
                printError("error: \(error)")
                throw ExitCode(error.exitCode)
            }
            do {
                child = try client.spawn(program, stdin: 0, stdout: 1, stderr: 2)
            } catch {
                printError("error: cannot start \(program[0]) in the client: \(error)")
                throw ExitCode(error.errno == .ENOENT ? 127 : 126)
            }
        } else {
            say("Ctrl-C to stop.")
        }
        let childFD = child.map { fl_pidfd_open($0.pid) } ?? -1
        defer { if childFD >= 0 { close(childFD) } }

        var fds = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0), pollfd(fd: failureFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: childFD, events: Int16(POLLIN), revents: 0)]
        let timeout: Int32 = statsEvery > 0 ? Int32(clamping: Int(statsEvery) * 1000) : -1
        var failed = false
        var stoppedBy: Int32 = 0
        var programStatus: Int32?
        while true {
            let rc = poll(&fds, childFD >= 0 ? 3 : 2, timeout)
            if rc < 0 && errno == EINTR { continue }
            if fds[1].revents != 0 { failed = true; break }
            if childFD >= 0, fds[2].revents != 0, let status = child?.wait() {
                switch status {
                case .exited(let code): programStatus = code
                case .signaled(let signal): programStatus = 128 + signal
                }
                break
            }
            if fds[0].revents != 0 {
                // struct signalfd_siginfo (128 bytes) starts with ssi_signo.
                var info = [UInt8](repeating: 0, count: 128)
                if read(signalFD, &info, 128) >= 4 { stoppedBy = Int32(info[0]) | Int32(info[1]) << 8 }
                break
            }
            if rc == 0 { for line in lab.engineStats { say(line) } }
        }
        if let child, child.poll() == nil { child.signal(SIGTERM); if child.wait(timeoutNanoseconds: 1_000_000_000) == nil { child.kill(); child.wait() } }
        for line in lab.engineStats { say(line) }
        finished = true
        for line in lab.finish() { say(line) }
        if failed { throw ExitCode(4) }
        if let programStatus { throw ExitCode(programStatus) }
        throw ExitCode(128 + (stoppedBy > 0 ? stoppedBy : SIGINT))
    }

    /// The line, the capture points of --capture and the impairments, as a scenario: the lab's
    /// testbed builds it (captures are validated as a scenario's `capture:` key).
    private func impairScenario(_ specs: [ImpairmentSpec]) throws -> Scenario {
        let points = capture.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        var scenario: Scenario
        do {
            let list = points.map { "\"\($0)\"" }.joined(separator: ", ")
            scenario = try Scenario.parse(text: "name: impair\ncapture: [\(list)]\n", file: "--capture")
        } catch {
            throw ValidationError("--capture \(capture ?? ""): \(error.message)")
        }
        let source = Scenario.SourceLocation(file: "<command line>", line: 1, column: 1)
        scenario.impairments = try specs.map { spec in
            guard let link = scenario.topology.link(between: spec.link.from, and: spec.link.to) else {
                throw ValidationError("--link \(spec.link): the line has no link between \(spec.link.from) and \(spec.link.to)")
            }
            let end = link.a.node == spec.link.from ? link.a : link.b
            return Scenario.ImpairmentPlacement(spec: spec, node: end.node, interface: end.interface, source: source)
        }
        return scenario
    }

    private func runBenchmark() throws {
        NamespaceSweeper.sweep()
        var configuration = UserspaceBenchmark.Configuration()
        configuration.seconds = benchSeconds
        configuration.rounds = benchRounds
        if benchSocketSink { configuration.ringSink = false }
        if noRealtime { configuration.realtimePriority = nil }
        let report = try UserspaceBenchmark.run(configuration) { say($0) }
        say(report.json)
    }

    // MARK: flags → spec

    private func buildSpec() throws -> ImpairmentSpec {
        var p = ImpairmentParameters()
        if delay != nil || jitter != nil {
            p.delay = DelaySpec(delay: try parse(delay ?? "0", "--delay", Interval.init(parsing:)),
                                jitter: try parse(jitter ?? "0", "--jitter", Interval.init(parsing:)),
                                correlation: try parse(delayCorrelation ?? "0", "--delay-correlation", Percentage.init(parsing:)),
                                distribution: try distribution.map { try parse($0, "--distribution", DelayDistribution.init(parsing:)) })
        }
        if let loss {
            p.loss = .random(probability: try parse(loss, "--loss", Percentage.init(parsing:)),
                             correlation: try parse(lossCorrelation ?? "0", "--loss-correlation", Percentage.init(parsing:)))
        }
        if let gemodel {
            let parts = try gemodel.split(separator: ",").map { try parse(String($0), "--gemodel", Percentage.init(parsing:)) }
            guard (1...4).contains(parts.count) else { throw ValidationError("--gemodel: expected p[,r[,1-h[,1-k]]], e.g. 2%,25%") }
            p.loss = .gilbertElliott(GilbertElliott(p: parts[0], r: parts.count > 1 ? parts[1] : nil,
                                                    lossInBad: parts.count > 2 ? parts[2] : .hundred,
                                                    lossInGood: parts.count > 3 ? parts[3] : .zero))
        }
        if let duplicate { p.duplicate = Duplicate(probability: try parse(duplicate, "--duplicate", Percentage.init(parsing:))) }
        if let corrupt { p.corrupt = Corrupt(probability: try parse(corrupt, "--corrupt", Percentage.init(parsing:))) }
        if let reorder { p.reorder = Reorder(probability: try parse(reorder, "--reorder", Percentage.init(parsing:)), gap: gap) }
        if let rate {
            var r = RateLimit(rate: try parse(rate, "--rate", Rate.init(parsing:)))
            if let queueLimit {
                if let packets = UInt32(queueLimit) {
                    r.queueLimit = .packets(packets)
                } else {
                    r.queueLimit = .bytes(try parse(queueLimit, "--queue-limit", ByteCount.init(parsing:)))
                }
            }
            p.rate = r
        }
        p.limit = limit
        var schedule: [ScheduledChange] = []
        if let changeAt {
            var change = ImpairmentParameters()
            if let changeDelay { change.delay = DelaySpec(delay: try parse(changeDelay, "--change-delay", Interval.init(parsing:))) }
            if let changeLoss { change.loss = .random(probability: try parse(changeLoss, "--change-loss", Percentage.init(parsing:))) }
            schedule.append(ScheduledChange(at: try parse(changeAt, "--change-at", Interval.init(parsing:)), parameters: change))
        }
        return ImpairmentSpec(link: try parse(link, "--link", LinkDirection.init(parsing:)), parameters: p,
                              actions: try action.map(parseAction), schedule: schedule, seed: seed, engine: .userspace)
    }

    private func parse<T>(_ text: String, _ flag: String, _ reader: (String) throws(ValueParseError) -> T) throws -> T {
        do { return try reader(text) } catch { throw ValidationError("\(flag): \(error)") }
    }

    /// MATCH:N[,N...]:ACTION
    private func parseAction(_ text: String) throws -> TargetedAction {
        let parts = text.split(separator: ":", maxSplits: 2).map(String.init)
        let usage = "--action \(text): expected MATCH:N[,N...]:ACTION, e.g. data:5,6:drop or syn:1:duplicate=300ms"
        guard parts.count == 3 else { throw ValidationError(usage) }
        let match: PacketMatch
        switch parts[0].lowercased() {
        case "tcp": match = PacketMatch(transport: .tcp)
        case "udp": match = PacketMatch(transport: .udp)
        case "ack": throw ValidationError("\(usage) (pure ACKs are pure-ack, as in scenario files)")
        default:
            guard let shorthand = PacketMatch.shorthand(parts[0]) else {
                throw ValidationError("\(usage) (MATCH is \(PacketMatch.shorthands.map(\.name).joined(separator: ", ")), tcp or udp)")
            }
            match = shorthand
        }
        var nth: [UInt64] = []
        for n in parts[1].split(separator: ",") {
            guard let value = UInt64(n), value > 0 else { throw ValidationError("\(usage) (N counts from 1)") }
            nth.append(value)
        }
        let verb = parts[2].split(separator: "=", maxSplits: 1).map(String.init)
        let actionValue: TargetedAction.Action
        switch verb[0].lowercased() {
        case "drop": actionValue = .drop
        case "corrupt": actionValue = .corrupt
        case "strip-window-scale": actionValue = .stripWindowScale
        case "delay" where verb.count == 2: actionValue = .delay(try parse(verb[1], "--action delay", Interval.init(parsing:)))
        case "duplicate" where verb.count == 2: actionValue = .duplicate(copyDelay: try parse(verb[1], "--action duplicate", Interval.init(parsing:)))
        default: throw ValidationError("\(usage) (ACTION is drop, corrupt, delay=DUR, duplicate=DUR or strip-window-scale)")
        }
        return TargetedAction(match: match, nth: nth, action: actionValue)
    }
}

/// Unbuffered output: this command runs for long and is often piped or tailed.
private func say(_ text: String) { writeLine(1, text) }
private func printError(_ text: String) { writeLine(2, text) }
private func writeLine(_ fd: Int32, _ text: String) {
    var line = text + "\n"
    line.withUTF8 { bytes in _ = write(fd, bytes.baseAddress, bytes.count) }
}
