import Values
import Glibc

/// `listen`: a server that accepts connections one after another and treats each as told —
/// read as fast as possible, read slowly, never read, answer requests — optionally aborting or
/// closing with data unread after a number of bytes.
public struct ListenOptions: Sendable, Equatable {
    /// What the server does with received data.
    public enum Reading: Sendable, Equatable {
        /// Read as fast as data comes, `readSize` bytes per recv.
        case sink(readSize: Int)
        /// Read up to `chunk` bytes, then wait `interval` before the next read (ZW1: receiver slow).
        case paced(chunk: Int, interval: PeerDuration)
        /// Accept and never call recv (ZW2: application stopped reading).
        case never
        /// Request/response: read a frame, wait `think`, answer with a `bytes`-long frame.
        /// `delayAcks` clears TCP_QUICKACK before each read (T2: delayed ACK).
        case respond(bytes: Int, think: PeerDuration, delayAcks: Bool)
    }

    public var port: UInt16
    /// Address to listen on; nil listens on `::` accepting IPv4 too (or 0.0.0.0 without IPv6).
    public var bindAddress: String?
    public var backlog: Int32
    /// Connections to serve, one after another, before finishing (0: until stopped).
    public var connections: Int
    public var reading: Reading
    /// SO_RCVBUF on the listening socket (inherited by accepted ones; set before listen so the
    /// window scale matches).
    public var receiveBuffer: ByteSize?
    public var sendBuffer: ByteSize?
    public var noDelay: Bool
    /// After reading this many bytes on a connection: SO_LINGER {1,0} and close (RST).
    public var abortAfter: UInt64?
    /// After reading this many bytes: close with data left unread (the kernel sends RST).
    public var closeUnreadAfter: UInt64?
    /// Wait this long after listen() before the first accept(); with `acceptAfterOverflows`, at
    /// most this long.
    public var acceptDelay: PeerDuration?
    /// Wait before the first accept() until the kernel has turned away this many handshakes for
    /// lack of room in the accept queue (TcpExtListenOverflows of the namespace grew by this much
    /// since listen()): the overflow is then certain, however slowly the clients started.
    public var acceptAfterOverflows: Int?
    /// Serve every connection at once (accepting while the others are being read) instead of
    /// one after another. With plain reading or `--never-read`.
    public var concurrent: Bool = false

    public init(port: UInt16, bindAddress: String? = nil, backlog: Int32 = 16, connections: Int = 1,
                reading: Reading = .sink(readSize: 65536), receiveBuffer: ByteSize? = nil, sendBuffer: ByteSize? = nil,
                noDelay: Bool = false, abortAfter: UInt64? = nil, closeUnreadAfter: UInt64? = nil, acceptDelay: PeerDuration? = nil) {
        self.port = port
        self.bindAddress = bindAddress
        self.backlog = backlog
        self.connections = connections
        self.reading = reading
        self.receiveBuffer = receiveBuffer
        self.sendBuffer = sendBuffer
        self.noDelay = noDelay
        self.abortAfter = abortAfter
        self.closeUnreadAfter = closeUnreadAfter
        self.acceptDelay = acceptDelay
    }

    /// Combinations that make no sense, as one sentence naming the flags.
    public func problems() -> [String] {
        var out: [String] = []
        if abortAfter != nil && closeUnreadAfter != nil {
            out.append("--abort-after and --close-unread-after exclude each other: choose how the connection ends")
        }
        switch reading {
        case .never where abortAfter != nil || closeUnreadAfter != nil:
            out.append("--abort-after/--close-unread-after count bytes read, but --never-read reads nothing")
        case .respond where abortAfter != nil || closeUnreadAfter != nil:
            out.append("--abort-after/--close-unread-after work with plain or paced reading, not with --respond")
        case .respond(let bytes, _, _) where bytes < RequestFrame.headerSize:
            out.append("--respond must be at least \(RequestFrame.headerSize) bytes (the frame's length header)")
        case .paced(let chunk, _) where chunk < 1, .sink(let chunk) where chunk < 1:
            out.append("the read size must be at least 1 byte")
        default: break
        }
        if connections < 0 { out.append("--connections must be 0 (no limit) or more") }
        if let acceptAfterOverflows, acceptAfterOverflows < 1 {
            out.append("--accept-after-overflows must be 1 or more: the number of handshakes the kernel turns away before the first accept()")
        }
        if concurrent {
            switch reading {
            case .sink, .never: break
            default: out.append("--concurrent works with plain reading or --never-read (paced reading and --respond serve one connection at a time)")
            }
            if abortAfter != nil || closeUnreadAfter != nil {
                out.append("--concurrent does not combine with --abort-after/--close-unread-after")
            }
        }
        return out
    }

