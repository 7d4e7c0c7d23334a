@testable import Analysis
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Builds pcap files (raw IPv4, nanosecond timestamps, headers only) of TCP flows seen from one
/// or two vantage points, for the diagnosis tests.
///
/// A `DiagnosisScript` plays one TCP connection through the `client — router — server` line:
/// each packet is written to the capture of every vantage that sees it, with the TTL that vantage
/// would see (64 at the sender's own vantage, 63 after the router) and the time shifted by the
/// one-way delay between the vantages.
struct DiagnosisScript {
    enum Vantage: CaseIterable { case client, server }

    struct Packet {
        var time: Int64
        var bytes: [UInt8]
    }

    var client: [UInt8] = [198, 18, 0, 1]
    var server: [UInt8] = [198, 19, 0, 2]
    var clientPort: UInt16 = 40000
    var serverPort: UInt16 = 8080
    var clientISN: UInt32 = 1_000_000
    var serverISN: UInt32 = 5_000_000
    /// One-way delay between the two vantage points (through the router), ns.
    var oneWay: Int64 = 100_000
    var clientIPID: UInt16 = 0x1000
    var serverIPID: UInt16 = 0x8000
    /// Window-scale shift announced by both sides in the handshake.
    var windowScale: UInt8 = 7
    private(set) var captures: [Vantage: [Packet]] = [.client: [], .server: []]

    /// Next sequence numbers (client's and server's), advanced by `send`.
    var clientNext: UInt32 = 0
    var serverNext: UInt32 = 0

    init() {
        clientNext = clientISN &+ 1
        serverNext = serverISN &+ 1
    }

    struct Segment {
        var fromClient: Bool
        var seq: UInt32
        var ack: UInt32 = 0
        var flags: UInt16 = 0x010
        var length: UInt32 = 0
        var window: UInt16 = 512
        var sack: [(UInt32, UInt32)] = []
        var options: [UInt8] = []
        var ttl: UInt8? = nil
        var ipID: UInt16? = nil
    }

    /// Writes `segment`, sent at `time` (the sender's own vantage clock), to the vantages in
    /// `seenBy` (default: both). The far vantage sees it `oneWay` later with TTL one lower.
    /// Returns the IP ID used.
    @discardableResult
    mutating func emit(_ segment: Segment, at time: Int64, seenBy: Set<Vantage> = [.client, .server]) -> UInt16 {
        let ipID: UInt16
        if let fixed = segment.ipID {
            ipID = fixed
        } else if segment.fromClient {
            ipID = clientIPID
            clientIPID &+= 1
        } else {
            ipID = serverIPID
            serverIPID &+= 1
        }
        let near: Vantage = segment.fromClient ? .client : .server
        for vantage in Vantage.allCases where seenBy.contains(vantage) {
            let ttl = segment.ttl ?? (vantage == near ? 64 : 63)
            let at = vantage == near ? time : time + oneWay
            captures[vantage, default: []].append(Packet(time: at, bytes: Self.ipv4(segment, ipID: ipID, ttl: ttl,
                                                                                   script: self)))
        }
        return ipID
    }

    /// Appends an already built packet to one vantage's capture.
    mutating func appendRaw(_ vantage: Vantage, _ packet: Packet) {
        captures[vantage, default: []].append(packet)
    }

    /// A packet that only `vantage` sees, with exactly these header fields (forged or local).
    mutating func inject(_ segment: Segment, at time: Int64, into vantage: Vantage, ttl: UInt8, ipID: UInt16) {
        captures[vantage, default: []].append(Packet(time: time, bytes: Self.ipv4(segment, ipID: ipID, ttl: ttl, script: self)))
    }

    // MARK: common exchanges

    /// Adds the packets of another script (another connection) to these captures.
    mutating func merge(_ other: DiagnosisScript) {
        for (vantage, packets) in other.captures { captures[vantage, default: []] += packets }
    }

    /// SYN, SYN/ACK, ACK with window scaling (and SACK-permitted unless `sack` is false).
    /// Returns the time after it.
    mutating func handshake(at start: Int64, sack: Bool = true, seenBy: Set<Vantage> = [.client, .server]) -> Int64 {
        let rtt = 2 * oneWay
        emit(Segment(fromClient: true, seq: clientISN, flags: 0x002, window: 64240,
                     options: Self.synOptions(scale: windowScale, sack: sack)), at: start, seenBy: seenBy)
        emit(Segment(fromClient: false, seq: serverISN, ack: clientISN &+ 1, flags: 0x012, window: 65160,
                     options: Self.synOptions(scale: windowScale, sack: sack)), at: start + oneWay + 10_000, seenBy: seenBy)
        emit(Segment(fromClient: true, seq: clientISN &+ 1, ack: serverISN &+ 1, flags: 0x010, window: 502),
             at: start + rtt + 10_000, seenBy: seenBy)
        return start + rtt + 20_000
    }

