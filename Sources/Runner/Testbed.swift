import CLinux
import Capture
import Foundation
import Glibc
import Impairment
import Netlink
import Scenario

/// A scenario's world, in place: the network (namespaces, links, addresses, routes, offloads,
/// in-order flows), the firewall's initial rules, captures at the scenario's capture points, the
/// kernel's TCP_INFO sampler, the impairments; the processes started in it; and a teardown that
/// removes all of it, in the right order, whatever was built. `faultline run` (`ScenarioRun`)
/// and `faultline lab` (`Lab`) build their networks here, so the two cannot drift apart.
final class Testbed: @unchecked Sendable {
    /// What to build besides the network, firewall and impairments.
    struct Options {
        /// Names the namespaces: `faultline-<pid>-<label>-<node>`.
        var label: String
        /// Where captures, logs, event logs and decision logs go.
        var folder: String
        var seed: UInt64
        var settings: RunSettings
        var capture = true
        var sampleTCPInfo = true
        var decisionLogs = true
        var engineTuning = EngineTuning()
    }

    /// One process started in a node.
    struct Started {
        var process: Scenario.Process
        var child: ChildProcess
        /// A peer's event log.
        var events: String?
    }

    let scenario: Scenario
    let options: Options
    private let lock = Lock()
    private(set) var network: Network?
    private(set) var firewall: Firewall?
    private(set) var impairments: ImpairmentSet?
    private(set) var capture: RunningCapture?
    private(set) var captureFiles: [CaptureFile] = []
    private(set) var sampler: TCPInfoSampler?
    private var started: [Started] = []
    /// What the build and the teardown want said (sampler cost, capture losses, engine counters).
    private(set) var notes: [String] = []

    init(scenario: Scenario, options: Options) {
        self.scenario = scenario
        self.options = options
    }

    var processes: [Started] { lock.withLock { started } }

    private func note(_ text: String) { lock.withLock { notes.append(text) } }

    // MARK: build

    /// Builds everything, step by step; what a failed step leaves is still torn down by `teardown`.
    func build() throws(RunnerError) {
        let built = try buildNetwork()
        let fw = Firewall(network: built, rules: scenario.firewall)
        lock.withLock { firewall = fw }
        try fw.installInitial()
        if options.capture { try startCaptures(in: built) }
        if options.sampleTCPInfo { startSampler(in: built) }
        let set = ImpairmentSet(scenario: scenario.impairments, network: built, seed: options.seed, preference: options.settings.engine,
                                decisionLogDirectory: options.decisionLogs ? options.folder : nil,
                                tuning: options.engineTuning, say: { [settings = options.settings] text in settings.say(text) })
        lock.withLock { impairments = set }
        do { try set.start() } catch { throw RunnerError(error) }
    }

    /// Namespaces and links, connected routes, offloads per link, flows kept in order.
    private func buildNetwork() throws(RunnerError) -> Network {
        let built: Network
        do {
            built = try NetworkPlan.topology(scenario.topology).build(namedWith: options.label)
        } catch {
            throw ScenarioRun.classify(error, doing: "build the topology")
        }
        lock.withLock { network = built }
        do {
            for nodeRoute in NetworkPlan.connectedRoutes(scenario.topology) {
                try built.handle(nodeRoute.node).addRoute(nodeRoute.route, replace: true)
            }
            for link in scenario.topology.links where link.offloads != .off && link.offloads != .on {
                for end in [link.a, link.b] {
                    try built.namespace(end.node).setOffloads(.init(tso: link.offloads.tso, gso: link.offloads.gso, gro: link.offloads.gro),
                                                              interface: end.interface)
                }
            }
        } catch {
            throw ScenarioRun.classify(error, doing: "configure the topology")
        }
        do { try built.keepFlowsInOrder() } catch { throw RunnerError.environment("keep each flow's packets in order (rps_cpus): \(error)") }
        return built
    }

    /// Every capture point at once, before anything sends.
    private func startCaptures(in built: Network) throws(RunnerError) {
        var points: [Capture.CapturePoint] = []
        var files: [CaptureFile] = []
        for point in scenario.captures {
            let interfaces = point.interface.map { [$0] } ?? scenario.topology.interfaces(of: point.node).map(\.interface)
            for interface in interfaces {
                let path = "\(options.folder)/\(point.node)-\(interface).pcapng"
                let namespace: NetworkNamespace
                do { namespace = try built.namespace(point.node) } catch { throw .execution(error.description) }
                points.append(Capture.CapturePoint(namespace: namespace, interface: interface, file: path, label: point.node))
                files.append(CaptureFile(path: path, node: point.node, interface: interface))
            }
        }
        guard !points.isEmpty else { return }
        do {
            let running = try Capture.CaptureSession.start(points: points)
            lock.withLock {
                capture = running
                captureFiles = CaptureVantages.placed(files, by: scenario)
            }
        } catch {
            throw error.isPermissionProblem ? .environment("capture: \(error)") : .execution("capture: \(error)")
        }
    }

    /// The kernel's view of every TCP socket, sampled from the start like the captures.
    private func startSampler(in built: Network) {
        guard options.settings.tcpInfoIntervalMilliseconds > 0 else { return }
        do {
            let namespaces = try scenario.topology.nodes.map { node throws(NetlinkError) in (node: node.name, namespace: try built.namespace(node.name)) }
            let made = try TCPInfoSampler(namespaces: namespaces, intervalNanoseconds: UInt64(options.settings.tcpInfoIntervalMilliseconds * 1e6),
                                          path: "\(options.folder)/\(TCPInfoSampler.fileName)")
            made.start()
            lock.withLock { sampler = made }
        } catch {
            note("tcpinfo sampler not started: \(error)")
        }
    }

