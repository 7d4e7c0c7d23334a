/// When `TCPAnalyzer` retires finished conversations, so that memory follows the connections
/// open at once instead of every connection ever seen.
///
/// A conversation is *closed* once both sides sent a FIN, or either sent a RST. A closed
/// conversation is retired after `linger` of capture time without a packet (the window in which
/// late segments, retransmissions and the consequences of a RST still belong to it); one closed
/// *cleanly* — both FINs sent, every byte of data acknowledged by the peer's latest ACK (the last
/// FIN's own ACK may be missing), no RST — after `cleanLinger` (no data is outstanding: only a
/// copy, or a FIN resent for an ACK lost beyond the vantage, can still bring a packet); an open
/// one after `idleTimeout` without a packet. Retiring hands the conversation to the observer
/// (`CaptureAnalysisObserver.willRetire`), then frees its slot for the next connection (its
/// buffers are reused, not reallocated).
///
/// tshark never forgets a conversation, so a retired one leaves a *tombstone*: its 4-tuple, its
/// `tcp.stream` number and every field of the sequence analysis that a later flag depends on.
/// A packet that arrives later on the same 4-tuple revives the conversation from it (same stream
/// number, same flags as tshark: a late retransmission is still a retransmission, a late
/// duplicate ACK still a duplicate ACK), and a SYN with a new ISN still starts a new conversation
/// flagged `reused_ports`. Only the per-frame values that do not make a flag (ack RTT, RTO,
/// bytes in flight of such a late frame) start afresh. Tombstones are kept, oldest dropped first,
/// for `tombstoneLifetime` of capture time and at most `tombstoneLimit` of them; a packet on a
/// 4-tuple whose tombstone is gone starts a new conversation.
public struct RetirementPolicy: Sendable, Equatable {
    /// Capture time (ns) a closed conversation waits, without packets, before it is retired.
    public var linger: Int64
    /// Capture time (ns) a cleanly closed conversation waits, without packets, before it is retired.
    public var cleanLinger: Int64
    /// Capture time (ns) an open conversation may stay silent before it is retired.
    public var idleTimeout: Int64
    /// Capture time (ns) a tombstone is kept after its conversation was retired.
    public var tombstoneLifetime: Int64
    /// Most tombstones kept (the oldest go first).
    public var tombstoneLimit: Int

    public init(linger: Int64, cleanLinger: Int64? = nil, idleTimeout: Int64,
                tombstoneLifetime: Int64 = 600_000_000_000, tombstoneLimit: Int = 65_536) {
        self.linger = max(0, linger)
        self.cleanLinger = max(0, min(cleanLinger ?? linger, linger))
        self.idleTimeout = max(0, idleTimeout)
        self.tombstoneLifetime = max(0, tombstoneLifetime)
        self.tombstoneLimit = max(1, tombstoneLimit)
    }

    /// For the flags alone: a conversation's flags need only its tombstone, so it is retired as
    /// soon as it closes; idle ones after 10 minutes.
    public static let flags = RetirementPolicy(linger: 0, idleTimeout: 600_000_000_000)

    /// For the diagnosis: closed conversations linger 30 s of capture time (retransmitted FINs,
    /// the answers to a RST, late duplicates all still count), cleanly closed ones 200 ms (copies
    /// of the last packets; a FIN resent because the last ACK was lost beyond the vantage comes
    /// after an RTO of at least 200 ms, and splits the conversation), idle ones go after 10 minutes. A packet that still comes later revives the conversation;
    /// a file's diagnosis then reads the file again for the conversations so split, so the
    /// findings stay those of the whole-capture diagnosis
    /// (`DiagnosisObserver.retiredRunResult(of:)`).
    public static let diagnosis = RetirementPolicy(linger: 30_000_000_000, cleanLinger: 200_000_000,
                                                   idleTimeout: 600_000_000_000)
}

/// What a later flag of one direction depends on (the scalar part of `TCPFlowState`; the
/// unacknowledged-segment list and SACK blocks only feed RTT, RTO and bytes in flight).
struct FlowCore {
    var nextSeq: UInt32
    var maxSeqToBeAcked: UInt32
    var lastAck: UInt32
    var window: UInt32
    var dupAckCount: UInt32
    var baseSeq: UInt32
    var nextSeqTime: Int64
    var nextSeqFrame: UInt64
    var lastAckTime: Int64
    var lastNonDupAckFrame: UInt64
    var lastSegmentFlags: AnalysisFlags
    var windowScale: Int8
    var bits: UInt8  // 1 baseSeqKnown, 2 isFirstAck, 4 bytesInFlightValid, 8 sawFIN, 16 sawRST

