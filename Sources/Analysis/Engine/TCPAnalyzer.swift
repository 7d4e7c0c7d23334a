import Values

/// tshark-compatible TCP sequence analysis (tshark 4.0.17, `tcp_analyze_sequence_number` and
/// the conversation handling of `dissect_tcp`), first pass only, one frame at a time.
///
/// Feed TCP segments in capture order; each call returns that frame's `FrameAnalysis` and
/// updates the conversation state, which stays readable through `conversations`. A diagnosis
/// layer can therefore look at every frame and its conversation as it is analysed, without a
/// second pass. See docs/tcp-analysis-semantics.md (shared) for the rules implemented here;
/// the step numbers in comments refer to its §2.
///
/// Performance: no allocation per frame. Conversations live in one array, found through an
/// open-addressing table on the 4-tuple; unacknowledged segments sit in per-direction ring
/// buffers allocated once.
public struct TCPAnalyzer: Sendable {
    /// The conversations held, indexed by `FrameAnalysis.slot`. Without a retirement policy this
    /// is every conversation so far and the slot equals `FrameAnalysis.conversationID` (tshark's
    /// `tcp.stream`); with one, slots of retired conversations are reused.
    public private(set) var conversations: ContiguousArray<TCPConversation> = []
    private var table = FlowTable()
    /// The lower endpoint of each conversation's key is its client (parallel to `conversations`).
    private var clientIsLow: ContiguousArray<Bool> = []

    /// Nil: conversations are never retired (all of them stay readable in `conversations`).
    public let retirement: RetirementPolicy?
    /// Conversations started so far (the next `tcp.stream` number).
    public private(set) var conversationCount = 0
    /// Conversations held now, and the most held at once.
    public private(set) var openCount = 0
    public private(set) var peakOpenCount = 0
    /// Conversations retired so far, and revived from their tombstone by a late packet.
    public private(set) var retiredCount = 0
    public private(set) var revivedCount = 0
    private var keys: ContiguousArray<FlowKey> = []
    private var links: ContiguousArray<SlotLinks> = []
    private var freeSlots: ContiguousArray<Int32> = []
    private var openList = SlotList()
    private var closingList = SlotList()
    private var cleanList = SlotList()
    /// The id of the conversation the last `analyze` call revived from its tombstone (a packet
    /// that came after the conversation had been handed to `willRetire`), or -1.
    public private(set) var lastRevivedID = -1
    /// Conversations (by id) whose analysis is never freed: their analysis stays whole, as
    /// without retirement (the second reading of a file for conversations split by a late packet).
    /// When one falls due it is *parked* in place of being retired (`retire(slot:at:)`): out of
    /// the activity lists, a tombstone's place taken in the ring, its slot and state kept. So
    /// every other conversation is retired exactly when it was in the reading that split them —
    /// skipping pinned ones changed which list head fell due first, and split others anew.
    var pinned: Set<Int> = []
    private var tombstones = TombstoneRing(capacity: 1)

    static let fastRetransmissionWindow: UInt64 = 20_000_000
    static let defaultOutOfOrderThreshold: UInt64 = 3_000_000

    public init() {
        retirement = nil
    }

    /// An analyzer that retires finished conversations according to `retirement`.
    public init(retirement: RetirementPolicy?) {
        self.retirement = retirement
        if let retirement { tombstones = TombstoneRing(capacity: retirement.tombstoneLimit) }
    }

