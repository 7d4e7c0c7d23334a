import Testing
@testable import Analysis

/// All packets of a capture as (frame, ns, captured, wire, interface, link type, comment).
private func readAll(_ bytes: [UInt8]) throws -> (packets: [(UInt64, Int64, Int, Int, UInt32, LinkType, String?)], reader: CaptureReader) {
    let reader = try CaptureReader(bytes: bytes)
    var packets: [(UInt64, Int64, Int, Int, UInt32, LinkType, String?)] = []
    while let p = try reader.next() {
        packets.append((p.frameNumber, p.timestamp, p.capturedLength, p.originalLength, p.interfaceID, p.linkType, p.comment))
    }
    return (packets, reader)
}

private let frameA = Frames.ethernet(Frames.ipv4(SegmentSpec(payload: 1448)))
private let frameB = Frames.ethernet(Frames.ipv4(SegmentSpec(seq: 2448, payload: 100)))

@Suite("pcap reader")
struct PcapReaderTests {
    @Test("both byte orders give the same packets", arguments: [true, false])
    func byteOrders(littleEndian: Bool) throws {
        let file = Pcap.file(littleEndian: littleEndian, records: [
            (1_700_000_000, 123_456, frameA, frameA.count + 1448),
            (1_700_000_001, 999_999, frameB, frameB.count + 100),
        ])
        let (packets, reader) = try readAll(file)
        #expect(reader.format == .pcap)
        #expect(reader.truncation == nil)
        #expect(packets.count == 2)
        #expect(packets[0].0 == 1)
        #expect(packets[0].1 == 1_700_000_000_123_456_000)
        #expect(packets[0].2 == 54)
        #expect(packets[0].3 == 54 + 1448)
        #expect(packets[1].0 == 2)
        #expect(packets[1].1 == 1_700_000_001_999_999_000)
        #expect(reader.interfaces.first?.linkType == .ethernet)
    }

    @Test("nanosecond magic keeps nanoseconds", arguments: [true, false])
    func nanoseconds(littleEndian: Bool) throws {
        let file = Pcap.file(littleEndian: littleEndian, nanoseconds: true,
                             records: [(1_700_000_000, 123_456_789, frameA, 1502)])
        let (packets, reader) = try readAll(file)
        #expect(packets.map(\.1) == [1_700_000_000_123_456_789])
        #expect(reader.interfaces.first?.timestampResolution == 9)
    }

    @Test("a file cut inside a record is analysed up to the cut and reported")
    func truncated() throws {
        let file = Pcap.file(records: [(1, 0, frameA, 1502), (2, 0, frameB, 154)])
        let cut = Array(file.dropLast(10))
        let (packets, reader) = try readAll(cut)
        #expect(packets.count == 1)
        let truncation = try #require(reader.truncation)
        #expect(truncation.offset == 24 + 16 + frameA.count)
        #expect(truncation.needed == 16 + frameB.count)
        #expect(truncation.available == 16 + frameB.count - 10)
        #expect(truncation.description == "file is cut at byte \(cut.count): the record at byte \(24 + 16 + frameA.count) needs \(16 + frameB.count) bytes, only \(16 + frameB.count - 10) are present")
    }

    @Test("a cut inside a record header is a truncation too")
    func truncatedHeader() throws {
        let file = Pcap.file(records: [(1, 0, frameA, 1502)]) + [1, 2, 3]
        let (packets, reader) = try readAll(file)
        #expect(packets.count == 1)
        #expect(reader.truncation?.needed == 16)
        #expect(reader.truncation?.available == 3)
    }

    @Test("an absurd captured length: read up to it, the damage named with its offset")
    func corruptLength() throws {
        var file = Pcap.file(records: [(1, 0, frameA, 1502), (2, 0, frameA, 1502)])
        // captured length of the second record, at 24 + 16 + frame + 8
        let second = 24 + 16 + frameA.count
        file.replaceSubrange((second + 8)..<(second + 12), with: [0xFF, 0xFF, 0xFF, 0x7F])
        let (packets, reader) = try readAll(file)
        #expect(packets.count == 1)
        #expect(reader.truncation?.offset == second)
        #expect(reader.truncation?.damage == "captured length 2147483647 exceeds the maximum 262144 for a pcap record")
        #expect(reader.truncation?.description.hasPrefix("file is damaged at byte \(second)") == true)
        let error = CaptureError.corrupt(offset: 32, reason: "captured length 2147483647 exceeds the maximum 262144 for a pcap record")
        #expect(error.description == "byte 32: captured length 2147483647 exceeds the maximum 262144 for a pcap record")
    }

