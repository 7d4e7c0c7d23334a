import Impairment
import Netlink
import Testing
import TestSupport

/// The kernel boundary, in fresh namespaces: this kernel has no sch_netem (the request must fail
/// exactly as `tc` sees it fail), and tbf works (what we send is what the kernel keeps).
@Suite("Kernel engine against the real kernel")
struct NetemKernelTests {
    /// A namespace with a veth pair (both ends inside), im0 up.
    func lab(_ label: String) throws -> (NetworkNamespace, NetlinkHandle) {
        let ns = try NetworkNamespace.create(label: label)
        do {
            let handle = try ns.netlink()
            try handle.addVeth(VethPair(name: "im0", in: ns, peer: "im1", in: ns))
            try handle.setLinkUp("im0")
            return (ns, handle)
        } catch {
            ns.destroy()
            throw error
        }
    }

    @Test("RTM_NEWQDISC kind netem fails with ENOENT and \"Specified qdisc kind is unknown\", typed as netemUnavailable")
    func netemUnavailable() throws {
        let (ns, handle) = try lab("netem-probe")
        defer { ns.destroy() }
        let clock = try PschedClock.current()
        let plan = try KernelPlan(parameters: .init(delay: .init(delay: .ms(20), jitter: .ms(5), distribution: .normal),
                                                    loss: .random(probability: Percentage(1))),
                                  seed: 7, clock: clock)
        #expect(plan.needsNetem)
        let request = try #require(plan.qdiscs.first)
        #expect(request.kind == "netem" && plan.qdiscs.count == 1)

        // What goes on the socket is our message: the Netlink module frames our options.
        let index = try handle.link("im0").index
        let sent = NetlinkHandle.qdiscMessage(request.qdisc(interface: "im0"), interfaceIndex: index, operation: .add)
        var numbered = sent
        numbered.sequence = 99
        #expect(numbered.finished == request.message(interfaceIndex: index, operation: .add, sequence: 99))
        let decoded = try QdiscMessage(bytes: numbered.finished)
        #expect(decoded.kind == "netem" && decoded.flags == 0x0605 && decoded.interfaceIndex == index)
        let options = try NetemConfiguration(options: try #require(decoded.options)[...])
        #expect(options.prngSeed == 7 && options.delayDistribution?.count == 4096)

        do {
            try handle.apply(request.qdisc(interface: "im0"), .add)
            Issue.record("the kernel accepted netem: this machine has sch_netem, so the netem-absent expectations do not hold here")
        } catch {
            #expect(error.errno == .ENOENT)
            #expect(error.kernelMessage == "Specified qdisc kind is unknown")
            let typed = KernelEngineError.classify(error, kind: "netem")
            #expect(typed == .netemUnavailable(error))
            let text = typed.description
            #expect(text.hasPrefix("netem is not available in this kernel ("))
            #expect(text.contains("ENOENT, kernel says \"Specified qdisc kind is unknown\")"))
            #expect(text.hasSuffix("Load it with `modprobe sch_netem` (on some distributions it ships in linux-modules-extra), or use the userspace engine: Faultline switches to it automatically unless the scenario pins `engine: netem`."))
        }
        // Nothing was installed.
        #expect(try handle.qdiscs(interface: "im0").contains { $0.kind == "netem" } == false)
    }

    @Test("a tbf error other than a missing module stays a plain kernel refusal")
    func otherRefusal() throws {
        let (ns, handle) = try lab("tbf-refusal")
        defer { ns.destroy() }
        // `change` on an interface with no such qdisc: the kernel refuses, netem is not the reason.
        let request = try #require(try KernelPlan(parameters: .init(rate: .init(rate: .mbit(1))), seed: nil,
                                                  clock: PschedClock.current()).qdiscs.first)
        do {
            try handle.apply(request.qdisc(interface: "im0"), .change)
            Issue.record("change of a missing qdisc was accepted")
        } catch {
            #expect(error.errno == .ENOENT)
            #expect(error.kernelMessage == "Qdisc not found. To create specify NLM_F_CREATE flag")
            guard case .qdiscRefused = KernelEngineError.classify(error, kind: "tbf") else {
                Issue.record("expected qdiscRefused for \(error)")
                return
            }
        }
    }

    @Test("tbf add succeeds; RTM_GETQDISC reads back the rate, limit and buffer we sent; change updates the rate")
    func tbfRoundTrip() throws {
        let (ns, handle) = try lab("tbf-ok")
        defer { ns.destroy() }
        let clock = try PschedClock.current()
        let limiter = RateLimit(rate: try Rate(parsing: "1mbit"), queueLimit: .bytes(try ByteCount(parsing: "10k")),
                                burst: try ByteCount(parsing: "32kbit"))
        let plan = try KernelPlan(parameters: .init(rate: limiter), seed: nil, clock: clock)
        #expect(plan.qdiscs.map(\.kind) == ["tbf"] && !plan.needsNetem)
        let request = try #require(plan.qdiscs.first)
        try handle.apply(request.qdisc(interface: "im0"), .add)

        let back = try #require(try handle.qdiscs(interface: "im0").first { $0.kind == "tbf" })
        #expect(back.handle == KernelPlan.netemHandle && back.parent == QdiscRequest.root)
        let kept = try TbfConfiguration(options: back.options[...])
        let sent = try TbfEncoder(clock: clock).configuration(limiter)
        #expect(kept.rate.rate == 125_000)
        #expect(kept.effectiveRate == 125_000)
        #expect(kept.limit == 10_240 && kept.limit == sent.limit)
        #expect(kept.buffer == sent.buffer && kept.buffer == 512_000)

        var faster = limiter
        faster.rate = try Rate(parsing: "2mbit")
        let change = try #require(try KernelPlan(parameters: .init(rate: faster), seed: nil, clock: clock).qdiscs.first)
        try handle.apply(change.qdisc(interface: "im0"), .change)
        let changed = try TbfConfiguration(options: try #require(try handle.qdiscs(interface: "im0").first { $0.kind == "tbf" }).options[...])
        #expect(changed.rate.rate == 250_000)
    }

    @Test("a rate above 2³² bytes/s travels as TCA_TBF_RATE64 and reads back")
    func tbfRate64() throws {
        let (ns, handle) = try lab("tbf-64")
        defer { ns.destroy() }
        let limiter = RateLimit(rate: try Rate(parsing: "50gbit"), queueLimit: .bytes(.mib(10)), burst: .mib(1))
        let request = try #require(try KernelPlan(parameters: .init(rate: limiter), seed: nil, clock: PschedClock.current()).qdiscs.first)
        try handle.apply(request.qdisc(interface: "im0"), .add)
        let kept = try TbfConfiguration(options: try #require(try handle.qdiscs(interface: "im0").first { $0.kind == "tbf" }).options[...])
        #expect(kept.rate64 == 6_250_000_000)
        #expect(kept.effectiveRate == 6_250_000_000)
        #expect(kept.limit == 10 << 20)
    }
}
