import Netlink

/// Which engine carries one impairment of a run, and why — for the live line, report.txt and
/// result.json.
public struct ImpairmentEngineUse: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The link direction, e.g. "router→server".
    public var link: String
    /// "kernel netem", "kernel tbf", "kernel netem+tbf" or "userspace NFQUEUE".
    public var engine: String
    /// Where it runs: the node (and its interface, for the kernel engine).
    public var node: String
    public var interface: String?
    /// chosen, pinned or fallback.
    public var reason: String
    /// Why, in words (the key that pinned it, what netem cannot express, or the kernel's refusal).
    public var detail: String

    public var description: String {
        "\(link): \(engine) on \(node)\(interface.map { " " + $0 } ?? "") (\(reason): \(detail))"
    }
}

/// How a testbed's userspace engines run when not as `faultline run` runs them (`faultline impair`).
public struct EngineTuning: Sendable {
    /// SCHED_FIFO threads and CPUs kept awake (the runner's default), or normal scheduling.
    public var realtime: Bool
    /// One decision log at this path instead of `decisions-ROUTER.log` in the run's folder.
    public var decisionLogPath: String?
    /// Called once if an engine dies (traffic on its direction stops).
    public var onFailure: (@Sendable (UserspaceEngineFailure) -> Void)?

    public init(realtime: Bool = true, decisionLogPath: String? = nil,
                onFailure: (@Sendable (UserspaceEngineFailure) -> Void)? = nil) {
        self.realtime = realtime
        self.decisionLogPath = decisionLogPath
        self.onFailure = onFailure
    }
}

/// A network's impairments in place, behind one start / change / stop: each entry's engine is
/// decided before anything is installed (`EngineChoice`, from every state the entry passes
/// through, the caller's preference and the kernel's answer to netem), then the kernel entries
/// get their qdiscs and one userspace engine starts per forwarding node. Scheduled changes are
/// applied by the caller's timeline through `change(_:_:)`, on the engine decided at the start.
/// `faultline run`, `lab` and `impair` all drive their impairments through it (via the Runner's
/// testbed).
public final class ImpairmentEngines: @unchecked Sendable {
    /// One impairment and where it goes: the node whose egress carries it and that interface.
    public struct Placement: Sendable {
        public var spec: ImpairmentSpec
        public var node: String
        public var interface: String
        /// Where it was written (`file:line:column`, or the command line), for messages.
        public var source: String

        public init(spec: ImpairmentSpec, node: String, interface: String, source: String) {
            self.spec = spec
            self.node = node
            self.interface = interface
            self.source = source
        }
    }

    /// Why impairments could not be placed or changed, by whose fault.
    public enum Failure: Error, CustomStringConvertible {
        /// The impairment as written cannot be placed (the user's input).
        case badInput(String)
        /// This machine or kernel cannot carry it (a module, a tool, a privilege).
        case environment(String)
        /// Something failed while doing it.
        case execution(String)

        public var description: String {
            switch self {
            case .badInput(let text), .environment(let text), .execution(let text): return text
            }
        }
    }

    enum Placed {
        case none
        case kernel(node: String, interface: String, plan: KernelPlan)
        case userspace(engine: Int, placement: Int)
    }

    struct Entry {
        var placement: Placement
        var spec: ImpairmentSpec
        var current: ImpairmentParameters
        var choice: EngineChoice?
        var placed: Placed = .none
    }

    private let network: Network
    private let preference: EnginePreference
    private let say: @Sendable (String) -> Void
    private let decisionLogDirectory: String?
    private let tuning: EngineTuning
    private var entries: [Entry]
    private var engines: [(router: String, engine: UserspaceEngine)] = []
    private let lock = PThreadMutex()

    /// Scheduled changes, for the timeline: (time, entry index, change).
    public var scheduledChanges: [(at: Duration, index: Int, change: ScheduledChange)] {
        entries.enumerated().flatMap { i, e in
            e.spec.schedule.filter { $0.trigger == nil }.map { (at: $0.at.duration, index: i, change: $0) }
        }
    }

    public init(placements: [Placement], network: Network, seed: UInt64, preference: EnginePreference = .auto,
                decisionLogDirectory: String?, tuning: EngineTuning = EngineTuning(), say: @escaping @Sendable (String) -> Void) {
        self.network = network
        self.tuning = tuning
        self.preference = preference
        self.say = say
        self.decisionLogDirectory = decisionLogDirectory
        self.entries = placements.enumerated().map { i, p in
            var spec = p.spec
            spec.seed = spec.seed ?? Self.derivedSeed(seed, i)
            return Entry(placement: p, spec: spec, current: spec.parameters)
        }
    }