    @Test("unknown magic is refused with the magic in the message")
    func unknownMagic() {
        #expect(throws: CaptureError.unknownFormat(magic: 0x7F45_4C46)) {
            _ = try CaptureReader(bytes: [0x7F, 0x45, 0x4C, 0x46] + [UInt8](repeating: 0, count: 40))
        }
        #expect(CaptureError.unknownFormat(magic: 0x7F45_4C46).description.hasPrefix("byte 0: magic number 0x7f454c46 is neither pcap"))
    }

    @Test("a missing file names the path and errno")
    func missingFile() {
        #expect {
            _ = try CaptureReader(path: "/nonexistent/faultline.pcap")
        } throws: { error in
            guard case let CaptureError.cannotOpen(path, code, _) = error else { return false }
            return path == "/nonexistent/faultline.pcap" && code == 2
        }
    }
}

@Suite("pcapng reader")
struct PcapngReaderTests {
    @Test("several interfaces with different if_tsresol, comments, unknown blocks skipped")
    func multiInterface() throws {
        var file = Pcapng.section(comment: "made by the test")
        file += Pcapng.interface(linkType: 1, name: "veth0")                         // µs (default)
        file += Pcapng.interface(linkType: 276, tsresol: 9)                           // ns
        file += Pcapng.interface(linkType: 101, tsresol: 0x80 | 20)                   // 2^-20 s
        file += Pcapng.block(0x0000_0005, littleEndian: true) { b in b.u32(0); b.u32(0); b.u32(0) }  // statistics
        file += Pcapng.enhanced(interface: 0, ticks: 1_700_000_000_123_456, frame: frameA, wire: 1502, comment: "first")
        let cooked = Frames.cookedV2(Frames.ipv6(SegmentSpec(payload: 10)))
        file += Pcapng.enhanced(interface: 1, ticks: 1_700_000_000_123_456_789, frame: cooked, wire: cooked.count + 10)
        file += Pcapng.block(0x4000_0BAD, littleEndian: true) { b in b.u32(32473); b.bytes([1, 2, 3]) }  // custom
        let raw = Frames.ipv4(SegmentSpec())
        file += Pcapng.enhanced(interface: 2, ticks: (5 << 20) | (1 << 19), frame: raw, wire: raw.count)
        let (packets, reader) = try readAll(file)
        #expect(reader.format == .pcapng)
        #expect(reader.truncation == nil)
        #expect(packets.count == 3)
        #expect(packets[0].1 == 1_700_000_000_123_456_000)
        #expect(packets[0].6 == "first")
        #expect(packets[1].1 == 1_700_000_000_123_456_789)
        #expect(packets[1].4 == 1)
        #expect(packets[1].5 == .linuxCookedV2)
        #expect(packets[2].1 == 5_500_000_000)
        #expect(packets[2].5 == .raw)
        #expect(packets.map(\.0) == [1, 2, 3])
        #expect(reader.interfaces.map(\.name) == ["veth0", nil, nil])
        #expect(reader.comments == ["made by the test"])
    }

    @Test("big-endian sections read like little-endian ones")
    func bigEndian() throws {
        var file = Pcapng.section(littleEndian: false)
        file += Pcapng.interface(linkType: 1, tsresol: 6, littleEndian: false)
        file += Pcapng.enhanced(interface: 0, ticks: 42_000_001, frame: frameA, wire: 1502, littleEndian: false)
        // A second, little-endian section restarts interface numbering.
        file += Pcapng.section(littleEndian: true)
        file += Pcapng.interface(linkType: 1, tsresol: 3)
        file += Pcapng.enhanced(interface: 0, ticks: 7, frame: frameB, wire: 154)
        let (packets, reader) = try readAll(file)
        #expect(packets.map(\.1) == [42_000_001_000, 7_000_000])
        #expect(packets.map(\.4) == [0, 1])
        #expect(reader.interfaces.count == 2)
    }

