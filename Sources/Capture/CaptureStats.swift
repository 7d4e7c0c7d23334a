import Foundation

/// What one capture point saw and wrote, from libpcap's counters and the writer's own.
///
/// Written beside the capture as `<file>.stats.json` (see `sidecarPath(for:)`): once at start,
/// about once a second while running (`complete` false), and at stop (`complete` true). The same
/// counters go into the pcapng file's Interface Statistics Block at stop. A run killed before
/// stop leaves a sidecar with `complete: false` and the counters of its last second.
///
/// How to read it: `dropped > 0` means the capture itself lost packets (the kernel's buffer for
/// the capture socket overflowed) — gaps in the file are then not evidence of loss on the path.
public struct CaptureStats: Codable, Sendable, Equatable {
    /// Namespace label and interface, as given in the `CapturePoint`.
    public var namespace: String
    public var interface: String
    public var file: String
    /// LINKTYPE_* of the interface (1 = Ethernet for veth).
    public var linkType: Int
    public var snapLength: Int
    public var bufferSize: Int
    public var filter: String?
    /// libpcap's ps_recv: packets the capture socket took (after the filter), including those
    /// it then had to drop.
    public var received: UInt64
    /// libpcap's ps_drop: packets the kernel dropped because the capture buffer was full.
    public var dropped: UInt64
    /// libpcap's ps_ifdrop: drops the interface reported (0 on Linux without promiscuous mode).
    public var interfaceDropped: UInt64
    /// Enhanced Packet Blocks written to the file.
    public var packetsWritten: UInt64
    /// Sum of the captured lengths of those packets.
    public var capturedBytes: UInt64
    /// Sum of their lengths on the wire.
    public var wireBytes: UInt64
    /// Bytes of the pcapng file written so far.
    public var fileBytes: UInt64
    /// CLOCK_REALTIME nanoseconds when the handle was activated / when the capture stopped (or
    /// of the last update while running).
    public var startNanoseconds: Int64
    public var endNanoseconds: Int64
    /// True once stop() finished the file (statistics block written, descriptors closed).
    public var complete: Bool
    /// A read or write error that ended the capture before stop (e.g. the interface vanished).
    public var error: String?
    /// Warnings from pcap_activate (the capture still ran).
    public var warnings: [String]

    /// True when the capture itself lost packets (kernel or interface drops) or ended on an error.
    public var lostPackets: Bool { dropped > 0 || interfaceDropped > 0 || error != nil }

    enum CodingKeys: String, CodingKey {
        case namespace, interface, file
        case linkType = "link_type"
        case snapLength = "snaplen"
        case bufferSize = "buffer_size"
        case filter, received, dropped
        case interfaceDropped = "if_dropped"
        case packetsWritten = "packets_written"
        case capturedBytes = "captured_bytes"
        case wireBytes = "wire_bytes"
        case fileBytes = "file_bytes"
        case startNanoseconds = "start_ns"
        case endNanoseconds = "end_ns"
        case complete, error, warnings
    }

    /// `<file>.stats.json`.
    public static func sidecarPath(for file: String) -> String { file + ".stats.json" }

    /// Reads a sidecar written by a capture.
    public static func read(sidecar path: String) throws -> CaptureStats {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try JSONDecoder().decode(CaptureStats.self, from: data)
    }

    /// The JSON text of the sidecar (sorted keys, one object).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// One line for logs and reports.
    public var summary: String {
        var text = "\(namespace):\(interface): \(packetsWritten) packets written, \(received) received, \(dropped) dropped by the kernel"
        if interfaceDropped > 0 { text += ", \(interfaceDropped) dropped by the interface" }
        if let error { text += "; stopped early: \(error)" }
        return text
    }
}