    init(_ flow: TCPFlowState) {
        nextSeq = flow.nextSeq
        maxSeqToBeAcked = flow.maxSeqToBeAcked
        lastAck = flow.lastAck
        window = flow.window
        dupAckCount = flow.dupAckCount
        baseSeq = flow.baseSeq
        nextSeqTime = flow.nextSeqTime
        nextSeqFrame = flow.nextSeqFrame
        lastAckTime = flow.lastAckTime
        lastNonDupAckFrame = flow.lastNonDupAckFrame
        lastSegmentFlags = flow.lastSegmentFlags
        windowScale = flow.windowScale
        bits = (flow.baseSeqKnown ? 1 : 0) | (flow.isFirstAck ? 2 : 0) | (flow.bytesInFlightValid ? 4 : 0)
            | (flow.sawFIN ? 8 : 0) | (flow.sawRST ? 16 : 0)
    }

    var baseSeqKnown: Bool { bits & 1 != 0 }

    func restore(into flow: inout TCPFlowState) {
        flow.nextSeq = nextSeq
        flow.maxSeqToBeAcked = maxSeqToBeAcked
        flow.lastAck = lastAck
        flow.window = window
        flow.dupAckCount = dupAckCount
        flow.baseSeq = baseSeq
        flow.nextSeqTime = nextSeqTime
        flow.nextSeqFrame = nextSeqFrame
        flow.lastAckTime = lastAckTime
        flow.lastNonDupAckFrame = lastNonDupAckFrame
        flow.lastSegmentFlags = lastSegmentFlags
        flow.windowScale = windowScale
        flow.baseSeqKnown = bits & 1 != 0
        flow.isFirstAck = bits & 2 != 0
        flow.bytesInFlightValid = bits & 4 != 0
        flow.sawFIN = bits & 8 != 0
        flow.sawRST = bits & 16 != 0
    }
}

/// A retired conversation's memory (see `RetirementPolicy`).
struct Tombstone {
    var key: FlowKey
    var id: Int
    var retiredAt: Int64
    var initialRTT: Int64
    var lastSYNTime: Int64
    var client: FlowCore
    var server: FlowCore
    var clientIsLow: Bool
    var reusedPorts: Bool
}

/// Tombstones in retirement order, in a ring of fixed capacity.
struct TombstoneRing {
    private(set) var storage: ContiguousArray<Tombstone> = []
    private(set) var head = 0
    private(set) var count = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    var isFull: Bool { count == capacity }

    /// The position (stable until the entry is dropped) of the oldest tombstone.
    var oldestPosition: Int { head }

    subscript(position: Int) -> Tombstone { storage[position] }

    /// Adds a tombstone (the ring must not be full) and returns its position.
    mutating func append(_ tombstone: Tombstone) -> Int {
        let position: Int
        if storage.count < capacity {
            // Grows with use up to the capacity, so a small capture keeps a small ring.
            position = storage.count
            storage.append(tombstone)
        } else {
            position = (head + count) % capacity
            storage[position] = tombstone
        }
        count += 1
        return position
    }

    mutating func dropOldest() {
        head = (head + 1) % capacity
        count -= 1
    }
}

/// Links of a conversation slot in the activity list of its state (open or closing): a doubly
/// linked list through slot indexes, least recently active first.
struct SlotLinks {
    var previous: Int32 = -1
    var next: Int32 = -1
    /// 0 free, 1 open, 2 closing, 3 closed cleanly.
    var list: UInt8 = 0
}

struct SlotList {
    var head: Int32 = -1
    var tail: Int32 = -1

    static func remove(_ slot: Int32, from list: inout SlotList, links: UnsafeMutablePointer<SlotLinks>) {
        let entry = links[Int(slot)]
        if entry.previous >= 0 { links[Int(entry.previous)].next = entry.next } else { list.head = entry.next }
        if entry.next >= 0 { links[Int(entry.next)].previous = entry.previous } else { list.tail = entry.previous }
        links[Int(slot)].previous = -1
        links[Int(slot)].next = -1
    }

    static func append(_ slot: Int32, to list: inout SlotList, links: UnsafeMutablePointer<SlotLinks>) {
        links[Int(slot)].previous = list.tail
        links[Int(slot)].next = -1
        if list.tail >= 0 { links[Int(list.tail)].next = slot } else { list.head = slot }
        list.tail = slot
    }
}
