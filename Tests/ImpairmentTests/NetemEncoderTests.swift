import Netlink
import Impairment
import Testing

/// What the encoder does beyond tc 6.1's vocabulary, and how the plan splits netem and tbf.
@Suite("netem encoder: beyond tc 6.1, and the qdisc plan")
struct NetemEncoderTests {
    let clock = PschedClock(t2us: 1000, us2t: 64, clockResolution: 1_000_000, hz: 1_000_000_000)

    @Test("the tick arithmetic is tc's")
    func ticks() {
        #expect(clock.ticksPerMicrosecond == 15.625)
        #expect(clock.nanosecondsPerTick == 64)
        #expect(clock.ticks(microseconds: 20_000) == 312_500)
        #expect(clock.ticks(microseconds: 300) == 4687)  // 4687.5 truncated, as tc does
        #expect(clock.nanoseconds(ticks: 4687) == 299_968)
        #expect(clock.overflowsTicks(microseconds: 274_877_906) == false)
        #expect(clock.overflowsTicks(microseconds: 274_877_907) == true)
        #expect(clock.transmissionTicks(rateBytesPerSecond: 125_000, size: 4096) == 512_000)
        #expect(clock.description == "000003e8 00000040 000f4240 3b9aca00")
    }

    @Test("a seed travels as TCA_NETEM_PRNG_SEED (type 14, u64) after everything tc sends")
    func seed() throws {
        let options = try NetemEncoder(clock: clock).options(.init(delay: .init(delay: .ms(1))), seed: 0x0102_0304_0506_0708)
        #expect(options.count == 24 + 12)
        #expect(Array(options.suffix(12)) == [12, 0, 14, 0, 8, 7, 6, 5, 4, 3, 2, 1])
        #expect(try NetemConfiguration(options: options[...]).prngSeed == 0x0102_0304_0506_0708)
    }

    @Test("delays beyond 32-bit ticks go as TCA_NETEM_LATENCY64/JITTER64 in ns")
    func latency64() throws {
        let c = try NetemEncoder(clock: clock).configuration(.init(delay: .init(delay: .seconds(300), jitter: .ms(5))))
        #expect(c.latencyTicks == UInt32.max && c.latency64 == 300_000_000_000)
        #expect(c.jitter64 == nil && c.jitterTicks == 78_125)
        let back = try NetemConfiguration(options: c.serialized()[...])
        #expect(back == c)
        #expect(NetemEffective(back, clock: clock).latencyNanoseconds == 300_000_000_000)
    }

    @Test("duplicate correlation is sent (tc 6.1 drops it)")
    func duplicateCorrelation() throws {
        let c = try NetemEncoder(clock: clock).configuration(.init(duplicate: .init(probability: Percentage(1), correlation: Percentage(10))))
        #expect(c.correlation == .init(duplicate: Percentage(10).netemScaled))
    }

