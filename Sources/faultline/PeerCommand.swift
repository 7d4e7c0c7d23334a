import Values
import ArgumentParser
import Glibc
import Peers

/// `faultline peer <role> ...`: one socket program from the Peers module.
///
/// The arguments are handed, untouched, to `PeerCLI` (its own ArgumentParser root) so that usage
/// errors exit with 2 — ArgumentParser's own `main` would exit with EX_USAGE (64) — and so that
/// `--help` shows the roles' full help rather than this wrapper's.
struct PeerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer",
        abstract: "Run one socket program (listen, send, connect, request, hold) and log what the application sees as JSON lines.",
        discussion: PeerHelp.overview + "\n" + Peers.eventSchema,
        // No help flags here: `--help` goes through to PeerCLI, which knows the roles.
        helpNames: [])

    @Argument(parsing: .allUnrecognized, help: "A role and its options: `faultline peer --help` lists them.")
    var arguments: [String] = []

    func run() throws {
        throw ExitCode(PeerCLI.main(arguments: arguments))
    }
}

/// The peer's own command line: a root with one subcommand per role.
struct PeerCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faultline peer",
        abstract: "Socket programs that reproduce application behaviour on TCP and log what they see.",
        discussion: PeerHelp.overview,
        subcommands: [PeerListen.self, PeerSend.self, PeerConnect.self, PeerRequest.self, PeerHold.self])

    /// Parses and runs; returns the exit code (0 done, 1 network failure, 2 bad arguments).
    static func main(arguments: [String]) -> Int32 {
        // ArgumentParser would blame the first option it cannot place ("Unknown option '--to'")
        // for a misspelt role; name the role instead.
        let roles = configuration.subcommands.map { $0.configuration.commandName ?? "" }
        if let first = arguments.first, !first.hasPrefix("-"), first != "help", !roles.contains(first) {
            let near = roles.min { editDistance($0, first) < editDistance($1, first) }
            let hint = near.map { editDistance($0, first) <= 2 ? " (did you mean '\($0)'?)" : "" } ?? ""
            writeText("Error: unknown role '\(first)'\(hint); expected one of: \(roles.joined(separator: ", "))\n", to: 2)
            return Peers.ExitCode.usage
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return Peers.ExitCode.success
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty { writeText(message + "\n", to: code == .success ? 1 : 2) }
            if code == .validationFailure { return Peers.ExitCode.usage }
            return code.rawValue
        }
    }

    /// The check a scenario file's `peer:` arguments get when it is loaded: nil when this parser
    /// accepts them (the run's own `--events` is added later), else its first message.
    @Sendable static func check(arguments: [String]) -> String? {
        let roles = configuration.subcommands.map { $0.configuration.commandName ?? "" }
        if let first = arguments.first, !roles.contains(first) {
            let near = roles.min { editDistance($0, first) < editDistance($1, first) }
            let hint = near.map { editDistance($0, first) <= 2 ? " (did you mean '\($0)'?)" : "" } ?? ""
            return "unknown role '\(first)'\(hint); expected one of: \(roles.joined(separator: ", "))"
        }
        do {
            _ = try parseAsRoot(arguments)
            return nil
        } catch {
            if exitCode(for: error) == .success { return "--help is not a role's argument" }
            return fullMessage(for: error)
        }
    }

    /// Levenshtein distance, for "did you mean".
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                let next = min(row[j] + 1, row[j - 1] + 1, previous + cost)
                previous = row[j]
                row[j] = next
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }

    static func writeText(_ text: String, to fd: Int32) {
        try? FileIO.writeAll(fd: fd, text)
    }
}

// MARK: values

private func parseDuration(_ text: String) throws -> PeerDuration { try PeerDuration(parsing: text) }
private func parseSize(_ text: String) throws -> ByteSize { try ByteSize(parsing: text) }
private func parseEndpoint(_ text: String) throws -> PeerEndpoint { try PeerEndpoint(parsing: text) }
private func parsePort(_ text: String) throws -> UInt16 { try PeerEndpoint.port(text) }