    /// A data segment from the client (advancing `clientNext`), seen by `seenBy`.
    @discardableResult
    mutating func clientData(_ length: UInt32, at time: Int64, seenBy: Set<Vantage> = [.client, .server]) -> (seq: UInt32, ipID: UInt16) {
        let seq = clientNext
        let id = emit(Segment(fromClient: true, seq: seq, ack: serverNext, flags: 0x018, length: length, window: 502),
                      at: time, seenBy: seenBy)
        clientNext = seq &+ length
        return (seq, id)
    }

    /// A data segment from the server.
    @discardableResult
    mutating func serverData(_ length: UInt32, at time: Int64, seenBy: Set<Vantage> = [.client, .server]) -> (seq: UInt32, ipID: UInt16) {
        let seq = serverNext
        let id = emit(Segment(fromClient: false, seq: seq, ack: clientNext, flags: 0x018, length: length, window: 509),
                      at: time, seenBy: seenBy)
        serverNext = seq &+ length
        return (seq, id)
    }

    /// A pure ACK from the server for client data up to `ack`.
    mutating func serverAck(_ ack: UInt32, at time: Int64, window: UInt16 = 509, sack: [(UInt32, UInt32)] = [],
                            seenBy: Set<Vantage> = [.client, .server]) {
        emit(Segment(fromClient: false, seq: serverNext, ack: ack, flags: 0x010, window: window, sack: sack),
             at: time, seenBy: seenBy)
    }

    /// A pure ACK from the client for server data up to `ack`.
    mutating func clientAck(_ ack: UInt32, at time: Int64, window: UInt16 = 502, sack: [(UInt32, UInt32)] = [],
                            seenBy: Set<Vantage> = [.client, .server]) {
        emit(Segment(fromClient: true, seq: clientNext, ack: ack, flags: 0x010, window: window, sack: sack),
             at: time, seenBy: seenBy)
    }

    // MARK: bytes

    static func synOptions(scale: UInt8, sack: Bool = true) -> [UInt8] {
        // MSS 1460, SACK permitted (or two NOPs), NOP, window scale.
        [2, 4, 0x05, 0xB4] + (sack ? [4, 2] : [1, 1]) + [1, 3, 3, scale]
    }

