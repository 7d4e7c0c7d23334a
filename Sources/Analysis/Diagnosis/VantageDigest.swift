import Values

/// Everything one vantage point's capture contributed, after its single pass: per-conversation
/// diagnosis state and, per host, the TTLs its packets arrived with (its baseline).
public struct VantageDigest: Sendable {
    public let vantage: String
    public let path: String
    public let frames: UInt64
    public let tcpFrames: UInt64
    public var firstTime: Int64? { probe?.read(); return storedFirstTime }
    public var lastTime: Int64? { probe?.read(); return storedLastTime }
    public let truncation: String?
    /// When the capture was listening: what decides whether a packet's absence here means anything.
    public var window: CaptureWindow { probe?.read(); return storedWindow }
    var conversations: [ConversationState]
    /// TTL / hop-limit histogram of each host's packets at this vantage, RSTs and capture
    /// copies left out, across all of its flows.
    var hostTTLs: [IPAddress: SmallHistogram] { probe?.read(); return storedHostTTLs }
    private let storedFirstTime: Int64?
    private let storedLastTime: Int64?
    private let storedWindow: CaptureWindow
    private let storedHostTTLs: [IPAddress: SmallHistogram]
    /// Set on a digest of one finished conversation diagnosed before the capture ends: notes
    /// whether the classifiers read anything that depends on the whole capture (see
    /// ConversationRetirement.swift).
    let probe: WholeCaptureReadProbe?
    /// The capture's packet timelines for the failure modes, built in the same pass (nil: the
    /// failure pass reads the file itself).
    var failureTrace: FailureTrace?

    init(vantage: String, path: String, frames: UInt64, tcpFrames: UInt64, firstTime: Int64?, lastTime: Int64?,
         truncation: String?, window: CaptureWindow? = nil, conversations: [ConversationState],
         hostTTLs: [IPAddress: SmallHistogram]? = nil, probe: WholeCaptureReadProbe? = nil,
         failureTrace: FailureTrace? = nil) {
        self.failureTrace = failureTrace
        self.vantage = vantage
        self.path = path
        self.frames = frames
        self.tcpFrames = tcpFrames
        self.storedFirstTime = firstTime
        self.storedLastTime = lastTime
        self.truncation = truncation
        self.storedWindow = window ?? CaptureWindow(firstPacket: firstTime, lastPacket: lastTime)
        self.conversations = conversations
        self.probe = probe
        if let hostTTLs {
            storedHostTTLs = hostTTLs
            return
        }
        var ttls: [IPAddress: SmallHistogram] = [:]
        for conversation in conversations {
            for (address, direction) in [(conversation.client.address, conversation.clientDir),
                                         (conversation.server.address, conversation.serverDir)] {
                for entry in direction.ttl.entries {
                    ttls[address, default: SmallHistogram()].add(entry.value, count: entry.count)
                }
            }
        }
        storedHostTTLs = ttls
    }

    /// Where the capture was taken, as whoever gave the capture stated it (`VantageCapture.role`);
    /// used only when the packets themselves do not tell. Never read from the vantage's name: a
    /// file called client.pcap may have been taken anywhere.
    public internal(set) var role: VantageRole = .other

    /// Number of TCP conversations.
    public var conversationCount: Int { conversations.count }

    /// The usual TTL of `address` at this vantage, with how many packets show it.
    func baseline(of address: IPAddress) -> TTLBaseline? {
        guard let histogram = hostTTLs[address], let mode = histogram.mode else { return nil }
        let entries = histogram.entries
        let modeCount = entries.first(where: { $0.value == mode })?.count ?? 0
        return TTLBaseline(ttl: mode, packets: Int(histogram.total), modePackets: Int(modeCount),
                           values: entries.map { (Int($0.value), Int($0.count)) })
    }

    /// `lastTime` as a capture time.
    var lastPacketTime: CaptureTime? { lastTime.map(CaptureTime.init(nanosecondsSinceEpoch:)) }

    /// Whether this capture holds any packet sent by `address` (outside RSTs).
    func sawHost(_ address: IPAddress) -> Bool { hostTTLs[address] != nil }
}

/// A host's usual TTL at one vantage point.
struct TTLBaseline: Sendable {
    var ttl: UInt8
    var packets: Int
    var modePackets: Int
    var values: [(ttl: Int, count: Int)]

    var share: Double { packets > 0 ? Double(modePackets) / Double(packets) : 0 }

