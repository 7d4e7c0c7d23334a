import Values

/// The failure-mode pass's record of one capture (issue #18): every TCP packet of every flow as
/// a small note (time, frame, flags, sequence numbers, length, window, handshake options) and
/// every ICMP/ICMPv6 error that quotes a TCP segment.
///
/// The main diagnosis (DiagnosisObserver) keeps aggregated state per direction; the failure modes
/// need the timeline itself (where the silence starts, which sizes pass, the gap before a segment
/// that vanished). The observer builds this trace in the same pass (`add`, `addICMP`); a caller
/// with digests made elsewhere gets it from a reading of its own (`read`). Notes are bounded per
/// capture (`FailureTrace.noteBudget`): past it, flows keep their counters but no new notes.
/// When the analyzer retires a conversation, its flow's notes are dropped unless a failure mode
/// could use them (`retire`, `FailureContext.mayUse`), so memory follows the connections open
/// at once and the few that look like a failure.
struct FailureTrace: Sendable {
    var vantage: String
    var path: String
    /// The flows kept, in the order they began (filled by `finish`).
    private(set) var flows: [FlowTrace] = []
    var icmpErrors: [ICMPError] = []
    var firstTime: CaptureTime?
    var lastTime: CaptureTime?
    /// Notes kept so far, over all flows.
    var notes = 0
    /// What the flows let go leave behind for other flows' judgements.
    private(set) var letGo = LetGoFlows()

    // While the trace is built: flows in slots (a slot let go is reused), the latest flow of
    // each pair of endpoints, the next flow's ordinal.
    private var slots: ContiguousArray<FlowTrace?> = []
    private var freeSlots: [Int] = []
    private var index: [EndpointPair: Int] = [:]
    private var nextOrdinal = 0
    /// Flows let go lately, by endpoints: a packet between the same endpoints afterwards revives
    /// the conversation (the analyzer splits it, and the file is read again for it — see
    /// `finish(rereading:)`), and what its parts let go counted must then be taken back. Which
    /// came back is both the analyzer's word (`rereading`: a packet the trace filed before the
    /// analyzer retired the conversation revives it there only) and the trace's own (`cameBack`).
    private var recent = RecentLetGo()
    /// Endpoints whose flow this trace let go and then saw again: it starts a new flow there,
    /// where the whole capture's trace goes on with the old one, whether or not the analyzer
    /// revived its conversation (a SYN after an idle retirement is a new conversation to it).
    /// Read whole again at the end, as the analyzer's revivals are.
    private var cameBack: Set<EndpointPair> = []

    static let noteBudget = 2_000_000

    init(vantage: String, path: String) {
        self.vantage = vantage
        self.path = path
    }

    /// Reads `path`; nil when it cannot be read (a pipe already consumed, a file gone). With
    /// `only`, keeps just the flows between those endpoints.
    static func read(vantage: String, path: String, only: Set<EndpointPair>? = nil) -> FailureTrace? {
        guard path != "-", let reader = try? CaptureReader(path: path) else { return nil }
        var trace = FailureTrace(vantage: vantage, path: path)
        var segment = TCPSegment()
        do {
            while let packet = try reader.next() {
                switch PacketDecoder.decode(packet, into: &segment) {
                case .tcp:
                    if let only, !only.contains(EndpointPair(TCPEndpoint(address: segment.source, port: segment.sourcePort),
                                                             TCPEndpoint(address: segment.destination, port: segment.destinationPort))) {
                        trace.addOther(packet)
                        continue
                    }
                    trace.add(segment, frame: packet.frameNumber, time: packet.time)
                case .notTCP:
                    if only == nil { trace.addICMP(packet) } else { trace.addOther(packet) }
                default:
                    trace.addOther(packet)
                }
            }
        } catch {
            // Analysed up to the damage, as the main pass does.
        }
        trace.finish()
        return trace
    }

