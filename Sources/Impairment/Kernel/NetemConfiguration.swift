import Netlink
/// netem's TCA_OPTIONS in kernel units: exactly the fields the bytes carry (`struct
/// tc_netem_qopt` followed by nested attributes, linux/pkt_sched.h). Probabilities are 32-bit
/// fixed point (UINT32_MAX = 100%), latency/jitter scheduler ticks, rates bytes/s, slot times ns.
///
/// Produced by `NetemEncoder` from the model and by `NetemConfiguration(options:)` from bytes;
/// `serialized()` writes the attributes in iproute2 6.1's order. Optional attributes are present
/// exactly when non-nil.
public struct NetemConfiguration: Sendable, Equatable {
    // struct tc_netem_qopt (24 bytes)
    public var latencyTicks: UInt32 = 0
    public var limit: UInt32 = 1000
    public var loss: UInt32 = 0
    public var gap: UInt32 = 0
    public var duplicate: UInt32 = 0
    public var jitterTicks: UInt32 = 0

    /// TCA_NETEM_CORR (struct tc_netem_corr)
    public var correlation: Correlation?
    /// TCA_NETEM_REORDER
    public var reorder: ProbabilityPair?
    /// TCA_NETEM_ECN (u32 1)
    public var ecn: Bool = false
    /// TCA_NETEM_CORRUPT
    public var corrupt: ProbabilityPair?
    /// TCA_NETEM_SLOT
    public var slot: SlotParameters?
    /// TCA_NETEM_LOSS (nested NETEM_LOSS_GI / NETEM_LOSS_GE)
    public var lossModel: LossModelParameters?
    /// TCA_NETEM_RATE64 (bytes/s, when the rate does not fit 32 bits)
    public var rate64: UInt64?
    /// TCA_NETEM_RATE
    public var rate: RateParameters?
    /// TCA_NETEM_DELAY_DIST
    public var delayDistribution: [Int16]?
    /// TCA_NETEM_SLOT_DIST
    public var slotDistribution: [Int16]?
    /// TCA_NETEM_LATENCY64 / TCA_NETEM_JITTER64 (ns): sent only when a time does not fit the
    /// 32-bit ticks of tc_netem_qopt (tc 6.1 never sends them; it refuses such times).
    public var latency64: Int64?
    public var jitter64: Int64?
    /// TCA_NETEM_PRNG_SEED (kernel ≥ 6.4; tc 6.1 has no `seed` keyword, so no fixture holds it).
    public var prngSeed: UInt64?

    public init() {}

    public struct Correlation: Sendable, Equatable {
        public var delay: UInt32, loss: UInt32, duplicate: UInt32
        public init(delay: UInt32 = 0, loss: UInt32 = 0, duplicate: UInt32 = 0) {
            self.delay = delay; self.loss = loss; self.duplicate = duplicate
        }
    }

    /// tc_netem_reorder / tc_netem_corrupt
    public struct ProbabilityPair: Sendable, Equatable {
        public var probability: UInt32, correlation: UInt32
        public init(probability: UInt32, correlation: UInt32 = 0) {
            self.probability = probability; self.correlation = correlation
        }
    }

    /// tc_netem_rate
    public struct RateParameters: Sendable, Equatable {
        public var rate: UInt32, packetOverhead: Int32, cellSize: UInt32, cellOverhead: Int32
        public init(rate: UInt32, packetOverhead: Int32 = 0, cellSize: UInt32 = 0, cellOverhead: Int32 = 0) {
            self.rate = rate; self.packetOverhead = packetOverhead; self.cellSize = cellSize; self.cellOverhead = cellOverhead
        }
    }

    /// tc_netem_slot (times in ns)
    public struct SlotParameters: Sendable, Equatable {
        public var minDelay: Int64, maxDelay: Int64, maxPackets: Int32, maxBytes: Int32, distDelay: Int64, distJitter: Int64
        public init(minDelay: Int64 = 0, maxDelay: Int64 = 0, maxPackets: Int32 = 0, maxBytes: Int32 = 0,
                    distDelay: Int64 = 0, distJitter: Int64 = 0) {
            self.minDelay = minDelay; self.maxDelay = maxDelay; self.maxPackets = maxPackets
            self.maxBytes = maxBytes; self.distDelay = distDelay; self.distJitter = distJitter
        }
    }

