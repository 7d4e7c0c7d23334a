/// Slotted transmission (netem `slot`): emulates links that send in bursts at intervals
/// (Wi-Fi aggregation, DOCSIS, cellular schedulers).
///
/// Packets wait for the next slot; at each slot netem releases at most `maxPackets` packets and
/// `maxBytes` bytes, then the next slot starts after a gap drawn from `timing`:
/// - `.range(min, max)`: uniform in [min, max] (tc `slot MIN [MAX]`, MAX defaults to MIN);
/// - `.distribution(d, delay, jitter)`: `delay + jitter × x`, x from distribution d
///   (tc `slot distribution D DELAY JITTER`).
/// Slot delay adds to any `DelaySpec` delay.
public struct Slot: Sendable, Hashable, Codable {
    public enum Timing: Sendable, Hashable, Codable {
        case range(min: Interval, max: Interval)
        case distribution(DelayDistribution, delay: Interval, jitter: Interval)
    }

    public var timing: Timing
    /// nil: unlimited (the kernel treats 0 as INT_MAX).
    public var maxPackets: UInt32?
    /// nil: unlimited.
    public var maxBytes: ByteCount?

    public init(timing: Timing, maxPackets: UInt32? = nil, maxBytes: ByteCount? = nil) {
        self.timing = timing
        self.maxPackets = maxPackets
        self.maxBytes = maxBytes
    }
}