    static func ipv4(_ segment: Segment, ipID: UInt16, ttl: UInt8, script: DiagnosisScript) -> [UInt8] {
        var options = segment.options
        if !segment.sack.isEmpty {
            options += [1, 1, 5, UInt8(2 + 8 * segment.sack.count)]
            for (left, right) in segment.sack { options += be32(left) + be32(right) }
        }
        while options.count % 4 != 0 { options.append(1) }
        let tcpLength = 20 + options.count
        var tcp: [UInt8] = []
        let (sourcePort, destinationPort) = segment.fromClient ? (script.clientPort, script.serverPort)
            : (script.serverPort, script.clientPort)
        tcp += be16(sourcePort) + be16(destinationPort) + be32(segment.seq) + be32(segment.ack)
        tcp += be16(UInt16(tcpLength / 4) << 12 | segment.flags) + be16(segment.window) + [0, 0, 0, 0]
        tcp += options
        var ip: [UInt8] = [0x45, 0]
        ip += be16(UInt16(20 + tcpLength + Int(segment.length))) + be16(ipID) + [0x40, 0x00, ttl, 6, 0, 0]
        ip += segment.fromClient ? script.client + script.server : script.server + script.client
        return ip + tcp
    }

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    /// A classic pcap file (little-endian, nanosecond magic, LINKTYPE_RAW) of one vantage, sorted by time.
    func pcap(_ vantage: Vantage) -> [UInt8] {
        var out: [UInt8] = []
        func le32(_ v: UInt32) { out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)] }
        func le16(_ v: UInt16) { out += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        le32(0xA1B2_3C4D); le16(2); le16(4); le32(0); le32(0); le32(262_144); le32(101)
        let base = Self.fileEpoch
        for packet in (captures[vantage] ?? []).enumerated().sorted(by: { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }) {
            let time = base + packet.element.time
            le32(UInt32(time / 1_000_000_000)); le32(UInt32(time % 1_000_000_000))
            let bytes = packet.element.bytes
            let ipLength = Int(bytes[2]) << 8 | Int(bytes[3])
            le32(UInt32(bytes.count)); le32(UInt32(ipLength))
            out += bytes
        }
        return out
    }

    /// The epoch time the scripts' time 0 stands for in the files.
    static let fileEpoch: Int64 = 1_700_000_000_000_000_000

    /// The same capture as pcapng (nanosecond resolution, LINKTYPE_RAW), as Faultline writes it:
    /// an Interface Statistics Block recording the start after the interface description and one
    /// recording start and end after the packets, when `window` (script times) is given.
    func pcapng(_ vantage: Vantage, window: (start: Int64, end: Int64)?) -> [UInt8] {
        var out = Pcapng.section() + Pcapng.interface(linkType: 101, tsresol: 9)
        func statistics(_ options: [(UInt16, Int64)], at time: Int64) -> [UInt8] {
            Pcapng.block(5, littleEndian: true) { b in
                let ticks = UInt64(Self.fileEpoch + time)
                b.u32(0); b.u32(UInt32(ticks >> 32)); b.u32(UInt32(ticks & 0xFFFF_FFFF))
                for (code, value) in options {
                    let raw = UInt64(Self.fileEpoch + value)
                    var v = Bytes()
                    v.u32(UInt32(raw >> 32)); v.u32(UInt32(raw & 0xFFFF_FFFF))
                    Pcapng.option(code, v.data, &b)
                }
                Pcapng.option(0, [], &b)
            }
        }
        if let window { out += statistics([(2, window.start)], at: window.start) }
        for packet in (captures[vantage] ?? []).enumerated().sorted(by: { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }) {
            let bytes = packet.element.bytes
            let ipLength = Int(bytes[2]) << 8 | Int(bytes[3])
            out += Pcapng.enhanced(interface: 0, ticks: UInt64(Self.fileEpoch + packet.element.time), frame: bytes, wire: ipLength)
        }
        if let window { out += statistics([(2, window.start), (3, window.end)], at: window.end) }
        return out
    }

    /// Writes the captures of `vantages` to a fresh directory; returns their `VantageCapture`s,
    /// each stated to be taken where it was built (`statingRoles: false`: named client and
    /// server, and nothing said of where they were taken).
    /// A vantage with a `windows` entry is written as pcapng recording that capture window.
    func write(_ vantages: [Vantage] = [.client, .server], windows: [Vantage: (start: Int64, end: Int64)] = [:],
               statingRoles: Bool = true) throws -> [VantageCapture] {
        let directory = try TemporaryDirectory.make()
        return try vantages.map { vantage in
            let name = vantage == .client ? "client" : "server"
            let role: VantageRole = statingRoles ? (vantage == .client ? .client : .server) : .other
            if let window = windows[vantage] {
                let path = directory + "/" + name + ".pcapng"
                try TemporaryDirectory.writeFile(path, pcapng(vantage, window: window))
                return VantageCapture(name: name, path: path, role: role)
            }
            let path = directory + "/" + name + ".pcap"
            try TemporaryDirectory.writeFile(path, pcap(vantage))
            return VantageCapture(name: name, path: path, role: role)
        }
    }
}

enum TemporaryDirectory {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func make() throws -> String {
        var template = Array("/tmp/faultline-diagnosis-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard made != nil else { throw Failure(description: "mkdtemp failed: errno \(errno)") }
        return String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        guard let file = fopen(path, "wb") else { throw Failure(description: "cannot create \(path): errno \(errno)") }
        defer { fclose(file) }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == bytes.count else { throw Failure(description: "short write to \(path)") }
    }

    /// Removes a directory made by `make()` and the files in it.
    static func remove(_ directory: String) {
        guard let dir = opendir(directory) else { return }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { unlink(directory + "/" + name) }
        }
        closedir(dir)
        rmdir(directory)
    }

    /// The directory part of a path.
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    static func readFile(_ path: String) -> [UInt8] {
        guard let file = fopen(path, "rb") else { return [] }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }
}

extension Finding {
    /// The confidence the analyzer always states; NaN — failing every comparison — if one of its
    /// findings came without.
    var analyzerConfidence: Double { confidence ?? .nan }
}

extension Array where Element == Finding {
    /// Findings named `kind/cause`.
    func named(_ name: String) -> [Finding] { filter { $0.name == name } }

    /// Names of all findings, for failure messages.
    var names: [String] { map(\.name) }
}

enum JSONDecoding {
    static func decodeFindings(_ text: String) throws -> [Finding] {
        try JSONDecoder().decode([Finding].self, from: Data(text.utf8))
    }
}