    private mutating func noteTime(_ time: CaptureTime) {
        if firstTime == nil { firstTime = time }
        lastTime = time
    }

    /// A packet the TCP decoder did not take: kept when it is an ICMP error quoting a TCP segment.
    mutating func addICMP(_ packet: PacketRecord) {
        noteTime(packet.time)
        if let error = ICMPError.decode(packet) { icmpErrors.append(error) }
    }

    /// Any other packet (it still moves the capture's time).
    mutating func addOther(_ packet: PacketRecord) { noteTime(packet.time) }

    mutating func add(_ segment: TCPSegment, frame: UInt64, time: CaptureTime) {
        noteTime(time)
        let source = TCPEndpoint(address: segment.source, port: segment.sourcePort)
        let destination = TCPEndpoint(address: segment.destination, port: segment.destinationPort)
        let key = EndpointPair(source, destination)
        let isSYN = segment.flags.contains(.syn) && !segment.flags.contains(.ack)
        var slot = index[key]
        if let existing = slot, isSYN, let flow = slots[existing] {
            // A SYN with another ISN on a finished 4-tuple starts a new connection.
            if let isn = flow.clientISN, isn != segment.sequenceNumber, flow.client == source, flow.finished {
                slot = nil
            }
        }
        if slot == nil {
            if index[key] == nil, recent.holds(key) { cameBack.insert(key) }
            let client = segment.flags.contains(.syn) && segment.flags.contains(.ack) ? destination : source
            let flow = FlowTrace(client: client, server: client == source ? destination : source, firstTime: time,
                                 ordinal: nextOrdinal)
            nextOrdinal += 1
            if let free = freeSlots.popLast() {
                slots[free] = flow
                slot = free
            } else {
                slots.append(flow)
                slot = slots.count - 1
            }
            index[key] = slot
        }
        let i = slot.unsafelyUnwrapped
        slots[i]!.add(segment, frame: frame, time: time, keepNote: notes < Self.noteBudget)
        if notes < Self.noteBudget { notes += 1 }
    }

    /// The analyzer retired the conversation between `client` and `server`: its flow is let go
    /// unless a failure mode could use it (`FailureContext.mayUse`); what other flows'
    /// judgements read of it stays in `letGo`. A later packet between the same endpoints starts
    /// a new flow (the conversation is split; see `finish(rereading:)`). A flow holding packets
    /// after `lastFrame`, the retired conversation's last, is another connection on the same
    /// endpoints as far as the analyzer is concerned (it split them where this trace did not):
    /// kept, as the whole capture's trace keeps it.
    mutating func retire(client: TCPEndpoint, server: TCPEndpoint, lastFrame: UInt64) {
        let key = EndpointPair(client, server)
        guard let i = index[key], let flow = slots[i], flow.lastFrame <= lastFrame, !FailureContext.mayUse(flow) else { return }
        letGo.add(flow)
        recent.add(key, RecentLetGo.Record(ordinal: flow.ordinal, server: flow.server, answered: flow.serverAnswered))
        notes -= flow.notes.count
        slots[i] = nil
        freeSlots.append(i)
        index[key] = nil
    }