/// A size that must fit a buffer (at most 1 GiB).
private func intSize(_ value: ByteSize, _ flag: String) throws -> Int {
    guard value.bytes <= 1 << 30 else { throw ValidationError("\(flag) \(value): at most 1GiB") }
    return Int(value.bytes)
}

private func numericAddress(_ text: String, _ flag: String) throws {
    guard SocketAddress(numericHost: text, port: 1) != nil else {
        throw ValidationError("\(flag) \"\(text)\": expected a numeric IPv4 or IPv6 address, e.g. 198.18.1.2 or fd00:fa17:1::2")
    }
}

// MARK: option groups

struct PeerCommonOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write the event log to this file (created or truncated) instead of stdout.", valueName: "path"))
    var events: String?

    @Option(help: ArgumentHelp("Log a tcp_info event (TCP_INFO + SIOCINQ/SIOCOUTQ) this often, e.g. 50ms. A final sample is always taken before close.", valueName: "duration"),
            transform: parseDuration)
    var tcpInfoInterval: PeerDuration?

    @Option(help: ArgumentHelp("At most one progress event per this interval; 0 turns them off.", valueName: "duration"), transform: parseDuration)
    var progressInterval: PeerDuration = .milliseconds(100)

    @Option(help: ArgumentHelp("A write blocked at least this long gets its own write_blocked event (every block counts in the summary).", valueName: "duration"),
            transform: parseDuration)
    var blockThreshold: PeerDuration = .milliseconds(1)

    @Option(help: ArgumentHelp("Stop this long after start (outcome exit-after, exit 0), e.g. 5s.", valueName: "duration"), transform: parseDuration)
    var exitAfter: PeerDuration?

    var options: CommonOptions {
        CommonOptions(tcpInfoInterval: tcpInfoInterval.flatMap { $0.nanoseconds > 0 ? $0 : nil }, progressInterval: progressInterval,
                      blockThreshold: blockThreshold, exitAfter: exitAfter)
    }

    func openLog() throws -> EventLog {
        guard let events else { return EventLog.standardOutput() }
        do { return try EventLog.open(path: events) } catch {
            PeerCLI.writeText("Error: --events: cannot write \(events): \(error.errno)\n", to: 2)
            throw ExitCode(Peers.ExitCode.usage)
        }
    }

    /// Runs the role; throws the exit code for ArgumentParser to pass on.
    func run(_ role: Peers.Role) throws {
        let log = try openLog()
        throw ExitCode(Peers.run(role, common: options, log: log))
    }
}

struct PeerClientOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Where to connect: 198.18.2.2:9000, [fd00:fa17:2::2]:9000 or host:port.", valueName: "host:port"), transform: parseEndpoint)
    var to: PeerEndpoint

    @Option(help: ArgumentHelp("Source address to bind before connecting.", valueName: "address"))
    var bind: String?

    @Option(help: ArgumentHelp("Source port to bind before connecting (SO_REUSEADDR set), e.g. to find the flow in a capture.", valueName: "port"),
            transform: parsePort)
    var bindPort: UInt16?

    @Option(name: [.customLong("connect-timeout"), .customLong("timeout")],
            help: ArgumentHelp("Give up connecting after this long with ETIMEDOUT (default: the kernel's SYN retries, about 2 minutes).", valueName: "duration"),
            transform: parseDuration)
    var connectTimeout: PeerDuration?

    @Option(help: ArgumentHelp("SO_SNDBUF before connecting (the kernel doubles it; autotuning stops).", valueName: "size"), transform: parseSize)
    var sndbuf: ByteSize?

    @Option(help: ArgumentHelp("SO_RCVBUF before connecting (the kernel doubles it; autotuning stops).", valueName: "size"), transform: parseSize)
    var rcvbuf: ByteSize?

    @Flag(help: "TCP_NODELAY: no Nagle delay for small writes.")
    var nodelay = false

    func options() throws -> ClientOptions {
        if let bind { try numericAddress(bind, "--bind") }
        return ClientOptions(to: to, bindAddress: bind, bindPort: bindPort, connectTimeout: connectTimeout,
                             sendBuffer: sndbuf, receiveBuffer: rcvbuf, noDelay: nodelay)
    }
}

