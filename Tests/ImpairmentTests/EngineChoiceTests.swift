import Impairment
import Testing

/// The engine for each impairment, decided from the spec's every state, the run's `--engine`
/// and the kernel's answer to netem — before anything is installed.
@Suite("Engine choice")
struct EngineChoiceTests {
    static let refusal = "RTM_NEWQDISC kind \"netem\": ENOENT, kernel says \"Specified qdisc kind is unknown\""

    func spec(_ parameters: ImpairmentParameters = .init(delay: .init(delay: .ms(10))), engine: ImpairmentSpec.Engine = .automatic,
              match: PacketMatch? = nil, schedule: [ScheduledChange] = []) throws -> ImpairmentSpec {
        ImpairmentSpec(link: try LinkDirection(parsing: "router→server"), match: match, parameters: parameters,
                       schedule: schedule, engine: engine)
    }

    @Test("auto: the kernel when it has netem; userspace as a fallback that quotes the kernel's refusal")
    func automatic() throws {
        let delay = try spec()
        #expect(try EngineChoice.decide(delay, preference: .auto, netemRefusal: nil)
                == .init(engine: .kernel, reason: .chosen, detail: "the kernel has netem and can express it"))
        let fallback = try EngineChoice.decide(delay, preference: .auto, netemRefusal: Self.refusal)
        #expect(fallback.engine == .userspace && fallback.reason == .fallback)
        #expect(fallback.detail == "the kernel refused netem: \(Self.refusal)")
    }

    @Test("a plain rate needs only tbf, so netem's absence does not move it")
    func rateOnly() throws {
        let rate = try spec(.init(rate: RateLimit(rate: try Rate(parsing: "10mbit"))))
        #expect(!rate.needsNetem)
        let choice = try EngineChoice.decide(rate, preference: .auto, netemRefusal: Self.refusal)
        #expect(choice.engine == .kernel && choice.detail == "tbf alone carries it")
    }

    @Test("an impairment that starts empty and gains a delay later needs netem from the start (the #14 defect: a scheduled change chose no engine)")
    func laterStates() throws {
        let later = try spec(.none, schedule: [ScheduledChange(at: .seconds(1), parameters: .init(delay: .init(delay: .ms(20))))])
        #expect(later.allParameters.count == 2 && later.needsNetem)
        #expect(try EngineChoice.decide(later, preference: .auto, netemRefusal: Self.refusal).engine == .userspace)
    }

    @Test("--engine kernel refuses what netem cannot express, naming the key; --engine userspace pins")
    func preferences() throws {
        let matched = try spec(match: .tcpData)
        #expect(throws: EngineChoice.Refusal.self) { try EngineChoice.decide(matched, preference: .kernel, netemRefusal: nil) }
        do {
            _ = try EngineChoice.decide(matched, preference: .kernel, netemRefusal: nil)
        } catch {
            #expect(error.description.hasPrefix("--engine kernel, but netem cannot express match"))
        }
        #expect(try EngineChoice.decide(matched, preference: .auto, netemRefusal: nil).engine == .userspace)
        #expect(try EngineChoice.decide(try spec(), preference: .userspace, netemRefusal: nil)
                == .init(engine: .userspace, reason: .pinned, detail: "--engine userspace"))
        #expect(try EngineChoice.decide(try spec(), preference: .kernel, netemRefusal: Self.refusal)
                == .init(engine: .kernel, reason: .pinned, detail: "--engine kernel"))
    }

    @Test("the scenario's own pin wins over --engine")
    func scenarioPins() throws {
        let pinned = try spec(engine: .userspace)
        #expect(try EngineChoice.decide(pinned, preference: .kernel, netemRefusal: nil)
                == .init(engine: .userspace, reason: .pinned, detail: "the scenario pins engine: userspace"))
        let netem = try spec(engine: .kernel)
        #expect(try EngineChoice.decide(netem, preference: .userspace, netemRefusal: nil).engine == .kernel)
    }
}
