import Impairment
import Testing

@Suite("Impairment model: validation names the key and says what is wrong")
struct ModelValidationTests {
    let link = LinkDirection(from: "router", to: "server")

    func issues(_ p: ImpairmentParameters) -> [String] {
        ImpairmentSpec(link: link, parameters: p).validate(at: "impairments[0]").map(\.description)
    }

    @Test("loss 150% is out of range")
    func lossRange() throws {
        let spec = ImpairmentSpec(link: link, parameters: .init(loss: .random(probability: Percentage(150))))
        let found = spec.validate(at: "impairments[0]")
        #expect(found == [ModelIssue(.error, "impairments[0].loss.probability", "loss: 150% is out of range, expected 0%–100%")])
        #expect(found.first?.description == "impairments[0].loss.probability: loss: 150% is out of range, expected 0%–100%")
        #expect(throws: ImpairmentValidationError(issues: found)) { try spec.validated(at: "impairments[0]") }
    }

    @Test("negative delay and jitter")
    func negative() {
        #expect(issues(.init(delay: .init(delay: .ms(-5), jitter: .ms(-1)))) == [
            "impairments[0].delay.delay: delay: -5ms is negative, expected 0 or more",
            "impairments[0].delay.jitter: jitter: -1ms is negative, expected 0 or more",
        ])
    }

    @Test("jitter that can draw negative delays is a warning that says what netem does")
    func jitterLargerThanDelay() throws {
        #expect(issues(.init(delay: .init(delay: .ms(10), jitter: .ms(20)))) == [
            "warning: impairments[0].delay.jitter: jitter: delay 10ms with jitter 20ms (uniform) can draw delays down to -10ms; netem sends such packets at once (as if the delay were 0), ahead of packets still waiting, so they arrive reordered and the mean delay is higher than 10ms would suggest",
        ])
        // normal reaches −4σ: 50ms ± 20ms can go to −30ms.
        #expect(issues(.init(delay: .init(delay: .ms(50), jitter: .ms(20), distribution: .normal))).first?
            .hasPrefix("warning: impairments[0].delay.jitter: jitter: delay 50ms with jitter 20ms (normal) can draw delays down to -30ms;") == true)
        // pareto only reaches −0.67σ: no warning.
        #expect(issues(.init(delay: .init(delay: .ms(50), jitter: .ms(20), distribution: .pareto))) == [])
        let spec = ImpairmentSpec(link: link, parameters: .init(delay: .init(delay: .ms(10), jitter: .ms(20))))
        #expect(try spec.validated() == spec)  // warnings do not block
    }

    @Test("correlations out of range, each with its key")
    func correlations() {
        let found = issues(.init(delay: .init(delay: .ms(10), jitter: .ms(1), correlation: Percentage(101)),
                                 duplicate: .init(probability: Percentage(1), correlation: Percentage(-1)),
                                 corrupt: .init(probability: Percentage(200))))
        #expect(found == [
            "impairments[0].delay.correlation: delay correlation: 101% is out of range, expected 0%–100%",
            "impairments[0].duplicate.correlation: duplicate correlation: -1% is out of range, expected 0%–100%",
            "impairments[0].corrupt.probability: corrupt: 200% is out of range, expected 0%–100%",
        ])
    }

    @Test("reorder without delay explains why netem needs one")
    func reorderWithoutDelay() {
        #expect(issues(.init(reorder: .init(probability: Percentage(25)))) == [
            "impairments[0].reorder.probability: reorder: 25% needs a delay: netem reorders by sending the chosen packets at once while the others wait for the delay; with no delay nothing waits, so nothing can be overtaken (add e.g. delay: 10ms)",
        ])
    }

    @Test("gap without reorder probability, and gap 0")
    func gap() {
        #expect(issues(.init(delay: .init(delay: .ms(10)), reorder: .init(probability: .zero, gap: 5))) == [
            "impairments[0].reorder.gap: gap: 5 needs a reorder probability above 0 (gap only spaces out reordered packets; tc refuses it too)",
        ])
        #expect(issues(.init(delay: .init(delay: .ms(10)), reorder: .init(probability: Percentage(5), gap: 0))) == [
            "impairments[0].reorder.gap: gap: 0 is not a gap; expected 1 or more (1: every packet may be reordered, N: N−1 packets are delayed after each reordered one), or leave it out",
        ])
    }

    @Test("distribution without jitter, ecn without loss, zero limit, bad slot, tiny rate")
    func combinations() {
        #expect(issues(.init(delay: .init(delay: .ms(10), distribution: .normal))) == [
            "impairments[0].delay.distribution: distribution: normal needs a jitter above 0 (the distribution shapes the jitter around the delay; tc refuses it too)",
        ])
        #expect(issues(.init(delay: .init(delay: .ms(10)), ecn: true)) == [
            "impairments[0].ecn: ecn: needs a loss model (ecn marks ECN-capable packets that netem would drop; with no loss there is nothing to mark)",
        ])
        #expect(issues(.init(limit: 0)) == [
            "impairments[0].limit: limit: 0 packets would drop every packet; expected 1 or more (netem's default is 1000)",
        ])
        #expect(issues(.init(delay: .init(delay: .seconds(10), jitter: .seconds(3)))) == [
            "impairments[0].delay.jitter: jitter: 3s is above 2.147483647s, the most netem's random draw handles (it takes jitter as 32 bits)",
        ])
        #expect(issues(.init(slot: .init(timing: .range(min: .ms(5), max: .ms(1))))) == [
            "impairments[0].slot.max: slot max: 1ms is below slot min 5ms",
        ])
        #expect(issues(.init(rate: .init(rate: Rate(bitsPerSecond: 7)))) == [
            "impairments[0].rate.rate: rate: 7bit is below 8bit (1 byte/s), the smallest rate the kernel takes",
        ])
        #expect(issues(.init(loss: .gilbertElliott(.init(p: Percentage(1), r: Percentage(120))))) == [
            "impairments[0].loss.r: loss gemodel r: 120% is out of range, expected 0%–100%",
        ])
        #expect(issues(.init(loss: .fourState(.init(p13: Percentage(60), p14: Percentage(50))))) == [
            "impairments[0].loss.p14: loss state: p13 60% + p14 50% exceed 100%; from state 1 the chances of leaving must add up to at most 100%",
        ])
    }

    @Test("targeted actions, matches and schedules")
    func actionsAndSchedule() {
        let spec = ImpairmentSpec(
            link: link,
            parameters: .init(delay: .init(delay: .ms(2))),
            actions: [
                .init(match: .tcpData, nth: [5, 6], action: .drop),
                .init(match: .init(transport: .icmp, destinationPort: PortRange(80)), nth: [0, 3, 3], action: .delay(.ms(-1))),
            ],
            schedule: [
                .init(at: .seconds(2), parameters: .init(delay: .init(delay: .ms(400)))),
                .init(at: .seconds(3), mode: .replace, parameters: .init(reorder: .init(probability: Percentage(5)))),
                .init(at: .seconds(3), parameters: .init(loss: .random(probability: Percentage(1)))),
            ],
            engine: .kernel)
        #expect(spec.validate(at: "impairments[2]").map(\.description) == [
            "impairments[2].actions[1].match.destinationPort: port: ports exist only for tcp and udp, but transport is icmp",
            "impairments[2].actions[1].nth: nth: 0 is not a packet number; counting starts at 1 (the first matching packet)",
            "impairments[2].actions[1].nth: nth: [0, 3, 3] lists a packet twice",
            "impairments[2].actions[1].action: delay: -1ms is negative, expected 0 or more",
            "impairments[2].schedule[1].reorder.probability: reorder: 5% needs a delay: netem reorders by sending the chosen packets at once while the others wait for the delay; with no delay nothing waits, so nothing can be overtaken (add e.g. delay: 10ms)",
            "impairments[2].schedule[2].at: at: 3s is also the time of schedule[1]; merge the two changes into one",
            "impairments[2].engine: engine: netem cannot do actions (netem cannot pick the n-th packet); remove `engine: netem` to let Faultline use the userspace engine",
        ])
    }

    @Test("a clean spec has no issues")
    func clean() throws {
        let spec = ImpairmentSpec(link: link, parameters: .init(
            delay: .init(delay: .ms(20), jitter: .ms(5), correlation: Percentage(25), distribution: .normal),
            loss: .random(probability: Percentage(1)), reorder: .init(probability: Percentage(5), gap: 3),
            rate: .init(rate: .mbit(10)), ecn: true))
        #expect(spec.validate() == [])
    }
}
