import Values
import CLinux
import Glibc

/// Options every role takes.
public struct CommonOptions: Sendable, Equatable {
    /// Periodic TCP_INFO samples of the connection (nil: only the final one, taken before close).
    public var tcpInfoInterval: PeerDuration?
    /// At most one `progress` event per interval (0: none).
    public var progressInterval: PeerDuration
    /// A write blocked at least this long gets its own `write_blocked` event (all count in the summary).
    public var blockThreshold: PeerDuration
    /// Stop (outcome `exit-after`, exit 0) this long after start.
    public var exitAfter: PeerDuration?

    public init(tcpInfoInterval: PeerDuration? = nil, progressInterval: PeerDuration = .milliseconds(100),
                blockThreshold: PeerDuration = .milliseconds(1), exitAfter: PeerDuration? = nil) {
        self.tcpInfoInterval = tcpInfoInterval
        self.progressInterval = progressInterval
        self.blockThreshold = blockThreshold
        self.exitAfter = exitAfter
    }
}

/// Options of the roles that connect (send, connect, request, hold).
public struct ClientOptions: Sendable, Equatable {
    public var to: PeerEndpoint
    /// Source address to bind before connecting.
    public var bindAddress: String?
    /// Source port to bind before connecting (SO_REUSEADDR is set so TIME_WAIT does not block it).
    public var bindPort: UInt16?
    /// Give up connecting after this long with ETIMEDOUT (nil: the kernel's SYN retries decide).
    public var connectTimeout: PeerDuration?
    public var sendBuffer: ByteSize?
    public var receiveBuffer: ByteSize?
    public var noDelay: Bool

    public init(to: PeerEndpoint, bindAddress: String? = nil, bindPort: UInt16? = nil, connectTimeout: PeerDuration? = nil,
                sendBuffer: ByteSize? = nil, receiveBuffer: ByteSize? = nil, noDelay: Bool = false) {
        self.to = to
        self.bindAddress = bindAddress
        self.bindPort = bindPort
        self.connectTimeout = connectTimeout
        self.sendBuffer = sendBuffer
        self.receiveBuffer = receiveBuffer
        self.noDelay = noDelay
    }

    var fields: JSONObject {
        var out = JSONObject()
        out["to"] = .string(to.description)
        if let bindAddress { out["bind"] = .string(bindAddress) }
        if let bindPort { out["bind_port"] = .from(bindPort) }
        if let connectTimeout { out["connect_timeout_ns"] = .from(connectTimeout.nanoseconds) }
        if let sendBuffer { out["sndbuf"] = .from(sendBuffer.bytes) }
        if let receiveBuffer { out["rcvbuf"] = .from(receiveBuffer.bytes) }
        if noDelay { out["nodelay"] = .bool(true) }
        return out
    }
}

/// Why a role stopped before finishing.
enum PeerStop: Error {
    /// SIGTERM, SIGINT or SIGHUP (or the parent died): outcome `terminated`, exit 0.
    case signal(Int32)
    /// `--exit-after` elapsed: outcome `exit-after`, exit 0.
    case exitAfter
    /// A call failed: outcome `failed`, exit 1, errno in the summary.
    case failed(SocketError)
    /// The peer broke the exchange without an errno (e.g. closed mid-response): outcome `failed`, exit 1.
    case broken(String)
}

/// What `PeerSession.wait` woke up for.
enum Wake: Equatable {
    case ready(Int16)
    case deadline
    case user1
}

/// How a connection is closed.
enum CloseKind: String {
    /// close(): FIN, or RST if unread data remains.
    case close
    /// SO_LINGER {1,0} then close(): RST, unsent data discarded.
    case abort
}

/// The running peer: event log, signals, deadlines, periodic samples and the totals that end up in
/// the summary. Roles are written as straight-line code that calls `wait` wherever a blocking
/// program would block; `wait` is where signals, `--exit-after`, TCP_INFO samples and progress
/// events happen.
final class PeerSession {
    let log: EventLog
    let options: CommonOptions
    let role: String
    let startTime: UInt64
    let signalFD: Int32
    private let exitDeadline: UInt64?