// MARK: roles

struct PeerListen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Accept connections and read fast, slowly, never, or answer requests; optionally abort or close with data unread.",
        discussion: HelpText.reflow("""
        Serves --connections connections one after another (default 1; 0: until
        stopped), listening on [::]:PORT, which takes IPv4 too (or on --bind).
        By default it reads as fast as data comes and finishes when the client
        closes.

        Examples:
          faultline peer listen --port 9000 --never-read
            accept and never read: the window closes and stays closed (ZW2)
          faultline peer listen --port 9000 --rcvbuf 16KiB \\
              --read-chunk 4KiB --read-interval 50ms
            read 4 KiB every 50 ms from a small buffer: the window closes and
            reopens (ZW1)
          faultline peer listen --port 9000 --abort-after 64KiB
            read 64 KiB, then SO_LINGER {1,0} and close: RST; the client sees
            ECONNRESET (R3)
          faultline peer listen --port 9000 --close-unread-after 64KiB
            read 64 KiB, then close with data unread: the kernel sends RST (R3)
          faultline peer listen --port 9000 --respond 100 --think 100ms \\
              --no-quickack
            answer each request after 100 ms, delaying ACKs (T2's receiver)
          faultline peer listen --port 9000 --accept-delay 2s --exit-after 10s
            connections wait in the backlog for 2 s; stop after 10 s
          faultline peer listen --port 9000 --backlog 1 \\
              --accept-after-overflows 2 --accept-delay 10s
            a full queue (backlog + 1 = 2 connections): accept only once the
            kernel has ignored two SYNs, or after 10 s (F3)
        """))

    @Option(help: ArgumentHelp("TCP port to listen on.", valueName: "port"), transform: parsePort)
    var port: UInt16

    @Option(help: ArgumentHelp("Listen on this address only (default: [::], which also takes IPv4).", valueName: "address"))
    var bind: String?

    @Option(help: "listen() backlog.")
    var backlog: Int32 = 16

    @Option(help: "Connections to serve one after another before finishing; 0 serves until stopped.")
    var connections: Int = 1

    @Flag(help: "Accept and never call recv(): the receive queue fills and the window closes (ZW2).")
    var neverRead = false

    @Option(help: ArgumentHelp("Bytes per read (default 64KiB); with --read-interval, read at most this much each interval.", valueName: "size"),
            transform: parseSize)
    var readChunk: ByteSize?

    @Option(help: ArgumentHelp("Wait this long between reads (needs --read-chunk): a slow reader (ZW1).", valueName: "duration"), transform: parseDuration)
    var readInterval: PeerDuration?

    @Option(help: ArgumentHelp("SO_RCVBUF on the listening socket, set before listen() (the kernel doubles it; autotuning stops).", valueName: "size"),
            transform: parseSize)
    var rcvbuf: ByteSize?

    @Option(help: ArgumentHelp("SO_SNDBUF on the listening socket (for --respond).", valueName: "size"), transform: parseSize)
    var sndbuf: ByteSize?

    @Flag(help: "TCP_NODELAY on accepted connections.")
    var nodelay = false

    @Option(help: ArgumentHelp("After reading this many bytes on a connection: SO_LINGER {1,0} and close, so the kernel sends RST.", valueName: "size"),
            transform: parseSize)
    var abortAfter: ByteSize?

    @Option(help: ArgumentHelp("After reading this many bytes: close() with data left unread, so the kernel sends RST.", valueName: "size"),
            transform: parseSize)
    var closeUnreadAfter: ByteSize?

    @Option(help: ArgumentHelp("Request/response server: answer each request frame with a frame of this many bytes (at least 4; see `request`).", valueName: "size"),
            transform: parseSize)
    var respond: ByteSize?

    @Option(help: ArgumentHelp("With --respond: wait this long after each request before answering.", valueName: "duration"), transform: parseDuration)
    var think: PeerDuration?

    @Flag(name: [.customLong("no-quickack"), .customLong("delay-acks")],
          help: "With --respond: clear TCP_QUICKACK before each read, so the kernel delays its ACKs (40 ms on Linux; T2). A plain reader cannot delay them: Linux acknowledges at once when the application drains small segments.")
    var noQuickack = false

    @Flag(help: "Serve every connection at once, accepting new ones while reading the others (plain reading or --never-read); without it connections are served one after another.")
    var concurrent = false

    @Option(help: ArgumentHelp("Wait this long after listen() before the first accept(); connections wait in the backlog. With --accept-after-overflows, the longest wait.", valueName: "duration"),
            transform: parseDuration)
    var acceptDelay: PeerDuration?

    @Option(help: ArgumentHelp("Before the first accept(), wait until the kernel has turned away this many handshakes because the accept queue was full (nstat's TcpExtListenOverflows in this namespace, counted from listen(); every listener of the namespace counts). The overflow then happens however slowly the clients start; the `accepting` event says what ended the wait.", valueName: "count"))
    var acceptAfterOverflows: Int?

    @OptionGroup(title: "Event log and lifetime") var common: PeerCommonOptions

    func role() throws -> Peers.Role {
        if let bind { try numericAddress(bind, "--bind") }
        var problems: [String] = []
        let reading: ListenOptions.Reading
        if neverRead {
            if readChunk != nil || readInterval != nil || respond != nil {
                problems.append("--never-read excludes --read-chunk, --read-interval and --respond: it reads nothing")
            }
            reading = .never
        } else if let respond {
            if readChunk != nil || readInterval != nil { problems.append("--respond reads whole request frames; drop --read-chunk/--read-interval") }
            reading = .respond(bytes: try intSize(respond, "--respond"), think: think ?? .zero, delayAcks: noQuickack)
        } else if let readInterval {
            guard let readChunk else {
                throw ValidationError("--read-interval needs --read-chunk: how many bytes to read each interval (e.g. --read-chunk 4KiB)")
            }
            reading = .paced(chunk: try intSize(readChunk, "--read-chunk"), interval: readInterval)
        } else {
            reading = .sink(readSize: try intSize(readChunk ?? ByteSize(bytes: 65536), "--read-chunk"))
        }
        if respond == nil {
            if think != nil { problems.append("--think needs --respond (it is the server's pause before answering)") }
            if noQuickack { problems.append("--no-quickack needs --respond: Linux acknowledges at once when the application drains small segments, so only a server that pauses before answering holds its ACKs") }
        }
        var options = ListenOptions(port: port, bindAddress: bind, backlog: backlog, connections: connections, reading: reading,
                                    receiveBuffer: rcvbuf, sendBuffer: sndbuf, noDelay: nodelay,
                                    abortAfter: abortAfter?.bytes, closeUnreadAfter: closeUnreadAfter?.bytes, acceptDelay: acceptDelay)
        options.concurrent = concurrent
        options.acceptAfterOverflows = acceptAfterOverflows
        problems += options.problems()
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
        return .listen(options)
    }

    func validate() throws { _ = try role() }
    func run() throws { try common.run(try role()) }
}

