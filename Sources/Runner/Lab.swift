import Values
import CLinux
import Foundation
import Glibc
import Impairment
import Netlink
import Scenario

/// `faultline lab`: a scenario's network, impairments and firewall rules, and its setup steps
/// (the steps at 0s, `stop` excepted), held until cancelled; then torn down.
///
/// Namespaces are named `faultline-<pid>-lab.<scenario>-<node>` and mounted under /run/netns, so
/// `faultline exec NODE -- CMD` and `ip netns exec NAME CMD` reach them. A SIGKILLed lab leaves
/// them mounted; the next `faultline` run, lab or cleanup sweeps them. Rootless, they are
/// published in the user's runtime folder instead (`NamespaceRegistry`), and `faultline exec`
/// enters the lab's user namespace, then the node's.
public final class Lab: @unchecked Sendable {
    public static let idPrefix = "lab."

    public let scenario: Scenario
    public let folder: String
    public let settings: RunSettings
    /// How the userspace engines run (`faultline impair` tunes them; a lab runs them as `run` does).
    public let engineTuning: EngineTuning
    /// The same network `faultline run` builds for the scenario (no captures, no sampler).
    private var testbed: Testbed?
    private let scheduleStop = ScheduleStop()

    public init(scenario: Scenario, folder: String, settings: RunSettings, engineTuning: EngineTuning = EngineTuning()) {
        self.scenario = scenario
        self.folder = folder
        self.settings = settings
        self.engineTuning = engineTuning
    }

    /// A node's network namespace (to start a program in it), once the lab is up.
    public func namespace(_ node: String) throws(RunnerError) -> NetworkNamespace {
        guard let network = testbed?.network else { throw .execution("the lab is not built") }
        do { return try network.namespace(node) } catch { throw .execution("no node \(node): \(error)") }
    }

    /// The userspace engines' counters, one line per path ("router: …").
    public var engineStats: [String] { testbed?.impairments?.userspaceStats ?? [] }

    /// Which engine carries each impairment.
    public var engineUses: [ImpairmentEngineUse] { testbed?.impairments?.engineUses ?? [] }

    public var labID: String { Self.idPrefix + scenario.name }

    /// The steps a lab runs: those at time 0, except `stop`.
    public var setupSteps: [Scenario.Step] {
        scenario.steps.filter { step in
            guard step.at == .zero, step.after == nil else { return false }
            if case .stop = step.action { return false }
            return true
        }
    }

