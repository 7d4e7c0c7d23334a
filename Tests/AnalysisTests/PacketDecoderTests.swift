import Testing
@testable import Analysis

/// Decodes one frame of the given link type through the real reader.
private func decode(_ frame: [UInt8], linkType: UInt32, wire: Int? = nil) throws -> (DecodeOutcome, TCPSegment) {
    let file = Pcap.file(linkType: linkType, records: [(1, 0, frame, wire ?? frame.count)])
    let reader = try CaptureReader(bytes: file)
    let packet = try #require(try reader.next())
    var segment = TCPSegment()
    let outcome = PacketDecoder.decode(packet, into: &segment)
    return (outcome, segment)
}

@Suite("packet decoder")
struct PacketDecoderTests {
    @Test("Ethernet IPv4: segment length comes from the IP header, not the captured bytes")
    func ipv4LengthFromHeader() throws {
        let spec = SegmentSpec(seq: 77, ack: 88, flags: 0x018, window: 1234, payload: 1448, ttl: 57, ipID: 4242)
        let (outcome, s) = try decode(Frames.ethernet(Frames.ipv4(spec)), linkType: 1, wire: 54 + 1448)
        #expect(outcome == .tcp)
        #expect(s.payloadLength == 1448)
        #expect(s.sequenceNumber == 77 && s.acknowledgmentNumber == 88)
        #expect(s.flags == [.ack, .psh])
        #expect(s.window == 1234)
        #expect(s.ip.hopLimit == 57 && s.ip.identification == 4242)
        #expect(s.source.description == "198.18.0.1" && s.destination.description == "198.18.0.2")
    }

    @Test("IPv4 options are skipped by IHL")
    func ipv4Options() throws {
        let frame = Frames.ethernet(Frames.ipv4(SegmentSpec(payload: 10), options: [1, 1, 1, 0, 7, 3, 4, 0]))
        let (outcome, s) = try decode(frame, linkType: 1, wire: frame.count + 10)
        #expect(outcome == .tcp)
        #expect(s.payloadLength == 10)
        #expect(s.sourcePort == 40000)
    }

    @Test("IPv4 fragments are set aside", arguments: [UInt16(0x2000), 0x0010])
    func ipv4Fragment(field: UInt16) throws {
        let (outcome, _) = try decode(Frames.ethernet(Frames.ipv4(SegmentSpec(fragment: field))), linkType: 1)
        #expect(outcome == .fragment)
    }

    @Test("802.1Q and QinQ tags are skipped and recorded")
    func vlan() throws {
        let (one, s1) = try decode(Frames.ethernet(Frames.ipv4(SegmentSpec()), vlans: [100]), linkType: 1)
        #expect(one == .tcp)
        #expect(s1.vlans.count == 1 && s1.vlans.outer == 100)
        let (two, s2) = try decode(Frames.ethernet(Frames.ipv4(SegmentSpec(payload: 5)), vlans: [10, 20]), linkType: 1, wire: 200)
        #expect(two == .tcp)
        #expect(s2.vlans.count == 2 && s2.vlans.outer == 10 && s2.vlans.inner == 20)
        #expect(s2.payloadLength == 5)
    }

    @Test("IPv6 hop-by-hop, routing and destination options are walked to TCP")
    func ipv6Extensions() throws {
        let padN: [UInt8] = [0, 1, 4, 0, 0, 0, 0]  // length 0 (8 bytes), PadN of 4
        let routing: [UInt8] = [2, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 16)  // type 0, 1 address (24 bytes)
        var spec = SegmentSpec(payload: 100)
        spec.flags = 0x012
        let packet = Frames.ipv6(spec, extensions: [(0, padN), (43, routing), (60, padN)])
        let (outcome, s) = try decode(Frames.cookedV2(packet), linkType: 276, wire: 20 + packet.count + 100)
        #expect(outcome == .tcp)
        #expect(s.ip.version == 6 && s.ip.hopLimit == 61 && s.ip.flowLabel == 0x12345)
        #expect(s.payloadLength == 100)
        #expect(s.flags == [.syn, .ack])
        #expect(s.source.description == "fd00::1")
    }

