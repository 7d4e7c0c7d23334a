/// Added latency (netem `delay TIME [JITTER [CORRELATION]] [distribution D]`).
///
/// Semantics (both engines): each packet waits `delay + jitter × x`, x drawn from
/// `distribution` (uniform in [−1, 1) when jitter > 0 and no distribution is named). With
/// `correlation` c, netem mixes the new random number with the previous one:
/// `next = (1 − c)·random + c·last`. A drawn delay below zero is sent at once (netem sets a
/// send time in the past; see validation's warning), and because netem's queue is ordered by
/// send time, jitter larger than the spacing of packets reorders them — as on a real path.
public struct DelaySpec: Sendable, Hashable, Codable {
    /// Mean added latency. Must be ≥ 0.
    public var delay: Interval
    /// Spread around `delay` (uniform: ± jitter; table distributions: σ). Must be ≥ 0.
    public var jitter: Interval
    /// Dependence of each draw on the previous one, 0–100%.
    public var correlation: Percentage
    /// nil: uniform, the netem default. Naming a distribution needs jitter > 0 (as in tc).
    public var distribution: DelayDistribution?

    public init(delay: Interval, jitter: Interval = .zero, correlation: Percentage = .zero,
                distribution: DelayDistribution? = nil) {
        self.delay = delay
        self.jitter = jitter
        self.correlation = correlation
        self.distribution = distribution
    }

    /// The smallest delay a draw can produce (may be negative; netem then sends at once).
    public var minimumDrawnDelay: Interval {
        let factor = (distribution ?? .uniform).minimumFactor
        return Interval(nanoseconds: delay.nanoseconds + Int64((Double(jitter.nanoseconds) * factor).rounded(.down)))
    }
}