    /// Analyses one TCP segment captured at `time` (ns) in frame `frame`.
    public mutating func analyze(_ segment: TCPSegment, frame: UInt64, time: Int64,
                                 interfaceID: UInt32 = 0) -> FrameAnalysis {
        var sourceIsLow = false
        let key = FlowKey(segment, sourceIsLow: &sourceIsLow)
        let syn = segment.flags.contains(.syn)
        let ack = segment.flags.contains(.ack)

        var index: Int
        var newOnReusedTuple = false
        lastRevivedID = -1
        let found = table.find(key)
        if found >= 0 {
            index = Int(found)
        } else if found == FlowTable.absent {
            index = newConversation(key, segment: segment, sourceIsLow: sourceIsLow, frame: frame, time: time)
        } else {
            let position = FlowTable.tombstonePosition(found)
            let tombstone = tombstones[position]
            let sender = sourceIsLow == tombstone.clientIsLow ? tombstone.client : tombstone.server
            if syn && !ack && sender.baseSeqKnown && segment.sequenceNumber != sender.baseSeq {
                // A new connection on the retired one's 4-tuple (handled below, as for a live one).
                newOnReusedTuple = true
            }
            index = newOnReusedTuple
                ? newConversation(key, segment: segment, sourceIsLow: sourceIsLow, frame: frame, time: time)
                : revive(key, tombstone: position, frame: frame, time: time)
        }
        var fromClient = sourceIsLow == clientIsLow[index]
        var reused = false
        if newOnReusedTuple {
            fromClient = true
            conversations[index].reusedPorts = true
            reused = true
        }

        // dissect_tcp, before the analysis: a SYN with a new ISN on a known 4-tuple starts a
        // new conversation flagged reused_ports; one that repeats the ISN gets nextSeq restored
        // from maxSeqToBeAcked (and is then a plain retransmission). A SYN/ACK with a new ISN is
        // flagged too and becomes the new base.
        if syn && !newOnReusedTuple {
            let sender = fromClient ? conversations[index].clientFlow : conversations[index].serverFlow
            if sender.baseSeqKnown {
                if !ack {
                    if segment.sequenceNumber != sender.baseSeq {
                        index = newConversation(key, segment: segment, sourceIsLow: sourceIsLow, frame: frame, time: time)
                        fromClient = true
                        conversations[index].reusedPorts = true
                        reused = true
                    } else {
                        updateFlow(index, fromClient: fromClient) { $0.nextSeq = $0.maxSeqToBeAcked }
                    }
                } else if segment.sequenceNumber != sender.baseSeq {
                    reused = true
                    updateFlow(index, fromClient: fromClient) { $0.baseSeq = segment.sequenceNumber }
                }
            }
        }

        var result = FrameAnalysis(frameNumber: frame, timestamp: time, interfaceID: interfaceID,
                                   conversationID: conversations[index].id, fromClient: fromClient, segment: segment)
        result.slot = index
        if reused { result.flags.insert(.reusedPorts) }

        conversations.withUnsafeMutableBufferPointer { all in
            let conversation = all.baseAddress.unsafelyUnwrapped + index
            // Initial RTT: most recent SYN without ACK → first ACK without SYN, either direction.
            if syn && !ack { conversation.pointee.lastSYNTime = time }
            if ack && !syn && conversation.pointee.initialRTT == 0 && conversation.pointee.lastSYNTime != 0 {
                conversation.pointee.initialRTT = Self.elapsed(from: conversation.pointee.lastSYNTime, to: time)
            }
            let initialRTT = conversation.pointee.initialRTT
            conversation.pointee.lastFrame = frame
            conversation.pointee.lastTime = time
            if fromClient {
                Self.analyzeSegment(segment, frame: frame, time: time, initialRTT: initialRTT,
                                    fwd: &conversation.pointee.clientFlow, rev: &conversation.pointee.serverFlow,
                                    result: &result)
            } else {
                Self.analyzeSegment(segment, frame: frame, time: time, initialRTT: initialRTT,
                                    fwd: &conversation.pointee.serverFlow, rev: &conversation.pointee.clientFlow,
                                    result: &result)
            }
            if initialRTT != 0 { result.initialRTT = initialRTT }
        }
        if retirement != nil { touch(index) }
        return result
    }

    private mutating func updateFlow(_ index: Int, fromClient: Bool, _ change: (inout TCPFlowState) -> Void) {
        if fromClient { change(&conversations[index].clientFlow) } else { change(&conversations[index].serverFlow) }
    }