    /// The connection TCP_INFO samples are taken from.
    private(set) var connection: Socket?
    private var listeners: [Socket] = []
    private var nextSample: UInt64?
    private var nextProgress: UInt64 = 0

    // Totals for the summary.
    private(set) var bytesWritten: UInt64 = 0
    private(set) var bytesRead: UInt64 = 0
    private var firstWrite: UInt64?, lastWrite: UInt64?, firstRead: UInt64?, lastRead: UInt64?
    private var progressWritten: UInt64 = 0, progressRead: UInt64 = 0
    private var writeBlocks: UInt64 = 0
    private var totalWriteBlock: UInt64 = 0
    private var maxWriteBlock: UInt64 = 0
    private var blockStart: UInt64?
    private var samples = 0
    private var maxInq = 0
    private var maxOutq = 0
    private var zeroWindowAdvertised = false
    private var peerZeroWindow = false
    private(set) var connections = 0
    private var lastSample: TCPInfoSample?
    /// Role-specific summary fields, computed when the summary is written.
    var summaryFields: () -> JSONObject = { JSONObject() }

    init(role: String, log: EventLog, options: CommonOptions, signalFD: Int32) {
        self.role = role
        self.log = log
        self.options = options
        self.signalFD = signalFD
        let now = fl_monotonic_ns()
        self.startTime = now
        self.exitDeadline = options.exitAfter.map { now + $0.nanoseconds }
    }

    static var now: UInt64 { fl_monotonic_ns() }

    func emit(_ event: String, _ fields: JSONObject = JSONObject()) { log.emit(event, fields) }

    // MARK: waiting

    /// Waits until `socket` reports one of `events`, `deadline` (absolute monotonic ns) passes, or
    /// (if `wantUser1`) SIGUSR1 arrives. Throws on SIGTERM/SIGINT/SIGHUP and at `--exit-after`.
    /// Emits due TCP_INFO samples and progress events meanwhile.
    func wait(on socket: Socket?, events: Int16, until deadline: UInt64?, wantUser1: Bool = false) throws(PeerStop) -> Wake {
        switch try wait(onAny: socket.map { [($0, events)] } ?? [], until: deadline, wantUser1: wantUser1) {
        case .ready(_, let revents): return .ready(revents)
        case .deadline: return .deadline
        case .user1: return .user1
        }
    }

    /// What `wait(onAny:)` woke for: one of the sockets (its index and events), the deadline, SIGUSR1.
    enum WakeAny: Equatable {
        case ready(index: Int, revents: Int16)
        case deadline
        case user1
    }

    /// `wait(on:)` for several sockets at once (a server holding many connections).
    func wait(onAny sockets: [(socket: Socket, events: Int16)], until deadline: UInt64?, wantUser1: Bool = false) throws(PeerStop) -> WakeAny {
        while true {
            let now = Self.now
            if let exitDeadline, now >= exitDeadline { throw .exitAfter }
            periodic(now)
            // A passed deadline still gets one poll with timeout 0, so signals are never starved.
            let expired = deadline.map { now >= $0 } ?? false
            var wake = deadline
            for candidate in [exitDeadline, connection == nil ? nil : nextSample, progressPending ? nextProgress : nil] {
                if let candidate { wake = min(wake ?? candidate, candidate) }
            }
            var entries: [(fd: Int32, events: Int16)] = [(signalFD, Int16(POLLIN))]
            var indices: [Int] = []
            for (i, watched) in sockets.enumerated() where !watched.socket.isClosed {
                entries.append((watched.socket.fd, watched.events))
                indices.append(i)
            }
            let timeout: UInt64? = expired ? 0 : wake.map { $0 > now ? $0 - now : 0 }
            let revents: [Int16]
            switch pollDescriptors(entries, timeoutNanoseconds: timeout) {
            case .success(let result): revents = result
            case .failure(let error): throw .failed(error)
            }
            if revents[0] != 0 {
                for signal in drainSignals() {
                    switch signal {
                    case SIGUSR1 where wantUser1:
                        emit("signal", JSONObject([("signal", .string("SIGUSR1")), ("action", .string("write"))]))
                        return .user1
                    case SIGUSR1:
                        emit("signal", JSONObject([("signal", .string("SIGUSR1")), ("action", .string("ignored"))]))
                    default:
                        throw .signal(signal)
                    }
                }
            }
            if let k = revents.indices.dropFirst().first(where: { revents[$0] != 0 }) { return .ready(index: indices[k - 1], revents: revents[k]) }
            if expired || (deadline.map { Self.now >= $0 } ?? false) { return .deadline }
        }
    }

