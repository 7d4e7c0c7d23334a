import Values
/// Which packets an impairment applies to. Every field is optional; a nil field matches
/// anything, and all given fields must match (AND).
///
/// Typical uses:
/// - only SYNs: `PacketMatch(transport: .tcp, tcpFlags: .init(set: [.syn], clear: [.ack]))` — or `.tcpSYN`
/// - only data segments: `.tcpData` (TCP with payload > 0)
/// - only pure ACKs: `.tcpPureACK` (ACK set; SYN, FIN, RST clear; no payload)
/// - one flow: `source`/`destination` prefixes and ports.
///
/// Only the userspace engine can honour a match; netem applies to every packet of the link.
public struct PacketMatch: Sendable, Hashable, Codable {
    /// 4 or 6; nil: both.
    public var ipVersion: IPVersion?
    public var transport: TransportProtocol?
    public var source: AddressMatch?
    public var destination: AddressMatch?
    public var sourcePort: PortRange?
    public var destinationPort: PortRange?
    /// TCP only (implies `transport == .tcp`).
    public var tcpFlags: TCPFlagMatch?
    /// Transport payload presence (TCP/UDP payload after headers).
    public var payload: PayloadMatch?

    public init(ipVersion: IPVersion? = nil, transport: TransportProtocol? = nil,
                source: AddressMatch? = nil, destination: AddressMatch? = nil,
                sourcePort: PortRange? = nil, destinationPort: PortRange? = nil,
                tcpFlags: TCPFlagMatch? = nil, payload: PayloadMatch? = nil) {
        self.ipVersion = ipVersion
        self.transport = transport
        self.source = source
        self.destination = destination
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.tcpFlags = tcpFlags
        self.payload = payload
    }

    /// Matches every packet.
    public static let any = PacketMatch()
    /// TCP SYN without ACK (a connection's first segment).
    public static let tcpSYN = PacketMatch(transport: .tcp, tcpFlags: TCPFlagMatch(set: [.syn], clear: [.ack]))
    /// TCP segments carrying data (payload > 0).
    public static let tcpData = PacketMatch(transport: .tcp, payload: .nonEmpty)
    /// TCP pure ACKs: ACK set, SYN/FIN/RST clear, no payload.
    public static let tcpPureACK = PacketMatch(transport: .tcp,
        tcpFlags: TCPFlagMatch(set: [.ack], clear: [.syn, .fin, .rst]), payload: .empty)

    /// True when no field restricts anything.
    public var isAny: Bool { self == .any }

    /// The short names a scenario file and `faultline impair --action` both take, one vocabulary.
    public static let shorthands: [(name: String, match: PacketMatch)] = [
        ("any", .any), ("syn", .tcpSYN), ("data", .tcpData), ("pure-ack", .tcpPureACK),
    ]

    public static func shorthand(_ name: String) -> PacketMatch? {
        shorthands.first { $0.name == name.lowercased() }?.match
    }
}

public enum IPVersion: Int, Sendable, Hashable, Codable {
    case v4 = 4, v6 = 6

    public init(_ family: IPAddress.Family) { self = family == .ipv4 ? .v4 : .v6 }
}

/// The transport protocol, by name or IP protocol number.
public enum TransportProtocol: Sendable, Hashable, Codable, CustomStringConvertible {
    case tcp, udp, icmp, icmpv6
    case number(UInt8)

    public var protocolNumber: UInt8 {
        switch self {
        case .tcp: return 6
        case .udp: return 17
        case .icmp: return 1
        case .icmpv6: return 58
        case .number(let n): return n
        }
    }

    public var description: String {
        switch self {
        case .tcp: return "tcp"
        case .udp: return "udp"
        case .icmp: return "icmp"
        case .icmpv6: return "icmpv6"
        case .number(let n): return "\(n)"
        }
    }

    /// Reads "tcp", "udp", "icmp", "icmpv6" or a protocol number 0–255.
    public init(parsing text: String) throws(ValueParseError) {
        switch text.trimmingSpaces().lowercased() {
        case "tcp": self = .tcp
        case "udp": self = .udp
        case "icmp": self = .icmp
        case "icmpv6", "ipv6-icmp": self = .icmpv6
        case let s:
            guard let n = UInt8(s) else {
                throw ValueParseError(kind: "protocol", text: text, reason: "expected tcp, udp, icmp, icmpv6 or a number 0–255")
            }
            self = .number(n)
        }
    }
}

/// Source or destination: an address prefix, or a topology node name the runner resolves
/// (e.g. "server") to that node's addresses on the link.
public enum AddressMatch: Sendable, Hashable, Codable, CustomStringConvertible {
    case prefix(IPPrefix)
    case node(String)

