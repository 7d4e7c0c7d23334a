import Values
/// One side of a conversation: address and port.
public struct TCPEndpoint: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public static func < (a: TCPEndpoint, b: TCPEndpoint) -> Bool {
        a.address != b.address ? a.address < b.address : a.port < b.port
    }

    public var description: String {
        address.isIPv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

/// A TCP conversation: the address/port 4-tuple from one SYN (or first packet) on, as tshark's
/// `tcp.stream`. A SYN with a new ISN on the same 4-tuple starts a new conversation.
///
/// Directions are named from the *client*: the sender of the first SYN, or of the first packet
/// seen when the handshake is missing (a SYN/ACK seen first makes its receiver the client).
public struct TCPConversation: Sendable {
    /// Index in `TCPAnalyzer.conversations`, equal to tshark's `tcp.stream`.
    public internal(set) var id: Int
    public internal(set) var client: TCPEndpoint
    public internal(set) var server: TCPEndpoint
    /// Client → server and server → client state.
    public internal(set) var clientFlow = TCPFlowState()
    public internal(set) var serverFlow = TCPFlowState()
    /// SYN → first non-SYN ACK time in ns (tshark's `initial_rtt`); 0 while unknown.
    public internal(set) var initialRTT: Int64 = 0
    /// Time of the most recent SYN without ACK (0 = none).
    public internal(set) var lastSYNTime: Int64 = 0
    public internal(set) var firstFrame: UInt64
    public internal(set) var lastFrame: UInt64
    public internal(set) var firstTime: Int64
    public internal(set) var lastTime: Int64
    /// This conversation began with a SYN that reused the ports of an earlier one.
    public internal(set) var reusedPorts = false

    init(id: Int, client: TCPEndpoint, server: TCPEndpoint, frame: UInt64, time: Int64) {
        self.id = id
        self.client = client
        self.server = server
        firstFrame = frame
        lastFrame = frame
        firstTime = time
        lastTime = time
    }

    /// Starts over as a new conversation in place, keeping the unacknowledged-segment buffers
    /// (a retired conversation's slot handed on: no allocation, no copy).
    mutating func reset(id: Int, client: TCPEndpoint, server: TCPEndpoint, frame: UInt64, time: Int64) {
        self.id = id
        self.client = client
        self.server = server
        clientFlow.reset()
        serverFlow.reset()
        initialRTT = 0
        lastSYNTime = 0
        firstFrame = frame
        lastFrame = frame
        firstTime = time
        lastTime = time
        reusedPorts = false
    }

    /// Initial RTT in ns, nil while unknown.
    public var knownInitialRTT: Int64? { initialRTT != 0 ? initialRTT : nil }
    /// Total frames both ways.
    public var packets: UInt64 { clientFlow.packets + serverFlow.packets }
    /// Flag counts of both directions together.
    public var flagCounts: FlagCounts { clientFlow.flagCounts + serverFlow.flagCounts }
}

/// The 4-tuple in canonical order (lower endpoint first), so both directions find one entry.
struct FlowKey: Equatable {
    var lowHigh: UInt64
    var lowLow: UInt64
    var highHigh: UInt64
    var highLow: UInt64
    /// low port << 16 | high port, plus bit 32 for IPv6.
    var ports: UInt64

    /// The key of a segment and whether its source is the lower endpoint.
    @inline(__always)
    init(_ segment: TCPSegment, sourceIsLow: inout Bool) {
        let s = segment.source, d = segment.destination
        let sourceFirst: Bool
        if s.high != d.high {
            sourceFirst = s.high < d.high
        } else if s.low != d.low {
            sourceFirst = s.low < d.low
        } else {
            sourceFirst = segment.sourcePort <= segment.destinationPort
        }
        let family: UInt64 = s.isIPv6 ? 1 << 32 : 0
        if sourceFirst {
            lowHigh = s.high; lowLow = s.low; highHigh = d.high; highLow = d.low
            ports = UInt64(segment.sourcePort) << 16 | UInt64(segment.destinationPort) | family
        } else {
            lowHigh = d.high; lowLow = d.low; highHigh = s.high; highLow = s.low
            ports = UInt64(segment.destinationPort) << 16 | UInt64(segment.sourcePort) | family
        }
        sourceIsLow = sourceFirst
    }

    /// A cheap, well-mixed hash (multiply-xorshift); SipHash would cost more than the lookup.
    @inline(__always)
    var hash: UInt64 {
        var h = lowLow &* 0x9E37_79B9_7F4A_7C15
        h ^= highLow &* 0xC2B2_AE3D_27D4_EB4F
        h ^= (lowHigh ^ (highHigh &* 0x1656_67B1_9E37_79F9)) &* 0x27D4_EB2F_1656_67C5
        h ^= ports &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 29
        h = h &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 32
        return h
    }
}

/// Open-addressing hash table (linear probing) from 4-tuple to the current conversation's slot,
/// or to the tombstone of a retired one.
struct FlowTable {
    private var keys: ContiguousArray<FlowKey>
    private var values: ContiguousArray<Int32>
    private var mask: Int
    private(set) var count = 0

    /// `find` result for a key not in the table. Values >= 0 are slots; below -1, tombstones.
    static let absent: Int32 = -1
    @inline(__always) static func tombstoneValue(_ position: Int) -> Int32 { Int32(-2 - position) }
    @inline(__always) static func tombstonePosition(_ value: Int32) -> Int { Int(-2 - value) }

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = ContiguousArray(repeating: FlowKey.empty, count: size)
        values = ContiguousArray(repeating: Self.absent, count: size)
        mask = size - 1
    }

    @inline(__always)
    func find(_ key: FlowKey) -> Int32 {
        var slot = Int(truncatingIfNeeded: key.hash) & mask
        while true {
            let value = values[slot]
            if value == Self.absent { return Self.absent }
            if keys[slot] == key { return value }
            slot = (slot + 1) & mask
        }
    }

    /// Inserts or replaces the value for `key`.
    mutating func set(_ key: FlowKey, _ value: Int32) {
        var slot = Int(truncatingIfNeeded: key.hash) & mask
        while values[slot] != Self.absent {
            if keys[slot] == key {
                values[slot] = value
                return
            }
            slot = (slot + 1) & mask
        }
        keys[slot] = key
        values[slot] = value
        count += 1
        if count * 2 > keys.count { grow() }
    }

    /// Removes `key` (backward-shift deletion: no deleted markers, probes stay short).
    mutating func remove(_ key: FlowKey) {
        var slot = Int(truncatingIfNeeded: key.hash) & mask
        while true {
            if values[slot] == Self.absent { return }
            if keys[slot] == key { break }
            slot = (slot + 1) & mask
        }
        var hole = slot
        var next = (hole + 1) & mask
        while values[next] != Self.absent {
            let home = Int(truncatingIfNeeded: keys[next].hash) & mask
            // Move the entry back into the hole unless its home lies cyclically in (hole, next].
            let distanceToNext = (next - home) & mask
            let distanceToHole = (hole - home) & mask
            if distanceToHole < distanceToNext {
                keys[hole] = keys[next]
                values[hole] = values[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        keys[hole] = FlowKey.empty
        values[hole] = Self.absent
        count -= 1
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = ContiguousArray(repeating: FlowKey.empty, count: oldKeys.count * 2)
        values = ContiguousArray(repeating: Self.absent, count: oldKeys.count * 2)
        mask = keys.count - 1
        count = 0
        for i in 0..<oldKeys.count where oldValues[i] != Self.absent {
            set(oldKeys[i], oldValues[i])
        }
    }
}

extension FlowKey {
    static let empty = FlowKey(lowHigh: 0, lowLow: 0, highHigh: 0, highLow: 0, ports: 0)

    init(lowHigh: UInt64, lowLow: UInt64, highHigh: UInt64, highLow: UInt64, ports: UInt64) {
        self.lowHigh = lowHigh
        self.lowLow = lowLow
        self.highHigh = highHigh
        self.highLow = highLow
        self.ports = ports
    }
}
