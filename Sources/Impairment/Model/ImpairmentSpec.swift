/// One impairment of a scenario: where it sits, which packets it touches, what it does, how
/// it changes over time, and the seed of its random decisions.
///
/// ```swift
/// // 20ms ± 5ms normal delay and 1% loss on the router's egress toward the server,
/// // raised to 400ms at 2s; and the 5th and 6th data segments dropped.
/// ImpairmentSpec(
///     link: try LinkDirection(parsing: "router→server"),
///     parameters: .init(delay: .init(delay: .ms(20), jitter: .ms(5), distribution: .normal),
///                       loss: .random(probability: Percentage(1))),
///     actions: [.init(match: .tcpData, nth: [5, 6], action: .drop)],
///     schedule: [.init(at: .seconds(2), parameters: .init(delay: .init(delay: .ms(400))))],
///     seed: 7)
/// ```
///
/// Engine choice: netem cannot honour `match` or `actions`, and may be missing from the kernel
/// (this project's CI kernel has no sch_netem). With `.automatic`, Faultline uses the kernel
/// engine when it can express the spec and netem is present, otherwise the userspace (NFQUEUE)
/// engine; `.kernel` insists on netem/tbf and fails with the reason when it cannot.
public struct ImpairmentSpec: Sendable, Hashable, Codable {
    public enum Engine: String, Sendable, Hashable, Codable {
        /// Kernel when possible, else userspace.
        case automatic
        /// netem/tbf only (scenario `engine: netem`).
        case kernel = "netem"
        /// NFQUEUE userspace engine only.
        case userspace
    }

    public var link: LinkDirection
    /// Packets the general `parameters` apply to; nil: all packets on the link direction.
    public var match: PacketMatch?
    /// Random impairments (delay, loss, …) in force from time 0.
    public var parameters: ImpairmentParameters
    /// Deterministic actions on the n-th matching packets.
    public var actions: [TargetedAction]
    /// Later changes of `parameters`.
    public var schedule: [ScheduledChange]
    /// Seed of every random decision of this impairment; nil: the run's seed (derived per
    /// impairment by the runner). The kernel engine sends it as TCA_NETEM_PRNG_SEED.
    public var seed: UInt64?
    public var engine: Engine

    public init(link: LinkDirection, match: PacketMatch? = nil, parameters: ImpairmentParameters = .none,
                actions: [TargetedAction] = [], schedule: [ScheduledChange] = [], seed: UInt64? = nil,
                engine: Engine = .automatic) {
        self.link = link
        self.match = match
        self.parameters = parameters
        self.actions = actions
        self.schedule = schedule
        self.seed = seed
        self.engine = engine
    }

    /// Reasons the kernel engine (netem/tbf) cannot express this spec; empty when it can.
    /// Each is a short phrase naming the key, e.g. "match (netem applies to every packet)".
    public var kernelEngineLimitations: [String] {
        var reasons: [String] = []
        if let match, !match.isAny { reasons.append("match (netem applies to every packet of the link)") }
        if !actions.isEmpty { reasons.append("actions (netem cannot pick the n-th packet)") }
        return reasons
    }
}
