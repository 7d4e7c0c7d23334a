@testable import Impairment
import Testing

/// Which stages on one router hand a packet on to the next (`ForwardingStages`), and with which
/// marks: the rules the kernel then walks are in UserspaceEngineTests (stagesInSeries*).
@Suite("Forwarding stages on one router")
struct ForwardingStagesTests {
    typealias Path = UserspaceEngine.ForwardingPath
    static let fromClient = Path(name: "client→router", inInterface: "to-client", outInterface: nil)
    static let toServer = Path(name: "router→server", inInterface: nil, outInterface: "to-server")
    static let fromServer = Path(name: "server→router", inInterface: "to-server", outInterface: nil)
    static let toClient = Path(name: "router→client", inInterface: nil, outInterface: "to-client")

    @Test("a lone stage accepts and its rule checks no bit")
    func lone() {
        let stages = ForwardingStages([Self.toServer])
        #expect(stages.pass(0) == .accept)
        #expect(stages.passedBit(0) == nil)
        #expect(!stages.chains)
    }

    @Test("the two directions of one link never meet: no chaining")
    func oneLinkBothWays() {
        let stages = ForwardingStages([Self.toServer, Self.fromServer])
        #expect(!stages.chains, "in from the server and out to the server is a hairpin")
        #expect(stages.pass(0) == .accept && stages.pass(1) == .accept)
    }

    @Test("in from the client, then out to the server: the first repeats with its bit, the second accepts")
    func clientToServer() {
        let stages = ForwardingStages([Self.fromClient, Self.toServer])
        #expect(stages.pass(0) == ForwardingStages.Pass(verdict: NFQ.repeat, mark: 0x1_0000))
        #expect(stages.pass(1) == .accept)
        #expect(stages.passedBit(0) == 0x1_0000)
        #expect(stages.passedBit(1) == 0x2_0000)
    }

    @Test("four stages of a line: each repeats with the bits of every stage up to it while a later one can take its packets")
    func fullLine() {
        let stages = ForwardingStages([Self.fromClient, Self.toServer, Self.fromServer, Self.toClient])
        #expect(stages.pass(0) == ForwardingStages.Pass(verdict: NFQ.repeat, mark: 0x1_0000))   // → to-server
        #expect(stages.pass(1) == .accept)                                                      // nothing after takes to-server packets
        #expect(stages.pass(2) == ForwardingStages.Pass(verdict: NFQ.repeat, mark: 0x7_0000))   // → to-client
        #expect(stages.pass(3) == .accept)
        #expect((0..<4).compactMap(stages.passedBit) == [0x1_0000, 0x2_0000, 0x4_0000, 0x8_0000])
    }

    @Test("the rule of a chained stage skips packets with its bit, and injected copies")
    func ruleArguments() {
        let rule = FirewallRule(ipv6: false, inInterface: "to-client", outInterface: nil, queue: 64000,
                                mark: UserspaceEngine.injectMark, passedBit: 0x1_0000)
        #expect(rule.arguments("-A") == ["iptables", "-w", "-A", "FORWARD", "-i", "to-client",
                                         "-m", "mark", "!", "--mark", "0xfa17",
                                         "-m", "mark", "!", "--mark", "0x10000/0x10000",
                                         "-j", "NFQUEUE", "--queue-num", "64000"])
    }
}