    public enum LossModelParameters: Sendable, Equatable {
        /// NETEM_LOSS_GI: tc_netem_gimodel, in struct order p13, p31, p32, p14, p23.
        case fourState(p13: UInt32, p31: UInt32, p32: UInt32, p14: UInt32, p23: UInt32)
        /// NETEM_LOSS_GE: tc_netem_gemodel p, r, h (not 1-h), k1 (= 1-k).
        case gilbertElliott(p: UInt32, r: UInt32, h: UInt32, k1: UInt32)
    }

    // Attribute types (linux/pkt_sched.h)
    static let corrType: UInt16 = 1, delayDistType: UInt16 = 2, reorderType: UInt16 = 3, corruptType: UInt16 = 4
    static let lossType: UInt16 = 5, rateType: UInt16 = 6, ecnType: UInt16 = 7, rate64Type: UInt16 = 8
    static let latency64Type: UInt16 = 10, jitter64Type: UInt16 = 11, slotType: UInt16 = 12
    static let slotDistType: UInt16 = 13, prngSeedType: UInt16 = 14
    static let lossGI: UInt16 = 1, lossGE: UInt16 = 2
    static let nestedFlag: UInt16 = 0x8000

    /// The TCA_OPTIONS payload, attributes in iproute2 6.1's order (q_netem.c netem_parse_opt):
    /// qopt, CORR, REORDER, ECN, CORRUPT, SLOT, LOSS (NLA_F_NESTED), RATE64, RATE, DELAY_DIST,
    /// SLOT_DIST; then the ones tc 6.1 never sends: LATENCY64, JITTER64, PRNG_SEED.
    public func serialized() -> [UInt8] {
        var b = NetlinkBuilder()
        for v in [latencyTicks, limit, loss, gap, duplicate, jitterTicks] { b.append(v) }
        if let c = correlation {
            b.nest(Self.corrType) { $0.append(c.delay); $0.append(c.loss); $0.append(c.duplicate) }
        }
        if let r = reorder {
            b.nest(Self.reorderType) { $0.append(r.probability); $0.append(r.correlation) }
        }
        if ecn { b.put(Self.ecnType, bytes: NetlinkBuilder.le(UInt32(1))) }
        if let c = corrupt {
            b.nest(Self.corruptType) { $0.append(c.probability); $0.append(c.correlation) }
        }
        if let s = slot {
            b.nest(Self.slotType) {
                $0.append(s.minDelay); $0.append(s.maxDelay); $0.append(s.maxPackets)
                $0.append(s.maxBytes); $0.append(s.distDelay); $0.append(s.distJitter)
            }
        }
        if let m = lossModel {
            b.nest(Self.lossType | Self.nestedFlag) { nest in
                switch m {
                case let .fourState(p13, p31, p32, p14, p23):
                    nest.nest(Self.lossGI) { for v in [p13, p31, p32, p14, p23] { $0.append(v) } }
                case let .gilbertElliott(p, r, h, k1):
                    nest.nest(Self.lossGE) { for v in [p, r, h, k1] { $0.append(v) } }
                }
            }
        }
        if let r64 = rate64 { b.put(Self.rate64Type, bytes: NetlinkBuilder.le(r64)) }
        if let r = rate {
            b.nest(Self.rateType) {
                $0.append(r.rate); $0.append(r.packetOverhead); $0.append(r.cellSize); $0.append(r.cellOverhead)
            }
        }
        if let d = delayDistribution { b.nest(Self.delayDistType) { for v in d { $0.append(v) } } }
        if let d = slotDistribution { b.nest(Self.slotDistType) { for v in d { $0.append(v) } } }
        if let l = latency64 { b.put(Self.latency64Type, bytes: NetlinkBuilder.le(l)) }
        if let j = jitter64 { b.put(Self.jitter64Type, bytes: NetlinkBuilder.le(j)) }
        if let s = prngSeed { b.put(Self.prngSeedType, bytes: NetlinkBuilder.le(s)) }
        return b.bytes
    }
}
