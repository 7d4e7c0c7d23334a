import CLinux
import Foundation
import Impairment
import Netlink
import Scenario

/// A scenario's impairments in place: the kernel engine (netem/tbf qdiscs) where it can express
/// a spec and the kernel has the qdisc, the userspace engine (NFQUEUE on a forwarding node)
/// otherwise. Schedule changes are applied by the runner's timeline through `change(_:_:)`, so
/// both engines change at the timeline's times.
final class ImpairmentSet: @unchecked Sendable {
    enum Placed {
        case none
        case kernel(node: String, interface: String, plan: KernelPlan)
        case userspace(engine: Int, placement: Int)
    }

    struct Entry {
        var placement: Scenario.ImpairmentPlacement
        var spec: ImpairmentSpec
        var current: ImpairmentParameters
        var placed: Placed = .none
    }

    private let network: Network
    private let say: @Sendable (String) -> Void
    private let decisionLogDirectory: String?
    private var entries: [Entry]
    private var engines: [(router: String, engine: UserspaceEngine)] = []
    private let lock = Lock()

    /// Scheduled changes, for the timeline: (time, entry index, change).
    var scheduledChanges: [(at: Duration, index: Int, change: ScheduledChange)] {
        entries.enumerated().flatMap { i, e in e.spec.schedule.map { (at: $0.at.duration, index: i, change: $0) } }
    }

    init(placements: [Scenario.ImpairmentPlacement], network: Network, seed: UInt64, decisionLogDirectory: String?,
         say: @escaping @Sendable (String) -> Void) {
        self.network = network
        self.say = say
        self.decisionLogDirectory = decisionLogDirectory
        self.entries = placements.enumerated().map { i, p in
            var spec = p.spec
            spec.seed = spec.seed ?? Self.derivedSeed(seed, i)
            return Entry(placement: p, spec: spec, current: spec.parameters)
        }
    }

