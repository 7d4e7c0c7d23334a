/// The failure-mode pass's own record of one capture (issue #18): every TCP packet of every flow
/// as a small note (time, frame, flags, sequence numbers, length, window, handshake options) and
/// every ICMP/ICMPv6 error that quotes a TCP segment.
///
/// The main diagnosis (DiagnosisObserver) keeps aggregated state per direction; the failure modes
/// here need the timeline itself (where the silence starts, which sizes pass, the gap before a
/// segment that vanished), so they read the capture once more on their own. Notes are bounded
/// per capture (`FailureTrace.noteBudget`): past it, flows keep their counters but no new notes.
struct FailureTrace: Sendable {
    var vantage: String
    var path: String
    var flows: [FlowTrace] = []
    var icmpErrors: [ICMPError] = []
    var firstTime: Int64?
    var lastTime: Int64?
    /// Notes kept so far, over all flows.
    var notes = 0

    static let noteBudget = 2_000_000

    /// Reads `path`; nil when it cannot be read (a pipe already consumed, a file gone).
    static func read(vantage: String, path: String) -> FailureTrace? {
        guard let reader = try? CaptureReader(path: path) else { return nil }
        var trace = FailureTrace(vantage: vantage, path: path)
        var segment = TCPSegment()
        var index: [EndpointPair: Int] = [:]
        do {
            while let packet = try reader.next() {
                if trace.firstTime == nil { trace.firstTime = packet.timestamp }
                trace.lastTime = packet.timestamp
                switch PacketDecoder.decode(packet, into: &segment) {
                case .tcp:
                    trace.add(segment, frame: packet.frameNumber, time: packet.timestamp, index: &index)
                case .notTCP:
                    if let error = ICMPError.decode(packet) { trace.icmpErrors.append(error) }
                default:
                    continue
                }
            }
        } catch {
            // Analysed up to the damage, as the main pass does.
        }
        return trace
    }

    mutating func add(_ segment: TCPSegment, frame: UInt64, time: Int64, index: inout [EndpointPair: Int]) {
        let source = TCPEndpoint(address: segment.source, port: segment.sourcePort)
        let destination = TCPEndpoint(address: segment.destination, port: segment.destinationPort)
        let key = EndpointPair(source, destination)
        let isSYN = segment.flags.contains(.syn) && !segment.flags.contains(.ack)
        var flowIndex = index[key]
        if let existing = flowIndex, isSYN {
            // A SYN with another ISN on a finished 4-tuple starts a new connection.
            let flow = flows[existing]
            if let isn = flow.clientISN, isn != segment.sequenceNumber, flow.client == source, flow.finished {
                flowIndex = nil
            }
        }
        if flowIndex == nil {
            let client = segment.flags.contains(.syn) && segment.flags.contains(.ack) ? destination : source
            flows.append(FlowTrace(client: client, server: client == source ? destination : source))
            flowIndex = flows.count - 1
            index[key] = flowIndex
        }
        let i = flowIndex.unsafelyUnwrapped
        let fromClient = flows[i].client == source
        if isSYN && fromClient && flows[i].clientISN == nil { flows[i].clientISN = segment.sequenceNumber }
        if segment.flags.contains(.fin) || segment.flags.contains(.rst) { flows[i].finished = true }
        flows[i].packets += 1
        guard notes < Self.noteBudget else { return }
        notes += 1
        flows[i].notes.append(PacketNote(
            time: time, frame: frame, fromClient: fromClient, flags: segment.flags, seq: segment.sequenceNumber,
            ack: segment.acknowledgmentNumber, length: segment.payloadLength, window: segment.window,
            windowScale: segment.options.windowScale, mss: segment.options.mss, ttl: segment.ip.hopLimit))
    }
}

/// One TCP connection at one vantage, its packets in capture order.
struct FlowTrace: Sendable {
    var client: TCPEndpoint
    var server: TCPEndpoint
    var clientISN: UInt32?
    var finished = false
    var packets = 0
    var notes: [PacketNote] = []