    /// One seed per impairment from the run's seed (SplitMix64 of seed + index).
    public static func derivedSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
        var generator = SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        return generator.next()
    }

    /// What each impairment runs on and why.
    public var engineUses: [ImpairmentEngineUse] {
        lock.withLock {
            entries.map { e in
                let link = "\(e.spec.link)"
                let reason = e.choice?.reason.rawValue ?? "chosen"
                let detail = e.choice?.detail ?? ""
                switch e.placed {
                case .userspace(let engine, _):
                    return ImpairmentEngineUse(link: link, engine: "userspace NFQUEUE", node: engines[engine].router, interface: nil,
                                               reason: reason, detail: detail)
                case .kernel, .none:
                    return ImpairmentEngineUse(link: link, engine: "kernel " + Self.kernelKinds(e.spec).joined(separator: "+"),
                                               node: e.placement.node, interface: e.placement.interface, reason: reason, detail: detail)
                }
            }
        }
    }

    /// The qdisc kinds the kernel engine uses for `spec` over its whole schedule.
    static func kernelKinds(_ spec: ImpairmentSpec) -> [String] {
        var kinds: [String] = []
        if spec.needsNetem { kinds.append("netem") }
        let tbfChild = spec.allParameters.contains { p in
            guard let rate = p.rate else { return false }
            if case .bytes? = rate.queueLimit { return true }
            return rate.burst != nil
        }
        if !spec.needsNetem || tbfChild { kinds.append("tbf") }
        return kinds
    }

    // MARK: start

    public func start() throws(Failure) {
        for i in entries.indices {
            let choice = try decide(i)
            lock.withLock { entries[i].choice = choice }
        }
        var userspace: [(index: Int, router: String)] = []
        for i in entries.indices {
            let entry = lock.withLock { entries[i] }
            if entry.choice?.engine == .kernel {
                do throws(Failure) {
                    try applyKernel(index: i, parameters: entry.current, operation: .add)
                    continue
                } catch {
                    // Only `auto` falls back, and only for the kernel's refusal of netem itself.
                    guard entry.choice?.reason == .chosen, let refusal = KernelSupport.netemRefusal else { throw error }
                    lock.withLock { entries[i].choice = EngineChoice(engine: .userspace, reason: .fallback, detail: "the kernel refused netem: \(refusal)") }
                }
            }
            userspace.append((i, try router(for: entry)))
        }
        try startUserspaceEngines(userspace)
    }

    /// The engine for entry `i`. Asks the kernel about netem first when the answer matters and
    /// is not known yet, so that the choice never waits for a refusal in the middle of a run.
    private func decide(_ i: Int) throws(Failure) -> EngineChoice {
        let entry = entries[i]
        let kernelMayCarryIt = entry.spec.engine != .userspace && !(entry.spec.engine == .automatic && preference == .userspace)
        if kernelMayCarryIt, entry.spec.needsNetem, entry.spec.kernelEngineLimitations.isEmpty, !KernelSupport.netemProbed {
            if let handle = try? network.handle(entry.placement.node) {
                KernelSupport.probeNetem(handle: handle, interface: entry.placement.interface, say: say)
            }
        }
        let choice: EngineChoice
        do {
            let shared = entries.filter { $0.spec.link == entry.spec.link }.count > 1
            choice = try EngineChoice.decide(entry.spec, preference: preference, netemRefusal: KernelSupport.netemRefusal,
                                             sharedDirection: shared)
        } catch {
            throw .badInput("\(entry.placement.source): impairment on \(entry.spec.link): \(error)")
        }
        if choice.engine == .kernel, entry.spec.needsNetem, let refusal = KernelSupport.netemRefusal {
            throw .environment("\(entry.placement.source): impairment on \(entry.spec.link) is \(choice.reason.rawValue) to the kernel (\(choice.detail)), "
                + "but the kernel refused netem: \(refusal). Load it with `modprobe sch_netem`, or run with --engine auto or userspace")
        }
        return choice
    }

    /// One userspace engine per forwarding node, carrying every entry placed there.
    private func startUserspaceEngines(_ userspace: [(index: Int, router: String)]) throws(Failure) {
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
            let logPath = tuning.decisionLogPath ?? decisionLogDirectory.map { "\($0)/decisions-\(router).log" }
            let engine: UserspaceEngine
            do {
                engine = try UserspaceEngine.start(router: namespace, placements: placements, seed: entries[mine[0]].spec.seed ?? 0,
                                                   nodes: UserspaceEngine.nodeAddresses(of: network),
                                                   // Rootless, SCHED_FIFO and the wakeup-latency request are refused
                                                   // (RootlessNote says so): the engine then asks for a short slice.
                                                   options: .init(decisionLogPath: logPath,
                                                                  realtimePriority: tuning.realtime ? 20 : nil,
                                                                  cpu: network.flowCPU, keepCPUsAwake: tuning.realtime,
                                                                  onFailure: tuning.onFailure))
            } catch {
                throw Self.classify(error, router: router)
            }
            lock.withLock {
                for (k, i) in mine.enumerated() { entries[i].placed = .userspace(engine: engines.count, placement: k) }
                engines.append((router, engine))
            }
        }
    }

    static func classify(_ error: UserspaceEngineError, router: String) -> Failure {
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
    private func router(for entry: Entry) throws(Failure) -> String {
        let link = entry.spec.link
        let forwarding = Set(network.topology.nodes.filter(\.forwarding).map(\.name))
        if forwarding.contains(link.from) { return link.from }
        if forwarding.contains(link.to) { return link.to }
        throw .badInput("\(entry.placement.source): impairment on \(link) needs the userspace engine (\(entry.choice?.detail ?? "")), "
            + "which works on a forwarding node's path, but neither \(link.from) nor \(link.to) forwards. Put the impairment on a link of the router")
    }

    /// Installs, changes or removes entry `i`'s qdiscs so that they carry `parameters`.
    private func applyKernel(index i: Int, parameters: ImpairmentParameters, operation: NetlinkHandle.QdiscOperation) throws(Failure) {
        let entry = lock.withLock { entries[i] }
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
        var installed = KernelPlan(qdiscs: [])
        if case .kernel(_, _, let old) = entry.placed { installed = old }
        for step in installed.steps(toReach: plan) {
            switch step {
            case .deleteRoot:
                try? handle.deleteQdisc(interface: interface)
            case .apply(let request, let op):
                do {
                    try handle.apply(request.qdisc(interface: interface), op)
                } catch {
                    let classified = KernelEngineError.classify(error, kind: request.kind)
                    if case .netemUnavailable(let refusal) = classified {
                        KernelSupport.noteNetemRefused(refusal, say: say)
                    }
                    throw .environment("\(entry.placement.source): \(classified)")
                }
            }
        }
        lock.withLock { entries[i].placed = .kernel(node: entry.placement.node, interface: interface, plan: plan) }
    }

    // MARK: changes

    /// The entry for `link` and `match` (the one an event-driven `impair:` step changes).
    public func entryIndex(link: LinkDirection, match: PacketMatch?) -> Int? {
        entries.firstIndex { $0.spec.link == link && ($0.spec.match ?? .any) == (match ?? .any) }
    }

    /// Applies a scheduled change to entry `index` now, on the engine decided at the start.
    public func change(_ index: Int, _ change: ScheduledChange) throws(Failure) {
        let (placed, current) = lock.withLock { (entries[index].placed, entries[index].current) }
        let next = change.apply(to: current)
        switch placed {
        case .userspace(let engine, let placement):
            do { try engines[engine].engine.update(placement: placement, parameters: next) } catch {
                throw .execution("impairment change on \(entries[index].spec.link) at \(change.at): \(error)")
            }
        case .kernel, .none:
            try applyKernel(index: index, parameters: next, operation: .change)
        }
        lock.withLock { entries[index].current = next }
    }

    /// A failure of a userspace engine during the run, if any.
    public var failure: String? {
        lock.withLock { engines.compactMap { $0.engine.failure?.description }.first }
    }

    public var userspaceStats: [String] {
        lock.withLock { engines.flatMap { e in e.engine.stats.map { "\(e.router): \($0)" } } }
    }

    /// Stops the userspace engines (their rules go; the qdiscs go with the namespaces).
    public func stop() {
        let all = lock.withLock { engines.map(\.engine) }
        for engine in all { engine.stop() }
    }
}

