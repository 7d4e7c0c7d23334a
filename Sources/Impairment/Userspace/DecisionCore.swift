import Values
/// The deterministic heart of the userspace engine: for one forwarding direction, it decides
/// what happens to each packet (accept now, hold, drop, modify, duplicate) and when held packets
/// leave. Pure: no clock, no socket. Time comes in as arguments (monotonic ns), actions go out
/// through a `DecisionSink`. The same seed, configuration and packet sequence (bytes and arrival
/// times) give the same decisions, which is what makes the decision log replayable: feed a
/// recorded sequence to a fresh core and compare.
///
/// Semantics follow netem (sch_netem.c) step by step, per spec ("placement"):
/// 1. duplicate? (count = 2) — 2. loss? (count − 1; with `ecn`, ECN-capable packets are
///    CE-marked instead) — count 0: drop — 3. a copy, if count is 2, runs the same steps again
///    (without duplication) and is injected through the raw socket at its own time —
/// 4. corrupt? one bit of the transport segment flips (checksums stay stale) — 5. queue limit
///    (`limit`, default 1000 held packets; the rate's queue limit) — 6. reorder? (sent at once,
///    overtaking held packets; `gap`) else delay = `delay + jitter·x` (x from the distribution,
///    correlated) and, with a rate, `send = max(last send, now + delay) + wire time` —
/// 7. release in (time, arrival) order, through netem's slots when configured.
/// Targeted actions come first: a packet picked by `actions` gets that action only.
///
/// Differences from netem, by design:
/// - The 4-state loss model follows Salsano et al.'s definition (p31 = P(3→1), staying in 3 with
///   1 − p31 − p32); sch_netem's code swaps "stay in 3" and "go to 1". Gilbert–Elliott follows
///   sch_netem exactly (a packet's loss uses the state it arrived in; the mean burst length is
///   1/r either way).
/// - Each decision kind has its own random stream (see `Random.swift`).
/// - Packet lengths for the rate count the IP packet plus a 14-byte Ethernet header, which is
///   what netem sees on a veth egress.
public struct DecisionCore {
    public let path: String
    var specs: [SpecState]
    /// Packets seen on this direction.
    public private(set) var packetCount: UInt64 = 0
    private var sequence: UInt64 = 0
    /// Record decisions into `events`.
    public var logging: Bool
    public private(set) var events: [DecisionEvent] = []
    public private(set) var counters = DecisionCounters()
    /// Scheduled changes applied: (placement, schedule index, due time, time applied), monotonic ns.
    public private(set) var appliedChanges: [AppliedChange] = []

    public struct AppliedChange: Sendable, Hashable {
        public var spec: Int
        public var scheduleIndex: Int
        public var due: UInt64
        public var applied: UInt64
    }

    /// - Parameters:
    ///   - path: the direction's name, e.g. "router→server" (part of the stream derivation).
    ///   - specs: the placements on this direction, in order (the first whose `match` takes a
    ///     packet applies its parameters).
    ///   - seed: the run's seed, for specs without their own.
    ///   - nodes: addresses of topology nodes named in matches.
    ///   - start: time 0 of the schedules (monotonic ns).
    public init(path: String, specs: [ImpairmentSpec], seed: UInt64, nodes: [String: [IPPrefix]] = [:],
                start: UInt64, logging: Bool = true) throws(UserspaceEngineError) {
        self.path = path
        self.logging = logging
        var states: [SpecState] = []
        for (i, spec) in specs.enumerated() {
            states.append(try SpecState(index: i, spec: spec, path: path, seed: spec.seed ?? seed, nodes: nodes, start: start))
        }
        self.specs = states
    }

    /// Moves time 0 of the schedules to `start` (monotonic ns); call before the first packet.
    public mutating func rebase(start: UInt64) {
        for s in specs.indices { specs[s].rebase(start: start) }
    }

    /// Whether any configuration (now or scheduled) needs whole packets (to modify or copy them).
    public var needsWholePackets: Bool { specs.contains { $0.needsWholePackets } }

    /// The least time every packet on this direction is held (0: some may leave at once). The
    /// worker may then read arrivals in coalesced batches: their times come from the kernel's
    /// timestamps, so reading them later does not move their release.
    public var guaranteedDelay: Int64 { specs.map(\.guaranteedDelay).min() ?? 0 }

    /// The largest number of packets the specs may hold at once (for the kernel queue's length).
    public var holdLimit: Int { specs.reduce(0) { $0 + $1.maximumHeld } }

