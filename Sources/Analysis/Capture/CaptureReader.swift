/// Streams the frames of a pcap or pcapng file, one at a time, in file order.
///
/// ```swift
/// let reader = try CaptureReader(path: "trace.pcapng")
/// while let packet = try reader.next() {
///     // packet.bytes is valid until the next call to next()
/// }
/// if let cut = reader.truncation { print("warning: \(cut)") }
/// ```
///
/// The format is detected from the magic number. Memory use is one read buffer (about 1 MiB)
/// whatever the file size. A file that ends inside a record is not an error: `next()` returns nil
/// and `truncation` says where the cut is. Inconsistent content throws a `CaptureError` naming
/// the byte offset.
public final class CaptureReader {
    public enum Format: String, Sendable { case pcap, pcapng }

    public let format: Format
    /// Set once the file turned out to stop inside a record.
    public private(set) var truncation: CaptureTruncation?
    /// Frames returned so far.
    public private(set) var framesRead: UInt64 = 0

    private let input: ChunkedInput
    private let pcap: PcapReader?
    private let pcapng: PcapngReader?
    private var finished = false

    /// Opens and checks the header of the capture file at `path`.
    public convenience init(path: String) throws(CaptureError) {
        try self.init(input: ChunkedInput(path: path))
    }

    /// Reads a capture streamed through an open descriptor (0: standard input, e.g. a pipe from
    /// `tcpdump -w -`); packets come out as soon as their bytes arrive. The descriptor stays open.
    public convenience init(fileDescriptor: Int32) throws(CaptureError) {
        try self.init(input: ChunkedInput(fileDescriptor: fileDescriptor))
    }

    /// Reads a capture held in memory (the bytes are copied once).
    public convenience init(bytes: some Collection<UInt8>) throws(CaptureError) {
        try self.init(input: ChunkedInput(bytes: bytes))
    }

    private init(input: ChunkedInput) throws(CaptureError) {
        self.input = input
        guard try input.ensure(4) else {
            throw .tooShort(size: input.available, expected: "at least a 4-byte magic number")
        }
        let magic = input.pointer.u32(0, swapped: false)
        if magic == PcapngReader.sectionHeaderType {
            format = .pcapng
            pcap = nil
            pcapng = try PcapngReader(input: input)
        } else {
            format = .pcap
            pcap = try PcapReader(input: input)
            pcapng = nil
        }
    }

    /// The next frame, or nil at the end of the file (or at a cut; see `truncation`).
    @inline(__always)
    public func next() throws(CaptureError) -> PacketRecord? {
        if finished { return nil }
        let result: RecordResult
        if let pcap {
            result = try pcap.next(input: input, frameNumber: framesRead &+ 1)
        } else {
            result = try pcapng.unsafelyUnwrapped.next(input: input, frameNumber: framesRead &+ 1)
        }
        switch result {
        case let .packet(record):
            framesRead &+= 1
            return record
        case .end:
            finished = true
            return nil
        case let .truncated(cut):
            finished = true
            truncation = cut
            return nil
        }
    }

    /// The interfaces the file describes (one implicit interface for pcap).
    public var interfaces: [CaptureInterface] {
        if let pcap {
            return [CaptureInterface(id: 0, linkType: pcap.linkType, snapLength: pcap.snapLength,
                                     timestampResolution: pcap.nanosecondTimestamps ? 9 : 6,
                                     name: nil, description: nil,
                                     fcsLength: pcap.fcsLength > 0 ? pcap.fcsLength : nil)]
        }
        return pcapng?.interfaces ?? []
    }

    /// The capturing tool's drop counters (pcapng Interface Statistics Blocks), by interface.
    public var statistics: [CaptureInterfaceStatistics] {
        (pcapng?.statistics.values.sorted { $0.interfaceID < $1.interfaceID }) ?? []
    }

    /// Section comments and writer names (pcapng only).
    public var comments: [String] { pcapng?.comments ?? [] }

    /// Bytes consumed so far (the offset of the next record).
    public var fileOffset: Int { input.offset }
}
