/// What a run asks of the engines for impairments its scenario leaves on `engine: auto`
/// (`faultline run --engine`). An entry the scenario pins (`engine: netem` / `userspace`) keeps
/// its pin: the author chose that engine for that entry, usually because only it can do the job.
public enum EnginePreference: String, Sendable, CaseIterable, Codable {
    /// The kernel (netem/tbf) where it can express the entry and has the qdisc, else userspace.
    case auto
    /// The kernel only; an entry netem cannot express is refused, naming the key.
    case kernel
    /// The userspace (NFQUEUE) engine for every entry.
    case userspace
}

/// Which engine carries one impairment and why, decided before anything is installed — from
/// every parameter set the impairment passes through (its initial one and each scheduled
/// change), the run's preference and what the kernel is known to refuse. A clock-free,
/// kernel-free value: the runner asks the kernel first (`netemRefusal`) and then asks this.
public struct EngineChoice: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Engine: String, Sendable, Codable { case kernel, userspace }
    public enum Reason: String, Sendable, Codable {
        /// `auto` picked it: the kernel can express the entry, or cannot (and userspace can).
        case chosen
        /// The scenario (`engine:`) or the command line (`--engine`) named it.
        case pinned
        /// `auto` wanted the kernel, the kernel refused netem: userspace carries it instead.
        case fallback
    }

    public var engine: Engine
    public var reason: Reason
    /// Why, in words: the key that pinned it, what netem cannot express, or the kernel's refusal
    /// in its own words.
    public var detail: String

    public init(engine: Engine, reason: Reason, detail: String) {
        self.engine = engine
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }

    /// A choice the run cannot honour (e.g. `--engine kernel` for an entry with `match`).
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Decides for `spec`. `netemRefusal` is the kernel's answer to a netem qdisc, in its own
    /// words, when it refused one (nil: netem works, or was never needed).
    public static func decide(_ spec: ImpairmentSpec, preference: EnginePreference,
                              netemRefusal: String?) throws(Refusal) -> EngineChoice {
        let limitations = spec.kernelEngineLimitations
        switch spec.engine {
        case .userspace:
            return .init(engine: .userspace, reason: .pinned, detail: "the scenario pins engine: userspace")
        case .kernel:
            guard limitations.isEmpty else {
                throw Refusal(description: "the scenario pins engine: netem, which cannot express \(limitations.joined(separator: "; "))")
            }
            return .init(engine: .kernel, reason: .pinned, detail: "the scenario pins engine: netem")
        case .automatic:
            break
        }
        switch preference {
        case .userspace:
            return .init(engine: .userspace, reason: .pinned, detail: "--engine userspace")
        case .kernel:
            guard limitations.isEmpty else {
                throw Refusal(description: "--engine kernel, but netem cannot express \(limitations.joined(separator: "; ")); "
                    + "run it with --engine auto or userspace, or pin this entry with engine: userspace")
            }
            return .init(engine: .kernel, reason: .pinned, detail: "--engine kernel")
        case .auto:
            if !limitations.isEmpty {
                return .init(engine: .userspace, reason: .chosen, detail: "netem cannot express \(limitations.joined(separator: "; "))")
            }
            if spec.needsNetem, let netemRefusal {
                return .init(engine: .userspace, reason: .fallback, detail: "the kernel refused netem: \(netemRefusal)")
            }
            return .init(engine: .kernel, reason: .chosen, detail: spec.needsNetem ? "the kernel has netem and can express it" : "tbf alone carries it")
        }
    }
}

extension ImpairmentSpec {
    /// Every parameter set this impairment passes through: the initial one, then each scheduled
    /// change in time order.
    public var allParameters: [ImpairmentParameters] {
        var states = [parameters]
        for change in schedule.sorted(by: { $0.at < $1.at }) { states.append(change.apply(to: states[states.count - 1])) }
        return states
    }

    /// Whether any state of this impairment needs sch_netem: anything but a rate, or a rate
    /// only netem's own rate fields can express (the same rule `KernelPlan` follows).
    public var needsNetem: Bool { allParameters.contains(where: \.needsNetem) }
}

extension ImpairmentParameters {
    /// Whether the kernel engine needs sch_netem for these parameters (tbf alone carries a plain rate).
    public var needsNetem: Bool {
        var withoutRate = self
        withoutRate.rate = nil
        if !withoutRate.isEmpty { return true }
        return rate.map { !TbfEncoder.limitations($0).isEmpty } ?? false
    }
}