    private mutating func newConversation(_ key: FlowKey, segment: TCPSegment, sourceIsLow: Bool,
                                          frame: UInt64, time: Int64) -> Int {
        let source = TCPEndpoint(address: segment.source, port: segment.sourcePort)
        let destination = TCPEndpoint(address: segment.destination, port: segment.destinationPort)
        // A SYN/ACK seen first was sent by the server.
        let sourceIsClient = !(segment.flags.contains(.syn) && segment.flags.contains(.ack))
        let id = conversationCount
        conversationCount += 1
        let index = takeSlot(id: id, client: sourceIsClient ? source : destination,
                             server: sourceIsClient ? destination : source, frame: frame, time: time,
                             clientIsLow: sourceIsClient == sourceIsLow, key: key)
        table.set(key, Int32(index))
        return index
    }

    /// Stores a new conversation in a free slot (reset in place, reusing the buffers of the one
    /// retired there) or a new one.
    private mutating func takeSlot(id: Int, client: TCPEndpoint, server: TCPEndpoint, frame: UInt64, time: Int64,
                                   clientIsLow low: Bool, key: FlowKey) -> Int {
        let index: Int
        if let free = freeSlots.popLast() {
            index = Int(free)
            conversations.withUnsafeMutableBufferPointer { all in
                (all.baseAddress.unsafelyUnwrapped + index).pointee
                    .reset(id: id, client: client, server: server, frame: frame, time: time)
            }
            clientIsLow[index] = low
            keys[index] = key
        } else {
            index = conversations.count
            conversations.append(TCPConversation(id: id, client: client, server: server, frame: frame, time: time))
            clientIsLow.append(low)
            if retirement != nil {
                keys.append(key)
                links.append(SlotLinks())
            }
        }
        openCount += 1
        if openCount > peakOpenCount { peakOpenCount = openCount }
        return index
    }

    // MARK: retirement

    /// Moves a conversation that just had a packet to the end of its activity list.
    @inline(__always)
    private mutating func touch(_ index: Int) {
        // Read in place: copying the flows would retain their buffers on every packet.
        // 1 open, 2 closed, 3 closed cleanly (both FINs, every byte of data acknowledged — the
        // last FIN's own ACK may be missing —, no RST).
        let state: UInt8 = conversations.withUnsafeBufferPointer { all in
            let conversation = all.baseAddress.unsafelyUnwrapped + index
            let client = conversation.pointee.clientFlow, server = conversation.pointee.serverFlow
            if client.sawRST || server.sawRST { return 2 }
            guard client.sawFIN && server.sawFIN else { return 1 }
            let clientAcked = server.lastAck == client.nextSeq || server.lastAck == client.nextSeq &- 1
            let serverAcked = client.lastAck == server.nextSeq || client.lastAck == server.nextSeq &- 1
            return clientAcked && serverAcked ? 3 : 2
        }
        let slot = Int32(index)
        links.withUnsafeMutableBufferPointer { buffer in
            let links = buffer.baseAddress.unsafelyUnwrapped
            switch links[index].list {
            case 1: SlotList.remove(slot, from: &openList, links: links)
            case 2: SlotList.remove(slot, from: &closingList, links: links)
            case 3: SlotList.remove(slot, from: &cleanList, links: links)
            default: break
            }
            switch state {
            case 1: SlotList.append(slot, to: &openList, links: links)
            case 2: SlotList.append(slot, to: &closingList, links: links)
            default: SlotList.append(slot, to: &cleanList, links: links)
            }
            links[index].list = state
        }
    }