    /// Between system calls that keep succeeding (a fast transfer never waits): at most every
    /// millisecond, look for signals, `--exit-after` and due samples without blocking.
    func checkpoint() throws(PeerStop) {
        let now = Self.now
        guard now >= nextCheckpoint else { return }
        nextCheckpoint = now + 1_000_000
        _ = try wait(on: nil, events: 0, until: now)
    }

    private var nextCheckpoint: UInt64 = 0

    /// Sleeps until `deadline`, still honouring signals and `--exit-after`.
    func sleep(until deadline: UInt64) throws(PeerStop) {
        while try wait(on: nil, events: 0, until: deadline) != .deadline {}
    }

    func sleep(for duration: PeerDuration) throws(PeerStop) {
        try sleep(until: Self.now + duration.nanoseconds)
    }

    private func drainSignals() -> [Int32] {
        var bytes = [UInt8](repeating: 0, count: 64)
        let n = bytes.withUnsafeMutableBytes { Glibc.read(signalFD, $0.baseAddress, $0.count) }
        guard n > 0 else { return [] }
        return bytes[0..<n].map { Int32($0) }
    }

    private var progressPending: Bool {
        options.progressInterval.nanoseconds > 0 && (bytesWritten != progressWritten || bytesRead != progressRead)
    }

    private func periodic(_ now: UInt64) {
        if let connection, let next = nextSample, now >= next, let interval = options.tcpInfoInterval {
            sample(connection, final: false)
            // Keep to the grid; after a long stall start again from now.
            let following = next + interval.nanoseconds
            nextSample = following > now ? following : now + interval.nanoseconds
        }
        maybeProgress(now)
    }

    private func maybeProgress(_ now: UInt64) {
        guard progressPending, now >= nextProgress else { return }
        progressWritten = bytesWritten
        progressRead = bytesRead
        nextProgress = now + options.progressInterval.nanoseconds
        var fields = JSONObject()
        fields["bytes_written"] = .from(bytesWritten)
        fields["bytes_read"] = .from(bytesRead)
        log.emit("progress", at: now, fields)
    }

    // MARK: counters

    func addWritten(_ count: Int) {
        let now = Self.now
        bytesWritten += UInt64(count)
        if firstWrite == nil { firstWrite = now }
        lastWrite = now
        maybeProgress(now)
    }

    func addRead(_ count: Int) {
        let now = Self.now
        bytesRead += UInt64(count)
        if firstRead == nil { firstRead = now }
        lastRead = now
        maybeProgress(now)
    }

    private func beginWriteBlock() {
        if blockStart == nil { blockStart = Self.now }
    }

    private func endWriteBlock(ongoing: Bool = false) {
        guard let start = blockStart else { return }
        blockStart = nil
        let now = Self.now
        let blocked = now - start
        writeBlocks += 1
        totalWriteBlock += blocked
        maxWriteBlock = max(maxWriteBlock, blocked)
        if blocked >= options.blockThreshold.nanoseconds || ongoing {
            var fields = JSONObject()
            fields["blocked_ns"] = .from(blocked)
            fields["since_ns"] = .from(start)
            fields["bytes_written"] = .from(bytesWritten)
            if let connection, !connection.isClosed {
                fields["outq"] = connection.outputQueue.map { .from($0) } ?? .null
            }
            if ongoing { fields["ongoing"] = .bool(true) }
            log.emit("write_blocked", at: now, fields)
        }
    }