    /// Builds and starts; returns the lines to print (how to step into each node). With
    /// `capture`, the scenario's capture points record until the lab ends, and `finish` analyses them.
    public func start(seed: UInt64, capture: Bool = false) throws(RunnerError) -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw .environment("cannot create \(folder): \(error.localizedDescription)")
        }
        let bed = Testbed(scenario: scenario, options: .init(label: labID, folder: folder, seed: seed, settings: settings,
                                                             capture: capture, sampleTCPInfo: capture, decisionLogs: capture,
                                                             engineTuning: engineTuning))
        testbed = bed
        try bed.build()
        startSchedule(bed)
        guard let firewall = bed.firewall else { throw .execution("the lab's testbed was not built") }
        var lines: [String] = []
        for use in bed.impairments?.engineUses ?? [] { lines.append("impairment \(use)") }
        for rule in scenario.firewall where rule.installed { lines.append("firewall rule '\(rule.name)' on \(rule.node)") }
        for step in setupSteps {
            switch step.action {
            case .run(let process):
                let started = try bed.start(process, source: step.source)
                if let event = Testbed.readyEvent(of: process), let events = started.events,
                   !ScenarioRun.waitForEvent(event, eventsPath: events, child: started.child, cancellation: Cancellation(),
                                             timeoutNanoseconds: 5_000_000_000) {
                    lines.append("warning: \(process.name) did not report \(event) within 5 s (see \(folder)/\(process.name).stderr.log)")
                }
                lines.append("started \(process.name) on \(process.node) (pid \(started.child.pid)): \(started.child.argv.dropFirst().joined(separator: " "))")
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
        if Rootless.isRootless {
            if let client = NamespaceRegistry.entry(named: "\(NetworkNamespace.namePrefix)\(getpid())-\(labID)-\(scenario.topology.nodes.first?.name ?? "")") {
                lines.append("  or: nsenter --user=\(client.userNamespacePath) --net=\(client.networkNamespacePath) --preserve-credentials CMD  (nodes published in \(Rootless.registryDirectory ?? "?"))")
            }
        } else {
            lines.append("  or: ip netns exec \(NetworkNamespace.namePrefix)\(getpid())-\(labID)-NODE CMD")
        }
        lines.append("  e.g. faultline exec client -- faultline peer connect --to \(ScenarioRun.rewrite("server:9000", topology: scenario.topology))")
        lines.append("Logs of the processes: \(folder)")
        return lines
    }

    /// The impairments' scheduled changes (`at:` times from the lab's start), applied as in a
    /// run; event-triggered ones wait for events a lab does not follow and are not applied.
    private func startSchedule(_ bed: Testbed) {
        guard let set = bed.impairments else { return }
        let changes = set.scheduledChanges.sorted { $0.at < $1.at }
        guard !changes.isEmpty else { return }
        let stop = scheduleStop
        let say = settings.say
        let start = ContinuousClock.now
        Thread.detachNewThread {
            for change in changes {
                guard stop.wait(until: start + change.at) else { return }
                do {
                    try set.change(change.index, change.change)
                    say("impairment change at \(change.change.at) applied")
                } catch {
                    say("impairment change at \(change.change.at) failed: \(error)")
                }
            }
        }
    }

    /// Kills the processes, stops the engines, removes the namespaces.
    public func teardown() {
        scheduleStop.stop()
        testbed?.teardown()
    }

    /// Tears down, then — when the lab captured — analyses the captures as `faultline run` does
    /// and writes `findings.json` and `report.html` beside them. Returns the lines to print.
    public func finish() -> [String] {
        guard let bed = testbed else { return [] }
        scheduleStop.stop()
        bed.teardown()
        let files = bed.captureFiles
        guard !files.isEmpty else { return [] }
        var lines = ["captures: " + files.map(\.path).joined(separator: ", ")]
        do {
            let findings = try BuiltinDiagnosis.findings(captures: files)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            if let data = try? encoder.encode(findings) {
                _ = FileManager.default.createFile(atPath: folder + "/findings.json", contents: data)
            }
            lines.append(findings.isEmpty ? "no finding" : "\(findings.count) finding\(findings.count == 1 ? "" : "s") (\(folder)/findings.json):")
            for finding in findings { lines.append("  \(finding.summary)" + (finding.sentence.isEmpty ? "" : " — " + finding.sentence)) }
            do {
                lines.append("report: \(try RunHTMLReport.write(artifacts: folder, captures: files))")
            } catch {
                lines.append("report.html not written: \(error)")
            }
        } catch {
            lines.append("analysis failed: \(error)")
        }
        return lines
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

    /// The namespaces `faultline exec` joins for `node` of `instance` (rootless labs): the lab's
    /// user namespace, the node's network namespace (and its inode, checked after joining), and
    /// the CPUs its traffic runs on.
    public static func rootlessTarget(_ instance: Instance, node: String) -> (userns: String, netns: String, inode: UInt64, cpus: [Int32])? {
        guard let name = instance.nodes[node], let entry = NamespaceRegistry.entry(named: name),
              NamespaceRegistry.isOwnerAlive(entry) else { return nil }
        var cpus = [Int32](repeating: 0, count: 1024)
        let count = fl_get_thread_cpus(entry.thread, &cpus, Int32(cpus.count))
        return (entry.userNamespacePath, entry.networkNamespacePath, entry.inode, count > 0 ? Array(cpus[0..<Int(count)]) : [])
    }

    /// A running lab or run, from /run/netns (rootless: the user's registry): `faultline-<pid>-<id>-<node>`.
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

/// Wakes the lab's schedule thread early when the lab ends.
private final class ScheduleStop: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopped = false

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until `deadline`; false when the lab ended first.
    func wait(until deadline: ContinuousClock.Instant) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !stopped {
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero { return true }
            let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
            _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
        }
        return false
    }
}
