import Netlink
/// tbf's TCA_OPTIONS in kernel units (linux/pkt_sched.h `struct tc_tbf_qopt` and TCA_TBF_*):
/// a nest of PARMS, BURST, [RATE64], RTAB (and the peak-rate trio, which Faultline does not use
/// but decodes).
public struct TbfConfiguration: Sendable, Equatable {
    /// struct tc_ratespec (12 bytes)
    public struct RateSpec: Sendable, Equatable {
        public var cellLog: UInt8 = 0
        public var linkLayer: UInt8 = 0
        public var overhead: UInt16 = 0
        public var cellAlign: Int16 = 0
        public var mpu: UInt16 = 0
        public var rate: UInt32 = 0
        public init() {}
    }

    public var rate = RateSpec()
    public var peakRate = RateSpec()
    /// Queue limit, bytes.
    public var limit: UInt32 = 0
    /// Bucket depth as transmission time in ticks (tc_calc_xmittime of the burst).
    public var buffer: UInt32 = 0
    /// Peak-rate bucket in ticks (0 without peak rate).
    public var mtu: UInt32 = 0
    /// TCA_TBF_BURST: the bucket in bytes.
    public var burst: UInt32?
    /// TCA_TBF_RATE64: bytes/s when ≥ 2³².
    public var rate64: UInt64?
    /// TCA_TBF_RTAB: 256 transmission times (ticks) for sizes (i+1) << cellLog.
    public var rateTable: [UInt32]?
    public var peakRate64: UInt64?
    public var peakBurst: UInt32?
    public var peakRateTable: [UInt32]?

    public init() {}

    static let parmsType: UInt16 = 1, rtabType: UInt16 = 2, ptabType: UInt16 = 3, rate64Type: UInt16 = 4
    static let prate64Type: UInt16 = 5, burstType: UInt16 = 6, pburstType: UInt16 = 7

    /// The TCA_OPTIONS payload in iproute2 6.1's order (q_tbf.c): PARMS, BURST, RATE64, RTAB,
    /// then PRATE64, PBURST, PTAB.
    public func serialized() -> [UInt8] {
        var b = NetlinkBuilder()
        b.nest(Self.parmsType) { p in
            for spec in [rate, peakRate] {
                p.append(spec.cellLog); p.append(spec.linkLayer); p.append(spec.overhead)
                p.append(spec.cellAlign); p.append(spec.mpu); p.append(spec.rate)
            }
            p.append(limit); p.append(buffer); p.append(mtu)
        }
        if let burst { b.put(Self.burstType, bytes: NetlinkBuilder.le(burst)) }
        if let rate64 { b.put(Self.rate64Type, bytes: NetlinkBuilder.le(rate64)) }
        if let rateTable { b.nest(Self.rtabType) { for v in rateTable { $0.append(v) } } }
        if let peakRate64 { b.put(Self.prate64Type, bytes: NetlinkBuilder.le(peakRate64)) }
        if let peakBurst { b.put(Self.pburstType, bytes: NetlinkBuilder.le(peakBurst)) }
        if let peakRateTable { b.nest(Self.ptabType) { for v in peakRateTable { $0.append(v) } } }
        return b.bytes
    }

    /// Decodes a tbf TCA_OPTIONS payload.
    public init(options: ArraySlice<UInt8>, baseOffset: Int = 0) throws(NetlinkDecodingError) {
        self.init()
        for a in try NetlinkAttributes(options, baseOffset: baseOffset).validated() {
            switch a.type {
            case Self.parmsType:
                func spec(_ at: Int, _ name: String) throws(NetlinkDecodingError) -> RateSpec {
                    var s = RateSpec()
                    s.cellLog = try a.field(UInt8.self, at: at, "\(name).cell_log")
                    s.linkLayer = try a.field(UInt8.self, at: at + 1, "\(name).linklayer")
                    s.overhead = try a.field(UInt16.self, at: at + 2, "\(name).overhead")
                    s.cellAlign = try a.field(Int16.self, at: at + 4, "\(name).cell_align")
                    s.mpu = try a.field(UInt16.self, at: at + 6, "\(name).mpu")
                    s.rate = try a.field(UInt32.self, at: at + 8, "\(name).rate")
                    return s
                }
                rate = try spec(0, "tc_tbf_qopt.rate")
                peakRate = try spec(12, "tc_tbf_qopt.peakrate")
                limit = try a.field(UInt32.self, at: 24, "tc_tbf_qopt.limit")
                buffer = try a.field(UInt32.self, at: 28, "tc_tbf_qopt.buffer")
                mtu = try a.field(UInt32.self, at: 32, "tc_tbf_qopt.mtu")
            case Self.burstType: burst = try a.field(UInt32.self, at: 0, "TCA_TBF_BURST")
            case Self.pburstType: peakBurst = try a.field(UInt32.self, at: 0, "TCA_TBF_PBURST")
            case Self.rate64Type: rate64 = try a.field(UInt64.self, at: 0, "TCA_TBF_RATE64")
            case Self.prate64Type: peakRate64 = try a.field(UInt64.self, at: 0, "TCA_TBF_PRATE64")
            case Self.rtabType: rateTable = try Self.table(a)
            case Self.ptabType: peakRateTable = try Self.table(a)
            default:
                throw NetlinkDecodingError(offset: a.offset, reason: "unknown tbf attribute type \(a.type)")
            }
        }
    }

