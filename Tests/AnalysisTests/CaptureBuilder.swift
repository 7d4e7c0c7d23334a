/// Builds capture files and frames byte by byte for the reader and decoder tests.
struct Bytes {
    var data: [UInt8] = []
    /// Writes multi-byte integers little-endian when true (the "host" order of the test files).
    var littleEndian = true

    mutating func u8(_ v: UInt8) { data.append(v) }
    mutating func u16(_ v: UInt16) {
        let bytes = [UInt8(v & 0xFF), UInt8(v >> 8)]
        data += littleEndian ? bytes : bytes.reversed()
    }
    mutating func u32(_ v: UInt32) {
        let bytes = (0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xFF) }
        data += littleEndian ? bytes : bytes.reversed()
    }
    mutating func be16(_ v: UInt16) { data += [UInt8(v >> 8), UInt8(v & 0xFF)] }
    mutating func be32(_ v: UInt32) { data += (0..<4).reversed().map { UInt8((v >> (8 * UInt32($0))) & 0xFF) } }
    mutating func bytes(_ b: [UInt8]) { data += b }
    mutating func pad4() { while data.count % 4 != 0 { data.append(0) } }
}

/// Header fields of a synthetic TCP segment.
struct SegmentSpec {
    var src: [UInt8] = [198, 18, 0, 1]
    var dst: [UInt8] = [198, 18, 0, 2]
    var sport: UInt16 = 40000
    var dport: UInt16 = 80
    var seq: UInt32 = 1000
    var ack: UInt32 = 0
    var flags: UInt16 = 0x010
    var window: UInt16 = 512
    var payload = 0
    var tcpOptions: [UInt8] = []
    var ttl: UInt8 = 64
    var ipID: UInt16 = 7
    var fragment: UInt16 = 0x4000  // DF
}

enum Frames {
    /// TCP header (no payload bytes: captures are cut to the headers).
    static func tcp(_ s: SegmentSpec) -> [UInt8] {
        var b = Bytes()
        b.be16(s.sport); b.be16(s.dport); b.be32(s.seq); b.be32(s.ack)
        let offset = UInt16((20 + s.tcpOptions.count) / 4)
        b.be16(offset << 12 | s.flags); b.be16(s.window); b.be16(0); b.be16(0)
        b.bytes(s.tcpOptions)
        return b.data
    }

    /// IPv4 header + TCP header; total length counts the payload that is not stored.
    static func ipv4(_ s: SegmentSpec, options: [UInt8] = [], proto: UInt8 = 6) -> [UInt8] {
        let tcp = tcp(s)
        var b = Bytes()
        let ihl = (20 + options.count) / 4
        b.u8(0x40 | UInt8(ihl)); b.u8(0)
        b.be16(UInt16(ihl * 4 + tcp.count + s.payload)); b.be16(s.ipID); b.be16(s.fragment)
        b.u8(s.ttl); b.u8(proto); b.be16(0); b.bytes(s.src); b.bytes(s.dst); b.bytes(options)
        return b.data + tcp
    }

    /// IPv6 header, then `extensions` (each: next-header value it carries, body), then TCP.
    static func ipv6(_ s: SegmentSpec, extensions: [(type: UInt8, body: [UInt8])] = [], hopLimit: UInt8 = 61) -> [UInt8] {
        let tcp = tcp(s)
        var chain: [UInt8] = []
        var types = extensions.map(\.type) + [6]
        let first = types.removeFirst()
        for (i, ext) in extensions.enumerated() { chain += [types[i]] + ext.body }
        var b = Bytes()
        b.be32(0x6000_0000 | 0x12345); b.be16(UInt16(chain.count + tcp.count + s.payload)); b.u8(first); b.u8(hopLimit)
        b.bytes([0xfd, 0] + [UInt8](repeating: 0, count: 13) + [1])
        b.bytes([0xfd, 0] + [UInt8](repeating: 0, count: 13) + [2])
        return b.data + chain + tcp
    }