    public var description: String {
        switch self {
        case .prefix(let p): return p.isHost ? p.address.description : p.description
        case .node(let n): return n
        }
    }

    /// A prefix, with brackets allowed around an IPv6 address ("[fd00::1]", "[fd00::]/64").
    static func prefix(_ text: String) throws(ValueParseError) -> IPPrefix {
        guard text.hasPrefix("["), let close = text.firstIndex(of: "]") else { return try IPPrefix(parsing: text) }
        let inside = text[text.index(after: text.startIndex)..<close]
        let rest = text[text.index(after: close)...]
        guard rest.isEmpty || rest.hasPrefix("/") else {
            throw ValueParseError(kind: "address", text: text, reason: "expected an IPv4 or IPv6 address, e.g. 198.18.0.1 or fd00::1")
        }
        do {
            return try IPPrefix(parsing: String(inside + rest))
        } catch {
            throw ValueParseError(kind: "address", text: text, reason: error.reason)
        }
    }

    /// An address or prefix if it reads as one, else a node name.
    public init(parsing text: String) throws(ValueParseError) {
        let t = text.trimmingSpaces()
        if let first = t.first, first.isHexDigit || first == ":" || first == "[", t.contains(".") || t.contains(":") {
            self = .prefix(try Self.prefix(t))
        } else if !t.isEmpty, t.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
            self = .node(t)
        } else {
            throw ValueParseError(kind: "address", text: text, reason: "expected an address (198.18.0.1, fd00::1), a prefix (198.18.0.0/24) or a node name")
        }
    }
}

/// A port or an inclusive port range ("443", "1024-65535").
public struct PortRange: Sendable, Hashable, Codable, CustomStringConvertible {
    public var lower: UInt16
    public var upper: UInt16

    public init(_ port: UInt16) { lower = port; upper = port }
    public init(_ lower: UInt16, _ upper: UInt16) { self.lower = lower; self.upper = upper }

    public func contains(_ port: UInt16) -> Bool { port >= lower && port <= upper }

    public var description: String { lower == upper ? "\(lower)" : "\(lower)-\(upper)" }

    public init(parsing text: String) throws(ValueParseError) {
        let parts = text.trimmingSpaces().split(separator: "-", omittingEmptySubsequences: false)
        let bad = ValueParseError(kind: "port", text: text, reason: "expected a port 0–65535 or a range such as 1024-65535")
        guard parts.count == 1 || parts.count == 2, let lo = UInt16(parts[0]) else { throw bad }
        if parts.count == 2 {
            guard let hi = UInt16(parts[1]), hi >= lo else { throw bad }
            self.init(lo, hi)
        } else {
            self.init(lo)
        }
    }
}

/// TCP flag bits. Raw values are the bits of the TCP header's flags byte.
public struct TCPFlags: OptionSet, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)

    static let names: [(String, TCPFlags)] = [("fin", .fin), ("syn", .syn), ("rst", .rst), ("psh", .psh),
                                              ("ack", .ack), ("urg", .urg), ("ece", .ece), ("cwr", .cwr)]

    /// "syn|ack", or "none".
    public var description: String {
        let n = Self.names.filter { contains($0.1) }.map(\.0)
        return n.isEmpty ? "none" : n.joined(separator: "|")
    }

    /// Reads "syn", "syn|ack", "SYN,ACK" (names: fin syn rst psh ack urg ece cwr).
    public init(parsing text: String) throws(ValueParseError) {
        var flags: TCPFlags = []
        for part in text.lowercased().split(whereSeparator: { $0 == "|" || $0 == "," || $0 == " " || $0 == "+" }) {
            guard let f = Self.names.first(where: { $0.0 == part }) else {
                throw ValueParseError(kind: "tcp flags", text: text, reason: "unknown flag \"\(part)\"; expected fin, syn, rst, psh, ack, urg, ece, cwr")
            }
            flags.insert(f.1)
        }
        self = flags
    }
}

/// Flags that must be set and flags that must be clear; others are ignored.
public struct TCPFlagMatch: Sendable, Hashable, Codable {
    public var set: TCPFlags
    public var clear: TCPFlags

    public init(set: TCPFlags = [], clear: TCPFlags = []) {
        self.set = set
        self.clear = clear
    }

    public func matches(_ flags: TCPFlags) -> Bool {
        flags.isSuperset(of: set) && flags.isDisjoint(with: clear)
    }
}

/// Whether the transport payload is empty.
public enum PayloadMatch: String, Sendable, Hashable, Codable {
    /// No payload (e.g. pure ACKs, SYN without data).
    case empty
    /// At least one byte of payload ("data segments").
    case nonEmpty
}