/// What the kernel says to netem, learnt once per process (and said once): asked with a
/// throwaway netem qdisc before the first entry that needs it is placed, or learnt from a refusal.
enum KernelSupport {
    private static let state = LockedBox<(probed: Bool, refusal: String?, said: Bool)>((false, nil, false))

    /// The kernel's refusal of netem in its own words ("RTM_NEWQDISC kind "netem": ENOENT, kernel
    /// says "Specified qdisc kind is unknown""), nil while netem worked or was never asked.
    static var netemRefusal: String? { state.withLock { $0.refusal } }
    static var netemProbed: Bool { state.withLock { $0.probed } }

    /// Asks the kernel: installs the smallest netem qdisc on `interface` and removes it again.
    static func probeNetem(handle: NetlinkHandle, interface: String, say: (String) -> Void) {
        guard let refusal = NetemProbe.refusal(handle: handle, interface: interface) else {
            state.withLock { $0.probed = true }
            return
        }
        noteNetemRefused(refusal, say: say)
    }

    static func noteNetemRefused(_ error: NetlinkError, say: (String) -> Void) {
        let words = NetemProbe.words(error)
        let first = state.withLock { s -> Bool in
            s.probed = true
            s.refusal = words
            if s.said { return false }
            s.said = true
            return true
        }
        if first {
            say("the kernel refused netem (\(words)): impairments it would carry run in Faultline's userspace engine (NFQUEUE) instead; modprobe sch_netem to use the kernel's")
        }
    }
}