struct PeerSend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Connect and write a number of bytes, in bulk or paced; then close, abort or stay open.",
        discussion: HelpText.reflow("""
        Writes --bytes in send() calls of --write-size bytes. Whenever the send
        buffer is full the write blocks; the log says for how long
        (write_blocked) and the summary gives the longest block. After the
        last write it closes (FIN), aborts (--linger-zero: RST) or keeps the
        connection open, reading until the peer closes (--keep-open).

        Examples:
          faultline peer send --to 198.18.2.2:9000 --bytes 4MiB
          faultline peer send --to 198.18.2.2:9000 --bytes 1MiB \\
              --write-size 1KiB --pace 10ms --nodelay
          faultline peer send --to [fd00:fa17:2::2]:9000 --bytes 64KiB \\
              --sndbuf 16KiB --bind-port 40000
          faultline peer send --to 198.18.2.2:9000 --bytes 1000 --keep-open
            with `listen --abort-after 1000` on the server, this side's recv
            fails with ECONNRESET
        """))

    @OptionGroup(title: "Connection") var client: PeerClientOptions

    @Option(help: ArgumentHelp("How many bytes to write, e.g. 4MiB.", valueName: "size"), transform: parseSize)
    var bytes: ByteSize

    @Option(help: ArgumentHelp("Bytes per send() call.", valueName: "size"), transform: parseSize)
    var writeSize: ByteSize = ByteSize(bytes: 65536)

    @Option(help: ArgumentHelp("Wait this long between send() calls (a paced sender).", valueName: "duration"), transform: parseDuration)
    var pace: PeerDuration?

    @Flag(help: "After the last write: SO_LINGER {1,0} and close (RST; unsent data discarded).")
    var lingerZero = false

    @Flag(help: "After the last write: keep the connection open, reading, until the peer closes, an error, a signal or --exit-after.")
    var keepOpen = false

    @OptionGroup(title: "Event log and lifetime") var common: PeerCommonOptions

    func role() throws -> Peers.Role {
        let options = SendOptions(client: try client.options(), bytes: bytes.bytes, writeSize: try intSize(writeSize, "--write-size"),
                                  pace: pace, lingerZero: lingerZero, keepOpen: keepOpen)
        let problems = options.problems()
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
        return .send(options)
    }

    func validate() throws { _ = try role() }
    func run() throws { try common.run(try role()) }
}

