import CLinux
import Foundation
import Glibc
import Netlink
import Scenario

/// `faultline lab`: a scenario's network, impairments and firewall rules, and its setup steps
/// (the steps at 0s, `stop` excepted), held until cancelled; then torn down.
///
/// Namespaces are named `faultline-<pid>-lab.<scenario>-<node>` and mounted under /run/netns, so
/// `faultline exec NODE -- CMD` and `ip netns exec NAME CMD` reach them. A SIGKILLed lab leaves
/// them mounted; the next `faultline` run, lab or cleanup sweeps them.
public final class Lab: @unchecked Sendable {
    public static let idPrefix = "lab."

    public let scenario: Scenario
    public let folder: String
    public let settings: RunSettings
    private var network: Network?
    private var impairments: ImpairmentSet?
    private var processes: [ChildProcess] = []

    public init(scenario: Scenario, folder: String, settings: RunSettings) {
        self.scenario = scenario
        self.folder = folder
        self.settings = settings
    }

    public var labID: String { Self.idPrefix + scenario.name }

    /// The steps a lab runs: those at time 0, except `stop`.
    public var setupSteps: [Scenario.Step] {
        scenario.steps.filter { step in
            guard step.at == .zero, step.after == nil else { return false }
            if case .stop = step.action { return false }
            return true
        }
    }

    /// Builds and starts; returns the lines to print (how to step into each node).
    public func start(seed: UInt64) throws(RunnerError) -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw .environment("cannot create \(folder): \(error.localizedDescription)")
        }
        let built: Network
        let plan = NetworkPlan.topology(scenario.topology)
        do {
            built = try plan.build(namedWith: labID)
        } catch {
            throw ScenarioRun.classify(error, doing: "build the topology")
        }
        network = built
        do {
            for nodeRoute in NetworkPlan.connectedRoutes(scenario.topology) {
                try built.handle(nodeRoute.node).addRoute(nodeRoute.route, replace: true)
            }
        } catch {
            throw ScenarioRun.classify(error, doing: "configure the topology")
        }
        do { try built.keepFlowsInOrder() } catch { throw RunnerError.environment("keep each flow's packets in order (rps_cpus): \(error)") }
        let firewall = Firewall(network: built, rules: scenario.firewall)
        try firewall.installInitial()
        let set = ImpairmentSet(placements: scenario.impairments, network: built, seed: seed, preference: settings.engine,
                                decisionLogDirectory: nil, say: settings.say)
        impairments = set
        try set.start()
        var lines: [String] = []
        for use in set.engineUses { lines.append("impairment \(use)") }
        for rule in scenario.firewall where rule.installed { lines.append("firewall rule '\(rule.name)' on \(rule.node)") }
        for step in setupSteps {
            switch step.action {
            case .run(let process):
                var argv: [String]
                var readyEvent: (event: String, path: String)?
                switch process.command {
                case .peer(let arguments):
                    argv = [settings.faultlineBinary, "peer"] + arguments.map { ScenarioRun.rewrite($0, topology: scenario.topology) }
                    var eventsPath = "\(folder)/\(process.name).events.jsonl"
                    if let index = arguments.firstIndex(of: "--events"), index + 1 < arguments.count {
                        eventsPath = arguments[index + 1]
                    } else {
                        argv += ["--events", eventsPath]
                    }
                    readyEvent = (arguments.first == "listen" ? "listening" : "start", eventsPath)
                case .argv(let arguments):
                    argv = arguments.map { ScenarioRun.rewrite($0, topology: scenario.topology) }
                }
                let logFD = open("\(folder)/\(process.name).log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                defer { if logFD >= 0 { close(logFD) } }
                do {
                    let child = try built.namespace(process.node).spawn(argv, stdout: logFD, stderr: logFD)
                    processes.append(child)
                    if let readyEvent, !ScenarioRun.waitForEvent(readyEvent.event, eventsPath: readyEvent.path, child: child,
                                                                 cancellation: Cancellation(), timeoutNanoseconds: 5_000_000_000) {
                        lines.append("warning: \(process.name) did not report \(readyEvent.event) within 5 s (see \(folder)/\(process.name).log)")
                    }
                    lines.append("started \(process.name) on \(process.node) (pid \(child.pid)): \(argv.dropFirst().joined(separator: " "))")
                } catch {
                    throw ScenarioRun.classify(error, doing: "start '\(process.name)'", badInputOnMissing: true)
                }
            case .addRule(let name):
                try firewall.add(name)
                lines.append("firewall rule '\(name)' added")
            case .removeRule(let name):
                try firewall.remove(name)
            case .signal, .stop, .impair:
                break
            }
        }
        lines.append("")
        lines.append("Step in (another terminal):")
        for node in scenario.topology.nodes {
            let addresses = scenario.topology.addresses(of: node.name).map(\.description).joined(separator: ", ")
            lines.append("  \(node.name.padding(toLength: 8, withPad: " ", startingAt: 0)) faultline exec \(node.name) -- bash        (\(addresses))")
        }
        lines.append("  or: ip netns exec \(NetworkNamespace.namePrefix)\(getpid())-\(labID)-NODE CMD")
        lines.append("  e.g. faultline exec client -- faultline peer connect --to \(ScenarioRun.rewrite("server:9000", topology: scenario.topology))")
        lines.append("Logs of the processes: \(folder)")
        return lines
    }

    /// Kills the processes, stops the engines, removes the namespaces.
    public func teardown() {
        for child in processes where child.poll() == nil { child.signal(SIGTERM) }
        for child in processes { if child.wait(timeoutNanoseconds: 1_000_000_000) == nil { child.kill(); child.wait() } }
        impairments?.stop()
        network?.teardown()
    }

    /// Moves the calling thread into the network namespace mounted at `path` (for `exec`, right
    /// before it replaces the process with the command). Returns why it failed, or nil.
    public static func joinNetworkNamespace(path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = Errno.current
            return "cannot open \(path): \(e)\(e == .EACCES || e == .EPERM ? " (run it with sudo)" : "")"
        }
        defer { close(fd) }
        guard fl_setns(fd, fl_clone_newnet()) == 0 else {
            let e = Errno.current
            return "cannot enter \(path): \(e)\(e == .EPERM ? " (run it with sudo)" : "")"
        }
        return nil
    }

    /// A running lab or run, from /run/netns: `faultline-<pid>-<id>-<node>`.
    public struct Instance: Sendable, Hashable {
        public var owner: Int32
        public var id: String
        public var nodes: [String: String]   // node → mounted name
        public var isLab: Bool { id.hasPrefix(Lab.idPrefix) }
        public var scenarioName: String { isLab ? String(id.dropFirst(Lab.idPrefix.count)) : id }
    }

    /// Every live instance (owner alive), labs first.
    public static func instances() -> [Instance] {
        var byKey: [String: Instance] = [:]
        for (name, owner) in NamespaceSweeper.mounted() where NamespaceSweeper.isOwnerAlive(owner, of: name) {
            let rest = name.dropFirst(NetworkNamespace.namePrefix.count).drop { $0 != "-" }.dropFirst()
            guard let dash = rest.lastIndex(of: "-") else { continue }
            let id = String(rest[..<dash])
            let node = String(rest[rest.index(after: dash)...])
            let key = "\(owner)-\(id)"
            var instance = byKey[key] ?? Instance(owner: owner, id: id, nodes: [:])
            instance.nodes[node] = name
            byKey[key] = instance
        }
        return byKey.values.sorted { ($0.isLab ? 0 : 1, $0.owner, $0.id) < ($1.isLab ? 0 : 1, $1.owner, $1.id) }
    }
}
