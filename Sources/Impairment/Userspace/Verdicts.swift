import Glibc

/// Collects verdict messages in one buffer and sends them with one `send` (the kernel processes
/// every message of a netlink datagram in order).
final class VerdictWriter {
    private let buffer: UnsafeMutableRawPointer
    private let capacity = 1 << 18
    private(set) var used = 0
    private let queue: UInt16
    /// Verdict messages sent (single and batch), datagrams sent, send failures.
    private(set) var singleVerdicts: UInt64 = 0
    private(set) var batchVerdicts: UInt64 = 0
    private(set) var sends: UInt64 = 0
    private(set) var lastSendError: Int32 = 0
    /// What a packet let through gets: NF_ACCEPT, or NF_REPEAT with the marks of the stages it
    /// passed when a later stage on this router may take it (see `ForwardingStages`).
    let pass: ForwardingStages.Pass

    init(queue: UInt16, pass: ForwardingStages.Pass = .accept) {
        self.queue = queue
        self.pass = pass
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
    }

    /// The verdict for a decided packet: let through (`pass`) or dropped.
    @inline(__always)
    func append(id: UInt32, accept: Bool, batch: Bool, payload: UnsafeRawBufferPointer?, fd: Int32) {
        if accept {
            append(id: id, verdict: pass.verdict, mark: pass.mark, batch: batch, payload: payload, fd: fd)
        } else {
            append(id: id, verdict: NFQ.drop, batch: batch, payload: payload, fd: fd)
        }
    }

    deinit { buffer.deallocate() }

    /// A verdict for one packet (`batch` false) or for every queued packet up to `id` (`batch` true),
    /// setting the packets' mark when `mark` is given.
    func append(id: UInt32, verdict: UInt32, mark: UInt32? = nil, batch: Bool, payload: UnsafeRawBufferPointer?, fd: Int32) {
        let payloadLength = payload?.count ?? 0
        let markSize = mark != nil ? 8 : 0
        let size = 16 + 4 + 12 + markSize + (payload != nil ? 4 + ((payloadLength + 3) & ~3) : 0)
        if used + size > capacity { flush(fd: fd) }
        let p = buffer + used
        store32le(p, UInt32(16 + 4 + 12 + markSize + (payload != nil ? 4 + payloadLength : 0)))
        store16le(p + 4, batch ? NFQ.messageVerdictBatch : NFQ.messageVerdict)
        store16le(p + 6, NFQ.flagRequest)
        store32le(p + 8, 0)
        store32le(p + 12, 0)
        p.storeBytes(of: UInt8(AF_UNSPEC), toByteOffset: 16, as: UInt8.self)
        p.storeBytes(of: 0, toByteOffset: 17, as: UInt8.self)
        p.storeBytes(of: queue.bigEndian, toByteOffset: 18, as: UInt16.self)
        store16le(p + 20, 12)
        store16le(p + 22, NFQ.attrVerdictHeader)
        p.storeBytes(of: verdict.bigEndian, toByteOffset: 24, as: UInt32.self)
        p.storeBytes(of: id.bigEndian, toByteOffset: 28, as: UInt32.self)
        if let mark {
            store16le(p + 32, 8)
            store16le(p + 34, NFQ.attrMark)
            p.storeBytes(of: mark.bigEndian, toByteOffset: 36, as: UInt32.self)
        }
        if let payload {
            let q = p + 32 + markSize
            store16le(q, UInt16(truncatingIfNeeded: 4 + payloadLength))
            store16le(q + 2, NFQ.attrPayload)
            if let base = payload.baseAddress { (q + 4).copyMemory(from: base, byteCount: payloadLength) }
            let padded = (payloadLength + 3) & ~3
            if padded > payloadLength { (q + 4 + payloadLength).initializeMemory(as: UInt8.self, repeating: 0, count: padded - payloadLength) }
        }
        used += size
        if batch { batchVerdicts &+= 1 } else { singleVerdicts &+= 1 }
    }

    /// Sends what is buffered. Returns false (and keeps the errno) if the kernel refused it.
    @discardableResult
    func flush(fd: Int32) -> Bool {
        guard used > 0 else { return true }
        defer { used = 0 }
        while true {
            let n = send(fd, buffer, used, 0)
            if n >= 0 { sends &+= 1; return true }
            if errno == EINTR { continue }
            lastSendError = errno
            return false
        }
    }