    private static func table(_ a: NetlinkAttributes<ArraySlice<UInt8>>.Attribute) throws(NetlinkDecodingError) -> [UInt32] {
        guard a.payload.count == 1024 else {
            throw NetlinkDecodingError(offset: a.offset, reason: "rate table of \(a.payload.count) bytes, expected 1024 (256 × u32)")
        }
        var result: [UInt32] = []
        for i in 0..<256 { result.append(try a.field(UInt32.self, at: i * 4, "rate table[\(i)]")) }
        return result
    }

    /// The rate the kernel uses, bytes/s (RATE64 when present).
    public var effectiveRate: UInt64 { rate64 ?? UInt64(rate.rate) }
}

/// Builds tbf options for a `RateLimit` the way `tc qdisc add … tbf rate R burst B limit L`
/// (or `latency 50ms` when no limit is given) does: rate table with mtu 2047 → cell_log 3,
/// Ethernet link layer (ATM when cellSize 48 / cellOverhead 5), buffer = tc_calc_xmittime(burst).
public struct TbfEncoder: Sendable {
    public var clock: PschedClock

    public init(clock: PschedClock) { self.clock = clock }

    /// Default queue for tbf when the model gives none: tc's `latency 50ms`.
    public static let defaultLatencyMicroseconds: UInt32 = 50_000
    /// A packet-count limit becomes this many bytes per packet (a full Ethernet frame).
    public static let bytesPerQueuedPacket: UInt64 = 1514

    /// Reasons tbf cannot express `r` (empty when it can).
    public static func limitations(_ r: RateLimit) -> [String] {
        var reasons: [String] = []
        if r.packetOverhead < 0 || r.packetOverhead > Int32(UInt16.max) {
            reasons.append("rate.packetOverhead \(r.packetOverhead) (tbf takes 0–65535)")
        }
        if r.cellSize != 0, !(r.cellSize == 48 && r.cellOverhead == 5) {
            reasons.append("rate.cellSize \(r.cellSize) with cellOverhead \(r.cellOverhead) (tbf knows only ATM cells: 48 + 5)")
        }
        return reasons
    }

    public func configuration(_ r: RateLimit) throws(KernelEngineError) -> TbfConfiguration {
        let reasons = Self.limitations(r)
        guard reasons.isEmpty else { throw .cannotExpress(reasons) }
        let rate64 = r.rate.bytesPerSecond
        guard rate64 > 0 else { throw .valueOutOfRange(key: "rate", value: r.rate.description, limit: "at least 8bit") }
        let burstBytes = r.effectiveBurst.bytes
        guard burstBytes <= UInt64(UInt32.max) else {
            throw .valueOutOfRange(key: "rate.burst", value: r.effectiveBurst.description, limit: "at most 4GiB")
        }
        let buffer = UInt32(burstBytes)
        var c = TbfConfiguration()
        c.rate.rate = rate64 >= 1 << 32 ? UInt32.max : UInt32(rate64)
        if rate64 >= 1 << 32 { c.rate64 = rate64 }
        switch r.queueLimit {
        case .bytes(let b)?:
            guard b.bytes <= UInt64(UInt32.max) else {
                throw .valueOutOfRange(key: "rate.queueLimit", value: b.description, limit: "at most 4GiB")
            }
            c.limit = UInt32(b.bytes)
        case .packets(let n)?:
            c.limit = UInt32(clamping: UInt64(n) * Self.bytesPerQueuedPacket)
        case nil:
            // q_tbf.c: lim = rate64 * (double)latency / TIME_UNITS_PER_SEC + buffer
            let lim = Double(rate64) * Double(Self.defaultLatencyMicroseconds) / 1_000_000 + Double(buffer)
            c.limit = PschedClock.truncatedUInt32(lim)
        }
        c.rate.overhead = UInt16(r.packetOverhead)
        let atm = r.cellSize == 48
        // tc_calc_rtable(mtu 0 → 2047, cell_log -1 → 3, mpu 0)
        var cellLog: UInt8 = 0
        while (2047 >> cellLog) > 255 { cellLog += 1 }
        c.rate.cellLog = cellLog
        c.rate.cellAlign = -1
        c.rate.linkLayer = atm ? 2 : 1
        c.rateTable = (0..<256).map { i in
            var size = UInt32(i + 1) << cellLog
            if atm { size = ((size + 47) / 48) * 53 }  // tc_align_to_atm
            return clock.transmissionTicks(rateBytesPerSecond: UInt64(c.rate.rate), size: size)
        }
        c.buffer = clock.transmissionTicks(rateBytesPerSecond: UInt64(c.rate.rate), size: buffer)
        c.burst = buffer
        return c
    }

    public func options(_ r: RateLimit) throws(KernelEngineError) -> [UInt8] {
        try configuration(r).serialized()
    }
}