    /// How far `ttl` is from this host's usual TTL, and whether the host ever used it.
    func matches(_ ttl: UInt8) -> Bool {
        ttl == self.ttl || values.contains(where: { $0.ttl == Int(ttl) && $0.count * 5 >= packets })
    }

    /// The address's packets grouped by the initial TTL they were sent with: more than one group
    /// is more than one stack behind one address (a front end answering for a server, a NAT),
    /// which no majority vote should hide.
    var stacks: [(initial: Int, packets: Int, ttls: [Int])] {
        var groups: [Int: (packets: Int, ttls: [Int])] = [:]
        for value in values {
            let initial = InitialTTL.values.first(where: { $0 >= value.ttl }) ?? 255
            groups[initial, default: (0, [])].packets += value.count
            groups[initial, default: (0, [])].ttls.append(value.ttl)
        }
        return groups.map { (initial: $0.key, packets: $0.value.packets, ttls: $0.value.ttls.sorted()) }
            .sorted { $0.packets != $1.packets ? $0.packets > $1.packets : $0.initial < $1.initial }
    }

    /// Packets sent with the same initial TTL as `ttl`.
    func packetsOfStack(of ttl: UInt8) -> Int {
        let initial = InitialTTL.values.first(where: { $0 >= Int(ttl) }) ?? 255
        return stacks.first(where: { $0.initial == initial })?.packets ?? 0
    }
}

/// Where a vantage point sits on a conversation's path.
enum VantagePosition: String, Sendable {
    case nearClient = "client side"
    case nearServer = "server side"
    case unknown = "unknown"
}

/// Initial TTLs of common stacks: a TTL equal to one of these was sent by a box on the capture's
/// own link.
enum InitialTTL {
    static let values: [Int] = [32, 64, 128, 255]

    /// Hops travelled, assuming the smallest common initial TTL not below `ttl`.
    static func hops(_ ttl: UInt8) -> Int? {
        guard ttl > 0, let initial = values.first(where: { $0 >= Int(ttl) }) else { return nil }
        return initial - Int(ttl)
    }
}

extension ConversationState {
    /// The vantage's place on the path: from the handshake timing (the side that answers at
    /// once is near), else from TTLs (fewer hops travelled is nearer).
    var position: VantagePosition {
        // Karn: with a retransmitted SYN or SYN/ACK, which copy was answered is unknown.
        if !shared.handshakeRetransmitted, let syn = shared.firstSYNTime, let synAck = shared.firstSYNACKTime,
           let ack = shared.firstACKAfterSYNACKTime, synAck >= syn, ack >= synAck {
            let toServer = synAck - syn
            let toClient = ack - synAck
            if toServer > toClient * 3 && toServer - toClient > .microseconds(50) { return .nearClient }
            if toClient > toServer * 3 && toClient - toServer > .microseconds(50) { return .nearServer }
        }
        if let clientTTL = clientDir.ttl.mode, let serverTTL = serverDir.ttl.mode,
           let clientHops = InitialTTL.hops(clientTTL), let serverHops = InitialTTL.hops(serverTTL) {
            if clientHops < serverHops { return .nearClient }
            if serverHops < clientHops { return .nearServer }
        }
        return .unknown
    }

    var flow: FlowRef { FlowRef(client, server) }

    /// The direction sent by the conversation's client (true) or server (false).
    @inline(__always)
    func direction(fromClient: Bool) -> DirectionState { fromClient ? clientDir : serverDir }

    /// Smallest RTT estimate the capture offers for this conversation, if any.
    /// The handshake RTT when the handshake was captured; otherwise the larger of the two
    /// directions' smallest ACK delays (near one end, the local side's data is acknowledged after
    /// a full round trip while the remote side's is acknowledged at once).
    var pathRTT: TimeSpan? {
        if shared.initialRTT > .zero { return shared.initialRTT }
        let minimums = [clientDir.rtt.minimumIfAny, serverDir.rtt.minimumIfAny].compactMap { $0 }
        return minimums.max()
    }
}


/// Where a capture was taken, as the one who took it knows: at the connections' client, at their
/// server, or on a router between them. `.other`: not stated — the diagnosis then goes by what the
/// packets show (TTLs, handshake timing) and nothing else.
public enum VantageRole: String, Sendable, Hashable, CaseIterable {
    case client, server, router, other

    /// The roles a person or the runner can state (`other` is the absence of one).
    public static let stated: [VantageRole] = [.client, .server, .router]
}
