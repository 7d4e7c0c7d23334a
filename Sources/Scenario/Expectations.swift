import Values
import Impairment

extension Scenario {
    /// Something that must hold after the run for the scenario to pass.
    public struct Expectation: Sendable, Hashable {
        public var check: Check
        /// Where it is written, for the report.
        public var source: SourceLocation

        public init(check: Check, source: SourceLocation) {
            self.check = check
            self.source = source
        }

        public enum Check: Sendable, Hashable {
            /// Findings of this diagnosis (matching flow, vantage and evidence when given), as many
            /// as `count` allows (`min-count`, `max-count`, `count`; at least one by default).
            case present(DiagnosisPattern, count: CountBound)
            /// No finding of this diagnosis (cause nil: of any cause of the kind).
            case absent(DiagnosisPattern)
            /// A fact from a process's event log compared with a value.
            case peer(process: String, field: PeerField, comparison: Comparison, value: PeerValue)
            /// A process's standard output or error contains a text, or matches a regular expression.
            case output(process: String, stream: OutputStream, match: TextMatch)
            /// tshark's expert analysis sets `flag` on at least `minCount` packets.
            case tsharkFlag(flag: String, minCount: Int, flow: Flow?, vantage: String?)
        }
    }

    /// A diagnosis to look for among the analyzer's findings.
    public struct DiagnosisPattern: Sendable, Hashable, CustomStringConvertible {
        /// A kind from `DiagnosisVocabulary.kinds`: `zero-window`, `rst`, …
        public var kind: String
        /// A cause of that kind; nil only in `absent` (any cause).
        public var cause: String?
        /// Only findings on this connection.
        public var flow: Flow?
        /// Only findings seen from this node's capture.
        public var vantage: String?
        /// Only findings whose evidence satisfies every condition (`evidence: { rst_ttl: 64 }`).
        public var evidence: [EvidenceCondition]

        public init(kind: String, cause: String?, flow: Flow? = nil, vantage: String? = nil, evidence: [EvidenceCondition] = []) {
            self.kind = kind
            self.cause = cause
            self.flow = flow
            self.vantage = vantage
            self.evidence = evidence
        }

        /// `rst/refused-by-host`, `rst`: the string findings are matched by.
        public var diagnosis: String { cause.map { "\(kind)/\($0)" } ?? kind }

        public var description: String {
            var s = diagnosis
            if let flow { s += " on \(flow)" }
            if let vantage { s += " at \(vantage)" }
            if !evidence.isEmpty { s += " with " + evidence.map(\.description).joined(separator: ", ") }
            return s
        }
    }

    /// How many findings a `kind:` expectation wants: `min-count` (default 1), `max-count`, or
    /// exactly `count`.
    public struct CountBound: Sendable, Hashable, CustomStringConvertible {
        public var min: Int
        public var max: Int?

        public init(min: Int = 1, max: Int? = nil) {
            self.min = min
            self.max = max
        }

        public static func atLeast(_ n: Int) -> CountBound { CountBound(min: n) }

        public func allows(_ n: Int) -> Bool { n >= min && (max.map { n <= $0 } ?? true) }

        /// "", " (at least 3)", " (at most 2)", " (exactly 1)", " (2 to 4)" — after the pattern.
        public var description: String {
            switch (min, max) {
            case (1, nil): return ""
            case (let lo, nil): return " (at least \(lo))"
            case (let lo, let hi?) where lo == hi: return " (exactly \(lo))"
            case (0, let hi?): return " (at most \(hi))"
            case (let lo, let hi?): return " (\(lo) to \(hi))"
            }
        }
    }

    /// One condition on a finding's evidence field: a number compared (`">= 3"`), a text or a
    /// yes/no equal.
    public struct EvidenceCondition: Sendable, Hashable, CustomStringConvertible {
        public enum Value: Sendable, Hashable, CustomStringConvertible {
            case number(Double)
            case text(String)
            case bool(Bool)

            public var description: String {
                switch self {
                case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
                case .text(let t): return "\"\(t)\""
                case .bool(let b): return b ? "yes" : "no"
                }
            }
        }

        public var key: String
        public var comparison: Comparison
        public var value: Value

        public init(key: String, comparison: Comparison = .equal, value: Value) {
            self.key = key
            self.comparison = comparison
            self.value = value
        }

        public var description: String { "\(key) \(comparison.rawValue) \(value)" }
    }

    public enum OutputStream: String, Sendable, Hashable, CaseIterable {
        case stdout, stderr
    }

    /// A text to find in a program's output.
    public enum TextMatch: Sendable, Hashable, CustomStringConvertible {
        /// The text appears somewhere.
        case contains(String)
        /// The regular expression (POSIX extended) matches somewhere.
        case matches(String)
        /// The text does not appear.
        case lacks(String)