    var flow: FlowRef { FlowRef(client, server) }
    var firstTime: Int64 { notes.first?.time ?? 0 }
    var lastTime: Int64 { notes.last?.time ?? 0 }

    /// The most common TTL of one side's packets (tells which vantage is nearer that side).
    func ttlMode(fromClient: Bool) -> UInt8? {
        var counts: [UInt8: Int] = [:]
        for note in notes where note.fromClient == fromClient { counts[note.ttl, default: 0] += 1 }
        return counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key
    }
}

/// One TCP packet, as the failure modes need it.
struct PacketNote: Sendable {
    var time: Int64
    var frame: UInt64
    var fromClient: Bool
    var flags: TCPControlFlags
    var seq: UInt32
    var ack: UInt32
    var length: UInt32
    var window: UInt16
    /// The window-scale option's shift, -1 when absent.
    var windowScale: Int8
    /// The MSS option, 0 when absent.
    var mss: UInt16
    var ttl: UInt8

    var isSYN: Bool { flags.contains(.syn) && !flags.contains(.ack) }
    var isSYNACK: Bool { flags.contains(.syn) && flags.contains(.ack) }
    var isRST: Bool { flags.contains(.rst) }
    /// Sequence space it occupies (payload, SYN, FIN).
    var span: UInt32 { length &+ (flags.contains(.syn) ? 1 : 0) &+ (flags.contains(.fin) ? 1 : 0) }
    var end: UInt32 { seq &+ span }
}

/// An ICMP or ICMPv6 error whose quoted packet is a TCP segment.
struct ICMPError: Sendable {
    var time: Int64
    var frame: UInt64
    /// Who sent the error (a router, a firewall, the host itself).
    var source: IPAddress
    var ttl: UInt8
    var version: UInt8
    var type: UInt8
    var code: UInt8
    /// The next-hop MTU of a "fragmentation needed" (ICMPv4 3/4) or "packet too big" (ICMPv6 2).
    var mtu: UInt32
    /// The quoted segment's endpoints and sequence number.
    var quotedSource: TCPEndpoint
    var quotedDestination: TCPEndpoint
    var quotedSeq: UInt32

    /// Destination unreachable (ICMPv4 3 except code 4, ICMPv6 1).
    var isUnreachable: Bool { version == 4 ? type == 3 && code != 4 : type == 1 }
    /// Fragmentation needed / packet too big.
    var isPacketTooBig: Bool { version == 4 ? type == 3 && code == 4 : type == 2 }

    /// The name of the type and code as RFC 792 / RFC 1812 / RFC 4443 write them.
    var meaning: String {
        if version == 4 {
            guard type == 3 else { return "type \(type) code \(code)" }
            switch code {
            case 0: return "network unreachable"
            case 1: return "host unreachable"
            case 2: return "protocol unreachable"
            case 3: return "port unreachable"
            case 4: return "fragmentation needed"
            case 9: return "network administratively prohibited"
            case 10: return "host administratively prohibited"
            case 13: return "communication administratively prohibited"
            default: return "destination unreachable code \(code)"
            }
        }
        switch (type, code) {
        case (1, 0): return "no route to destination"
        case (1, 1): return "communication administratively prohibited"
        case (1, 3): return "address unreachable"
        case (1, 4): return "port unreachable"
        case (1, 5): return "source address failed ingress/egress policy"
        case (1, 6): return "reject route to destination"
        case (2, _): return "packet too big"
        default: return "ICMPv6 type \(type) code \(code)"
        }
    }

    /// The errno Linux gives a connecting socket for it (net/ipv4/icmp.c icmp_err_convert,
    /// net/ipv6/icmp.c icmpv6_err_convert).
    var linuxErrno: String {
        if version == 4 {
            switch code {
            case 0, 6, 9, 11: return "ENETUNREACH"
            case 2: return "ENOPROTOOPT"
            case 3: return "ECONNREFUSED"
            case 4: return "EMSGSIZE"
            case 5: return "EOPNOTSUPP"
            case 7: return "EHOSTDOWN"
            case 8: return "ENONET"
            default: return "EHOSTUNREACH"
            }
        }
        switch (type, code) {
        case (1, 0): return "ENETUNREACH"
        case (1, 1): return "EACCES"
        case (1, 4): return "ECONNREFUSED"
        case (1, 5), (1, 6): return "EACCES"
        case (2, _): return "EMSGSIZE"
        default: return "EHOSTUNREACH"
        }
    }