    // MARK: connections

    /// Makes `socket` the connection that TCP_INFO samples follow, and takes a first sample.
    func attach(_ socket: Socket) {
        connection = socket
        connections += 1
        if let interval = options.tcpInfoInterval {
            sample(socket, final: false)
            nextSample = Self.now + interval.nanoseconds
        }
    }

    func addListener(_ socket: Socket) { listeners.append(socket) }

    /// Emits a `tcp_info` event for `socket` and folds it into the summary's maxima.
    @discardableResult
    func sample(_ socket: Socket, final: Bool) -> TCPInfoSample? {
        guard !socket.isClosed, let info = socket.tcpInfo() else { return nil }
        samples += 1
        lastSample = info
        maxInq = max(maxInq, info.inq ?? 0)
        maxOutq = max(maxOutq, info.outq ?? 0)
        if info.advertisesZeroWindow { zeroWindowAdvertised = true }
        if info.peerAdvertisesZeroWindow { peerZeroWindow = true }
        var fields = info.fields
        if final { fields["final"] = .bool(true) }
        emit("tcp_info", fields)
        return info
    }

    /// Takes the final sample, closes (or aborts) the connection and logs how.
    func close(_ socket: Socket, _ kind: CloseKind, reason: String) {
        guard !socket.isClosed else { return }
        if blockStart != nil { endWriteBlock(ongoing: true) }
        sample(socket, final: true)
        let unread = socket.inputQueue ?? 0
        let unsent = socket.outputQueueUnsent ?? 0
        var abortFailed: SocketError?
        if kind == .abort {
            do { try socket.setLingerZero() } catch { abortFailed = error }
        }
        socket.close()
        if connection === socket { connection = nil; nextSample = nil }
        var fields = JSONObject()
        fields["how"] = .string(kind.rawValue)
        fields["reason"] = .string(reason)
        fields["unread_bytes"] = .from(unread)
        fields["unsent_bytes"] = .from(unsent)
        // What the kernel sends: RST for an abort or when unread data is discarded, else FIN.
        fields["sends"] = .string(kind == .abort || unread > 0 ? "RST" : "FIN")
        if let abortFailed { fields["linger_error"] = .string(abortFailed.description) }
        emit("close", fields)
    }

    // MARK: reading and writing

    /// Writes `count` bytes of `buffer` (which may be shorter: it is reused from the start),
    /// waiting whenever the send buffer is full and recording how long each write blocked.
    func writeAll(_ socket: Socket, _ buffer: ByteBuffer, count: Int) throws(PeerStop) {
        var remaining = count
        var offset = 0
        while remaining > 0 {
            let chunk = min(remaining, buffer.count - offset)
            switch socket.send(buffer, offset: offset, count: chunk) {
            case .transferred(let n):
                endWriteBlock()
                addWritten(n)
                remaining -= n
                offset = (offset + n) % buffer.count
                if remaining > 0 { try checkpoint() }
            case .wouldBlock:
                beginWriteBlock()
                _ = try wait(on: socket, events: Int16(POLLOUT), until: nil)
            case .failed(let error):
                endWriteBlock()
                throw .failed(SocketError(call: "send", errno: Errno(error)))
            case .endOfStream:
                break
            }
        }
    }

    /// Reads up to `count` bytes into `buffer` at `offset`, waiting while nothing is available.
    /// Returns 0 at end of stream.
    func readSome(_ socket: Socket, into buffer: ByteBuffer, offset: Int = 0, count: Int) throws(PeerStop) -> Int {
        while true {
            switch socket.receive(into: buffer, offset: offset, count: count) {
            case .transferred(let n):
                addRead(n)
                try checkpoint()
                return n
            case .endOfStream:
                return 0
            case .wouldBlock:
                _ = try wait(on: socket, events: Int16(POLLIN), until: nil)
            case .failed(let error):
                throw .failed(SocketError(call: "recv", errno: Errno(error)))
            }
        }
    }