    @inline(__always) private func store16le(_ p: UnsafeMutableRawPointer, _ v: UInt16) {
        p.storeBytes(of: v.littleEndian, as: UInt16.self)
    }
    @inline(__always) private func store32le(_ p: UnsafeMutableRawPointer, _ v: UInt32) {
        p.storeBytes(of: v.littleEndian, as: UInt32.self)
    }
}

/// The packets of one queue that the kernel still holds, by id, so verdicts can be batched.
///
/// A batch verdict (NFQNL_MSG_VERDICT_BATCH, id N) applies to every packet the kernel still
/// holds with id ≤ N. It is safe only up to the oldest packet the engine is holding back
/// (`firstHeld`): decided packets before it are flushed as runs of equal verdicts, one batch
/// message per run; a packet decided while an older one is still held gets its own verdict at
/// once. With a constant delay, releases come in id order, so nearly everything goes in batches.
struct OutstandingPackets {
    /// 0 gone (verdict sent, or never received), 1 held, 2 accept pending, 3 drop pending.
    private var states: [UInt8]
    private var mask: Int
    private var head: UInt32 = 0       // oldest id not yet flushed
    private var tail: UInt32 = 0       // next id expected
    private var firstHeld: UInt32 = 0  // oldest held id, or tail
    private var started = false

    init() {
        states = [UInt8](repeating: 0, count: 4096)
        mask = 4096 - 1
    }

    var outstanding: Int { Int(tail &- head) }

    @inline(__always) private func slot(_ id: UInt32) -> Int { Int(id) & mask }

    /// A packet arrived from the queue (held until decided).
    mutating func arrived(_ id: UInt32) {
        if !started {
            started = true
            head = id; tail = id; firstHeld = id
        }
        let distance = id &- tail
        if distance > 1 << 30 { return }    // older than what we know: ignore (cannot happen)
        while Int(id &- head) + 1 > states.count { grow() }
        // Ids skipped by the kernel (dropped before they reached us) are gone.
        var skipped = tail
        while skipped != id { states[slot(skipped)] = 0; skipped &+= 1 }
        let wasNone = firstHeld == tail
        tail = id &+ 1
        states[slot(id)] = 1
        if wasNone { firstHeld = id }
    }

    /// A verdict is due for `id`. Returns true if the caller must send it now as a single verdict
    /// (an older packet is still held, or the verdict carries a payload); false if it will go in
    /// the next `flush` batch.
    mutating func decided(_ id: UInt32, accept: Bool, single: Bool) -> Bool {
        let position = id &- head
        guard position < tail &- head else { return true }   // unknown id: send singly
        let heldBefore = position > firstHeld &- head
        if single || heldBefore {
            states[slot(id)] = 0
        } else {
            states[slot(id)] = accept ? 2 : 3
        }
        if id == firstHeld { advanceFirstHeld() }
        return single || heldBefore
    }

    private mutating func advanceFirstHeld() {
        while firstHeld != tail && states[slot(firstHeld)] != 1 { firstHeld &+= 1 }
    }

    /// Writes batch verdicts for everything decided before the oldest held packet.
    mutating func flush(into writer: VerdictWriter, fd: Int32) {
        var runVerdict: UInt8 = 0
        var runLast: UInt32 = 0
        var id = head
        while id != firstHeld {
            let s = states[slot(id)]
            if s >= 2 {
                if runVerdict != 0 && runVerdict != s {
                    writer.append(id: runLast, accept: runVerdict == 2, batch: true, payload: nil, fd: fd)
                }
                runVerdict = s
                runLast = id
                states[slot(id)] = 0
            }
            id &+= 1
        }
        if runVerdict != 0 {
            writer.append(id: runLast, accept: runVerdict == 2, batch: true, payload: nil, fd: fd)
        }
        head = firstHeld
    }

    private mutating func grow() {
        let old = states
        let oldMask = mask
        let count = Int(tail &- head)
        states = [UInt8](repeating: 0, count: old.count * 2)
        mask = states.count - 1
        var id = head
        for _ in 0..<count {
            states[Int(id) & mask] = old[Int(id) & oldMask]
            id &+= 1
        }
    }
}