    @Test("simple packet blocks take interface 0 and have no timestamp")
    func simplePacket() throws {
        var file = Pcapng.section()
        file += Pcapng.interface(linkType: 1)
        file += Pcapng.simple(frame: frameA, wire: 1502)
        let (packets, _) = try readAll(file)
        #expect(packets.count == 1)
        #expect(packets[0].1 == 0)
        // A simple packet block has no captured length: the padded data area counts.
        #expect(packets[0].2 == (frameA.count + 3) & ~3)
        #expect(packets[0].3 == 1502)
    }

    @Test("block length not a multiple of 4: read up to the damage, which is named with its byte offset")
    func badBlockLength() throws {
        var file = Pcapng.section()
        file += Pcapng.interface(linkType: 1)
        file += Pcapng.enhanced(interface: 0, ticks: 1, frame: frameA, wire: 1502)
        let damagedOffset = file.count
        file += Pcapng.enhanced(interface: 0, ticks: 2, frame: frameA, wire: 1502)
        file += Pcapng.enhanced(interface: 0, ticks: 3, frame: frameA, wire: 1502)
        file.replaceSubrange((damagedOffset + 4)..<(damagedOffset + 8), with: [7, 0, 0, 0])
        let (packets, reader) = try readAll(file)
        #expect(packets.count == 1)
        #expect(reader.truncation?.offset == damagedOffset)
        #expect(reader.truncation?.damage == "block length 7 is not a multiple of 4")
    }

    @Test("a damaged first block leaves nothing to read: still an error with the byte offset")
    func badFirstBlockLength() throws {
        var file = Pcapng.section()
        file.replaceSubrange(4..<8, with: [7, 0, 0, 0])
        #expect {
            _ = try readAll(file)
        } throws: { error in
            (error as? CaptureError)?.description == "byte 4: block length 7 is not a multiple of 4"
        }
    }

    @Test("mismatched trailing length: the blocks before it are kept, the damage is reported")
    func badTrailer() throws {
        var file = Pcapng.section()
        file += Pcapng.interface(linkType: 1)
        file += Pcapng.enhanced(interface: 0, ticks: 1, frame: frameA, wire: 1502)
        let damagedOffset = file.count
        file += Pcapng.enhanced(interface: 0, ticks: 2, frame: frameA, wire: 1502)
        file[file.count - 4] = 99
        let (packets, reader) = try readAll(file)
        #expect(packets.count == 1)
        #expect(reader.truncation?.offset == damagedOffset)
        #expect(reader.truncation?.damage?.hasPrefix("trailing block length 99") == true)
    }

    @Test("pcap + pcap concatenated: the first file's packets are read, the second header is named")
    func concatenatedPcap() throws {
        let one = Pcap.file(records: [(1, 0, frameA, 1502), (2, 0, frameA, 1502)])
        let file = one + Pcap.file(records: [(3, 0, frameA, 1502)])
        let (packets, reader) = try readAll(file)
        #expect(packets.count == 2)
        #expect(reader.truncation?.offset == one.count)
        #expect(reader.truncation?.damage?.contains("concatenated") == true)
    }

    @Test("an interface ID that was never described is corrupt")
    func badInterface() throws {
        var file = Pcapng.section()
        file += Pcapng.interface(linkType: 1)
        file += Pcapng.enhanced(interface: 3, ticks: 0, frame: frameA, wire: 1502)
        #expect {
            _ = try readAll(file)
        } throws: { error in
            (error as? CaptureError)?.description == "byte 56: interface ID 3 refers to no interface (the section describes 1)"
        }
    }

    @Test("a pcapng file cut inside a block is a truncation")
    func truncated() throws {
        var file = Pcapng.section()
        file += Pcapng.interface(linkType: 1)
        file += Pcapng.enhanced(interface: 0, ticks: 1, frame: frameA, wire: 1502)
        let second = Pcapng.enhanced(interface: 0, ticks: 2, frame: frameB, wire: 154)
        file += second.prefix(30)
        let (packets, reader) = try readAll(file)
        #expect(packets.count == 1)
        #expect(reader.truncation?.needed == second.count)
        #expect(reader.truncation?.available == 30)
    }
}
