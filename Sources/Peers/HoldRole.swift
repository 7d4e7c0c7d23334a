import Values
import Glibc

/// `hold`: connect, then sit idle (optionally with keepalives), and write later — on SIGUSR1
/// and/or after a delay — to find out whether the peer still knows the connection (half-open, R4).
public struct HoldOptions: Sendable, Equatable {
    public var client: ClientOptions
    /// SO_KEEPALIVE with these settings (nil: off).
    public var keepAlive: KeepAlive?
    /// Write `writeBytes` once, this long after connecting.
    public var writeAfter: PeerDuration?
    /// Write `writeBytes` at every SIGUSR1.
    public var writeOnSignal: Bool
    public var writeBytes: Int

    public struct KeepAlive: Sendable, Equatable {
        /// Idle time before the first probe (TCP_KEEPIDLE, whole seconds).
        public var idleSeconds: Int32?
        /// Between probes (TCP_KEEPINTVL, whole seconds).
        public var intervalSeconds: Int32?
        /// Unanswered probes before the connection is dropped (TCP_KEEPCNT).
        public var count: Int32?
        public init(idleSeconds: Int32? = nil, intervalSeconds: Int32? = nil, count: Int32? = nil) {
            self.idleSeconds = idleSeconds
            self.intervalSeconds = intervalSeconds
            self.count = count
        }
    }

    public init(client: ClientOptions, keepAlive: KeepAlive? = nil, writeAfter: PeerDuration? = nil,
                writeOnSignal: Bool = false, writeBytes: Int = 1) {
        self.client = client
        self.keepAlive = keepAlive
        self.writeAfter = writeAfter
        self.writeOnSignal = writeOnSignal
        self.writeBytes = writeBytes
    }

    public func problems() -> [String] {
        var out: [String] = []
        if writeBytes < 1 { out.append("--write-bytes must be at least 1") }
        return out
    }

    var fields: JSONObject {
        var out = client.fields
        if let keepAlive {
            out["keepalive"] = .bool(true)
            if let idle = keepAlive.idleSeconds { out["keepalive_idle_s"] = .from(idle) }
            if let interval = keepAlive.intervalSeconds { out["keepalive_interval_s"] = .from(interval) }
            if let count = keepAlive.count { out["keepalive_count"] = .from(count) }
        }
        if let writeAfter { out["write_after_ns"] = .from(writeAfter.nanoseconds) }
        if writeOnSignal { out["write_on_signal"] = .bool(true) }
        out["write_bytes"] = .from(writeBytes)
        return out
    }
}

struct HoldRole {
    let options: HoldOptions

    func run(_ session: PeerSession) throws(PeerStop) {
        let writes = Counter()
        session.summaryFields = { [writes] in JSONObject([("writes", .from(writes.value))]) }
        let connection = try session.connect(options.client)
        if let keepAlive = options.keepAlive {
            do {
                try connection.setKeepAlive(idleSeconds: keepAlive.idleSeconds, intervalSeconds: keepAlive.intervalSeconds, count: keepAlive.count)
            } catch {
                throw .failed(error)
            }
        }
        let buffer = ByteBuffer(count: min(options.writeBytes, 1 << 20))
        let input = ByteBuffer(count: 65536)
        var writeAt = options.writeAfter.map { PeerSession.now + $0.nanoseconds }
        while true {
            let wake = try session.wait(on: connection, events: Int16(POLLIN), until: writeAt, wantUser1: options.writeOnSignal)
            switch wake {
            case .deadline, .user1:
                let trigger = wake == .deadline ? "--write-after" : "SIGUSR1"
                if wake == .deadline { writeAt = nil }
                writes.value += 1
                session.emit("write", JSONObject([("trigger", .string(trigger)), ("bytes", .from(options.writeBytes)), ("write", .from(writes.value))]))
                try session.writeAll(connection, buffer, count: options.writeBytes)
            case .ready:
                // Data, the peer's FIN, or a pending error (RST): recv tells which, as it would tell an application.
                switch connection.receive(into: input, count: input.count) {
                case .transferred(let n):
                    session.addRead(n)
                case .endOfStream:
                    session.emit("eof", JSONObject([("bytes_read", .from(session.bytesRead))]))
                    session.close(connection, .close, reason: "peer closed")
                    return
                case .wouldBlock:
                    continue
                case .failed(let error):
                    throw .failed(SocketError(call: "recv", errno: Errno(error)))
                }
            }
        }
    }
}