    /// The slot of a conversation due for retirement at capture time `now` (closed and silent
    /// for the linger, or silent for the idle timeout), if any. The caller hands
    /// `conversations[slot]` to its observer, then calls `retire(slot:at:)`.
    @inline(__always)
    public func dueForRetirement(at now: Int64) -> Int? {
        guard let retirement else { return nil }
        if cleanList.head >= 0 {
            let slot = Int(cleanList.head)
            if Self.elapsed(from: conversations[slot].lastTime, to: now) >= retirement.cleanLinger { return slot }
        }
        if closingList.head >= 0 {
            let slot = Int(closingList.head)
            if Self.elapsed(from: conversations[slot].lastTime, to: now) >= retirement.linger { return slot }
        }
        if openList.head >= 0 {
            let slot = Int(openList.head)
            if Self.elapsed(from: conversations[slot].lastTime, to: now) >= retirement.idleTimeout { return slot }
        }
        return nil
    }

    /// Every conversation still held, in retirement order (for the end of a stream that must
    /// retire them all).
    public var heldSlots: [Int] {
        var slots: [Int] = []
        for list in [cleanList, closingList, openList] {
            var slot = list.head
            while slot >= 0 {
                slots.append(Int(slot))
                slot = links[Int(slot)].next
            }
        }
        return slots
    }

    /// Whether the conversation in `slot` is pinned: when it falls due, its observer is not told
    /// and `retire(slot:at:)` parks it.
    @inline(__always)
    public func isPinned(slot: Int) -> Bool {
        !pinned.isEmpty && pinned.contains(conversations[slot].id)
    }

    /// Frees a conversation's slot, leaving a tombstone for its 4-tuple (see `RetirementPolicy`).
    /// A pinned conversation is parked instead (see `pinned`): its next packet finds it in its
    /// slot, where a retired one's would revive it, and puts it back on its activity list, as a
    /// revival does.
    public mutating func retire(slot index: Int, at now: Int64) {
        guard let retirement, links[index].list != 0 else { return }
        let slot = Int32(index)
        links.withUnsafeMutableBufferPointer { buffer in
            let links = buffer.baseAddress.unsafelyUnwrapped
            switch links[index].list {
            case 1: SlotList.remove(slot, from: &openList, links: links)
            case 2: SlotList.remove(slot, from: &closingList, links: links)
            default: SlotList.remove(slot, from: &cleanList, links: links)
            }
            links[index].list = 0
        }
        let parked = isPinned(slot: index)
        if !parked {
            freeSlots.append(slot)
            openCount -= 1
            retiredCount += 1
        }
        let key = keys[index]
        // A conversation replaced by a newer one on its 4-tuple (reused ports) leaves no tombstone.
        guard table.find(key) == slot else { return }
        // Tombstones too old, or one too many, go first.
        while tombstones.count > 0 {
            let oldest = tombstones[tombstones.oldestPosition]
            guard tombstones.isFull || Self.elapsed(from: oldest.retiredAt, to: now) >= retirement.tombstoneLifetime else { break }
            if table.find(oldest.key) == FlowTable.tombstoneValue(tombstones.oldestPosition) { table.remove(oldest.key) }
            tombstones.dropOldest()
        }
        // Read in place: a copy of the conversation would retain and release its buffers.
        let tombstone = conversations.withUnsafeBufferPointer { all in
            let conversation = all.baseAddress.unsafelyUnwrapped + index
            return Tombstone(key: key, id: conversation.pointee.id, retiredAt: now,
                             initialRTT: conversation.pointee.initialRTT, lastSYNTime: conversation.pointee.lastSYNTime,
                             client: FlowCore(conversation.pointee.clientFlow),
                             server: FlowCore(conversation.pointee.serverFlow), clientIsLow: clientIsLow[index],
                             reusedPorts: conversation.pointee.reusedPorts)
        }
        let position = tombstones.append(tombstone)
        // A parked conversation's tombstone holds its place in the ring (the ring's evictions
        // stay those of the reading that retired it) but not its 4-tuple: the table still finds
        // the conversation in its slot, and the eviction above leaves a 4-tuple so found alone.
        if !parked { table.set(key, FlowTable.tombstoneValue(position)) }
    }

