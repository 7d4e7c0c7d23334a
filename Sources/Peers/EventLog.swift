import Values
import CLinux
import Glibc

/// Writes the peer's event log: one JSON object per line, each line handed to the kernel with a
/// single write(2) as soon as it is made (no user-space buffering, so a killed peer loses nothing
/// it already reported). The schema is `Peers.eventSchema`.
public final class EventLog {
    public let fd: Int32
    private let ownsDescriptor: Bool
    /// Set when a write failed (e.g. EPIPE on a closed stdout); later events are dropped.
    public private(set) var writeError: Int32?
    public private(set) var linesWritten = 0

    /// Lines for a person (a terminal) instead of JSON: `  12.345 ms  connected  local=… remote=…`.
    public let readable: Bool
    private let began = fl_monotonic_ns()

    public init(fd: Int32, ownsDescriptor: Bool = false, readable: Bool = false) {
        self.fd = fd
        self.ownsDescriptor = ownsDescriptor
        self.readable = readable
    }

    /// Standard output: readable lines on a terminal, JSON lines into a file or a pipe (what
    /// programs read). `FAULTLINE_PEER_JSON=1` asks for JSON on a terminal too.
    public static func standardOutput() -> EventLog {
        let forceJSON = getenv("FAULTLINE_PEER_JSON").map { String(cString: $0) == "1" } ?? false
        return EventLog(fd: 1, readable: isatty(1) == 1 && !forceJSON)
    }

    /// Creates (or truncates) `path`.
    public static func open(path: String) throws(SocketError) -> EventLog {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SocketError(call: "open", errno: .current, detail: path) }
        return EventLog(fd: fd, ownsDescriptor: true)
    }

    deinit { if ownsDescriptor { Glibc.close(fd) } }

    /// Writes `{"ts_ns":<monotonic>,"event":"<event>",<fields>}` (or its readable form).
    public func emit(_ event: String, at timestamp: UInt64 = fl_monotonic_ns(), _ fields: JSONObject = JSONObject()) {
        if readable {
            write(Self.readableLine(event, since: timestamp >= began ? timestamp - began : 0, fields))
            return
        }
        var line = "{\"ts_ns\":"
        line += String(timestamp)
        line += ",\"event\":"
        JSONValue.writeString(event, to: &line)
        for (key, value) in fields.pairs where key != "ts_ns" && key != "event" {
            line += ","
            JSONValue.writeString(key, to: &line)
            line += ":"
            value.write(to: &line)
        }
        line += "}\n"
        write(line)
    }

    /// `  12.345 ms  connected       local=198.18.1.2:40000 remote=198.18.2.2:9000`: time since
    /// the peer started, the event, then its fields (nested objects and long lists summarised).
    public static func readableLine(_ event: String, since nanoseconds: UInt64, _ fields: JSONObject) -> String {
        let ms = Double(nanoseconds) / 1e6
        var whole = String(Int(ms))
        while whole.count < 6 { whole = " " + whole }
        var fraction = String(Int((ms - Double(Int(ms))) * 1000))
        while fraction.count < 3 { fraction = "0" + fraction }
        var name = event
        while name.count < 14 { name += " " }
        var parts: [String] = []
        for (key, value) in fields.pairs where key != "ts_ns" && key != "event" {
            var text = ""
            switch value {
            case .object: text = "{…}"
            case .array(let items) where items.count > 4: text = "[\(items.count) items]"
            case .string(let string): text = string
            default: value.write(to: &text)
            }
            parts.append("\(key)=\(text)")
        }
        return "\(whole).\(fraction) ms  \(name)  \(parts.joined(separator: " "))\n"
    }

    private func write(_ line: String) {
        guard writeError == nil else { return }
        var text = line
        text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, base + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN {
                        // A non-blocking stdout that is full: wait for room rather than lose the line.
                        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                        _ = poll(&pfd, 1, 100)
                        continue
                    }
                    writeError = errno
                    return
                }
                offset += n
            }
        }
        linesWritten += 1
    }
}

/// Reading event logs back (for the runner and tests).
public enum PeerEvents {
    /// One decoded line of an event log.
    public struct Event: Sendable, Equatable {
        public var fields: JSONObject
        public var name: String { fields["event"]?.string ?? "" }
        public var timestamp: UInt64 { UInt64(clamping: fields["ts_ns"]?.int ?? 0) }
        public subscript(key: String) -> JSONValue? { fields[key] }
        public func int(_ key: String) -> Int64? { fields[key]?.int }
        public func string(_ key: String) -> String? { fields[key]?.string }
        public func bool(_ key: String) -> Bool? { fields[key]?.bool }
    }

    public struct ReadError: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var line: Int
        public var reason: String
        public var description: String { "\(path):\(line): \(reason)" }
    }

    /// Parses JSON-lines text. A last line cut short (a peer killed mid-write) is reported as an
    /// error naming its line number.
    public static func parse(_ text: String, path: String = "<events>") throws(ReadError) -> [Event] {
        var events: [Event] = []
        var number = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            if line.allSatisfy({ $0 == " " || $0 == "\r" }) { continue }
            do {
                guard case .object(let object) = try JSONValue.parse(String(line)) else {
                    throw ReadError(path: path, line: number, reason: "expected a JSON object")
                }
                events.append(Event(fields: object))
            } catch let error as JSONParseError {
                throw ReadError(path: path, line: number, reason: error.description)
            } catch let error as ReadError {
                throw error
            } catch {
                throw ReadError(path: path, line: number, reason: "\(error)")
            }
        }
        return events
    }

    /// Reads and parses the file at `path`.
    public static func read(path: String) throws(ReadError) -> [Event] {
        let fd = retryingInterrupts { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw ReadError(path: path, line: 0, reason: "cannot open: \(Errno.current.name)") }
        defer { Glibc.close(fd) }
        let data = (try? FileIO.readAll(fd: fd)) ?? []
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }
}