    /// Reads exactly `count` bytes (into `buffer`, wrapping) unless the stream ends first.
    /// `beforeRead` runs before each wait for data (e.g. to re-arm TCP_QUICKACK). Returns the bytes read.
    func readExactly(_ socket: Socket, into buffer: ByteBuffer, count: Int, beforeRead: () throws(PeerStop) -> Void = {}) throws(PeerStop) -> Int {
        var done = 0
        while done < count {
            try beforeRead()
            let offset = done % buffer.count
            let n = try readSome(socket, into: buffer, offset: offset, count: min(count - done, buffer.count - offset))
            if n == 0 { return done }
            done += n
        }
        return done
    }

    // MARK: setting up

    /// Opens a connection as `options` say, logging `connecting` and `connected`, and attaches it.
    func connect(_ options: ClientOptions) throws(PeerStop) -> Socket {
        let address: SocketAddress
        do { address = try SocketAddress.resolve(options.to) } catch {
            throw .failed(SocketError(call: "getaddrinfo", errno: .EINVAL, detail: error.description))
        }
        let socket: Socket
        do throws(SocketError) {
            socket = try Socket.tcp(family: address.family)
            if let sendBuffer = options.sendBuffer { try socket.setSendBuffer(sendBuffer.bytes) }
            if let receiveBuffer = options.receiveBuffer { try socket.setReceiveBuffer(receiveBuffer.bytes) }
            if options.noDelay { try socket.setNoDelay(true) }
            if options.bindAddress != nil || options.bindPort != nil {
                try socket.setReuseAddress()
                let host = options.bindAddress ?? (address.isIPv6 ? "::" : "0.0.0.0")
                guard let local = SocketAddress(numericHost: host, port: options.bindPort ?? 0) else {
                    throw SocketError(call: "bind", errno: .EINVAL, detail: "\(host) is not a numeric address")
                }
                try socket.bind(local)
            }
        } catch {
            throw .failed(error)
        }
        var fields = JSONObject()
        fields["to"] = .string(address.description)
        if let local = socket.localAddress, local.port != 0 { fields["from"] = .string(local.description) }
        emit("connecting", fields)
        let started = Self.now
        let deadline = options.connectTimeout.map { started + $0.nanoseconds }
        func failed(_ error: SocketError) -> PeerStop {
            var extra = JSONObject()
            extra["connect_ns"] = .from(Self.now - started)
            extra["connect_result"] = .string(error.errno.name)
            connectFields = extra
            socket.close()
            return .failed(error)
        }
        let completed: Bool
        do { completed = try socket.startConnect(address) } catch { throw failed(error) }
        while !completed {
            let wake: Wake
            do { wake = try wait(on: socket, events: Int16(POLLOUT), until: deadline) } catch {
                socket.close()
                throw error
            }
            if wake == .deadline {
                let limit = options.connectTimeout.map { "\($0)" } ?? "?"
                throw failed(SocketError(call: "connect", errno: .ETIMEDOUT,
                                         detail: "\(address) (no answer within --connect-timeout \(limit))"))
            }
            let error = socket.pendingError()
            if error != 0 { throw failed(SocketError(call: "connect", errno: Errno(error), detail: address.description)) }
            if socket.remoteAddress != nil { break }
        }
        let elapsed = Self.now - started
        var connected = JSONObject()
        connected["local"] = .from(socket.localAddress?.description)
        connected["remote"] = .from(socket.remoteAddress?.description)
        connected["connect_ns"] = .from(elapsed)
        connected["sndbuf"] = .from(socket.sendBuffer)
        connected["rcvbuf"] = .from(socket.receiveBuffer)
        emit("connected", connected)
        var extra = JSONObject()
        extra["connect_ns"] = .from(elapsed)
        extra["connect_result"] = .string("connected")
        connectFields = extra
        attach(socket)
        return socket
    }