    /// The trace as the failure modes read it: the flows kept, in the order they began. The
    /// flows between `rereading`'s endpoints (conversations the analyzer revived after they were
    /// let go: their parts are incomplete) are read whole from the file again; a stream cannot
    /// be read again, and there the parts stand, as the main pass's do.
    mutating func finish(rereading revived: Set<EndpointPair> = []) {
        let rereading = revived.union(cameBack)
        cameBack = []
        var kept = slots.compactMap { $0 }
        slots = []
        freeSlots = []
        index = [:]
        if !rereading.isEmpty, path != "-", let again = FailureTrace.read(vantage: vantage, path: path, only: rereading) {
            // Each split conversation is read whole: its parts go, kept or let go (their counts
            // taken back), and the whole takes the place of its first part.
            var firstOrdinal: [EndpointPair: Int] = [:]
            for pair in rereading {
                for part in recent.take(pair) {
                    letGo.forget(part)
                    firstOrdinal[pair] = min(firstOrdinal[pair] ?? part.ordinal, part.ordinal)
                }
            }
            for part in kept where rereading.contains(EndpointPair(part.client, part.server)) {
                let pair = EndpointPair(part.client, part.server)
                firstOrdinal[pair] = min(firstOrdinal[pair] ?? part.ordinal, part.ordinal)
            }
            kept.removeAll { rereading.contains(EndpointPair($0.client, $0.server)) }
            var wholes: [EndpointPair: Int] = [:]
            kept += again.flows.map { flow in
                var whole = flow
                let pair = EndpointPair(flow.client, flow.server)
                // The first whole conversation between these endpoints takes the first part's place.
                if wholes[pair] == nil, let first = firstOrdinal[pair] {
                    whole.ordinal = first
                } else {
                    whole.ordinal += nextOrdinal
                }
                wholes[pair, default: 0] += 1
                return whole
            }
        }
        recent = RecentLetGo()
        kept.sort { $0.ordinal != $1.ordinal ? $0.ordinal < $1.ordinal : $0.firstTime < $1.firstTime }
        flows = kept
    }
}

/// What the flows let go (see `FailureTrace.retire`) leave behind: per address, the TTL verdict of
/// its first flow; per server endpoint, how many handshakes it answered. Bounded by the hosts
/// and services, not the connections.
struct LetGoFlows: Sendable {
    /// Per address: the ordinal of the first flow let go with packets from it, and the most
    /// common TTL of those packets.
    private(set) var firstTTL: [IPAddress: (ordinal: Int, ttl: UInt8)] = [:]
    /// Per server endpoint: flows let go that it answered with a SYN/ACK.
    private(set) var answered: [TCPEndpoint: Int] = [:]
    private(set) var count = 0

    mutating func add(_ flow: FlowTrace) {
        count += 1
        for (address, fromClient) in [(flow.client.address, true), (flow.server.address, false)] {
            guard let ttl = flow.ttlMode(fromClient: fromClient) else { continue }
            if let existing = firstTTL[address], existing.ordinal <= flow.ordinal { continue }
            firstTTL[address] = (flow.ordinal, ttl)
        }
        if flow.serverAnswered { answered[flow.server, default: 0] += 1 }
    }

    /// Takes back what a part of a split conversation counted (its whole is read again).
    mutating func forget(_ part: RecentLetGo.Record) {
        count -= 1
        if part.answered { answered[part.server] = max(0, answered[part.server, default: 0] - 1) }
        // Its TTL verdict was the first for an address only if no flow before it had one: the
        // whole, with the same place, says it again from its own packets.
        for (address, entry) in firstTTL where entry.ordinal == part.ordinal { firstTTL[address] = nil }
    }
}

/// The flows let go lately, by endpoints, at most `limit` of them (the oldest forgotten first):
/// as many as the analyzer keeps tombstones for (`RetirementPolicy.tombstoneLimit`'s default),
/// so a conversation it revives is recognised here too.
struct RecentLetGo: Sendable {
    struct Record: Sendable {
        var ordinal: Int
        var server: TCPEndpoint
        var answered: Bool
    }

    static let limit = 65_536
    /// The first part let go between the same endpoints, and any later ones (a conversation may
    /// be split several times; most never are, and cost no array).
    private var records: [EndpointPair: Record] = [:]
    private var more: [EndpointPair: [Record]] = [:]
    private var order: [(key: EndpointPair, ordinal: Int)] = []
    private var head = 0

    mutating func add(_ key: EndpointPair, _ record: Record) {
        if order.count - head >= Self.limit {
            forget(order[head])
            head += 1
            if head >= Self.limit {
                order.removeFirst(head)
                head = 0
            }
        }
        if records[key] == nil {
            records[key] = record
        } else {
            more[key, default: []].append(record)
        }
        order.append((key, record.ordinal))
    }

