import Glibc

/// `send`: connect and write a number of bytes in bulk or paced, then close, abort or keep the
/// connection open.
public struct SendOptions: Sendable, Equatable {
    public var client: ClientOptions
    public var bytes: UInt64
    /// Bytes per send() call.
    public var writeSize: Int
    /// Wait between send() calls (nil: as fast as the socket takes them).
    public var pace: PeerDuration?
    /// After the last write: SO_LINGER {1,0} and close (RST, unsent data discarded).
    public var lingerZero: Bool
    /// After the last write: keep the connection open, reading whatever comes, until the peer
    /// closes, an error, a signal or --exit-after.
    public var keepOpen: Bool

    public init(client: ClientOptions, bytes: UInt64, writeSize: Int = 65536, pace: PeerDuration? = nil,
                lingerZero: Bool = false, keepOpen: Bool = false) {
        self.client = client
        self.bytes = bytes
        self.writeSize = writeSize
        self.pace = pace
        self.lingerZero = lingerZero
        self.keepOpen = keepOpen
    }

    public func problems() -> [String] {
        var out: [String] = []
        if writeSize < 1 { out.append("--write-size must be at least 1 byte") }
        if lingerZero && keepOpen { out.append("--linger-zero and --keep-open exclude each other: abort at the end, or stay open") }
        return out
    }

    var fields: JSONObject {
        var out = client.fields
        out["bytes"] = .from(bytes)
        out["write_size"] = .from(writeSize)
        if let pace { out["pace_ns"] = .from(pace.nanoseconds) }
        if lingerZero { out["linger_zero"] = .bool(true) }
        if keepOpen { out["keep_open"] = .bool(true) }
        return out
    }
}

struct SendRole {
    let options: SendOptions

    func run(_ session: PeerSession) throws(PeerStop) {
        let requested = options.bytes
        session.summaryFields = { JSONObject([("bytes_requested", .from(requested))]) }
        let connection = try session.connect(options.client)
        let buffer = ByteBuffer(count: min(options.writeSize, 1 << 22))
        var remaining = options.bytes
        var next = PeerSession.now
        let started = next
        while remaining > 0 {
            if options.pace != nil, PeerSession.now < next { try session.sleep(until: next) }
            let count = Int(min(UInt64(options.writeSize), remaining))
            try session.writeAll(connection, buffer, count: count)
            remaining -= UInt64(count)
            if let pace = options.pace {
                let now = PeerSession.now
                next = max(next + pace.nanoseconds, now)
            }
        }
        var fields = JSONObject()
        fields["bytes_written"] = .from(session.bytesWritten)
        fields["elapsed_ns"] = .from(PeerSession.now - started)
        fields["outq"] = connection.outputQueue.map { .from($0) } ?? .null
        session.emit("sent", fields)
        if options.lingerZero {
            session.close(connection, .abort, reason: "--linger-zero")
        } else if options.keepOpen {
            try holdOpen(connection, session)
        } else {
            session.close(connection, .close, reason: "all bytes written")
        }
    }

    /// Reads (and counts) whatever the peer sends until it closes; a reset surfaces as the recv error.
    private func holdOpen(_ connection: Socket, _ session: PeerSession) throws(PeerStop) {
        let buffer = ByteBuffer(count: 65536)
        while true {
            let n = try session.readSome(connection, into: buffer, count: buffer.count)
            if n == 0 {
                session.emit("eof", JSONObject([("bytes_read", .from(session.bytesRead))]))
                session.close(connection, .close, reason: "peer closed")
                return
            }
        }
    }
}
