/// Reader for classic libpcap files: 24-byte file header, then 16-byte record headers.
///
/// Handles both byte orders (the magic number tells which) and both microsecond (a1b2c3d4) and
/// nanosecond (a1b23c4d) timestamps.
struct PcapReader {
    static let fileHeaderLength = 24
    static let recordHeaderLength = 16
    /// Largest record wiretap accepts for most link types; beyond that a length field is garbage.
    static let maximumRecordLength = 262_144

    let swapped: Bool
    let nanosecondTimestamps: Bool
    let linkType: LinkType
    let snapLength: UInt32
    /// Length of the frame check sequence at the end of each frame, from the link-type field.
    let fcsLength: Int
    let versionMajor: UInt16
    let versionMinor: UInt16
    private let recordLimit: Int

    /// Parses the file header at the input's read position and consumes it.
    init(input: ChunkedInput) throws(CaptureError) {
        guard try input.ensure(Self.fileHeaderLength) else {
            throw .tooShort(size: input.available, expected: "a 24-byte pcap file header")
        }
        let p = input.pointer
        let magic = p.u32(0, swapped: false)
        switch magic {
        case 0xA1B2_C3D4: (swapped, nanosecondTimestamps) = (false, false)
        case 0xD4C3_B2A1: (swapped, nanosecondTimestamps) = (true, false)
        case 0xA1B2_3C4D: (swapped, nanosecondTimestamps) = (false, true)
        case 0x4D3C_B2A1: (swapped, nanosecondTimestamps) = (true, true)
        default: throw .unknownFormat(magic: UInt32(bigEndian: magic))
        }
        versionMajor = p.u16(4, swapped: swapped)
        versionMinor = p.u16(6, swapped: swapped)
        guard versionMajor == 2 else {
            throw .corrupt(offset: 4, reason: "pcap major version \(versionMajor) is not 2")
        }
        snapLength = p.u32(16, swapped: swapped)
        let network = p.u32(20, swapped: swapped)
        // The top bits of the link-type field can describe an FCS appended to every frame.
        linkType = LinkType(rawValue: network & 0x03FF_FFFF)
        fcsLength = (network & 0x0400_0000) != 0 ? Int((network >> 28) & 0xF) * 2 : 0
        recordLimit = max(Self.maximumRecordLength, min(Int(snapLength), 1 << 26))
        input.consume(Self.fileHeaderLength)
    }

    /// Whether `value` (read in either byte order) is a pcap magic number.
    static func isMagic(_ value: UInt32) -> Bool {
        [0xA1B2_C3D4, 0xA1B2_3C4D].contains(value) || [0xA1B2_C3D4, 0xA1B2_3C4D].contains(value.byteSwapped)
    }

    /// Reads the next record. The returned bytes stay valid until the next call.
    @inline(__always)
    func next(input: ChunkedInput, frameNumber: UInt64) throws(CaptureError) -> RecordResult {
        guard try input.ensure(Self.recordHeaderLength) else {
            let left = input.available
            if left == 0 { return .end }
            return .truncated(CaptureTruncation(offset: input.offset, needed: Self.recordHeaderLength, available: left))
        }
        var p = input.pointer
        let seconds = p.u32(0, swapped: swapped)
        let fraction = p.u32(4, swapped: swapped)
        let captured = Int(p.u32(8, swapped: swapped))
        let original = Int(p.u32(12, swapped: swapped))
        let recordOffset = input.offset
        // A second file's header where a record should start: pcap files concatenated. What came
        // before is good; stop there rather than read the header as a record.
        if PcapReader.isMagic(seconds) && captured == 0 {
            return .truncated(CaptureTruncation(offset: recordOffset, needed: Self.recordHeaderLength, available: input.available,
                                                damage: "a second pcap file header starts here (files concatenated)"))
        }
        if captured > recordLimit {
            return .truncated(CaptureTruncation(offset: recordOffset, needed: Self.recordHeaderLength + captured,
                                                available: input.available,
                                                damage: "captured length \(captured) exceeds the maximum \(recordLimit) for a pcap record"))
        }
        let total = Self.recordHeaderLength + captured
        if !(try input.ensure(total)) {
            return .truncated(CaptureTruncation(offset: recordOffset, needed: total, available: input.available))
        }
        p = input.pointer
        let nanoseconds = nanosecondTimestamps ? Int64(fraction) : Int64(fraction) &* 1000
        let record = PacketRecord(
            frameNumber: frameNumber,
            timestamp: Int64(seconds) &* 1_000_000_000 &+ nanoseconds,
            originalLength: original,
            interfaceID: 0,
            linkType: linkType,
            bytes: UnsafeRawBufferPointer(start: p + Self.recordHeaderLength, count: captured),
            fileOffset: recordOffset,
            commentBytes: nil)
        input.consume(total)
        return .packet(record)
    }
}

/// Outcome of reading one record.
enum RecordResult {
    case packet(PacketRecord)
    /// Clean end of file.
    case end
    /// The file stops inside a record.
    case truncated(CaptureTruncation)
}