    private mutating func forget(_ oldest: (key: EndpointPair, ordinal: Int)) {
        if records[oldest.key]?.ordinal == oldest.ordinal {
            if var later = more[oldest.key], !later.isEmpty {
                records[oldest.key] = later.removeFirst()
                more[oldest.key] = later.isEmpty ? nil : later
            } else {
                records[oldest.key] = nil
            }
        } else if var later = more[oldest.key] {
            later.removeAll { $0.ordinal == oldest.ordinal }
            more[oldest.key] = later.isEmpty ? nil : later
        }
    }

    /// Whether a part between `key`'s endpoints was let go lately.
    func holds(_ key: EndpointPair) -> Bool { records[key] != nil }

    /// The parts let go between `key`'s endpoints, oldest first; they are no longer recent.
    mutating func take(_ key: EndpointPair) -> [Record] {
        guard let first = records.removeValue(forKey: key) else { return [] }
        return [first] + (more.removeValue(forKey: key) ?? [])
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
    /// Times of its first and last packet (also past the note budget).
    var firstTime: CaptureTime
    var lastTime: CaptureTime
    var lastFrame: UInt64 = 0
    /// Its place among the trace's flows, in the order they began.
    var ordinal: Int
    /// A SYN/ACK was seen (either way), and one from the server.
    var sawSYNACK = false
    var serverAnswered = false

    init(client: TCPEndpoint, server: TCPEndpoint, firstTime: CaptureTime, ordinal: Int) {
        self.client = client
        self.server = server
        self.firstTime = firstTime
        lastTime = firstTime
        self.ordinal = ordinal
    }

    var flow: FlowRef { FlowRef(client, server) }

    mutating func add(_ segment: TCPSegment, frame: UInt64, time: CaptureTime, keepNote: Bool) {
        let fromClient = client.address == segment.source && client.port == segment.sourcePort
        let isSYN = segment.flags.contains(.syn) && !segment.flags.contains(.ack)
        if isSYN && fromClient && clientISN == nil { clientISN = segment.sequenceNumber }
        if segment.flags.contains(.fin) || segment.flags.contains(.rst) { finished = true }
        if segment.flags.contains(.syn) && segment.flags.contains(.ack) {
            sawSYNACK = true
            if !fromClient { serverAnswered = true }
        }
        packets += 1
        lastTime = time
        lastFrame = frame
        guard keepNote else { return }
        notes.append(PacketNote(
            time: time, frame: frame, fromClient: fromClient, flags: segment.flags, seq: segment.sequenceNumber,
            ack: segment.acknowledgmentNumber, length: segment.payloadLength, window: segment.window,
            windowScale: segment.options.windowScale, mss: segment.options.mss, ttl: segment.ip.hopLimit))
    }

    /// The most common TTL of one side's packets (tells which vantage is nearer that side).
    /// (Ties: the smallest TTL. Counted on the stack: it runs for every flow let go.)
    func ttlMode(fromClient: Bool) -> UInt8? {
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 256) { counts -> UInt8? in
            counts.initialize(repeating: 0)
            var best: (ttl: UInt8, count: Int32)?
            for note in notes where note.fromClient == fromClient {
                let ttl = Int(note.ttl)
                counts[ttl] += 1
                let count = counts[ttl]
                if let current = best, count < current.count || (count == current.count && note.ttl > current.ttl) { continue }
                best = (note.ttl, count)
            }
            return best?.ttl
        }
    }
}

/// One TCP packet, as the failure modes need it.
struct PacketNote: Sendable {
    var time: CaptureTime
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
    var time: CaptureTime
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
        var error = ICMPError(time: packet.time, frame: packet.frameNumber, source: IPAddress(ipv4: 0), ttl: 0,
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