struct PeerConnect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Connect and report the result: connected, ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ...",
        discussion: HelpText.reflow("""
        The summary's connect_result is "connected" or the errno name, and
        connect_ns says how long it took. Exit 0 when connected, 1 otherwise.

        Examples:
          faultline peer connect --to 198.18.2.2:9001
            nothing listens: RST, ECONNREFUSED within a round trip (R1)
          faultline peer connect --to 198.18.2.2:9000 --timeout 1s
            SYNs dropped on the way: ETIMEDOUT after 1 s (syn / unanswered)
          faultline peer connect --to [fd00:fa17:2::2]:9000 --hold 2s
        """))

    @OptionGroup(title: "Connection") var client: PeerClientOptions

    @Option(help: ArgumentHelp("Keep the connection this long before closing.", valueName: "duration"), transform: parseDuration)
    var hold: PeerDuration?

    @OptionGroup(title: "Event log and lifetime") var common: PeerCommonOptions

    func role() throws -> Peers.Role { .connect(ConnectOptions(client: try client.options(), holdFor: hold)) }

    func validate() throws { _ = try role() }
    func run() throws { try common.run(try role()) }
}

struct PeerRequest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Request/response client: send requests one at a time and time each round trip.",
        discussion: HelpText.reflow("""
        Talks to `listen --respond`. Each request and each response is a frame:
        a 4-byte big-endian length of the whole frame (header included), then
        filler. A round trip runs from writing the request's first byte to
        reading the response's last; each is logged (response: seq, rtt_ns)
        and the summary gives min/median/p99/max/mean.

        Examples:
          faultline peer request --to 198.18.2.2:9000 --count 20 --size 100
          faultline peer request --to 198.18.2.2:9000 --count 10 --size 200 \\
              --think 50ms --quickack
            against `listen --respond 100 --think 100ms --no-quickack`, with
            rto_min 5ms on the client's route: spurious retransmissions (T2)
          faultline peer request --to 198.18.2.2:9000 --count 10 --size 200 \\
              --split-write 20
            against `listen --respond 100 --delay-acks`: each request's second
            write waits ~40 ms for the delayed ACK of the first (Nagle, F4)
        """))

    @OptionGroup(title: "Connection") var client: PeerClientOptions

    @Option(help: "How many requests to send.")
    var count: Int = 1

    @Option(help: ArgumentHelp("Bytes per request frame, header included (at least 4).", valueName: "size"), transform: parseSize)
    var size: ByteSize = ByteSize(bytes: 100)

    @Option(help: ArgumentHelp("Pause between a response and the next request.", valueName: "duration"), transform: parseDuration)
    var think: PeerDuration?

    @Flag(help: "Set TCP_QUICKACK before each read: acknowledge responses at once.")
    var quickack = false

    @Flag(help: "Clear TCP_QUICKACK before each read, so the kernel delays its ACKs of responses (a delayed-ACK receiver).")
    var delayAcks = false

    @Option(help: ArgumentHelp("Write each request in two calls: the first N bytes, then the rest. With Nagle on (no --nodelay) the second waits for the ACK of the first.",
                               valueName: "size"), transform: parseSize)
    var splitWrite: ByteSize?

    @OptionGroup(title: "Event log and lifetime") var common: PeerCommonOptions

    func role() throws -> Peers.Role {
        let options = RequestOptions(client: try client.options(), count: count, size: try intSize(size, "--size"), think: think, quickAck: quickack,
                                     delayAcks: delayAcks, splitWrite: try splitWrite.map { try intSize($0, "--split-write") })
        let problems = options.problems()
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
        return .request(options)
    }

    func validate() throws { _ = try role() }
    func run() throws { try common.run(try role()) }
}

