/// Duplication (netem `duplicate P [CORR]`): with probability `probability` a packet is sent
/// twice. netem hands the copy to the root qdisc again, so the copy draws its own delay (and is
/// not duplicated again).
public struct Duplicate: Sendable, Hashable, Codable {
    public var probability: Percentage
    public var correlation: Percentage

    public init(probability: Percentage, correlation: Percentage = .zero) {
        self.probability = probability
        self.correlation = correlation
    }
}

/// Corruption (netem `corrupt P [CORR]`): with probability `probability` one random bit of the
/// packet is flipped (netem flips a bit at a random offset of the linear data; checksums are
/// left wrong, so the receiver drops the packet after counting a checksum error).
public struct Corrupt: Sendable, Hashable, Codable {
    public var probability: Percentage
    public var correlation: Percentage

    public init(probability: Percentage, correlation: Percentage = .zero) {
        self.probability = probability
        self.correlation = correlation
    }
}

/// Reordering (netem `reorder P [CORR] [gap G]`).
///
/// netem reorders by *not delaying* some packets while the rest wait for `DelaySpec.delay`:
/// - without `gap` (tc sends gap 1): each packet is sent at once with probability
///   `probability`, otherwise delayed;
/// - with `gap` G: after a reordered packet, the next G−1 packets are delayed; from then on each
///   packet is sent at once with probability `probability`, until one is, and the count restarts.
/// A packet sent at once overtakes the delayed ones — which is why reorder needs a delay.
public struct Reorder: Sendable, Hashable, Codable {
    public var probability: Percentage
    public var correlation: Percentage
    /// nil: every packet is a candidate (tc sends gap = 1).
    public var gap: UInt32?

    public init(probability: Percentage, correlation: Percentage = .zero, gap: UInt32? = nil) {
        self.probability = probability
        self.correlation = correlation
        self.gap = gap
    }
}