    /// Packets held now.
    public var heldCount: Int { specs.reduce(0) { $0 + $1.queue.count } }

    /// When `release` next has something to do (a held packet's time, a slot, a scheduled change).
    public var nextWakeup: UInt64? {
        var best: UInt64?
        for s in specs {
            if let t = s.nextWakeup, best.map({ t < $0 }) ?? true { best = t }
        }
        return best
    }

    public mutating func drainEvents() -> [DecisionEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    // MARK: arrivals

    /// Decides for one queued packet. `packet` holds the captured bytes (the core may modify
    /// them in place); `id` is the queue's packet id, handed back in the sink's verdict.
    public mutating func arrive<S: DecisionSink>(id: UInt32, packet: UnsafeMutableRawBufferPointer, now: UInt64,
                                                 sink: inout S) {
        applyDueChanges(now: now)
        packetCount &+= 1
        counters.packets &+= 1
        let headers = PacketHeaders(parsing: UnsafeRawBufferPointer(packet))
        let length = headers.version != 0 ? headers.ipLength : packet.count
        let whole = packet.count >= length
        var record = DecisionRecord(index: packetCount, headers: headers, length: length, verdict: .accept, rule: .none)

        // Targeted actions: every action counts its matching packets; the first hit acts.
        var chosen: (spec: Int, action: Int, nth: UInt64)?
        for s in specs.indices where !specs[s].actions.isEmpty {
            for a in specs[s].actions.indices where specs[s].actions[a].match.matches(headers) {
                if let hit = specs[s].actions[a].count(), chosen == nil { chosen = (s, a, hit) }
            }
        }
        if let chosen {
            record.rule = .action(spec: chosen.spec, action: chosen.action, nth: chosen.nth)
            applyAction(chosen.spec, chosen.action, id: id, packet: packet, length: length, whole: whole,
                        headers: headers, now: now, record: &record, sink: &sink)
        } else if let s = specs.firstIndex(where: { !$0.parameters.isEmpty && ($0.match?.matches(headers) ?? true) }) {
            // An entry with nothing in force (one a later change will fill, or one a change
            // emptied) is transparent: its packets go on to the next entry whose match takes them.
            record.rule = .parameters(spec: s)
            netem(s, id: id, packet: packet, length: length, whole: whole, headers: headers, now: now,
                  record: &record, sink: &sink)
        } else {
            sink.verdict(id: id, accept: true, payload: nil)
            counters.accepted &+= 1
        }
        if logging { events.append(.packet(record)) }
    }

    private mutating func applyAction<S: DecisionSink>(_ s: Int, _ a: Int, id: UInt32, packet: UnsafeMutableRawBufferPointer,
                                                       length: Int, whole: Bool, headers: PacketHeaders, now: UInt64,
                                                       record: inout DecisionRecord, sink: inout S) {
        switch specs[s].actions[a].action {
        case .drop:
            record.verdict = .drop
            record.dropReason = .action
            counters.dropped &+= 1
            counters.droppedByAction &+= 1
            sink.verdict(id: id, accept: false, payload: nil)
        case .delay(let d):
            let time = now &+ UInt64(max(d.nanoseconds, 0))
            record.delay = max(d.nanoseconds, 0)
            hold(s, HeldPacket(time: time, sequence: 0, id: id, length: Int32(clamping: length), kind: .accept, bytes: nil))
            counters.delayed &+= 1
        case .duplicate(let copyDelay):
            if whole {
                let copy = Array(UnsafeRawBufferPointer(rebasing: packet[0..<length]))
                let delay = max(copyDelay.nanoseconds, 0)
                record.copy = .sent(delay: delay)
                counters.duplicated &+= 1
                if delay == 0 && specs[s].slot == nil {
                    sink.inject(copy, version: headers.version)
                } else {
                    hold(s, HeldPacket(time: now &+ UInt64(delay), sequence: 0, id: 0, length: Int32(clamping: length),
                                       kind: .inject, bytes: copy))
                }
            } else {
                record.copy = .skipped
                record.truncated = true
            }
            sink.verdict(id: id, accept: true, payload: nil)
            counters.accepted &+= 1
        case .corrupt:
            if whole, Self.flipBit(packet, length: length, headers: headers, generator: &specs[s].corruptGenerator) {
                record.corrupted = true
                counters.corrupted &+= 1
                sink.verdict(id: id, accept: true, payload: UnsafeRawBufferPointer(rebasing: packet[0..<length]))
            } else {
                record.truncated = !whole
                sink.verdict(id: id, accept: true, payload: nil)
            }
            counters.accepted &+= 1
        case .stripWindowScale:
            if whole, Self.stripWindowScale(packet, length: length, headers: headers) {
                record.optionStripped = true
                counters.optionsStripped &+= 1
                sink.verdict(id: id, accept: true, payload: UnsafeRawBufferPointer(rebasing: packet[0..<length]))
            } else {
                record.truncated = !whole
                sink.verdict(id: id, accept: true, payload: nil)
            }
            counters.accepted &+= 1
        }
    }

    /// Replaces a TCP SYN's window-scale option (kind 3, length 3) with three NOPs and recomputes
    /// the TCP checksum over the pseudo-header and the whole segment (the packet may have come with
    /// its checksum left to offload; a recomputed one is right either way). False when the packet
    /// is not a TCP SYN carrying the option.
    static func stripWindowScale(_ packet: UnsafeMutableRawBufferPointer, length: Int, headers: PacketHeaders) -> Bool {
        guard headers.transport == 6, headers.tcpFlags & 0x02 != 0, let t = headers.transportOffset else { return false }
        let end = min(length, packet.count)
        guard t + TCPHeaderView.minimumLength <= end, let base = packet.baseAddress else { return false }
        let dataOffset = TCPHeaderView(base + t).headerLength
        guard dataOffset > TCPHeaderView.minimumLength, t + dataOffset <= end else { return false }
        var i = t + TCPHeaderView.minimumLength
        var stripped = false
        while i < t + dataOffset {
            let kind = packet[i]
            if kind == 0 { break }
            if kind == 1 { i += 1; continue }
            guard i + 1 < t + dataOffset else { break }
            let size = Int(packet[i + 1])
            guard size >= 2, i + size <= t + dataOffset else { break }
            if kind == 3 && size == 3 {
                packet[i] = 1; packet[i + 1] = 1; packet[i + 2] = 1
                stripped = true
            }
            i += size
        }
        guard stripped else { return false }
        // The TCP checksum from scratch: pseudo-header, then the segment with its checksum zeroed.
        var sum: UInt32 = 0
        func add(_ offset: Int, _ count: Int) {
            var k = offset
            while k + 1 < offset + count { sum &+= UInt32(packet[k]) << 8 | UInt32(packet[k + 1]); k += 2 }
            if k < offset + count { sum &+= UInt32(packet[k]) << 8 }
        }
        let segmentLength = min(headers.ipLength, end) - t
        if headers.version == 4 {
            add(IPv4HeaderView.addressesOffset, 8)
        } else {
            add(IPv6HeaderView.addressesOffset, 32)
        }
        guard segmentLength >= dataOffset else { return false }
        sum &+= 6
        sum &+= UInt32(segmentLength)
        let checksumAt = t + TCPHeaderView.checksumOffset
        packet[checksumAt] = 0; packet[checksumAt + 1] = 0
        add(t, segmentLength)
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) &+ (sum >> 16) }
        let checksum = ~UInt16(truncatingIfNeeded: sum)
        packet[checksumAt] = UInt8(checksum >> 8); packet[checksumAt + 1] = UInt8(checksum & 0xFF)
        return true
    }

    /// netem's enqueue for placement `s`.
    private mutating func netem<S: DecisionSink>(_ s: Int, id: UInt32, packet: UnsafeMutableRawBufferPointer, length: Int,
                                                 whole: Bool, headers: PacketHeaders, now: UInt64,
                                                 record: inout DecisionRecord, sink: inout S) {
        var count = 1
        if specs[s].drawDuplicate() { count += 1 }
        if specs[s].drawLoss() {
            if specs[s].tuned.ecn, headers.ecn != 0, whole, Self.markCE(packet, headers: headers) {
                record.ecnMarked = true
                counters.ecnMarked &+= 1
            } else {
                count -= 1
            }
        }
        if count == 0 {
            record.verdict = .drop
            record.dropReason = .loss
            counters.dropped &+= 1
            counters.droppedByLoss &+= 1
            sink.verdict(id: id, accept: false, payload: nil)
            return
        }
        if count > 1 {
            if whole {
                var copy = Array(UnsafeRawBufferPointer(rebasing: packet[0..<length]))
                record.copy = copyThroughNetem(s, copy: &copy, headers: headers, length: length, now: now, sink: &sink)
                counters.duplicated &+= 1
            } else {
                record.copy = .skipped
                record.truncated = true
            }
        }
        var modified = record.ecnMarked
        if specs[s].drawCorrupt() {
            if whole, Self.flipBit(packet, length: length, headers: headers, generator: &specs[s].corruptGenerator) {
                record.corrupted = true
                counters.corrupted &+= 1
                modified = true
            } else if !whole {
                record.truncated = true
            }
        }
        if let reason = specs[s].overLimit(adding: length) {
            record.verdict = .drop
            record.dropReason = reason
            counters.dropped &+= 1
            counters.droppedByLimit &+= 1
            sink.verdict(id: id, accept: false, payload: nil)
            return
        }
        let (time, reordered) = specs[s].sendTime(length: length, now: now)
        record.reordered = reordered
        if reordered { counters.reordered &+= 1 }
        record.delay = Int64(bitPattern: time &- now)
        if time <= now && specs[s].slot == nil {
            record.delay = max(record.delay, 0)
            sink.verdict(id: id, accept: true, payload: modified ? UnsafeRawBufferPointer(rebasing: packet[0..<length]) : nil)
            counters.accepted &+= 1
        } else {
            counters.delayed &+= 1
            let bytes: [UInt8]? = modified ? Array(UnsafeRawBufferPointer(rebasing: packet[0..<length])) : nil
            hold(s, HeldPacket(time: time, sequence: 0, id: id, length: Int32(clamping: length),
                               kind: modified ? .acceptModified : .accept, bytes: bytes))
        }
    }

    /// A duplicate's own pass through netem (no further duplication), as netem re-enqueues it.
    private mutating func copyThroughNetem<S: DecisionSink>(_ s: Int, copy: inout [UInt8], headers: PacketHeaders, length: Int,
                                                            now: UInt64, sink: inout S) -> DecisionRecord.Copy {
        if specs[s].drawLoss() {
            let marked = specs[s].tuned.ecn && headers.ecn != 0
                && copy.withUnsafeMutableBytes { Self.markCE($0, headers: headers) }
            if !marked { return .dropped(.loss) }
        }
        if specs[s].drawCorrupt() {
            _ = copy.withUnsafeMutableBytes {
                Self.flipBit($0, length: length, headers: headers, generator: &specs[s].corruptGenerator)
            }
            counters.corrupted &+= 1
        }
        if let reason = specs[s].overLimit(adding: length) { return .dropped(reason) }
        let (time, _) = specs[s].sendTime(length: length, now: now)
        if time <= now && specs[s].slot == nil {
            sink.inject(copy, version: headers.version)
            return .sent(delay: 0)
        }
        hold(s, HeldPacket(time: time, sequence: 0, id: 0, length: Int32(clamping: length), kind: .inject, bytes: copy))
        return .sent(delay: Int64(bitPattern: time &- now))
    }

    private mutating func hold(_ s: Int, _ item: HeldPacket) {
        var item = item
        sequence &+= 1
        item.sequence = sequence
        specs[s].queue.push(item)
        counters.maxHeld = max(counters.maxHeld, heldCount)
    }

    // MARK: release

    /// Releases every held packet whose time has come (and that its slot lets through).
    public mutating func release<S: DecisionSink>(now: UInt64, sink: inout S) {
        applyDueChanges(now: now)
        for s in specs.indices {
            while let item = specs[s].nextReleasable(now: now) {
                emit(item, sink: &sink)
            }
        }
    }

    /// Releases everything held, now (the engine is stopping).
    public mutating func releaseAll<S: DecisionSink>(sink: inout S) {
        for s in specs.indices {
            while let item = specs[s].queue.pop() { emit(item, sink: &sink) }
        }
    }

    private mutating func emit<S: DecisionSink>(_ item: HeldPacket, sink: inout S) {
        switch item.kind {
        case .accept:
            sink.verdict(id: item.id, accept: true, payload: nil)
            counters.accepted &+= 1
        case .acceptModified:
            if let bytes = item.bytes {
                bytes.withUnsafeBytes { sink.verdict(id: item.id, accept: true, payload: $0) }
            } else {
                sink.verdict(id: item.id, accept: true, payload: nil)
            }
            counters.accepted &+= 1
        case .inject:
            if let bytes = item.bytes, let first = bytes.first { sink.inject(bytes, version: first >> 4) }
        }
    }

    // MARK: configuration

    private mutating func applyDueChanges(now: UInt64) {
        for s in specs.indices {
            while let change = specs[s].dueChange(now: now) {
                appliedChanges.append(AppliedChange(spec: s, scheduleIndex: change.index, due: change.time, applied: now))
                if logging {
                    events.append(.change(spec: s, scheduleIndex: change.index, at: change.change.at, beforePacket: packetCount &+ 1))
                }
            }
        }
    }

    /// Replaces placement `spec`'s parameters now (like `tc qdisc change`): random streams,
    /// counters and held packets carry on.
    public mutating func setParameters(_ parameters: ImpairmentParameters, spec: Int) {
        guard specs.indices.contains(spec) else { return }
        specs[spec].setParameters(parameters)
        if logging { events.append(.change(spec: spec, scheduleIndex: nil, at: nil, beforePacket: packetCount &+ 1)) }
    }

    // MARK: packet surgery

    /// Flips one random bit of the transport segment (its payload when it has one, else its
    /// header), or of the IP payload when there is no transport the engine knows. Checksums are
    /// left as they were, so the receiver discards the packet, as with netem's `corrupt`.
    static func flipBit(_ packet: UnsafeMutableRawBufferPointer, length: Int, headers: PacketHeaders,
                        generator: inout Xoshiro256StarStar) -> Bool {
        let end = min(length, packet.count)
        var start: Int
        if headers.payloadLength > 0 && headers.payloadOffset < end {
            start = headers.payloadOffset
        } else if let t = headers.transportOffset, t < end {
            start = t
        } else if headers.version == 4, let base = packet.baseAddress {
            start = IPv4HeaderView(base).headerLength
        } else if headers.version == 6 {
            start = IPv6HeaderView.length
        } else {
            start = 0
        }
        if start >= end { return false }
        let r = generator.next()
        let offset = start + Int(r % UInt64(end - start))
        let bit = UInt8(1) << UInt8((r >> 40) & 7)
        packet[offset] ^= bit
        return true
    }

    /// Sets the ECN field to CE (fixing the IPv4 header checksum, as INET_ECN_set_ce does).
    static func markCE(_ packet: UnsafeMutableRawBufferPointer, headers: PacketHeaders) -> Bool {
        switch headers.version {
        case 4:
            guard packet.count >= IPv4HeaderView.minimumLength else { return false }
            // ECN is the low two bits of the type-of-service byte; the checksum covers it as
            // the second byte of the first 16-bit word.
            let tos = IPv4HeaderView.typeOfServiceOffset, checksumAt = IPv4HeaderView.checksumOffset
            let old = UInt16(packet[tos - 1]) << 8 | UInt16(packet[tos])
            packet[tos] |= 0x03
            let new = UInt16(packet[tos - 1]) << 8 | UInt16(packet[tos])
            // RFC 1624: HC' = ~(~HC + ~m + m')
            var sum = UInt32(~(UInt16(packet[checksumAt]) << 8 | UInt16(packet[checksumAt + 1]))) + UInt32(~old) + UInt32(new)
            sum = (sum & 0xffff) + (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16)
            let checksum = ~UInt16(truncatingIfNeeded: sum)
            packet[checksumAt] = UInt8(checksum >> 8)
            packet[checksumAt + 1] = UInt8(checksum & 0xff)
            return true
        case 6:
            // The traffic class straddles bytes 0 and 1; its ECN bits are bits 4-5 of byte 1.
            guard packet.count >= IPv6HeaderView.ecnByteOffset + 1 else { return false }
            packet[IPv6HeaderView.ecnByteOffset] |= 0x30
            return true
        default:
            return false
        }
    }
}

/// What the core asks the I/O layer to do.
public protocol DecisionSink {
    /// The final verdict on queued packet `id`; `payload`, if given, replaces the packet.
    mutating func verdict(id: UInt32, accept: Bool, payload: UnsafeRawBufferPointer?)
    /// Send `packet` (a whole IP packet, a duplicate) out of the router.
    mutating func inject(_ packet: [UInt8], version: UInt8)
}

/// Totals of the core's decisions.
public struct DecisionCounters: Sendable, Hashable {
    public var packets: UInt64 = 0
    public var accepted: UInt64 = 0
    public var dropped: UInt64 = 0
    public var droppedByLoss: UInt64 = 0
    public var droppedByLimit: UInt64 = 0
    public var droppedByAction: UInt64 = 0
    public var delayed: UInt64 = 0
    public var reordered: UInt64 = 0
    public var corrupted: UInt64 = 0
    /// SYNs whose window-scale option a targeted action removed.
    public var optionsStripped: UInt64 = 0
    public var ecnMarked: UInt64 = 0
    public var duplicated: UInt64 = 0
    public var maxHeld: Int = 0
    public init() {}
}