    var fields: JSONObject {
        var out = JSONObject()
        out["port"] = .from(port)
        out["bind"] = .from(bindAddress)
        out["connections"] = .from(connections)
        switch reading {
        case .sink(let size): out["reading"] = .string("sink"); out["read_size"] = .from(size)
        case .paced(let chunk, let interval):
            out["reading"] = .string("paced"); out["read_chunk"] = .from(chunk); out["read_interval_ns"] = .from(interval.nanoseconds)
        case .never: out["reading"] = .string("never")
        case .respond(let bytes, let think, let delayAcks):
            out["reading"] = .string("respond"); out["respond"] = .from(bytes); out["think_ns"] = .from(think.nanoseconds)
            out["no_quickack"] = .bool(delayAcks)
        }
        if let receiveBuffer { out["rcvbuf"] = .from(receiveBuffer.bytes) }
        if let sendBuffer { out["sndbuf"] = .from(sendBuffer.bytes) }
        if noDelay { out["nodelay"] = .bool(true) }
        if let abortAfter { out["abort_after"] = .from(abortAfter) }
        if let closeUnreadAfter { out["close_unread_after"] = .from(closeUnreadAfter) }
        if let acceptDelay { out["accept_delay_ns"] = .from(acceptDelay.nanoseconds) }
        if let acceptAfterOverflows { out["accept_after_overflows"] = .from(acceptAfterOverflows) }
        if concurrent { out["concurrent"] = .bool(true) }
        return out
    }
}

struct ListenRole {
    let options: ListenOptions
    private let requests = Counter()

    init(options: ListenOptions) { self.options = options }

    func run(_ session: PeerSession) throws(PeerStop) {
        let listener = try makeListener(session)
        session.summaryFields = { [requests] in
            var out = JSONObject()
            if case .respond = options.reading { out["requests"] = .from(requests.value) }
            return out
        }
        if let overflows = options.acceptAfterOverflows {
            try waitForOverflows(overflows, atMost: options.acceptDelay, session)
        } else if let delay = options.acceptDelay {
            try session.sleep(for: delay)
        }
        if options.concurrent {
            try serveConcurrently(listener, session)
            return
        }
        var served = 0
        while options.connections == 0 || served < options.connections {
            let connection = try accept(listener, session, number: served + 1)
            try serve(connection, session)
            served += 1
        }
    }

    private func makeListener(_ session: PeerSession) throws(PeerStop) -> Socket {
        do throws(SocketError) {
            var socket: Socket
            let address: SocketAddress
            if let host = options.bindAddress {
                guard let parsed = SocketAddress(numericHost: host, port: options.port) else {
                    throw SocketError(call: "bind", errno: .EINVAL, detail: "\(host) is not a numeric address")
                }
                address = parsed
                socket = try Socket.tcp(family: address.family)
            } else {
                do {
                    socket = try Socket.tcp(family: AF_INET6)
                    try socket.setDualStack()
                    address = SocketAddress.any(ipv6: true, port: options.port)
                } catch {
                    socket = try Socket.tcp(family: AF_INET)
                    address = SocketAddress.any(ipv6: false, port: options.port)
                }
            }
            session.addListener(socket)
            try socket.setReuseAddress()
            if let receiveBuffer = options.receiveBuffer { try socket.setReceiveBuffer(receiveBuffer.bytes) }
            if let sendBuffer = options.sendBuffer { try socket.setSendBuffer(sendBuffer.bytes) }
            try socket.bind(address)
            try socket.listen(backlog: options.backlog)
            var fields = JSONObject()
            fields["address"] = .from(socket.localAddress?.description ?? address.description)
            fields["port"] = .from(options.port)
            fields["rcvbuf"] = .from(socket.receiveBuffer)
            fields["sndbuf"] = .from(socket.sendBuffer)
            session.emit("listening", fields)
            return socket
        } catch {
            throw .failed(error)
        }
    }