        public var description: String {
            switch self {
            case .contains(let t): return "contains \"\(t)\""
            case .matches(let r): return "matches /\(r)/"
            case .lacks(let t): return "does not contain \"\(t)\""
            }
        }
    }

    /// Facts a peer's event log reports about one process.
    public enum PeerField: String, Sendable, Hashable, CaseIterable {
        /// The errno connect() failed with, or `none` when it succeeded.
        case connectErrno = "connect-errno"
        /// The first errno a read (recv) failed with, or `none`.
        case readErrno = "read-errno"
        /// The first errno a write (send) failed with, or `none`.
        case writeErrno = "write-errno"
        /// The longest time one write call stayed blocked.
        case writeBlocked = "write-blocked"
        /// How long connect() took (to success or failure).
        case connectTime = "connect-time"
        /// Payload bytes the process wrote / read in total.
        case bytesSent = "bytes-sent"
        case bytesReceived = "bytes-received"
        /// The process's exit status (0–255), or 128 + signal number when a signal ended it.
        case exitStatus = "exit-status"

        public enum ValueKind: Sendable { case errno, duration, size, integer }

        public var valueKind: ValueKind {
            switch self {
            case .connectErrno, .readErrno, .writeErrno: return .errno
            case .writeBlocked, .connectTime: return .duration
            case .bytesSent, .bytesReceived: return .size
            case .exitStatus: return .integer
            }
        }
    }

    public enum Comparison: String, Sendable, Hashable, CaseIterable {
        case equal = "=="
        case notEqual = "!="
        case less = "<"
        case lessOrEqual = "<="
        case greater = ">"
        case greaterOrEqual = ">="

        public func holds<T: Comparable>(_ actual: T, _ expected: T) -> Bool {
            switch self {
            case .equal: return actual == expected
            case .notEqual: return actual != expected
            case .less: return actual < expected
            case .lessOrEqual: return actual <= expected
            case .greater: return actual > expected
            case .greaterOrEqual: return actual >= expected
            }
        }
    }

    public enum PeerValue: Sendable, Hashable, CustomStringConvertible {
        /// An errno name (`ECONNREFUSED`), or `none` for success.
        case errno(String?)
        case duration(Duration)
        case size(ByteCount)
        case integer(Int64)

        public var description: String {
            switch self {
            case .errno(let name): return name ?? "none"
            case .duration(let d): return Interval(d).description
            case .size(let s): return s.description
            case .integer(let i): return "\(i)"
            }
        }

        /// For people: durations in the unit that fits, to three significant digits
        /// (`2.48 s`, `35.2 ms`, `870 µs`); the rest as `description`.
        public var readable: String {
            guard case .duration(let d) = self else { return description }
            return Self.readable(nanoseconds: Interval(d).nanoseconds)
        }

        public static func readable(nanoseconds: Int64) -> String {
            let magnitude = Double(nanoseconds.magnitude)
            let sign = nanoseconds < 0 ? "-" : ""
            let (value, unit): (Double, String)
            switch magnitude {
            case 1e9...: (value, unit) = (magnitude / 1e9, "s")
            case 1e6...: (value, unit) = (magnitude / 1e6, "ms")
            case 1e3...: (value, unit) = (magnitude / 1e3, "µs")
            default: return "\(nanoseconds) ns"
            }
            let digits = value >= 100 ? 0 : value >= 10 ? 1 : 2
            var text = String(format: "%.\(digits)f", value)
            if text.contains(".") {
                while text.hasSuffix("0") { text.removeLast() }
                if text.hasSuffix(".") { text.removeLast() }
            }
            return "\(sign)\(text) \(unit)"
        }
    }

    /// A TCP connection by its two ends: `client -> server:9000` is a connection from any port of the
    /// client to port 9000 of the server. A finding matches a flow in either packet direction; the
    /// arrow says who opened the connection.
    public struct Flow: Sendable, Hashable, CustomStringConvertible {
        public var from: Endpoint
        public var to: Endpoint

        public init(from: Endpoint, to: Endpoint) {
            self.from = from
            self.to = to
        }

        public var description: String { "\(from) -> \(to)" }
    }

    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public enum Host: Sendable, Hashable {
            /// A node of the topology: any of its addresses.
            case node(String)
            case address(IPAddress)
        }

        public var host: Host
        /// nil: any port.
        public var port: UInt16?

        public init(host: Host, port: UInt16? = nil) {
            self.host = host
            self.port = port
        }

        public var description: String {
            let h: String
            switch host {
            case .node(let n): h = n
            case .address(let a): h = a.family == .ipv6 && port != nil ? "[\(a)]" : a.description
            }
            return port.map { "\(h):\($0)" } ?? h
        }
    }
}