    static func ethernet(_ payload: [UInt8], etherType: UInt16 = 0x0800, vlans: [UInt16] = []) -> [UInt8] {
        var b = Bytes()
        b.bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1])
        for (i, id) in vlans.enumerated() {
            b.be16(i == 0 && vlans.count > 1 ? 0x88A8 : 0x8100)
            b.be16(id)
        }
        b.be16(etherType)
        return b.data + payload
    }

    static func cookedV1(_ payload: [UInt8], etherType: UInt16 = 0x0800) -> [UInt8] {
        var b = Bytes()
        b.be16(0); b.be16(1); b.be16(6); b.bytes([2, 0, 0, 0, 0, 1, 0, 0]); b.be16(etherType)
        return b.data + payload
    }

    static func cookedV2(_ payload: [UInt8], etherType: UInt16 = 0x86DD) -> [UInt8] {
        var b = Bytes()
        b.be16(etherType); b.be16(0); b.be32(3); b.be16(1); b.u8(0); b.u8(6); b.bytes([2, 0, 0, 0, 0, 1, 0, 0])
        return b.data + payload
    }
}

enum Pcap {
    /// A classic pcap file. `littleEndian` picks the byte order, `nanoseconds` the ns magic.
    static func file(linkType: UInt32 = 1, littleEndian: Bool = true, nanoseconds: Bool = false,
                     records: [(seconds: UInt32, fraction: UInt32, frame: [UInt8], wire: Int)]) -> [UInt8] {
        var b = Bytes(littleEndian: littleEndian)
        b.u32(nanoseconds ? 0xA1B2_3C4D : 0xA1B2_C3D4); b.u16(2); b.u16(4); b.u32(0); b.u32(0)
        b.u32(65535); b.u32(linkType)
        for r in records {
            b.u32(r.seconds); b.u32(r.fraction); b.u32(UInt32(r.frame.count)); b.u32(UInt32(r.wire))
            b.bytes(r.frame)
        }
        return b.data
    }
}

enum Pcapng {
    static func option(_ code: UInt16, _ value: [UInt8], _ b: inout Bytes) {
        b.u16(code); b.u16(UInt16(value.count)); b.bytes(value); b.pad4()
    }

    static func block(_ type: UInt32, littleEndian: Bool, _ body: (inout Bytes) -> Void) -> [UInt8] {
        var inner = Bytes(littleEndian: littleEndian)
        body(&inner)
        inner.pad4()
        var b = Bytes(littleEndian: littleEndian)
        b.u32(type); b.u32(UInt32(inner.data.count + 12)); b.bytes(inner.data); b.u32(UInt32(inner.data.count + 12))
        return b.data
    }

    static func section(littleEndian: Bool = true, comment: String? = nil) -> [UInt8] {
        block(0x0A0D_0D0A, littleEndian: littleEndian) { b in
            b.u32(0x1A2B_3C4D); b.u16(1); b.u16(0); b.u32(0xFFFF_FFFF); b.u32(0xFFFF_FFFF)
            if let comment {
                option(1, Array(comment.utf8), &b)
                option(0, [], &b)
            }
        }
    }

    static func interface(linkType: UInt16, tsresol: UInt8? = nil, name: String? = nil, littleEndian: Bool = true) -> [UInt8] {
        block(1, littleEndian: littleEndian) { b in
            b.u16(linkType); b.u16(0); b.u32(0)
            if let name { option(2, Array(name.utf8), &b) }
            if let tsresol { option(9, [tsresol], &b) }
            if name != nil || tsresol != nil { option(0, [], &b) }
        }
    }

    static func enhanced(interface: UInt32, ticks: UInt64, frame: [UInt8], wire: Int, comment: String? = nil,
                         littleEndian: Bool = true) -> [UInt8] {
        block(6, littleEndian: littleEndian) { b in
            b.u32(interface); b.u32(UInt32(ticks >> 32)); b.u32(UInt32(ticks & 0xFFFF_FFFF))
            b.u32(UInt32(frame.count)); b.u32(UInt32(wire)); b.bytes(frame); b.pad4()
            if let comment {
                option(1, Array(comment.utf8), &b)
                option(0, [], &b)
            }
        }
    }

    static func simple(frame: [UInt8], wire: Int) -> [UInt8] {
        block(3, littleEndian: true) { b in
            b.u32(UInt32(wire)); b.bytes(frame)
        }
    }
}
