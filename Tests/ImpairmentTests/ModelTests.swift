import Values
import Impairment
import Testing

#if canImport(Foundation)
import Foundation
#endif

@Suite("Impairment model: reading human values")
struct ModelParsingTests {
    static let durationCases: [(String, Int64)] = [
        ("20ms", 20_000_000), ("1.5s", 1_500_000_000), ("250us", 250_000), ("0", 0),
        ("7ns", 7), ("0.3ms", 300_000), ("2s", 2_000_000_000), ("1min", 60_000_000_000),
        ("400 ms", 400_000_000), ("-5ms", -5_000_000), ("10MS", 10_000_000), ("1.25usec", 1_250),
    ]

    @Test("durations", arguments: durationCases)
    func durations(text: String, nanoseconds: Int64) throws {
        #expect(try Interval(parsing: text).nanoseconds == nanoseconds)
    }

    @Test("durations print in their shortest exact form and read back")
    func durationText() throws {
        for (ns, text) in [(Int64(20_000_000), "20ms"), (1_500_000_000, "1.5s"), (250_000, "250us"), (0, "0"),
                           (7, "7ns"), (1_234_567, "1234.567us"), (1_234_567_891, "1234567.891us"), (-5_000_000, "-5ms"), (300_000, "300us")] {
            #expect(Interval(nanoseconds: ns).description == text)
            #expect(try Interval(parsing: text).nanoseconds == ns)
        }
    }

