import Netlink
extension NetemConfiguration {
    /// Decodes a netem TCA_OPTIONS payload (qopt + attributes). `baseOffset` is the payload's
    /// offset in the enclosing message, so errors name message byte offsets.
    public init(options: ArraySlice<UInt8>, baseOffset: Int = 0) throws(NetlinkDecodingError) {
        self.init()
        latencyTicks = try NetlinkBytes.field(UInt32.self, in: options, at: 0, baseOffset: baseOffset, "tc_netem_qopt.latency")
        limit = try NetlinkBytes.field(UInt32.self, in: options, at: 4, baseOffset: baseOffset, "tc_netem_qopt.limit")
        loss = try NetlinkBytes.field(UInt32.self, in: options, at: 8, baseOffset: baseOffset, "tc_netem_qopt.loss")
        gap = try NetlinkBytes.field(UInt32.self, in: options, at: 12, baseOffset: baseOffset, "tc_netem_qopt.gap")
        duplicate = try NetlinkBytes.field(UInt32.self, in: options, at: 16, baseOffset: baseOffset, "tc_netem_qopt.duplicate")
        jitterTicks = try NetlinkBytes.field(UInt32.self, in: options, at: 20, baseOffset: baseOffset, "tc_netem_qopt.jitter")
        for a in try NetlinkAttributes(options.dropFirst(24), baseOffset: baseOffset + 24).validated() {
            switch a.type {
            case Self.corrType:
                correlation = Correlation(delay: try a.field(UInt32.self, at: 0, "TCA_NETEM_CORR.delay_corr"),
                                          loss: try a.field(UInt32.self, at: 4, "TCA_NETEM_CORR.loss_corr"),
                                          duplicate: try a.field(UInt32.self, at: 8, "TCA_NETEM_CORR.dup_corr"))
            case Self.reorderType:
                reorder = ProbabilityPair(probability: try a.field(UInt32.self, at: 0, "TCA_NETEM_REORDER.probability"),
                                          correlation: try a.field(UInt32.self, at: 4, "TCA_NETEM_REORDER.correlation"))
            case Self.corruptType:
                corrupt = ProbabilityPair(probability: try a.field(UInt32.self, at: 0, "TCA_NETEM_CORRUPT.probability"),
                                          correlation: try a.field(UInt32.self, at: 4, "TCA_NETEM_CORRUPT.correlation"))
            case Self.ecnType:
                ecn = try a.field(UInt32.self, at: 0, "TCA_NETEM_ECN") != 0
            case Self.slotType:
                slot = SlotParameters(minDelay: try a.field(Int64.self, at: 0, "TCA_NETEM_SLOT.min_delay"),
                                      maxDelay: try a.field(Int64.self, at: 8, "TCA_NETEM_SLOT.max_delay"),
                                      maxPackets: try a.field(Int32.self, at: 16, "TCA_NETEM_SLOT.max_packets"),
                                      maxBytes: try a.field(Int32.self, at: 20, "TCA_NETEM_SLOT.max_bytes"),
                                      distDelay: try a.field(Int64.self, at: 24, "TCA_NETEM_SLOT.dist_delay"),
                                      distJitter: try a.field(Int64.self, at: 32, "TCA_NETEM_SLOT.dist_jitter"))
            case Self.lossType:
                for m in try a.attributes() {
                    switch m.type {
                    case Self.lossGI:
                        lossModel = .fourState(p13: try m.field(UInt32.self, at: 0, "NETEM_LOSS_GI.p13"),
                                               p31: try m.field(UInt32.self, at: 4, "NETEM_LOSS_GI.p31"),
                                               p32: try m.field(UInt32.self, at: 8, "NETEM_LOSS_GI.p32"),
                                               p14: try m.field(UInt32.self, at: 12, "NETEM_LOSS_GI.p14"),
                                               p23: try m.field(UInt32.self, at: 16, "NETEM_LOSS_GI.p23"))
                    case Self.lossGE:
                        lossModel = .gilbertElliott(p: try m.field(UInt32.self, at: 0, "NETEM_LOSS_GE.p"),
                                                    r: try m.field(UInt32.self, at: 4, "NETEM_LOSS_GE.r"),
                                                    h: try m.field(UInt32.self, at: 8, "NETEM_LOSS_GE.h"),
                                                    k1: try m.field(UInt32.self, at: 12, "NETEM_LOSS_GE.k1"))
                    default:
                        throw NetlinkDecodingError(offset: m.offset, reason: "TCA_NETEM_LOSS: unknown loss model type \(m.type), expected 1 (GI) or 2 (GE)")
                    }
                }
            case Self.rate64Type:
                rate64 = try a.field(UInt64.self, at: 0, "TCA_NETEM_RATE64")
            case Self.rateType:
                rate = RateParameters(rate: try a.field(UInt32.self, at: 0, "TCA_NETEM_RATE.rate"),
                                      packetOverhead: try a.field(Int32.self, at: 4, "TCA_NETEM_RATE.packet_overhead"),
                                      cellSize: try a.field(UInt32.self, at: 8, "TCA_NETEM_RATE.cell_size"),
                                      cellOverhead: try a.field(Int32.self, at: 12, "TCA_NETEM_RATE.cell_overhead"))
            case Self.delayDistType:
                delayDistribution = try Self.samples(a)
            case Self.slotDistType:
                slotDistribution = try Self.samples(a)
            case Self.latency64Type:
                latency64 = try a.field(Int64.self, at: 0, "TCA_NETEM_LATENCY64")
            case Self.jitter64Type:
                jitter64 = try a.field(Int64.self, at: 0, "TCA_NETEM_JITTER64")
            case Self.prngSeedType:
                prngSeed = try a.field(UInt64.self, at: 0, "TCA_NETEM_PRNG_SEED")
            default:
                throw NetlinkDecodingError(offset: a.offset, reason: "unknown netem attribute type \(a.type)")
            }
        }
    }