    @Test("IPv6 fragments are set aside; atomic fragments are whole datagrams")
    func ipv6Fragment() throws {
        let fragment: [UInt8] = [0, 0x00, 0x01, 0, 0, 0, 9]  // offset 0, M=1
        let (outcome, _) = try decode(Frames.ethernet(Frames.ipv6(SegmentSpec(), extensions: [(44, fragment)]), etherType: 0x86DD), linkType: 1)
        #expect(outcome == .fragment)
        let atomic: [UInt8] = [0, 0, 0, 0, 0, 0, 9]
        let (whole, s) = try decode(Frames.ethernet(Frames.ipv6(SegmentSpec(), extensions: [(44, atomic)]), etherType: 0x86DD), linkType: 1)
        #expect(whole == .tcp)
        #expect(s.ip.identification == 9)
    }

    @Test("Linux cooked v1, raw IP, BSD NULL and LOOP links")
    func otherLinks() throws {
        let ip = Frames.ipv4(SegmentSpec())
        #expect(try decode(Frames.cookedV1(ip), linkType: 113).0 == .tcp)
        #expect(try decode(ip, linkType: 101).0 == .tcp)
        #expect(try decode(ip, linkType: 228).0 == .tcp)
        #expect(try decode(Frames.ipv6(SegmentSpec()), linkType: 229).0 == .tcp)
        #expect(try decode([2, 0, 0, 0] + ip, linkType: 0).0 == .tcp)               // little-endian host
        #expect(try decode([0, 0, 0, 2] + ip, linkType: 0).0 == .tcp)               // big-endian host
        #expect(try decode([30, 0, 0, 0] + Frames.ipv6(SegmentSpec()), linkType: 0).0 == .tcp)  // macOS AF_INET6
        #expect(try decode([0, 0, 0, 2] + ip, linkType: 108).0 == .tcp)
        #expect(try decode(ip, linkType: 147).0 == .unsupportedLink)
    }

    @Test("non-TCP and non-IP frames are told apart")
    func notTCP() throws {
        #expect(try decode(Frames.ethernet(Frames.ipv4(SegmentSpec(), proto: 17)), linkType: 1).0 == .notTCP)
        #expect(try decode(Frames.ethernet([0, 1, 8, 0, 6, 4, 0, 1], etherType: 0x0806), linkType: 1).0 == .notIP)
        let cut = Array(Frames.ethernet(Frames.ipv4(SegmentSpec())).prefix(40))
        #expect(try decode(cut, linkType: 1, wire: 54).0 == .truncated)
    }

    @Test("TCP options: MSS, window scale, SACK blocks, timestamps; D-SACK detection")
    func options() throws {
        var options: [UInt8] = [2, 4, 0x05, 0xB4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]
        options += [1, 1, 5, 18] + [0, 0, 0x03, 0xE8, 0, 0, 0x07, 0xD0] + [0, 0, 0x0B, 0xB8, 0, 0, 0x0F, 0xA0]
        var spec = SegmentSpec(ack: 1500, tcpOptions: options)
        spec.tcpOptions += [UInt8](repeating: 0, count: (4 - options.count % 4) % 4)
        let (outcome, s) = try decode(Frames.ethernet(Frames.ipv4(spec)), linkType: 1)
        #expect(outcome == .tcp)
        #expect(s.options.complete)
        #expect(s.options.mss == 1460 && s.options.windowScale == 7 && s.options.sackPermitted)
        #expect(s.options.hasTimestamp && s.options.timestampValue == 1 && s.options.timestampEcho == 2)
        #expect(s.options.sackBlocks == [SACKBlock(left: 1000, right: 2000), SACKBlock(left: 3000, right: 4000)])
        #expect(s.options.isDSACK(acknowledgment: 1500))
        #expect(!s.options.isDSACK(acknowledgment: 1000))
    }

    @Test("options cut by the snap length are marked incomplete")
    func cutOptions() throws {
        let spec = SegmentSpec(tcpOptions: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2])
        let full = Frames.ethernet(Frames.ipv4(spec))
        let (outcome, s) = try decode(Array(full.prefix(60)), linkType: 1, wire: full.count)
        #expect(outcome == .tcp)
        #expect(!s.options.complete)
        #expect(!s.options.hasTimestamp)
    }
}