    /// A packet on the 4-tuple of a retired conversation: the conversation comes back with the
    /// analysis state it had, unless the packet is a SYN with a new ISN (then a new conversation
    /// starts, flagged reused_ports by the caller, as tshark does).
    private mutating func revive(_ key: FlowKey, tombstone position: Int, frame: UInt64, time: Int64) -> Int {
        let tombstone = tombstones[position]
        let client = Self.endpoint(key, low: tombstone.clientIsLow)
        let server = Self.endpoint(key, low: !tombstone.clientIsLow)
        let index = takeSlot(id: tombstone.id, client: client, server: server, frame: frame, time: time,
                             clientIsLow: tombstone.clientIsLow, key: key)
        conversations.withUnsafeMutableBufferPointer { all in
            let conversation = all.baseAddress.unsafelyUnwrapped + index
            conversation.pointee.initialRTT = tombstone.initialRTT
            conversation.pointee.lastSYNTime = tombstone.lastSYNTime
            conversation.pointee.reusedPorts = tombstone.reusedPorts
            tombstone.client.restore(into: &conversation.pointee.clientFlow)
            tombstone.server.restore(into: &conversation.pointee.serverFlow)
        }
        table.set(key, Int32(index))
        revivedCount += 1
        lastRevivedID = tombstone.id
        return index
    }

    private static func endpoint(_ key: FlowKey, low: Bool) -> TCPEndpoint {
        let ipv6 = key.ports & (1 << 32) != 0
        let high = low ? key.lowHigh : key.highHigh
        let lowBits = low ? key.lowLow : key.highLow
        let port = UInt16(truncatingIfNeeded: low ? key.ports >> 16 : key.ports)
        let address = ipv6 ? IPAddress(ipv6High: high, low: lowBits) : IPAddress(ipv4: UInt32(truncatingIfNeeded: lowBits))
        return TCPEndpoint(address: address, port: port)
    }

    /// Capture time from `earlier` to `later` in ns, clamped at the ends of Int64 (`TimeSpan`'s
    /// arithmetic): the analysis keeps raw Int64 times, but a file's timestamps may be anywhere.
    @inline(__always)
    static func elapsed(from earlier: Int64, to later: Int64) -> Int64 {
        (CaptureTime(nanosecondsSinceEpoch: later) - CaptureTime(nanosecondsSinceEpoch: earlier)).nanoseconds
    }

