/// Turns model parameters into netem's TCA_OPTIONS exactly as iproute2 6.1's
/// `tc qdisc add dev X root netem …` builds them (q_netem.c), given this machine's
/// `/proc/net/psched` clock and tc's distribution tables.
///
/// Deliberate differences from tc 6.1, each for a value tc cannot express:
/// - a duplicate correlation is sent (in TCA_NETEM_CORR); tc 6.1 parses it but forgets to mark
///   TCA_NETEM_CORR present, so `duplicate 1% 10%` reaches the kernel without the 10%;
/// - `seed` is sent as TCA_NETEM_PRNG_SEED (tc 6.1 has no `seed` keyword);
/// - delay or jitter too long for 32-bit ticks (about 274 s here) is sent as
///   TCA_NETEM_LATENCY64 / TCA_NETEM_JITTER64 in ns (tc 6.1 refuses: "time (too large)").
/// Precision: like tc, delay and jitter go through whole microseconds then ticks of 64 ns
/// (truncated), so 0.3ms reaches the kernel as 4687 ticks = 299 968 ns. Slot times are exact ns.
public struct NetemEncoder: Sendable {
    public var clock: PschedClock
    public var tableDirectories: [String]

    public init(clock: PschedClock, tableDirectories: [String] = DistributionTable.searchDirectories) {
        self.clock = clock
        self.tableDirectories = tableDirectories
    }

    /// The configuration for `p` (validate the model first: this does not re-check ranges).
    /// - Parameter includeRate: false when a separate tbf carries the rate.
    public func configuration(_ p: ImpairmentParameters, seed: UInt64? = nil,
                              includeRate: Bool = true) throws(KernelEngineError) -> NetemConfiguration {
        var c = NetemConfiguration()
        var anyCorrelation = false
        var corr = NetemConfiguration.Correlation()

        if let d = p.delay {
            (c.latencyTicks, c.latency64) = try ticks(d.delay, key: "delay")
            (c.jitterTicks, c.jitter64) = try ticks(d.jitter, key: "jitter")
            corr.delay = d.correlation.netemScaled
            anyCorrelation = anyCorrelation || corr.delay != 0
            if let dist = d.distribution, let table = try DistributionTable.load(dist, directories: tableDirectories) {
                c.delayDistribution = table.samples
            }
        }
        switch p.loss {
        case .random(let probability, let correlation)?:
            c.loss = probability.netemScaled
            corr.loss = correlation.netemScaled
            anyCorrelation = anyCorrelation || corr.loss != 0
        case .gilbertElliott(let ge)?:
            c.lossModel = .gilbertElliott(p: ge.p.netemScaled, r: ge.r.netemScaled,
                                          h: UInt32.max - ge.lossInBad.netemScaled, k1: ge.lossInGood.netemScaled)
        case .fourState(let s)?:
            c.lossModel = .fourState(p13: s.p13.netemScaled, p31: s.p31.netemScaled, p32: s.p32.netemScaled,
                                     p14: s.p14.netemScaled, p23: s.p23.netemScaled)
        case nil:
            break
        }
        if let d = p.duplicate {
            c.duplicate = d.probability.netemScaled
            corr.duplicate = d.correlation.netemScaled
            anyCorrelation = anyCorrelation || corr.duplicate != 0
        }
        if let r = p.reorder {
            let pair = NetemConfiguration.ProbabilityPair(probability: r.probability.netemScaled, correlation: r.correlation.netemScaled)
            c.reorder = pair
            anyCorrelation = anyCorrelation || pair.correlation != 0
            c.gap = r.gap ?? 0
            if pair.probability != 0, c.gap == 0 { c.gap = 1 }  // tc: reorder without gap means gap 1
        }
        if let k = p.corrupt {
            let pair = NetemConfiguration.ProbabilityPair(probability: k.probability.netemScaled, correlation: k.correlation.netemScaled)
            c.corrupt = pair
            anyCorrelation = anyCorrelation || pair.correlation != 0
        }
        if anyCorrelation { c.correlation = corr }
        c.ecn = p.ecn == true

        if includeRate, let r = p.rate {
            let bytes = r.rate.bytesPerSecond
            var spec = NetemConfiguration.RateParameters(rate: UInt32(truncatingIfNeeded: bytes), packetOverhead: r.packetOverhead,
                                                         cellSize: r.cellSize, cellOverhead: r.cellOverhead)
            if bytes >= 1 << 32 {
                c.rate64 = bytes
                spec.rate = UInt32.max
            }
            c.rate = spec
        }
        var limit = p.limit
        if limit == nil, includeRate, case .packets(let n)? = p.rate?.queueLimit { limit = n }
        c.limit = limit ?? 1000

        if let s = p.slot {
            var slot = NetemConfiguration.SlotParameters()
            switch s.timing {
            case .range(let lo, let hi):
                slot.minDelay = lo.nanoseconds
                slot.maxDelay = hi.nanoseconds
            case .distribution(.uniform, let delay, let jitter):
                // Without a table netem draws slots from [min, max], ignoring dist_delay/jitter,
                // so uniform is sent as that range (tc has no uniform.dist to send).
                slot.minDelay = max(0, delay.nanoseconds - jitter.nanoseconds)
                slot.maxDelay = delay.nanoseconds + jitter.nanoseconds
            case .distribution(let dist, let delay, let jitter):
                slot.distDelay = delay.nanoseconds
                slot.distJitter = jitter.nanoseconds
                if let table = try DistributionTable.load(dist, directories: tableDirectories) {
                    c.slotDistribution = table.samples
                }
            }
            slot.maxPackets = Int32(clamping: s.maxPackets ?? 0)
            slot.maxBytes = Int32(clamping: s.maxBytes?.bytes ?? 0)
            c.slot = slot
        }
        c.prngSeed = seed
        return c
    }

    /// The TCA_OPTIONS payload for `p`.
    public func options(_ p: ImpairmentParameters, seed: UInt64? = nil, includeRate: Bool = true) throws(KernelEngineError) -> [UInt8] {
        try configuration(p, seed: seed, includeRate: includeRate).serialized()
    }

    /// tc's get_ticks: whole µs (truncated), then ticks; LATENCY64/JITTER64 when it does not fit.
    private func ticks(_ t: Interval, key: String) throws(KernelEngineError) -> (UInt32, Int64?) {
        guard t.nanoseconds >= 0 else {
            throw .valueOutOfRange(key: key, value: t.description, limit: "0 or more")
        }
        let us = t.nanoseconds / 1000
        if us > Int64(UInt32.max) || clock.overflowsTicks(microseconds: UInt32(us)) {
            return (UInt32.max, t.nanoseconds)
        }
        return (clock.ticks(microseconds: UInt32(us)), nil)
    }
}