struct PeerHold: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Connect, idle (optionally with keepalives), and write later on SIGUSR1 or a timer.",
        discussion: HelpText.reflow("""
        For half-open connections (R4): while the connection idles, the server
        side can lose it (killed, its FIN or RST dropped); the next write then
        draws an RST and this side's recv fails with ECONNRESET. Whatever the
        peer sends is read and counted; its FIN ends the hold.

        Examples:
          faultline peer hold --to 198.18.2.2:9000 --write-on-signal
            then `kill -USR1 <pid>` writes --write-bytes bytes
          faultline peer hold --to 198.18.2.2:9000 --write-after 3s \\
              --write-bytes 100
          faultline peer hold --to [fd00:fa17:2::2]:9000 --keepalive-idle 1s \\
              --keepalive-interval 1s --keepalive-count 3
        """))

    @OptionGroup(title: "Connection") var client: PeerClientOptions

    @Flag(help: "SO_KEEPALIVE with the kernel's timings (implied by the --keepalive-* options).")
    var keepalive = false

    @Option(help: ArgumentHelp("TCP_KEEPIDLE: idle time before the first keepalive (whole seconds).", valueName: "duration"), transform: parseDuration)
    var keepaliveIdle: PeerDuration?

    @Option(help: ArgumentHelp("TCP_KEEPINTVL: time between keepalives (whole seconds).", valueName: "duration"), transform: parseDuration)
    var keepaliveInterval: PeerDuration?

    @Option(help: "TCP_KEEPCNT: unanswered keepalives before the connection is dropped.")
    var keepaliveCount: Int32?

    @Option(help: ArgumentHelp("Write once, this long after connecting.", valueName: "duration"), transform: parseDuration)
    var writeAfter: PeerDuration?

    @Flag(help: "Write at every SIGUSR1.")
    var writeOnSignal = false

    @Option(help: ArgumentHelp("Bytes per triggered write.", valueName: "size"), transform: parseSize)
    var writeBytes: ByteSize = ByteSize(bytes: 1)

    @OptionGroup(title: "Event log and lifetime") var common: PeerCommonOptions

    private func seconds(_ value: PeerDuration?, _ flag: String) throws -> Int32? {
        guard let value else { return nil }
        guard value.nanoseconds >= 1_000_000_000, value.nanoseconds % 1_000_000_000 == 0, value.nanoseconds / 1_000_000_000 <= 32767 else {
            throw ValidationError("\(flag) \(value): the kernel takes whole seconds from 1s to 32767s")
        }
        return Int32(value.nanoseconds / 1_000_000_000)
    }

    func role() throws -> Peers.Role {
        let idle = try seconds(keepaliveIdle, "--keepalive-idle")
        let interval = try seconds(keepaliveInterval, "--keepalive-interval")
        if let keepaliveCount, keepaliveCount < 1 || keepaliveCount > 127 {
            throw ValidationError("--keepalive-count \(keepaliveCount): expected 1 to 127")
        }
        let wantsKeepAlive = keepalive || idle != nil || interval != nil || keepaliveCount != nil
        let options = HoldOptions(client: try client.options(),
                                  keepAlive: wantsKeepAlive ? HoldOptions.KeepAlive(idleSeconds: idle, intervalSeconds: interval, count: keepaliveCount) : nil,
                                  writeAfter: writeAfter, writeOnSignal: writeOnSignal, writeBytes: try intSize(writeBytes, "--write-bytes"))
        let problems = options.problems()
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
        return .hold(options)
    }

    func validate() throws { _ = try role() }
    func run() throws { try common.run(try role()) }
}