    @Test("bad durations say what is wrong")
    func badDurations() {
        #expect(throws: ValueParseError(kind: "duration", text: "20", reason: "a unit is needed (tc reads a bare number as microseconds for delay but nanoseconds for slot); expected a number and a unit (ns, us, ms, s, min, h), e.g. \"20ms\", \"1.5s\", \"250us\", \"0\"")) {
            try Interval(parsing: "20")
        }
        #expect(throws: ValueParseError(kind: "duration", text: "20xs", reason: "unknown unit \"xs\"; expected a number and a unit (ns, us, ms, s, min, h), e.g. \"20ms\", \"1.5s\", \"250us\", \"0\"")) {
            try Interval(parsing: "20xs")
        }
        #expect(throws: ValueParseError.self) { try Interval(parsing: "1.5ns") }
        #expect(throws: ValueParseError.self) { try Interval(parsing: "ms") }
        #expect(throws: ValueParseError.self) { try Interval(parsing: "") }
    }

    static let rateCases: [(String, UInt64)] = [
        ("10mbit", 10_000_000), ("1gbit", 1_000_000_000), ("500kbit", 500_000), ("1Mbps", 8_000_000),
        ("1mbps", 8_000_000), ("125KBps", 1_000_000), ("1.5mbit", 1_500_000), ("1000", 1000), ("8bit", 8),
        ("1kibit", 1024), ("1MiBps", 8 * 1024 * 1024), ("40gbit", 40_000_000_000), ("1tbit", 1_000_000_000_000),
    ]

    @Test("rates follow tc's units (case-insensitive; Bps means bytes)", arguments: rateCases)
    func rates(text: String, bits: UInt64) throws {
        #expect(try Rate(parsing: text).bitsPerSecond == bits)
    }

    @Test("rates print and convert to the kernel's bytes/s like tc")
    func rateText() throws {
        #expect(Rate.mbit(10).description == "10mbit")
        #expect(Rate(bitsPerSecond: 1_500_000).description == "1500kbit")
        #expect(Rate(bitsPerSecond: 1001).description == "1001bit")
        #expect(Rate(bitsPerSecond: 1001).bytesPerSecond == 125)
        #expect(throws: ValueParseError(kind: "rate", text: "10mbits", reason: "unknown unit \"mbits\"; expected a number and a unit like tc's: \"500kbit\", \"10mbit\", \"1gbit\" (bits/s) or \"125KBps\" (bytes/s)")) {
            try Rate(parsing: "10mbits")
        }
        #expect(throws: ValueParseError.self) { try Rate(parsing: "-1mbit") }
    }

    static let sizeCases: [(String, UInt64)] = [
        ("16KiB", 16_384), ("4MiB", 4 << 20), ("1500", 1500), ("32k", 32_768), ("32kb", 32_768),
        ("10mb", 10 << 20), ("1g", 1 << 30), ("32kbit", 4096), ("1.5k", 1536), ("64b", 64),
    ]

    @Test("sizes: IEC units, tc's 1024-based k/m/g, plain bytes", arguments: sizeCases)
    func sizes(text: String, bytes: UInt64) throws {
        #expect(try ByteCount(parsing: text).bytes == bytes)
    }

    @Test("sizes print with the largest exact binary unit")
    func sizeText() throws {
        #expect(ByteCount(bytes: 16_384).description == "16KiB")
        #expect(ByteCount(bytes: 4 << 20).description == "4MiB")
        #expect(ByteCount(bytes: 1500).description == "1500")
        #expect(throws: ValueParseError(kind: "size", text: "3 parsecs", reason: "unknown unit \"parsecs\"; expected a number of bytes with an optional unit, e.g. \"1500\", \"16KiB\", \"4MiB\" (k, m, g, KB, MB, GB are 1024-based, as in tc)")) {
            try ByteCount(parsing: "3 parsecs")
        }
    }

    @Test("percentages, and netem's 32-bit fixed point computed like tc")
    func percentages() throws {
        #expect(try Percentage(parsing: "1%").percent == 1)
        #expect(try Percentage(parsing: "0.5%").percent == 0.5)
        #expect(try Percentage(parsing: "25").percent == 25)
        #expect(try Percentage(parsing: "150%").percent == 150)  // parsed; validation refuses it
        #expect(Percentage(25).netemScaled == 0x4000_0000)
        #expect(Percentage(100).netemScaled == UInt32.max)
        #expect(Percentage(0).netemScaled == 0)
        #expect(Percentage(1).netemScaled == 0x028F_5C29)
        #expect(Percentage(0.5).description == "0.5%")
        #expect(throws: ValueParseError(kind: "percentage", text: "5 percent", reason: "unexpected \"percent\"; expected a percentage such as \"1%\", \"0.5%\" or \"100%\"")) {
            try Percentage(parsing: "5 percent")
        }
    }

    @Test("link directions: router→server is the router's egress toward the server")
    func links() throws {
        let l = try LinkDirection(parsing: "router→server")
        #expect(l.from == "router" && l.to == "server")
        #expect(try LinkDirection(parsing: "client -> router") == LinkDirection(from: "client", to: "router"))
        #expect(l.description == "router→server")
        #expect(throws: ValueParseError(kind: "link", text: "router", reason: "expected NODE→NODE (or NODE->NODE), e.g. \"router→server\" for the router's egress toward the server")) {
            try LinkDirection(parsing: "router")
        }
        #expect(throws: ValueParseError(kind: "link", text: "a→a", reason: "both ends are \"a\"; a link joins two different nodes")) {
            try LinkDirection(parsing: "a→a")
        }
    }

    @Test("matches: addresses, ports, flags")
    func matches() throws {
        let p = try IPPrefix(parsing: "198.18.0.0/15")
        #expect(try p.contains(#require(IPAddress("198.19.1.2"))) && !p.contains(#require(IPAddress("198.20.0.1"))))
        #expect(p.description == "198.18.0.0/15")
        let v6 = try IPPrefix(parsing: "fd00::1")
        #expect(v6.prefixLength == 128 && AddressMatch.prefix(v6).description == "fd00::1")
        #expect(try AddressMatch(parsing: "[fd00::1]") == .prefix(v6))
        #expect(try AddressMatch(parsing: "server") == .node("server"))
        #expect(try AddressMatch(parsing: "198.18.0.1") == .prefix(IPPrefix(host: IPAddress(ipv4: 198 << 24 | 18 << 16 | 1))))
        #expect(try PortRange(parsing: "1024-65535") == PortRange(1024, 65535))
        #expect(throws: ValueParseError.self) { try PortRange(parsing: "70000") }
        #expect(try TCPFlags(parsing: "syn|ack") == [.syn, .ack])
        #expect(PacketMatch.tcpSYN.tcpFlags?.matches([.syn]) == true)
        #expect(PacketMatch.tcpSYN.tcpFlags?.matches([.syn, .ack]) == false)
        #expect(PacketMatch.tcpPureACK.tcpFlags?.matches([.ack, .psh]) == true)
        #expect(PacketMatch.tcpPureACK.tcpFlags?.matches([.ack, .fin]) == false)
        #expect(throws: ValueParseError.self) { try TCPFlags(parsing: "syn|bogus") }
    }

    @Test("the rate limiter's wire length and pacing follow netem's packet_time_ns")
    func ratePacing() {
        let atm = RateLimit(rate: .mbit(1), packetOverhead: 14, cellSize: 48, cellOverhead: 5)
        // 100 + 14 = 114 bytes → 3 cells of 53
        #expect(atm.wireLength(of: 100) == 159)
        #expect(atm.transmissionTime(of: 100) == .us(1272))  // 159 B at 125000 B/s
        #expect(RateLimit(rate: .mbit(8)).transmissionTime(of: 1000) == .ms(1))
        #expect(RateLimit(rate: .mbit(100)).effectiveBurst == ByteCount(bytes: 12_500))
        #expect(RateLimit(rate: .kbit(500)).effectiveBurst == ByteCount(bytes: 1600))
    }

    @Test("schedule: at 2s raise delay from 2ms to 400ms (merge keeps the rest; replace does not)")
    func schedule() {
        let start = ImpairmentParameters(delay: .init(delay: .ms(2)), loss: .random(probability: Percentage(1)))
        let raise = ScheduledChange(at: .seconds(2), parameters: .init(delay: .init(delay: .ms(400))))
        let reset = ScheduledChange(at: .seconds(5), mode: .replace, parameters: .init(delay: .init(delay: .ms(1))))
        let changes = [reset, raise]
        #expect(changes.parameters(at: .ms(1999), initial: start) == start)
        #expect(changes.parameters(at: .seconds(2), initial: start)
                == ImpairmentParameters(delay: .init(delay: .ms(400)), loss: .random(probability: Percentage(1))))
        #expect(changes.parameters(at: .seconds(6), initial: start) == ImpairmentParameters(delay: .init(delay: .ms(1))))
    }

    @Test("loss model defaults are tc's")
    func lossDefaults() {
        let ge = GilbertElliott(p: Percentage(2))
        #expect(ge.r == Percentage(98) && ge.lossInBad == .hundred && ge.lossInGood == .zero)
        let gi = FourStateLoss(p13: Percentage(1))
        #expect(gi.p31 == Percentage(99) && gi.p32 == .zero && gi.p23 == .hundred && gi.p14 == .zero)
    }

    #if canImport(Foundation)
    @Test("a spec survives JSON encoding, values written as people write them")
    func codable() throws {
        let spec = ImpairmentSpec(
            link: LinkDirection(from: "router", to: "server"),
            match: .tcpData,
            parameters: .init(delay: .init(delay: .ms(20), jitter: .ms(5), distribution: .normal),
                              loss: .gilbertElliott(.init(p: Percentage(1))),
                              rate: .init(rate: .mbit(10), queueLimit: .bytes(.kib(64))),
                              slot: .init(timing: .range(min: .ms(1), max: .ms(5)), maxPackets: 10)),
            actions: [.init(match: .tcpSYN, nth: [1], action: .duplicate(copyDelay: .ms(300)))],
            schedule: [.init(at: .seconds(2), parameters: .init(delay: .init(delay: .ms(400))))],
            seed: 7, engine: .kernel)
        let data = try JSONEncoder().encode(spec)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"20ms\"") && text.contains("\"10mbit\"") && text.contains("\"64KiB\"") && text.contains("\"netem\""))
        #expect(try JSONDecoder().decode(ImpairmentSpec.self, from: data) == spec)
        let bad = Data(#"{"delay":"20 parsecs","jitter":"0","correlation":"0%"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(DelaySpec.self, from: bad) }
    }
    #endif
}
