/// Bandwidth limit on a link direction.
///
/// The kernel engine expresses it either with netem's own rate (TCA_NETEM_RATE, with the
/// per-packet and per-cell overheads below) when netem carries other impairments, or with a
/// token bucket (tbf) when rate is all there is or netem is missing. The userspace engine paces
/// packets with the same arithmetic as netem: a packet of L bytes occupies the link for
/// `wire(L) × 8 / rate` seconds, where
/// `wire(L) = L + packetOverhead`, then, if `cellSize` > 0, rounded up to whole cells of
/// `cellSize` bytes each plus `cellOverhead` (e.g. ATM: cellSize 48, cellOverhead 5).
public struct RateLimit: Sendable, Hashable, Codable {
    /// Link rate, bits/s (the kernel receives bytes/s: `rate.bytesPerSecond`).
    public var rate: Rate
    /// Bytes added to (negative: removed from) each packet's length for pacing (tc `rate R PACKETOVERHEAD`).
    public var packetOverhead: Int32
    /// Link-layer cell size in bytes, 0 = no cells (tc `rate R OVERHEAD CELLSIZE`).
    public var cellSize: UInt32
    /// Bytes added per cell (tc `rate R OVERHEAD CELLSIZE CELLOVERHEAD`).
    public var cellOverhead: Int32
    /// How much may wait for the link before packets are dropped (tail drop). Packets: netem's
    /// `limit`; bytes: tbf's `limit`. nil: netem's default of 1000 packets, or for tbf what tc's
    /// `latency 50ms` gives: `rate × 50 ms + burst` bytes. (tbf given a packet count queues
    /// that many 1514-byte frames.)
    public var queueLimit: QueueLimit?
    /// Token bucket depth (tbf `burst`). nil: rate × 1 ms rounded up, at least 1600 bytes —
    /// enough for one full-size frame. Only the tbf form uses it.
    public var burst: ByteCount?

    public init(rate: Rate, packetOverhead: Int32 = 0, cellSize: UInt32 = 0, cellOverhead: Int32 = 0,
                queueLimit: QueueLimit? = nil, burst: ByteCount? = nil) {
        self.rate = rate
        self.packetOverhead = packetOverhead
        self.cellSize = cellSize
        self.cellOverhead = cellOverhead
        self.queueLimit = queueLimit
        self.burst = burst
    }

    /// Bytes a packet of `length` bytes counts for on this link (netem's `packet_time_ns` sizing).
    public func wireLength(of length: Int) -> Int64 {
        var len = Int64(length) + Int64(packetOverhead)
        if cellSize > 0 {
            let cells = (len + Int64(cellSize) - 1) / Int64(cellSize)
            len = cells * (Int64(cellSize) + Int64(cellOverhead))
        }
        return max(len, 0)
    }

    /// Time a packet of `length` bytes occupies the link, in nanoseconds.
    public func transmissionTime(of length: Int) -> Interval {
        let bytesPerSecond = rate.bytesPerSecond
        guard bytesPerSecond > 0 else { return .zero }
        let ns = (Double(wireLength(of: length)) * 1e9 / Double(bytesPerSecond)).rounded(.down)
        return Interval(nanoseconds: Int64(min(ns, Double(Int64.max))))
    }

    /// The burst the tbf form uses (see `burst`).
    public var effectiveBurst: ByteCount {
        if let burst { return burst }
        let perMillisecond = (rate.bytesPerSecond + 999) / 1000
        return ByteCount(bytes: max(perMillisecond, 1600))
    }
}

/// A queue bound: in packets or in bytes.
public enum QueueLimit: Sendable, Hashable, Codable, CustomStringConvertible {
    case packets(UInt32)
    case bytes(ByteCount)

    public var description: String {
        switch self {
        case .packets(let n): return "\(n) packets"
        case .bytes(let b): return "\(b) bytes"
        }
    }
}