    @Test("Gilbert–Elliott: the kernel gets h, not 1-h")
    func gilbertElliott() throws {
        let c = try NetemEncoder(clock: clock).configuration(.init(loss: .gilbertElliott(.init(p: Percentage(1), r: Percentage(10),
                                                                                             lossInBad: Percentage(70), lossInGood: Percentage(0.1)))))
        #expect(c.lossModel == .gilbertElliott(p: Percentage(1).netemScaled, r: Percentage(10).netemScaled,
                                               h: UInt32.max - Percentage(70).netemScaled, k1: Percentage(0.1).netemScaled))
        #expect(c.loss == 0)
    }

    @Test("a uniform slot distribution is sent as netem's min/max range (netem ignores dist_delay without a table)")
    func uniformSlot() throws {
        let c = try NetemEncoder(clock: clock).configuration(.init(slot: .init(timing: .distribution(.uniform, delay: .ms(3), jitter: .ms(1)))))
        #expect(c.slot == .init(minDelay: 2_000_000, maxDelay: 4_000_000))
        #expect(c.slotDistribution == nil)
    }

    @Test("decoding reports the byte offset of a truncated attribute")
    func decodingErrors() {
        var bytes = [UInt8](repeating: 0, count: 24)
        bytes += [16, 0, 1, 0, 0, 0]  // TCA_NETEM_CORR claiming 16 bytes, 6 present
        #expect(throws: NetlinkDecodingError(offset: 124, reason: "attribute type 1: length 16 runs past the end (6 bytes left)")) {
            try NetemConfiguration(options: bytes[...], baseOffset: 100)
        }
        #expect(throws: NetlinkDecodingError(offset: 0, reason: "tc_netem_qopt.latency: needs 4 bytes, only 2 left")) {
            try NetemConfiguration(options: [1, 2][...])
        }
    }

    @Test("plans: rate alone is a tbf; rate with delay rides in netem; a byte queue adds a tbf child")
    func plans() throws {
        let rateOnly = try KernelPlan(parameters: .init(rate: .init(rate: .mbit(10))), seed: nil, clock: clock)
        #expect(rateOnly.qdiscs.map(\.kind) == ["tbf"] && !rateOnly.needsNetem)

        let both = try KernelPlan(parameters: .init(delay: .init(delay: .ms(5)), rate: .init(rate: .mbit(10))), seed: nil, clock: clock)
        #expect(both.qdiscs.map(\.kind) == ["netem"])
        #expect(try NetemConfiguration(options: both.qdiscs[0].options[...]).rate?.rate == 1_250_000)

        let split = try KernelPlan(parameters: .init(delay: .init(delay: .ms(5)), rate: .init(rate: .mbit(10), queueLimit: .bytes(.kib(64)))),
                                   seed: nil, clock: clock)
        #expect(split.qdiscs.map(\.kind) == ["netem", "tbf"])
        #expect(split.qdiscs[1].parent == KernelPlan.netemChildParent && split.qdiscs[1].handle == KernelPlan.childTbfHandle)
        #expect(try NetemConfiguration(options: split.qdiscs[0].options[...]).rate == nil)
        #expect(try TbfConfiguration(options: split.qdiscs[1].options[...]).limit == 65_536)

        #expect(try KernelPlan(parameters: .none, seed: nil, clock: clock).qdiscs.isEmpty)
        let cells = try KernelPlan(parameters: .init(rate: .init(rate: .mbit(1), cellSize: 100)), seed: nil, clock: clock)
        #expect(cells.qdiscs.map(\.kind) == ["netem"])  // tbf knows only ATM cells
    }

    @Test("schedule changes: same shape is `change`, a new shape replaces the root, nothing left deletes it")
    func steps() throws {
        let slow = try KernelPlan(parameters: .init(delay: .init(delay: .ms(2))), seed: nil, clock: clock)
        let slower = try KernelPlan(parameters: .init(delay: .init(delay: .ms(400))), seed: nil, clock: clock)
        #expect(slow.steps(toReach: slower) == [.apply(slower.qdiscs[0], .change)])
        #expect(slow.steps(toReach: slow) == [])
        let rateOnly = try KernelPlan(parameters: .init(rate: .init(rate: .mbit(1))), seed: nil, clock: clock)
        #expect(rateOnly.steps(toReach: slower) == [.apply(slower.qdiscs[0], .replace)])
        #expect(slow.steps(toReach: KernelPlan(qdiscs: [])) == [.deleteRoot])
        #expect(KernelPlan(qdiscs: []).steps(toReach: slow) == [.apply(slow.qdiscs[0], .add)])
    }

    @Test("match and targeted actions cannot go to the kernel engine")
    func cannotExpress() {
        let spec = ImpairmentSpec(link: LinkDirection(from: "client", to: "router"), match: .tcpData,
                                  actions: [.init(match: .tcpSYN, nth: [1], action: .drop)])
        #expect(throws: KernelEngineError.cannotExpress([
            "match (netem applies to every packet of the link)",
            "actions (netem cannot pick the n-th packet)",
        ])) {
            try KernelPlan(spec: spec, clock: clock)
        }
    }
}