    /// One seed per impairment from the run's seed (SplitMix64 of seed + index).
    static func derivedSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
        var generator = SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        return generator.next()
    }

    /// What each impairment runs on, for the report.
    var engineSummary: [String] {
        lock.withLock {
            entries.map { e in
                switch e.placed {
                case .none: return "\(e.spec.link): nothing to do at start"
                case .kernel(_, let interface, let plan): return "\(e.spec.link): kernel \(plan.qdiscs.map(\.kind).joined(separator: "+")) on \(e.placement.node) \(interface)"
                case .userspace(let engine, _): return "\(e.spec.link): userspace engine on \(engines[engine].router)"
                }
            }
        }
    }

    // MARK: start

    func start() throws(RunnerError) {
        var userspace: [(index: Int, router: String)] = []
        for i in entries.indices {
            let entry = entries[i]
            let useKernel: Bool
            switch entry.spec.engine {
            case .userspace: useKernel = false
            case .kernel: useKernel = true
            case .automatic:
                useKernel = entry.spec.kernelEngineLimitations.isEmpty && !(KernelSupport.netemMissing && Self.needsNetem(entry.current))
            }
            if useKernel {
                do throws(RunnerError) {
                    try applyKernel(index: i, parameters: entry.current, operation: .add)
                    continue
                } catch {
                    if entry.spec.engine == .kernel || !KernelSupport.netemMissing { throw error }
                    // automatic, netem missing: fall through to userspace
                }
            }
            userspace.append((i, try router(for: entry)))
        }
        // One engine per forwarding node.
        var routers: [String] = []
        for (_, router) in userspace where !routers.contains(router) { routers.append(router) }
        for router in routers {
            let mine = userspace.filter { $0.router == router }.map(\.index)
            guard let namespace = try? network.namespace(router) else { throw .execution("no node \(router)") }
            var placements: [UserspaceEngine.Placement] = []
            for i in mine {
                var spec = entries[i].spec
                spec.schedule = []   // the runner's timeline applies changes
                do {
                    placements.append(.init(path: try UserspaceEngine.ForwardingPath.resolve(spec.link, router: router, in: network), spec: spec))
                } catch {
                    throw .badInput("\(entries[i].placement.source): \(error)")
                }
            }
            let logPath = decisionLogDirectory.map { "\($0)/decisions-\(router).log" }
            let engine: UserspaceEngine
            do {
                engine = try UserspaceEngine.start(router: namespace, placements: placements, seed: entries[mine[0]].spec.seed ?? 0,
                                                   nodes: UserspaceEngine.nodeAddresses(of: network),
                                                   options: .init(decisionLogPath: logPath))
            } catch {
                throw Self.classify(error, router: router)
            }
            lock.withLock {
                for (k, i) in mine.enumerated() { entries[i].placed = .userspace(engine: engines.count, placement: k) }
                engines.append((router, engine))
            }
        }
    }

    static func classify(_ error: UserspaceEngineError, router: String) -> RunnerError {
        switch error {
        case .firewall(let command, _, let output) where output.contains("not found") || output.contains("could not start")
            || output.contains("No such file"):
            return .environment("the userspace impairment engine needs \(command.first ?? "iptables") (NFQUEUE target) in \(router): \(error). Install iptables (scripts/setup does)")
        case .system(_, let errno) where errno == .EPERM, .kernel(_, let errno, _) where errno == .EPERM:
            return .environment("the userspace impairment engine: \(error). Faultline needs root")
        case .invalidSpec, .unknownNode, .notOnForwardingPath:
            return .badInput("impairment: \(error)")
        default:
            return .environment("the userspace impairment engine could not start on \(router): \(error)")
        }
    }

    /// The forwarding node a userspace placement runs on: the egress node if it forwards,
    /// else the ingress node.
    private func router(for entry: Entry) throws(RunnerError) -> String {
        let link = entry.spec.link
        let forwarding = Set(network.topology.nodes.filter(\.forwarding).map(\.name))
        if forwarding.contains(link.from) { return link.from }
        if forwarding.contains(link.to) { return link.to }
        throw .badInput("\(entry.placement.source): impairment on \(link) needs the userspace engine (\(KernelSupport.netemMissing ? "netem is not in this kernel" : entry.spec.kernelEngineLimitations.joined(separator: "; "))), "
            + "which works on a forwarding node's path, but neither \(link.from) nor \(link.to) forwards. Put the impairment on a link of the router")
    }

    static func needsNetem(_ p: ImpairmentParameters) -> Bool {
        var withoutRate = p
        withoutRate.rate = nil
        return !withoutRate.isEmpty
    }

    private func applyKernel(index i: Int, parameters: ImpairmentParameters, operation: NetlinkHandle.QdiscOperation) throws(RunnerError) {
        let entry = entries[i]
        let clock: PschedClock
        do { clock = try PschedClock.current() } catch { throw .environment("\(error)") }
        let plan: KernelPlan
        do {
            plan = try KernelPlan(parameters: parameters, seed: entry.spec.seed, clock: clock)
        } catch {
            throw .badInput("\(entry.placement.source): \(error)")
        }
        let handle: NetlinkHandle
        do { handle = try network.handle(entry.placement.node) } catch { throw .execution(error.description) }
        let interface = entry.placement.interface
        // A change of shape (kinds) is a delete and a fresh add; otherwise a change in place.
        var op = operation
        if case .kernel(_, _, let old) = entry.placed, op == .change, old.qdiscs.map(\.kind) != plan.qdiscs.map(\.kind) {
            try? handle.deleteQdisc(interface: interface)
            op = .add
        }
        if plan.qdiscs.isEmpty, case .kernel = entry.placed {
            try? handle.deleteQdisc(interface: interface)
        }
        for request in plan.qdiscs {
            do {
                try handle.apply(request.qdisc(interface: interface), op)
            } catch {
                let classified = KernelEngineError.classify(error, kind: request.kind)
                if case .netemUnavailable = classified {
                    KernelSupport.noteNetemMissing(say: say)
                    if entry.spec.engine == .kernel {
                        throw .environment("\(entry.placement.source): the scenario pins `engine: netem`, but \(classified)")
                    }
                }
                throw .environment("\(entry.placement.source): \(classified)")
            }
        }
        lock.withLock { entries[i].placed = .kernel(node: entry.placement.node, interface: interface, plan: plan) }
    }

    // MARK: changes

    /// Applies a scheduled change to entry `index` now.
    func change(_ index: Int, _ change: ScheduledChange) throws(RunnerError) {
        let (placed, current) = lock.withLock { (entries[index].placed, entries[index].current) }
        let next = change.apply(to: current)
        switch placed {
        case .userspace(let engine, let placement):
            do { try engines[engine].engine.update(placement: placement, parameters: next) } catch {
                throw .execution("impairment change on \(entries[index].spec.link) at \(change.at): \(error)")
            }
        case .kernel, .none:
            try applyKernel(index: index, parameters: next, operation: placedIsKernel(placed) ? .change : .add)
        }
        lock.withLock { entries[index].current = next }
    }

    private func placedIsKernel(_ p: Placed) -> Bool {
        if case .kernel = p { return true }
        return false
    }

    /// A failure of a userspace engine during the run, if any.
    var failure: String? {
        lock.withLock { engines.compactMap { $0.engine.failure?.description }.first }
    }

    var userspaceStats: [String] {
        lock.withLock { engines.flatMap { e in e.engine.stats.map { "\(e.router): \($0)" } } }
    }

    /// Stops the userspace engines (their rules go; the qdiscs go with the namespaces).
    func stop() {
        let all = lock.withLock { engines.map(\.engine) }
        for engine in all { engine.stop() }
    }
}

/// What the kernel lacks, learnt once per process (and said once).
enum KernelSupport {
    private static let state = LockedBox<(missing: Bool, said: Bool)>((false, false))

    static var netemMissing: Bool { state.withLock { $0.missing } }

    static func noteNetemMissing(say: (String) -> Void) {
        let first = state.withLock { s -> Bool in
            s.missing = true
            if s.said { return false }
            s.said = true
            return true
        }
        if first {
            say("netem is not available in this kernel (modprobe sch_netem): impairments it would carry run in Faultline's userspace engine (NFQUEUE) instead")
        }
    }
}

/// A value behind a lock.
final class LockedBox<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = Lock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}