    /// Polls the namespace's TcpExtListenOverflows every `pollInterval` until it has grown by
    /// `count` since listen() (or `limit` has passed), then emits `accepting` with what ended the
    /// wait. The kernel offers no notification for its counters; a 5 ms poll reads two small
    /// procfs files, and the clients' SYN retransmissions are a second apart.
    private func waitForOverflows(_ count: Int, atMost limit: PeerDuration?, _ session: PeerSession) throws(PeerStop) {
        let name = "TcpExtListenOverflows"
        let counters: KernelCounters
        do throws(Errno) {
            counters = try KernelCounters.read(["netstat"])
        } catch {
            throw .failed(SocketError(call: "read /proc/thread-self/net/netstat", errno: error,
                                      detail: "--accept-after-overflows reads the kernel's \(name) counter"))
        }
        guard let before = counters[name] else {
            throw .broken("--accept-after-overflows: this kernel's /proc/net/netstat has no \(name) counter")
        }
        let deadline = limit.map { PeerSession.now + $0.nanoseconds }
        var seen: Int64 = 0
        while true {
            if let now = (try? KernelCounters.read(["netstat"]))?[name] { seen = now &- before }
            if seen >= Int64(count) { break }
            if let deadline, PeerSession.now >= deadline { break }
            let next = PeerSession.now + Self.pollInterval.nanoseconds
            try session.sleep(until: deadline.map { min($0, next) } ?? next)
        }
        var fields = JSONObject()
        fields["listen_overflows"] = .from(seen)
        fields["after"] = .string(seen >= Int64(count) ? "overflows" : "accept-delay")
        session.emit("accepting", fields)
    }

    static let pollInterval = PeerDuration.milliseconds(5)

    private func accept(_ listener: Socket, _ session: PeerSession, number: Int) throws(PeerStop) -> Socket {
        while true {
            _ = try session.wait(on: listener, events: Int16(POLLIN), until: nil)
            let accepted: Socket?
            do { accepted = try listener.accept() } catch { throw .failed(error) }
            guard let connection = accepted else { continue }
            try adopt(connection, number: number, session)
            return connection
        }
    }

    /// A connection just accepted: TCP_NODELAY if asked, the `accepted` event, TCP_INFO sampling.
    private func adopt(_ connection: Socket, number: Int, _ session: PeerSession) throws(PeerStop) {
        do {
            if options.noDelay { try connection.setNoDelay(true) }
        } catch {
            throw .failed(error)
        }
        var fields = JSONObject()
        fields["local"] = .from(connection.localAddress?.description)
        fields["remote"] = .from(connection.remoteAddress?.description)
        fields["connection"] = .from(number)
        fields["rcvbuf"] = .from(connection.receiveBuffer)
        fields["sndbuf"] = .from(connection.sendBuffer)
        fields["inq"] = connection.inputQueue.map { .from($0) } ?? .null
        session.emit("accepted", fields)
        session.attach(connection)
    }