enum PeerHelp {
    static let overview = """
    Each role does one thing to a TCP connection the way an application would,
    and logs what it saw (connects, bytes, blocked writes, errors with errno
    names, the kernel's TCP_INFO) as JSON lines. Scenarios start peers inside
    the client and server namespaces; they also run by hand, e.g.
    `faultline exec server -- faultline peer listen --port 9000`.

    ROLES (`faultline peer <role> --help` shows each one's options)
      listen   accept; read fast, slowly, never, or answer requests; abort or
               close with data unread
      send     connect and write N bytes, in bulk or paced
      connect  connect and report the result (connected, ECONNREFUSED,
               ETIMEDOUT, EHOSTUNREACH, ...)
      request  request/response client timing each round trip
      hold     connect and idle; write later on SIGUSR1 or a timer

    EXAMPLES
      faultline peer listen --port 9000 --never-read --tcp-info-interval 100ms
      faultline peer send --to 198.18.2.2:9000 --bytes 4MiB --events send.jsonl
      faultline peer listen --port 9000 --close-unread-after 64KiB
      faultline peer connect --to [fd00:fa17:2::2]:9001 --timeout 1s
      faultline peer listen --port 9000 --respond 100 --think 100ms --no-quickack
      faultline peer request --to 198.18.2.2:9000 --count 20 --size 100
      faultline peer hold --to 198.18.2.2:9000 --write-on-signal

    VALUES
      durations  100ms, 1.5s, 250us, 2min, 0 (units ns us ms s min h)
      sizes      1500, 16KiB, 4MiB, 1GiB; k/KB, m/MB, g/GB are 1024-based,
                 as in tc and in scenario files
      addresses  198.18.2.2:9000, [fd00:fa17:2::2]:9000 (IPv6 in brackets)

    OPTIONS EVERY ROLE TAKES
      --events PATH            the event log goes to PATH, not stdout
      --tcp-info-interval D    a tcp_info event every D
      --progress-interval D    at most one progress event per D (100ms)
      --block-threshold D      log writes blocked at least D (1ms)
      --exit-after D           stop after D (exit 0)

    SIGNALS
      SIGTERM, SIGINT, SIGHUP stop the peer: it closes the connection, writes
      the summary and exits 0. SIGUSR1 makes `hold --write-on-signal` write.
      The peer gets SIGTERM when the process that started it dies
      (PR_SET_PDEATHSIG): it never outlives its scenario.

    EXIT CODES
      0  finished as asked (also when stopped by a signal or --exit-after)
      1  the network failed it: a call returned an errno (the summary's
         errno and error_call), or the peer broke the exchange (error_reason)
      2  bad arguments

    """ + "\n" + Peers.eventSchema
}
