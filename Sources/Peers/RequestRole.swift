/// `request`: a request/response client. Sends `count` requests of `size` bytes on one
/// connection, each answered by `listen --respond`, and measures every round trip (from the
/// first byte of the request written to the last byte of the response read).
public struct RequestOptions: Sendable, Equatable {
    public var client: ClientOptions
    public var count: Int
    /// Bytes per request frame, header included (at least 4).
    public var size: Int
    /// Pause between a response and the next request.
    public var think: PeerDuration?
    /// Set TCP_QUICKACK before each read (acknowledge responses at once).
    public var quickAck: Bool
    /// Clear TCP_QUICKACK before each read, so the kernel delays its ACKs of responses.
    public var delayAcks: Bool
    /// Write each request in two calls: the first `splitWrite` bytes, then the rest (with Nagle
    /// on, the second waits for the ACK of the first: issue #18's "Nagle meets delayed ACK").
    public var splitWrite: Int?

    public init(client: ClientOptions, count: Int = 1, size: Int = 100, think: PeerDuration? = nil, quickAck: Bool = false,
                delayAcks: Bool = false, splitWrite: Int? = nil) {
        self.client = client
        self.count = count
        self.size = size
        self.think = think
        self.quickAck = quickAck
        self.delayAcks = delayAcks
        self.splitWrite = splitWrite
    }

    public func problems() -> [String] {
        var out: [String] = []
        if count < 1 { out.append("--count must be at least 1") }
        if size < RequestFrame.headerSize { out.append("--size must be at least \(RequestFrame.headerSize) bytes (the frame's length header)") }
        if size > Int(UInt32.max) { out.append("--size must fit the 4-byte length header (at most 4 GiB - 1)") }
        if let splitWrite, splitWrite < 1 || splitWrite >= size {
            out.append("--split-write must be at least 1 and less than --size (\(size)): the first write's bytes, the rest follow in a second write")
        }
        if quickAck && delayAcks { out.append("--quickack and --delay-acks exclude each other: acknowledge at once, or delay") }
        return out
    }

    var fields: JSONObject {
        var out = client.fields
        out["count"] = .from(count)
        out["size"] = .from(size)
        if let think { out["think_ns"] = .from(think.nanoseconds) }
        if quickAck { out["quickack"] = .bool(true) }
        if delayAcks { out["delay_acks"] = .bool(true) }
        if let splitWrite { out["split_write"] = .from(splitWrite) }
        return out
    }
}

/// Round trips measured so far (shared with the summary closure, so a failure mid-way still
/// reports them).
final class RoundTrips {
    var values: [UInt64] = []

    var fields: JSONObject {
        var out = JSONObject()
        out["requests"] = .from(values.count)
        guard !values.isEmpty else { return out }
        let sorted = values.sorted()
        out["rtt_min_ns"] = .from(sorted[0])
        out["rtt_median_ns"] = .from(sorted[sorted.count / 2])
        out["rtt_p99_ns"] = .from(sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
        out["rtt_max_ns"] = .from(sorted[sorted.count - 1])
        out["rtt_mean_ns"] = .from(values.reduce(0, +) / UInt64(values.count))
        out["rtts_ns"] = .array(values.prefix(1000).map { .from($0) })
        return out
    }
}

struct RequestRole {
    let options: RequestOptions

    func run(_ session: PeerSession) throws(PeerStop) {
        let trips = RoundTrips()
        session.summaryFields = { trips.fields }
        let connection = try session.connect(options.client)
        let request = ByteBuffer(count: min(options.size, 1 << 20))
        request.store(bigEndian: UInt32(clamping: options.size), at: 0)
        let filler = ByteBuffer(count: min(options.size, 1 << 20))
        let input = ByteBuffer(count: 65536)
        let rearm = { () throws(PeerStop) -> Void in
            guard options.quickAck || options.delayAcks else { return }
            do throws(SocketError) { try connection.setQuickAck(options.quickAck) } catch { throw PeerStop.failed(error) }
        }
        for sequence in 1...options.count {
            let started = PeerSession.now
            if let split = options.splitWrite {
                // Two write calls: the header and the first bytes, then the rest (filler).
                try session.writeAll(connection, request, count: split)
                try session.writeAll(connection, filler, count: options.size - split)
            } else {
                try session.writeAll(connection, request, count: options.size)
            }
            let header = try session.readExactly(connection, into: input, count: RequestFrame.headerSize, beforeRead: rearm)
            if header < RequestFrame.headerSize {
                throw .broken("the server closed the connection before answering request \(sequence)")
            }
            let length = Int(input.loadBigEndianUInt32(at: 0))
            guard length >= RequestFrame.headerSize else {
                throw .broken("response \(sequence) declares \(length) bytes, less than its header: the server does not speak the request protocol")
            }
            let body = length - RequestFrame.headerSize
            if body > 0 {
                let got = try session.readExactly(connection, into: input, count: body, beforeRead: rearm)
                if got < body { throw .broken("the server closed the connection inside response \(sequence)") }
            }
            let rtt = PeerSession.now - started
            trips.values.append(rtt)
            var fields = JSONObject()
            fields["seq"] = .from(sequence)
            fields["rtt_ns"] = .from(rtt)
            fields["request_bytes"] = .from(options.size)
            fields["response_bytes"] = .from(length)
            session.emit("response", fields)
            if let think = options.think, sequence < options.count { try session.sleep(for: think) }
        }
        session.close(connection, .close, reason: "all requests answered")
    }
}