    /// `--concurrent`: one poll over the listener and every open connection. Each connection is
    /// read as data comes (or never, with --never-read) until its peer closes; new ones are
    /// accepted meanwhile. TCP_INFO samples follow the latest connection.
    private func serveConcurrently(_ listener: Socket, _ session: PeerSession) throws(PeerStop) {
        var open: [(socket: Socket, number: Int, read: UInt64)] = []
        var accepted = 0
        let buffer = ByteBuffer(count: 65536)
        let reads: Bool
        if case .never = options.reading { reads = false } else { reads = true }
        while true {
            let acceptMore = options.connections == 0 || accepted < options.connections
            if !acceptMore && open.isEmpty { return }
            var watched: [(socket: Socket, events: Int16)] = acceptMore ? [(listener, Int16(POLLIN))] : []
            for c in open { watched.append((c.socket, reads ? Int16(POLLIN) | LinuxSocket.pollRDHUP : LinuxSocket.pollRDHUP)) }
            guard case .ready(let index, _) = try session.wait(onAny: watched, until: nil) else { continue }
            if acceptMore && index == 0 {
                let connection: Socket?
                do { connection = try listener.accept() } catch { throw .failed(error) }
                guard let connection else { continue }
                accepted += 1
                try adopt(connection, number: accepted, session)
                open.append((connection, accepted, 0))
                continue
            }
            let k = index - (acceptMore ? 1 : 0)
            guard open.indices.contains(k) else { continue }
            if !reads {
                // --never-read: the peer closed or reset; the application would not notice.
                session.emit("peer_closed", JSONObject([("connection", .from(open[k].number)),
                                                        ("unread_bytes", open[k].socket.inputQueue.map { .from($0) } ?? .null)]))
                open.remove(at: k)
                continue
            }
            var ended = false
            drain: while true {
                switch open[k].socket.receive(into: buffer, count: buffer.count) {
                case .transferred(let n):
                    session.addRead(n)
                    open[k].read += UInt64(n)
                    try session.checkpoint()
                case .wouldBlock:
                    break drain
                case .endOfStream:
                    ended = true
                    break drain
                case .failed(let error):
                    throw .failed(SocketError(call: "recv", errno: Errno(error)))
                }
            }
            if ended {
                session.emit("eof", JSONObject([("connection", .from(open[k].number)), ("bytes_read", .from(open[k].read))]))
                session.close(open[k].socket, .close, reason: "peer closed")
                open.remove(at: k)
            }
        }
    }

    private func serve(_ connection: Socket, _ session: PeerSession) throws(PeerStop) {
        switch options.reading {
        case .never: try neverRead(connection, session)
        case .sink(let size): try read(connection, session, chunk: size, interval: nil)
        case .paced(let chunk, let interval): try read(connection, session, chunk: chunk, interval: interval)
        case .respond(let bytes, let think, let delayAcks):
            try respond(connection, session, bytes: bytes, think: think, delayAcks: delayAcks)
        }
    }

    /// Holds the connection without reading. What the kernel reports (the peer's FIN, a reset) is
    /// logged; the application, not reading, would not notice, so the peer keeps holding until stopped.
    private func neverRead(_ connection: Socket, _ session: PeerSession) throws(PeerStop) {
        var events = LinuxSocket.pollRDHUP
        var watched: Socket? = connection
        while true {
            let wake = try session.wait(on: watched, events: events, until: nil)
            guard case .ready(let revents) = wake else { continue }
            if revents & Int16(POLLERR) != 0 {
                let error = connection.pendingError()
                var fields = JSONObject()
                fields["errno"] = .string(Errno(error).name)
                fields["unread_bytes"] = connection.inputQueue.map { .from($0) } ?? .null
                session.emit("peer_reset", fields)
                watched = nil
            } else if revents & events != 0 {
                session.emit("peer_closed", JSONObject([("unread_bytes", connection.inputQueue.map { .from($0) } ?? .null)]))
                events = 0
            }
            if revents & Int16(POLLHUP) != 0 { watched = nil }
        }
    }