    private static func samples(_ a: NetlinkAttributes<ArraySlice<UInt8>>.Attribute) throws(NetlinkDecodingError) -> [Int16] {
        let payload = a.payload
        guard payload.count % 2 == 0 else {
            throw NetlinkDecodingError(offset: a.offset, reason: "distribution table of \(payload.count) bytes, expected whole 16-bit samples")
        }
        var result: [Int16] = []
        result.reserveCapacity(payload.count / 2)
        var i = payload.startIndex
        while i < payload.endIndex {
            result.append(Int16(bitPattern: UInt16(payload[i]) | UInt16(payload[i + 1]) << 8))
            i += 2
        }
        return result
    }

    /// The attributes after tc_netem_qopt, in order, as (type, full attribute bytes).
    public static func attributeBytes(of options: ArraySlice<UInt8>) throws(NetlinkDecodingError) -> [(type: UInt16, bytes: [UInt8])] {
        try NetlinkAttributes(options.dropFirst(24), baseOffset: 24).validated().map { ($0.type, Array($0.raw)) }
    }
}

/// What a netem qdisc does with a configuration, in engine-neutral units: the kernel's view after
/// `netem_change` (sch_netem.c): latency/jitter in ns (LATENCY64/JITTER64 override the ticks),
/// absent CORR/REORDER/CORRUPT mean zeros, the loss model is `random` unless TCA_NETEM_LOSS
/// says otherwise, rate is max(rate, RATE64), slot limits of 0 mean unlimited (INT32_MAX).
/// Two encodings that decode to equal `NetemEffective` values configure netem identically.
public struct NetemEffective: Sendable, Equatable {
    public var latencyNanoseconds: Int64
    public var jitterNanoseconds: Int64
    public var limit: UInt32
    public var gap: UInt32
    public var duplicate: UInt32
    public var correlation: NetemConfiguration.Correlation
    public var reorder: NetemConfiguration.ProbabilityPair
    public var corrupt: NetemConfiguration.ProbabilityPair
    public var ecn: Bool
    public enum Loss: Sendable, Equatable {
        case random(UInt32)
        case model(NetemConfiguration.LossModelParameters)
    }
    public var loss: Loss
    public var rateBytesPerSecond: UInt64
    public var packetOverhead: Int32
    public var cellSize: UInt32
    public var cellOverhead: Int32
    public var slot: NetemConfiguration.SlotParameters?
    public var delayDistribution: [Int16]?
    public var slotDistribution: [Int16]?
    public var prngSeed: UInt64?

    public init(_ c: NetemConfiguration, clock: PschedClock) {
        latencyNanoseconds = c.latency64 ?? clock.nanoseconds(ticks: c.latencyTicks)
        jitterNanoseconds = c.jitter64 ?? clock.nanoseconds(ticks: c.jitterTicks)
        limit = c.limit
        gap = c.gap
        duplicate = c.duplicate
        correlation = c.correlation ?? .init()
        reorder = c.reorder ?? .init(probability: 0)
        corrupt = c.corrupt ?? .init(probability: 0)
        ecn = c.ecn
        loss = c.lossModel.map(Loss.model) ?? .random(c.loss)
        rateBytesPerSecond = max(UInt64(c.rate?.rate ?? 0), c.rate64 ?? 0)
        packetOverhead = c.rate?.packetOverhead ?? 0
        cellSize = c.rate?.cellSize ?? 0
        cellOverhead = c.rate?.cellOverhead ?? 0
        slot = c.slot.map { s in
            var s = s
            if s.maxPackets == 0 { s.maxPackets = Int32.max }
            if s.maxBytes == 0 { s.maxBytes = Int32.max }
            return s
        }
        delayDistribution = c.delayDistribution
        slotDistribution = c.slotDistribution
        prngSeed = c.prngSeed
    }
}