    /// connect_ns / connect_result, for the summary.
    private var connectFields = JSONObject()

    // MARK: the end

    /// Closes what is still open, writes the `error` (if any) and `summary` events, and returns the exit code.
    func finish(_ stop: PeerStop?) -> Int32 {
        let now = Self.now
        if blockStart != nil { endWriteBlock(ongoing: true) }
        var outcome = "completed"
        var exitCode: Int32 = 0
        var summary = JSONObject()
        summary["role"] = .string(role)
        var errorFields = JSONObject()
        var stoppedBy: String?
        switch stop {
        case .none: break
        case .signal(let signal):
            outcome = "terminated"
            stoppedBy = signalName(signal)
            emit("signal", JSONObject([("signal", .string(signalName(signal))), ("action", .string("stop"))]))
        case .exitAfter:
            outcome = "exit-after"
        case .failed(let error):
            outcome = "failed"
            exitCode = 1
            errorFields["call"] = .string(error.call)
            errorFields["errno"] = .string(error.errno.name)
            errorFields["errno_value"] = .from(error.errno.rawValue)
            errorFields["message"] = .string(error.errno.message)
            if let detail = error.detail { errorFields["detail"] = .string(detail) }
            emit("error", errorFields)
        case .broken(let reason):
            outcome = "failed"
            exitCode = 1
            errorFields["reason"] = .string(reason)
            emit("error", errorFields)
        }
        if progressPending {
            nextProgress = 0
            maybeProgress(now)
        }
        let reason = outcome == "completed" ? "done" : outcome
        if let connection, !connection.isClosed { close(connection, .close, reason: reason) }
        for listener in listeners where !listener.isClosed { listener.close() }

        summary["outcome"] = .string(outcome)
        summary["exit_code"] = .from(exitCode)
        summary["errno"] = errorFields["errno"] ?? .null
        summary["errno_value"] = errorFields["errno_value"] ?? .null
        summary["error_call"] = errorFields["call"] ?? .null
        if let reason = errorFields["reason"] { summary["error_reason"] = reason }
        if let stoppedBy { summary["signal"] = .string(stoppedBy) }
        summary["duration_ns"] = .from(now - startTime)
        summary["start_ns"] = .from(startTime)
        summary["bytes_written"] = .from(bytesWritten)
        summary["bytes_read"] = .from(bytesRead)
        summary["first_write_ns"] = firstWrite.map { .from($0) } ?? .null
        summary["last_write_ns"] = lastWrite.map { .from($0) } ?? .null
        summary["first_read_ns"] = firstRead.map { .from($0) } ?? .null
        summary["last_read_ns"] = lastRead.map { .from($0) } ?? .null
        summary["write_blocks"] = .from(writeBlocks)
        summary["max_write_block_ns"] = .from(maxWriteBlock)
        summary["total_write_block_ns"] = .from(totalWriteBlock)
        summary["connections"] = .from(connections)
        summary["tcp_info_samples"] = .from(samples)
        summary["max_inq"] = .from(maxInq)
        summary["max_outq"] = .from(maxOutq)
        summary["zero_window_advertised"] = .bool(zeroWindowAdvertised)
        summary["peer_zero_window"] = .bool(peerZeroWindow)
        if let lastSample {
            summary["last_rtt_us"] = .from(lastSample.rttMicroseconds)
            summary["total_retrans"] = .from(lastSample.totalRetrans)
        }
        summary.merge(connectFields)
        summary.merge(summaryFields())
        emit("summary", summary)
        return exitCode
    }
}

func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGTERM: return "SIGTERM"
    case SIGINT: return "SIGINT"
    case SIGHUP: return "SIGHUP"
    case SIGUSR1: return "SIGUSR1"
    case SIGKILL: return "SIGKILL"
    default: return "SIG\(signal)"
    }
}