    /// Reads as fast as possible (`interval` nil) or `chunk` bytes per `interval`, until the peer
    /// closes or the abort/close-unread threshold is reached.
    private func read(_ connection: Socket, _ session: PeerSession, chunk: Int, interval: PeerDuration?) throws(PeerStop) {
        let buffer = ByteBuffer(count: chunk)
        let limit = options.abortAfter ?? options.closeUnreadAfter
        var readHere: UInt64 = 0
        var tick = PeerSession.now
        while true {
            if interval != nil, PeerSession.now < tick { try session.sleep(until: tick) }
            var want = chunk
            if let limit { want = Int(min(UInt64(want), limit - readHere)) }
            if want == 0 {
                try endAtThreshold(connection, session, bytes: readHere)
                return
            }
            // One "application read": up to `want` bytes, waiting only if nothing is there yet.
            var got = 0
            var ended = false
            while got < want {
                switch connection.receive(into: buffer, offset: got, count: want - got) {
                case .transferred(let n):
                    session.addRead(n)
                    got += n
                    if interval == nil { want = got } // sink: one recv per loop
                    try session.checkpoint()
                case .wouldBlock:
                    if got > 0 { want = got; break }
                    _ = try session.wait(on: connection, events: Int16(POLLIN), until: nil)
                case .endOfStream:
                    ended = true
                    want = got
                case .failed(let error):
                    throw .failed(SocketError(call: "recv", errno: Errno(error)))
                }
            }
            readHere += UInt64(got)
            if ended {
                session.emit("eof", JSONObject([("bytes_read", .from(readHere))]))
                session.close(connection, .close, reason: "peer closed")
                return
            }
            if let interval {
                let now = PeerSession.now
                let next = tick + interval.nanoseconds
                tick = next > now ? next : now + interval.nanoseconds
            }
            if let limit, readHere >= limit {
                try endAtThreshold(connection, session, bytes: readHere)
                return
            }
        }
    }

    private func endAtThreshold(_ connection: Socket, _ session: PeerSession, bytes: UInt64) throws(PeerStop) {
        if options.abortAfter != nil {
            session.close(connection, .abort, reason: "--abort-after \(bytes) bytes")
            return
        }
        // Close with data unread: make sure some is there (else close() would send a plain FIN).
        if (connection.inputQueue ?? 0) == 0 {
            _ = try session.wait(on: connection, events: Int16(POLLIN), until: nil)
        }
        session.close(connection, .close, reason: "--close-unread-after \(bytes) bytes")
    }

    /// Request/response: frames of a 4-byte big-endian total length then filler (see `RequestFrame`).
    private func respond(_ connection: Socket, _ session: PeerSession, bytes: Int, think: PeerDuration, delayAcks: Bool) throws(PeerStop) {
        let input = ByteBuffer(count: 65536)
        let response = ByteBuffer(count: min(max(bytes, RequestFrame.headerSize), 1 << 20))
        response.store(bigEndian: UInt32(clamping: bytes), at: 0)
        let rearm = { () throws(PeerStop) -> Void in
            guard delayAcks else { return }
            do throws(SocketError) { try connection.setQuickAck(false) } catch { throw PeerStop.failed(error) }
        }
        while true {
            let header = try session.readExactly(connection, into: input, count: RequestFrame.headerSize, beforeRead: rearm)
            if header == 0 {
                session.emit("eof", JSONObject([("requests", .from(requests.value))]))
                session.close(connection, .close, reason: "peer closed")
                return
            }
            if header < RequestFrame.headerSize {
                throw .broken("the client closed the connection inside a request header")
            }
            let length = Int(input.loadBigEndianUInt32(at: 0))
            guard length >= RequestFrame.headerSize else {
                throw .broken("request \(requests.value + 1) declares \(length) bytes, less than its own \(RequestFrame.headerSize)-byte header: the client does not speak the request protocol")
            }
            let body = length - RequestFrame.headerSize
            if body > 0 {
                let got = try session.readExactly(connection, into: input, count: body, beforeRead: rearm)
                if got < body { throw .broken("the client closed the connection inside request \(requests.value + 1)") }
            }
            requests.value += 1
            if think.nanoseconds > 0 { try session.sleep(for: think) }
            // The frame header sits at the start of `response`; longer answers repeat the filler.
            try session.writeAll(connection, response, count: bytes)
            try rearm()
        }
    }
}

/// A mutable count shared with the summary closure.
final class Counter {
    var value = 0
}

/// The request/response protocol of `request` and `listen --respond`: every request and every
/// response is one frame, a 4-byte big-endian length of the whole frame (header included)
/// followed by that many bytes minus four of filler.
public enum RequestFrame {
    public static let headerSize = 4
}