    // MARK: processes

    /// Starts `process` in its node: a peer as `faultline peer …` with its event log in the
    /// folder, any program as written (node names in `host:port` arguments rewritten to
    /// addresses); stdout and stderr to `NAME.stdout.log` / `NAME.stderr.log`; the nodes'
    /// addresses in the environment (`FAULTLINE_SERVER_IPV4`, …).
    @discardableResult
    func start(_ process: Scenario.Process, source: Scenario.SourceLocation, extraPeerArguments: [String] = []) throws(RunnerError) -> Started {
        guard let built = lock.withLock({ network }) else { throw .execution("start '\(process.name)': the network is not built") }
        let namespace: NetworkNamespace
        do { namespace = try built.namespace(process.node) } catch { throw .execution(error.description) }
        var argv: [String]
        var eventsPath: String?
        switch process.command {
        case .peer(let arguments):
            argv = [options.settings.faultlineBinary, "peer"] + arguments.map { ScenarioRun.rewrite($0, topology: scenario.topology) } + extraPeerArguments
            if let index = arguments.firstIndex(of: "--events"), index + 1 < arguments.count {
                eventsPath = arguments[index + 1]
            } else {
                let path = "\(options.folder)/\(process.name).events.jsonl"
                eventsPath = path
                argv += ["--events", path]
            }
        case .argv(let arguments):
            argv = arguments.map { ScenarioRun.rewrite($0, topology: scenario.topology) }
        }
        // stdout and stderr apart, so that expectations can look at either.
        let stdoutFD = open(Self.outputPath(options.folder, process.name, .stdout), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let stderrFD = open(Self.outputPath(options.folder, process.name, .stderr), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer {
            if stdoutFD >= 0 { close(stdoutFD) }
            if stderrFD >= 0 { close(stderrFD) }
            if devNull >= 0 { close(devNull) }
        }
        var environment = ProcessInfo.processInfo.environment
        for node in scenario.topology.nodes {
            let key = node.name.uppercased()
            let addresses = scenario.topology.addresses(of: node.name)
            if let v4 = addresses.first(where: { $0.address.family == .ipv4 }) { environment["FAULTLINE_\(key)_IPV4"] = v4.address.description }
            if let v6 = addresses.first(where: { $0.address.family == .ipv6 }) { environment["FAULTLINE_\(key)_IPV6"] = v6.address.description }
        }
        environment["FAULTLINE_NODE"] = process.node
        environment["FAULTLINE_ARTIFACTS"] = options.folder
        do {
            let child = try namespace.spawn(argv, environment: environment, stdin: devNull, stdout: stdoutFD, stderr: stderrFD)
            let entry = Started(process: process, child: child, events: eventsPath)
            lock.withLock { started.append(entry) }
            return entry
        } catch {
            throw ScenarioRun.classify(error, doing: "start process '\(process.name)' (\(source))", badInputOnMissing: true)
        }
    }

    /// The event a started peer reports once it can be relied on: `listening` for a listener
    /// (a client started right after must not race it), `start` otherwise (its signal handlers
    /// are in place). nil for a program of its own.
    static func readyEvent(of process: Scenario.Process) -> String? {
        guard let listens = process.command.peerListens else { return nil }
        return listens ? "listening" : "start"
    }

    /// `<folder>/<process>.stdout.log` / `.stderr.log`.
    static func outputPath(_ folder: String, _ process: String, _ stream: Scenario.OutputStream) -> String {
        "\(folder)/\(process).\(stream.rawValue).log"
    }

    /// SIGTERM, up to one second to finish (peers write their summary), then SIGKILL.
    static func stop(_ children: [ChildProcess]) {
        let running = children.filter { $0.poll() == nil }
        for child in running { child.signal(SIGTERM) }
        let deadline = fl_monotonic_ns() + 1_000_000_000
        for child in running {
            let now = fl_monotonic_ns()
            if now < deadline, child.wait(timeoutNanoseconds: deadline - now) != nil { continue }
            child.kill()
            child.wait()
        }
    }

    // MARK: teardown

    /// Always runs: captures, the sampler, processes, engines, firewall and namespaces, in that
    /// order. Captures stop first: what the scenario observed ends with its timeline; the RSTs and
    /// FINs of processes killed for the teardown are not part of it. Returns whether any process
    /// had to be stopped.
    @discardableResult
    func teardown() -> Bool {
        let (running, set, net, children) = lock.withLock { (capture, impairments, network, started.map(\.child)) }
        if let running {
            // Packets already on the wire are captured for a moment more.
            usleep(20_000)
            let stats = running.stop()
            lock.withLock {
                for (index, s) in stats.enumerated() where captureFiles.indices.contains(index) {
                    captureFiles[index].packets = s.packetsWritten
                    captureFiles[index].drops = s.dropped + s.interfaceDropped
                    if s.lostPackets { notes.append("capture \(captureFiles[index].label) lost packets: \(s.summary)") }
                }
            }
        }
        if let sampler = lock.withLock({ sampler }) {
            let outcome = sampler.stop()
            note(outcome.cost.summary)
            for error in outcome.errors { note("tcpinfo sampler: \(error)") }
        }
        Self.stop(children)
        if let set {
            for line in set.userspaceStats { note("engine \(line)") }
            set.stop()
        }
        net?.teardown()
        return !children.isEmpty
    }
}
