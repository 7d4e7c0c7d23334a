import Values
/// The shape of the random delay variation (netem's `distribution`).
///
/// Each packet's delay is `delay + jitter × x`, where x is drawn from the distribution:
/// - `uniform`: x uniform in [−1, +1) — netem's default when no table is given.
/// - `normal`, `pareto`, `paretonormal`: x read from iproute2's tables (`normal.dist` etc.;
///   4096 signed 16-bit entries scaled by `NETEM_DIST_SCALE` = 8192). The table is a sample of
///   the distribution with mean ≈ 0 and standard deviation 1, so jitter acts as σ.
///
/// The kernel engine sends the table itself (TCA_NETEM_DELAY_DIST); the userspace engine draws
/// from the same table so both engines shape delays identically.
public enum DelayDistribution: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case uniform
    case normal
    case pareto
    case paretonormal

    public var description: String { rawValue }

    /// The most negative x the distribution yields (min table entry ÷ 8192, from iproute2's
    /// tables): a drawn delay can be as low as `delay + jitter × minimumFactor`.
    public var minimumFactor: Double {
        switch self {
        case .uniform: return -1
        case .normal: return -32768.0 / 8192.0          // −4.0
        case .pareto: return -5461.0 / 8192.0           // ≈ −0.667
        case .paretonormal: return -12305.0 / 8192.0    // ≈ −1.502
        }
    }

    /// Reads "uniform", "normal", "pareto", "paretonormal" (case-insensitive).
    public init(parsing text: String) throws(ValueParseError) {
        guard let d = DelayDistribution(rawValue: text.trimmingSpaces().lowercased()) else {
            throw ValueParseError(kind: "distribution", text: text,
                reason: "expected one of uniform, normal, pareto, paretonormal")
        }
        self = d
    }
}
