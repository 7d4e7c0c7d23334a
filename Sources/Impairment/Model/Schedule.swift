/// A change of parameters at a time during the run, e.g. "at 2s raise delay from 2ms to 400ms":
/// `ScheduledChange(at: .seconds(2), mode: .merge, parameters: .init(delay: .init(delay: .ms(400))))`.
///
/// Times count from the moment the impairment is installed (the scenario's time 0).
/// - `.merge`: fields given in `parameters` replace the current ones; the rest stay.
/// - `.replace`: `parameters` become the whole configuration (nil fields are removed).
/// Engines apply changes in time order; the kernel engine sends a `tc qdisc change`-style
/// RTM_NEWQDISC (no NLM_F_CREATE / NLM_F_EXCL) with the full resulting configuration.
public struct ScheduledChange: Sendable, Hashable, Codable {
    public enum Mode: String, Sendable, Hashable, Codable { case merge, replace }

    public var at: Interval
    public var mode: Mode
    public var parameters: ImpairmentParameters
    /// Set for a change made when an event happens ("after client connected"), not at `at`:
    /// engines skip it in their own schedule, the runner applies it when the event fires. It is
    /// part of the schedule so that the engine is chosen for every state the impairment takes.
    public var trigger: String?

    public init(at: Interval, mode: Mode = .merge, parameters: ImpairmentParameters, trigger: String? = nil) {
        self.at = at
        self.mode = mode
        self.parameters = parameters
        self.trigger = trigger
    }

    /// The configuration after applying this change to `current`.
    public func apply(to current: ImpairmentParameters) -> ImpairmentParameters {
        switch mode {
        case .merge: return current.merging(parameters)
        case .replace: return parameters
        }
    }
}

extension Array where Element == ScheduledChange {
    /// The configuration in force at time `t` (changes at exactly `t` included), starting from `initial`.
    public func parameters(at t: Interval, initial: ImpairmentParameters) -> ImpairmentParameters {
        sorted { $0.at < $1.at }.filter { $0.at <= t }.reduce(initial) { $1.apply(to: $0) }
    }
}