    /// One segment through tshark's analysis, `fwd` being the sender's direction.
    @inline(__always)
    static func analyzeSegment(_ segment: TCPSegment, frame: UInt64, time: Int64, initialRTT: Int64,
                               fwd: inout TCPFlowState, rev: inout TCPFlowState,
                               result: inout FrameAnalysis) {
        let seq = segment.sequenceNumber
        let ackNumber = segment.acknowledgmentNumber
        let length = segment.payloadLength
        let window = UInt32(segment.window)
        let tcpFlags = segment.flags
        let syn = tcpFlags.contains(.syn), fin = tcpFlags.contains(.fin)
        let rst = tcpFlags.contains(.rst), ack = tcpFlags.contains(.ack)
        let synFinRst = syn || fin || rst
        var flags = result.flags

        // Base sequence numbers (relative numbering and bytes in flight).
        if !fwd.baseSeqKnown {
            fwd.baseSeq = syn ? seq : seq &- 1
            fwd.baseSeqKnown = true
        }
        if !rev.baseSeqKnown && ack {
            rev.baseSeq = ackNumber &- 1
            rev.baseSeqKnown = true
        }

        // 1. An ACK from this side lets the other side report bytes in flight again.
        if ack { rev.bytesInFlightValid = true }

        analysis: do {
            // 2. Zero-window probe.
            if length == 1 && seq == fwd.nextSeq && rev.window == 0 {
                flags.insert(.zeroWindowProbe)
                break analysis
            }
            // 3. Zero window.
            if window == 0 && !synFinRst { flags.insert(.zeroWindow) }
            // 4. Previous segment not captured.
            if fwd.nextSeq != 0 && SeqNum.greaterThan(seq, fwd.nextSeq) && !rst {
                flags.insert(.lostSegment)
                fwd.bytesInFlightValid = false
            }
            // 5. Keep-alive: 0 or 1 byte starting one byte before the next expected byte.
            if length <= 1 && seq == fwd.nextSeq &- 1 && !synFinRst { flags.insert(.keepAlive) }
            let repeatsState = length == 0 && seq == fwd.nextSeq && ackNumber == fwd.lastAck && !synFinRst
            // 6. Window update.
            if repeatsState && window != 0 && window != fwd.window { flags.insert(.windowUpdate) }
            // 7. Window full (only once the peer's scaling is known).
            if length > 0 && rev.windowScale != -1 && !synFinRst {
                let shift = rev.isFirstAck || rev.windowScale == -2 ? 0 : UInt32(rev.windowScale)
                if seq &+ length == rev.lastAck &+ (rev.window &<< shift) { flags.insert(.windowFull) }
            }
            if repeatsState && window == fwd.window {
                // 8. Keep-alive ACK.
                if window != 0 && rev.lastSegmentFlags.contains(.keepAlive) {
                    flags.insert(.keepAliveAck)
                    break analysis
                }
                // 9. Zero-window-probe ACK.
                if window == 0 && rev.lastSegmentFlags.contains(.zeroWindowProbe) {
                    flags.insert(.zeroWindowProbeAck)
                    break analysis
                }
                // 10. Duplicate ACK.
                if window != 0 {
                    fwd.dupAckCount = fwd.dupAckCount == TCPFlowState.dupAcksHeldBack ? 1 : fwd.dupAckCount &+ 1
                    flags.insert(.duplicateAck)
                    result.duplicateAckNumber = Int32(bitPattern: fwd.dupAckCount)
                    result.duplicateAckFrame = fwd.lastNonDupAckFrame
                }
            }
        }

        // 11. A new ack number resets the duplicate-ACK state.
        if ackNumber != fwd.lastAck {
            fwd.lastNonDupAckFrame = frame
            fwd.dupAckCount = 0
        }

        // 12. ACKed unseen segment.
        if ack && rev.maxSeqToBeAcked != 0 && SeqNum.greaterThan(ackNumber, rev.maxSeqToBeAcked) {
            if SeqNum.lessThan(rev.maxSeqToBeAcked, rev.nextSeq) {
                rev.maxSeqToBeAcked = rev.nextSeq
                flags.insert(.ackLostSegment)
            } else {
                if rev.dupAckCount == 0 { flags.insert(.ackLostSegment) }
                rev.dupAckCount = TCPFlowState.dupAcksHeldBack
            }
        }

        // 13. Retransmission family, for segments that occupy sequence space.
        if (length > 0 || syn || fin) && !flags.contains(.keepAlive) {
            var seqNotAdvanced = fwd.nextSeq != 0 && SeqNum.lessThan(seq, fwd.nextSeq)
            // New data starting one byte early (after a 1-byte probe) is not a retransmission.
            if length > 1 && fwd.nextSeq &- 1 == seq { seqNotAdvanced = false }
            classify: do {
                if length > 0 && rev.lastAck != 0 && SeqNum.lessOrEqual(seq &+ length, rev.lastAck) {
                    flags.insert(.spuriousRetransmission)
                    break classify
                }
                // dupAckCount is unsigned as in tshark, so the -1 left by step 12 counts as >= 2.
                // Times compare as unsigned, as tshark's guint64 arithmetic does: a clock that
                // went backwards never matches.
                let sinceDupAck = UInt64(bitPattern: elapsed(from: rev.lastAckTime, to: time))
                if seqNotAdvanced && rev.dupAckCount >= 2 && rev.lastAck == seq && sinceDupAck < fastRetransmissionWindow {
                    flags.insert(.fastRetransmission)
                    break classify
                }
                let sinceNextSeq = UInt64(bitPattern: elapsed(from: fwd.nextSeqTime, to: time))
                let threshold = initialRTT == 0 ? defaultOutOfOrderThreshold : UInt64(bitPattern: initialRTT)
                let end = seq &+ length &+ (syn || fin ? 1 : 0)
                if seqNotAdvanced && sinceNextSeq < threshold && fwd.nextSeq != end {
                    flags.insert(.outOfOrder)
                    break classify
                }
                if seqNotAdvanced {
                    flags.insert(.retransmission)
                    let reference = fwd.unacked.oldest
                    let rto = elapsed(from: reference?.time ?? fwd.nextSeqTime, to: time)
                    if rto != 0 {
                        result.rto = rto
                        result.rtoFrame = reference?.frame ?? fwd.nextSeqFrame
                    }
                }
            }
        }

        // 14. Bookkeeping.
        var nextSeq = seq &+ length
        if (length > 0 || syn || fin) && fwd.unacked.count < UnackedSegments.limit {
            // (tshark adds the SYN/FIN byte only here, so not past the list limit.)
            if syn || fin { nextSeq &+= 1 }
            fwd.unacked.append(UnackedSegment(seq: seq, nextSeq: nextSeq, frame: frame, time: time))
        }
        let isProbe = flags.contains(.zeroWindowProbe)
        if (SeqNum.greaterThan(nextSeq, fwd.nextSeq) || fwd.nextSeq == 0) && !isProbe {
            fwd.nextSeq = nextSeq
            fwd.nextSeqFrame = frame
            fwd.nextSeqTime = time
        }
        if (seq == fwd.maxSeqToBeAcked || fwd.maxSeqToBeAcked == 0) && !isProbe {
            fwd.maxSeqToBeAcked = fwd.nextSeq
        }
        fwd.window = window
        fwd.lastAck = ackNumber
        fwd.lastAckTime = time
        fwd.lastSegmentFlags = flags

        // 15. Remove what this ACK covers from the peer's list; exact match gives the RTT.
        if let acked = rev.unacked.acknowledge(ackNumber) {
            result.ackRTT = elapsed(from: acked.time, to: time)
            result.ackedFrame = acked.frame
        }
        if length != 0 && fwd.bytesInFlightValid, var inFlight = fwd.unacked.span(base: fwd.baseSeq) {
            if rev.lastSACK.sackCount > 0 { inFlight &-= rev.lastSACK.sackedBytes }
            if inFlight > 0 && inFlight < 2_000_000_000 {
                result.bytesInFlight = syn || fin ? inFlight &- 1 : inFlight
            }
        }

        // After the analysis: the displayed window, then the options (tshark parses them after
        // the analysis step, so they only affect later frames).
        result.windowScale = fwd.windowScale
        result.scaledWindow = !syn && fwd.windowScale >= 0 ? window &<< UInt32(fwd.windowScale) : window
        let options = segment.options
        fwd.lastSACK.sackCount = 0
        if options.complete {
            if options.sackCount > 0 { fwd.lastSACK = options }
            if options.windowScale >= 0 { fwd.windowScale = min(options.windowScale, 14) }
            if options.mss != 0 { fwd.mss = options.mss }
            if syn {
                // verify_tcp_window_scaling
                if fwd.windowScale == -1 {
                    fwd.windowScale = -2
                    rev.windowScale = -2
                } else if ack && rev.windowScale == -2 {
                    fwd.windowScale = -2
                }
            }
        } else {
            result.shownByTshark = false
        }
        if ack && !syn { fwd.isFirstAck = false }

        // Counters for reports.
        fwd.packets &+= 1
        fwd.payloadBytes &+= UInt64(length)
        if fwd.firstFrame == 0 { fwd.firstFrame = frame }
        fwd.lastFrame = frame
        if syn { fwd.sawSYN = true }
        if fin { fwd.sawFIN = true }
        if rst { fwd.sawRST = true }
        fwd.lastHopLimit = segment.ip.hopLimit
        if !flags.isEmpty { fwd.flagCounts.add(flags) }

        result.flags = flags
    }
}
