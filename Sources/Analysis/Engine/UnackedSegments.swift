/// One segment sent and not yet acknowledged (tshark's `tcp_unacked_t`).
public struct UnackedSegment: Sendable, Equatable {
    /// First sequence number still unacknowledged (trimmed as partial ACKs arrive).
    public var seq: UInt32
    /// seq + length (+1 for SYN/FIN).
    public var nextSeq: UInt32
    public var frame: UInt64
    public var time: Int64
}

/// The per-direction list of unacknowledged segments, with tshark's semantics but without its
/// O(n) walk per ACK in the common case.
///
/// tshark keeps a newest-first linked list and walks all of it on every packet. Here segments
/// live in two places:
/// - `ordered`: a ring buffer, in arrival order, of segments whose `seq` and `nextSeq` never
///   decrease. For these an ACK removes a prefix and trims the next few, so it costs O(removed).
/// - `others`: the few segments that arrived out of sequence (retransmissions, reordering),
///   walked linearly.
/// Together they hold exactly the entries tshark's list would hold; the oldest entry and the
/// oldest exact match are found by comparing frame numbers, which grow with arrival order.
/// Storage is allocated once per direction and reused, never per packet.
struct UnackedSegments {
    /// tshark stops adding segments past this many (TCP_MAX_UNACKED_SEGMENTS).
    static let limit = 10_000

    private var ring: ContiguousArray<UnackedSegment> = []
    private var head = 0
    private var orderedCount = 0
    private var others: ContiguousArray<UnackedSegment> = []

    var count: Int { orderedCount + others.count }
    var isEmpty: Bool { orderedCount == 0 && others.isEmpty }

    @inline(__always)
    private func ringIndex(_ i: Int) -> Int { (head + i) & (ring.count - 1) }

    @inline(__always)
    private var lastOrdered: UnackedSegment { ring[ringIndex(orderedCount - 1)] }

    /// Adds a segment (tshark puts it at the head of its list).
    @inline(__always)
    mutating func append(_ segment: UnackedSegment) {
        if orderedCount == 0 {
            // An empty ordered run restarts anywhere.
            pushOrdered(segment)
            return
        }
        let last = lastOrdered
        if SeqNum.greaterOrEqual(segment.seq, last.seq) && SeqNum.greaterOrEqual(segment.nextSeq, last.nextSeq) {
            pushOrdered(segment)
        } else {
            others.append(segment)
        }
    }

    @inline(__always)
    private mutating func pushOrdered(_ segment: UnackedSegment) {
        if orderedCount == ring.count { grow() }
        ring[ringIndex(orderedCount)] = segment
        orderedCount += 1
    }

    private mutating func grow() {
        let newCapacity = max(16, ring.count * 2)
        var bigger = ContiguousArray<UnackedSegment>(repeating: UnackedSegment(seq: 0, nextSeq: 0, frame: 0, time: 0),
                                                     count: newCapacity)
        for i in 0..<orderedCount { bigger[i] = ring[ringIndex(i)] }
        ring = bigger
        head = 0
    }

    /// Applies an acknowledgment number the way tshark's removal loop does: entries ending at or
    /// before `ack` go, entries straddling it are trimmed to start at `ack`. Returns the oldest
    /// entry that ended exactly at `ack` (tshark's `acks_frame` / `ack_rtt` source), if any.
    @inline(__always)
    mutating func acknowledge(_ ack: UInt32) -> UnackedSegment? {
        var match: UnackedSegment?
        // Ordered run: nextSeq never decreases, so the removed entries are a prefix.
        while orderedCount > 0 {
            let first = ring[head]
            guard SeqNum.lessOrEqual(first.nextSeq, ack) else { break }
            if first.nextSeq == ack && match == nil { match = first }
            head = (head + 1) & (ring.count - 1)
            orderedCount -= 1
        }
        // seq never decreases either, so the trimmed entries are the next ones.
        var i = 0
        while i < orderedCount {
            let index = ringIndex(i)
            guard SeqNum.greaterThan(ack, ring[index].seq) else { break }
            ring[index].seq = ack
            i += 1
        }
        if !others.isEmpty { acknowledgeOthers(ack, match: &match) }
        return match
    }

    private mutating func acknowledgeOthers(_ ack: UInt32, match: inout UnackedSegment?) {
        var kept = 0
        for i in 0..<others.count {
            var entry = others[i]
            if SeqNum.lessOrEqual(entry.nextSeq, ack) {
                if entry.nextSeq == ack, match.map({ entry.frame < $0.frame }) ?? true { match = entry }
                continue
            }
            if SeqNum.greaterThan(ack, entry.seq) { entry.seq = ack }
            others[kept] = entry
            kept += 1
        }
        others.removeLast(others.count - kept)
    }

    /// The oldest entry still unacknowledged (tshark's RTO reference).
    var oldest: UnackedSegment? {
        let ordered = orderedCount > 0 ? ring[head] : nil
        guard let other = others.first else { return ordered }
        guard let ordered else { return other }
        return other.frame < ordered.frame ? other : ordered
    }

    /// tshark's bytes-in-flight span: highest end minus lowest start, both taken relative to
    /// `base` as unsigned numbers (as tshark compares them). Nil when empty.
    @inline(__always)
    func span(base: UInt32) -> UInt32? {
        guard !isEmpty else { return nil }
        var first = UInt32.max
        var last: UInt32 = 0
        if orderedCount > 0 {
            let front = ring[head]
            let back = lastOrdered
            let frontSeq = front.seq &- base, backSeq = back.seq &- base
            let frontEnd = front.nextSeq &- base, backEnd = back.nextSeq &- base
            if frontSeq <= backSeq && frontEnd <= backEnd {
                first = frontSeq
                last = backEnd
            } else {
                // The run crosses base + 2^32: compare every entry, like tshark.
                for i in 0..<orderedCount {
                    let entry = ring[ringIndex(i)]
                    first = min(first, entry.seq &- base)
                    last = max(last, entry.nextSeq &- base)
                }
            }
        }
        for entry in others {
            first = min(first, entry.seq &- base)
            last = max(last, entry.nextSeq &- base)
        }
        return last &- first
    }

    /// Empties the list in place, keeping its buffers (a retired conversation's slot handed on).
    mutating func empty() {
        // A very long list's buffer is not worth keeping for the next connection.
        if ring.count > 256 { ring = [] }
        if others.capacity > 256 { others = [] } else { others.removeAll(keepingCapacity: true) }
        head = 0
        orderedCount = 0
    }

    /// Entries oldest first (for inspection and tests; allocates).
    var entries: [UnackedSegment] {
        var all: [UnackedSegment] = []
        for i in 0..<orderedCount { all.append(ring[ringIndex(i)]) }
        all.append(contentsOf: others)
        return all.sorted { $0.frame < $1.frame }
    }
}
