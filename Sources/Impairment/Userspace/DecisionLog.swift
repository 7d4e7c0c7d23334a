import Values
import Glibc

/// One decision of the engine about one packet, as the decision log records it.
///
/// The log holds no clock readings, only what the decision core computed from the packet, the
/// seed and the configuration: the same seed and the same packet sequence (with the same
/// arrival spacing, where rate, slots or the schedule make time matter) give the same log.
/// One line per packet, e.g.
///
///     router→server 5 tcp 198.18.1.2:40000>198.18.2.2:5001 PA seq=1234567 len=1500 drop reason=action rule=actions[0]#5
///     router→server 6 udp 198.18.1.2:5000>198.18.2.2:6000 len=60 accept delay_us=20000.000 rule=parameters
///     router→server 7 tcp 198.18.1.2:40000>198.18.2.2:5001 S seq=99 len=60 accept delay_us=0.000 dup_us=300000.000 rule=actions[1]#1
///     router→server - change schedule[0] at=300ms before=8
///
/// (`before=N`: the change took effect before the direction's N-th packet.)
public struct DecisionRecord: Sendable, Hashable {
    public enum Verdict: String, Sendable, Hashable { case accept, drop }

    public enum DropReason: String, Sendable, Hashable {
        /// The loss model (random, gemodel, state) chose it.
        case loss
        /// netem's queue limit (`limit`, or the rate's packet queue limit) was reached.
        case limit
        /// The rate's byte queue limit was reached (tail drop).
        case queue
        /// A targeted action (`drop`).
        case action
    }

    /// What became of a duplicate.
    public enum Copy: Sendable, Hashable {
        /// Injected `delay` ns after the original arrived (0: at once).
        case sent(delay: Int64)
        case dropped(DropReason)
        /// The copy could not be made: the queue copied only the headers.
        case skipped
    }

    /// Which part of the configuration decided.
    public enum Rule: Sendable, Hashable, CustomStringConvertible {
        /// No placement's match took the packet: passed untouched.
        case none
        /// placement `spec`'s random parameters (the first spec on the direction is 0).
        case parameters(spec: Int)
        /// placement `spec`'s `actions[action]`, the `nth` matching packet.
        case action(spec: Int, action: Int, nth: UInt64)

        public var description: String {
            switch self {
            case .none: return "none"
            case .parameters(let s): return s == 0 ? "parameters" : "spec\(s).parameters"
            case .action(let s, let a, let n): return (s == 0 ? "" : "spec\(s).") + "actions[\(a)]#\(n)"
            }
        }
    }

    /// 1-based index of the packet on its direction.
    public var index: UInt64
    public var headers: PacketHeaders
    /// IP length of the packet.
    public var length: Int
    public var verdict: Verdict
    public var dropReason: DropReason?
    /// Release time minus arrival time, ns (0: at once). Includes the rate's queueing time.
    public var delay: Int64
    public var corrupted = false
    /// A targeted action removed the TCP window-scale option (checksum recomputed).
    public var optionStripped = false
    /// The loss model chose the packet but it was ECN-capable: marked CE instead (netem `ecn`).
    public var ecnMarked = false
    /// Sent at once, overtaking delayed packets (netem `reorder`).
    public var reordered = false
    public var copy: Copy?
    /// An effect that needed the whole packet was skipped: the queue copied only headers.
    public var truncated = false
    public var rule: Rule

    public init(index: UInt64, headers: PacketHeaders, length: Int, verdict: Verdict, dropReason: DropReason? = nil,
                delay: Int64 = 0, rule: Rule) {
        self.index = index
        self.headers = headers
        self.length = length
        self.verdict = verdict
        self.dropReason = dropReason
        self.delay = delay
        self.rule = rule
    }

    /// The log line, without the trailing newline.
    public func line(path: String) -> String {
        var text = "\(path) \(index) \(headers.flowDescription)"
        if headers.transport == 6 && headers.transportOffset != nil {
            text += " \(headers.tcpFlagsText) seq=\(headers.tcpSequence)"
        }
        text += " len=\(length) \(verdict.rawValue)"
        if let dropReason { text += " reason=\(dropReason.rawValue)" }
        if verdict == .accept { text += " delay_us=\(Self.micros(delay))" }
        if reordered { text += " reorder" }
        if corrupted { text += " corrupt" }
        if optionStripped { text += " window-scale-stripped" }
        if ecnMarked { text += " ecn-ce" }
        switch copy {
        case nil: break
        case .sent(let d)?: text += " dup_us=\(Self.micros(d))"
        case .dropped(let reason)?: text += " dup=dropped:\(reason.rawValue)"
        case .skipped?: text += " dup=skipped"
        }
        if truncated { text += " truncated" }
        text += " rule=\(rule)"
        return text
    }

    /// ns as µs with exactly three decimals ("20000.000", "-3.250").
    static func micros(_ ns: Int64) -> String {
        let sign = ns < 0 ? "-" : ""
        let m = ns.magnitude
        let frac = String(m % 1000)
        return "\(sign)\(m / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
    }
}

/// An entry of the decision log: a packet's decision, or a configuration change taking effect.
public enum DecisionEvent: Sendable, Hashable {
    case packet(DecisionRecord)
    /// A scheduled change (`schedule[index]` of placement `spec`, due `at` after the start) or an
    /// owner's `update` (index nil) took effect before packet `beforePacket` of the direction.
    case change(spec: Int, scheduleIndex: Int?, at: Interval?, beforePacket: UInt64)

    public func line(path: String) -> String {
        switch self {
        case .packet(let record):
            return record.line(path: path)
        case .change(let spec, let index, let at, let before):
            let prefix = spec == 0 ? "" : "spec\(spec)."
            if let index, let at {
                return "\(path) - change \(prefix)schedule[\(index)] at=\(at) before=\(before)"
            }
            return "\(path) - change \(prefix)update before=\(before)"
        }
    }
}

/// Reading a decision log written by the engine.
public enum DecisionLog {
    public static let header = "# faultline decision log v1"

    /// The log's lines grouped by direction, each in decision order. Lines of the two directions
    /// interleave in the file as they happened (their relative order depends on timing), so
    /// compare logs direction by direction.
    public static func linesByPath(_ text: String) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.firstIndex(of: " ") else { continue }
            result[String(line[..<space]), default: []].append(String(line))
        }
        return result
    }

    /// Reads a log file (nil if it cannot be read).
    public static func read(_ path: String) -> String? {
        try? FileIO.readText(path: path)
    }
}