    /// Decodes an ICMP (IPv4) or ICMPv6 error carrying the start of a TCP segment; nil otherwise.
    static func decode(_ packet: PacketRecord) -> ICMPError? {
        guard let base = packet.bytes.baseAddress else { return nil }
        let count = packet.bytes.count
        var vlans = VLANTags()
        guard let (offset, etherType) = LinkLayer.networkHeader(base, count: count, linkType: packet.linkType, vlans: &vlans) else {
            return nil
        }
        var error = ICMPError(time: packet.timestamp, frame: packet.frameNumber, source: IPAddress(ipv4: 0), ttl: 0,
                              version: 4, type: 0, code: 0, mtu: 0,
                              quotedSource: TCPEndpoint(address: IPAddress(ipv4: 0), port: 0),
                              quotedDestination: TCPEndpoint(address: IPAddress(ipv4: 0), port: 0), quotedSeq: 0)
        var icmp: Int
        if etherType == LinkLayer.etherTypeIPv4 {
            guard count - offset >= 20 else { return nil }
            let h = base + offset
            let ihl = Int(h.u8(0) & 0x0F) * 4
            guard h.u8(0) >> 4 == 4, ihl >= 20, h.u8(9) == 1, h.be16(6) & 0x1FFF == 0 else { return nil }
            error.ttl = h.u8(8)
            error.source = IPAddress(ipv4: h.be32(12))
            icmp = offset + ihl
            guard count - icmp >= 8 else { return nil }
            error.type = (base + icmp).u8(0)
            error.code = (base + icmp).u8(1)
            guard error.type == 3 || error.type == 11 || error.type == 12 else { return nil }
            if error.type == 3 && error.code == 4 { error.mtu = UInt32((base + icmp).be16(6)) }
        } else if etherType == LinkLayer.etherTypeIPv6 {
            guard count - offset >= 40 else { return nil }
            let h = base + offset
            guard h.u8(0) >> 4 == 6, h.u8(6) == 58 else { return nil }
            error.version = 6
            error.ttl = h.u8(7)
            error.source = IPAddress(ipv6High: h.be64(8), low: h.be64(16))
            icmp = offset + 40
            guard count - icmp >= 8 else { return nil }
            error.type = (base + icmp).u8(0)
            error.code = (base + icmp).u8(1)
            guard error.type >= 1 && error.type <= 4 else { return nil }
            if error.type == 2 { error.mtu = (base + icmp).be32(4) }
        } else {
            return nil
        }
        // The quoted packet: its IP header, then at least 8 bytes of TCP (ports, sequence number).
        let inner = icmp + 8
        guard count - inner >= 1 else { return nil }
        let q = base + inner
        let transport: Int
        if q.u8(0) >> 4 == 4 {
            guard count - inner >= 20 else { return nil }
            let ihl = Int(q.u8(0) & 0x0F) * 4
            guard ihl >= 20, q.u8(9) == 6 else { return nil }
            error.quotedSource.address = IPAddress(ipv4: q.be32(12))
            error.quotedDestination.address = IPAddress(ipv4: q.be32(16))
            transport = inner + ihl
        } else if q.u8(0) >> 4 == 6 {
            guard count - inner >= 40, q.u8(6) == 6 else { return nil }
            error.quotedSource.address = IPAddress(ipv6High: q.be64(8), low: q.be64(16))
            error.quotedDestination.address = IPAddress(ipv6High: q.be64(24), low: q.be64(32))
            transport = inner + 40
        } else {
            return nil
        }
        guard count - transport >= 8 else { return nil }
        let t = base + transport
        error.quotedSource.port = t.be16(0)
        error.quotedDestination.port = t.be16(2)
        error.quotedSeq = t.be32(4)
        return error
    }
}
