/// Encodes pcapng blocks (little-endian) into a byte buffer that the capture thread writes with
/// one write(2) per batch.
///
/// Layout reference: draft-ietf-opsawg-pcapng. Only what a live capture writes: Section Header,
/// Interface Description, Enhanced Packet and Interface Statistics blocks.
struct PcapngEncoder {
    private(set) var bytes: [UInt8] = []

    init(reserving capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    var count: Int { bytes.count }
    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    // MARK: block types and option codes

    static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    static let interfaceDescriptionType: UInt32 = 1
    static let interfaceStatisticsType: UInt32 = 5
    static let enhancedPacketType: UInt32 = 6
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D

    enum Option {
        static let endOfOptions: UInt16 = 0
        static let comment: UInt16 = 1
        static let shbOS: UInt16 = 3
        static let shbUserApplication: UInt16 = 4
        static let ifName: UInt16 = 2
        static let ifDescription: UInt16 = 3
        static let ifTimestampResolution: UInt16 = 9
        static let ifFilter: UInt16 = 11
        static let isbStartTime: UInt16 = 2
        static let isbEndTime: UInt16 = 3
        static let isbInterfaceReceived: UInt16 = 4
        static let isbInterfaceDropped: UInt16 = 5
        static let isbFilterAccepted: UInt16 = 6
        static let isbOSDropped: UInt16 = 7
        static let isbUserDelivered: UInt16 = 8
    }

    /// The longest option value pcapng can carry (16-bit length).
    static let maximumOptionLength = 0xFFFF

    // MARK: primitives

    @inline(__always)
    private mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    @inline(__always)
    private mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// A 64-bit timestamp as pcapng stores it: high word first, then low word.
    @inline(__always)
    private mutating func timestamp(_ ticks: UInt64) {
        u32(UInt32(truncatingIfNeeded: ticks >> 32))
        u32(UInt32(truncatingIfNeeded: ticks))
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    private mutating func option(_ code: UInt16, _ value: some Collection<UInt8>) {
        let length = min(value.count, Self.maximumOptionLength)
        u16(code)
        u16(UInt16(length))
        bytes.append(contentsOf: value.prefix(length))
        pad()
    }

    private mutating func option(_ code: UInt16, text: String) {
        option(code, Array(text.utf8))
    }

    private mutating func option(_ code: UInt16, u64 value: UInt64) {
        var raw: [UInt8] = []
        withUnsafeBytes(of: value.littleEndian) { raw.append(contentsOf: $0) }
        option(code, raw)
    }

    private mutating func option(_ code: UInt16, timestamp ticks: UInt64) {
        var raw: [UInt8] = []
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: ticks >> 32).littleEndian) { raw.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: ticks).littleEndian) { raw.append(contentsOf: $0) }
        option(code, raw)
    }

    /// Writes a block: type, a length placeholder, `body`, the trailing length, then patches the
    /// leading length.
    private mutating func block(_ type: UInt32, _ body: (inout PcapngEncoder) -> Void) {
        let start = bytes.count
        u32(type)
        u32(0)
        body(&self)
        pad()
        let length = UInt32(bytes.count - start + 4)
        u32(length)
        withUnsafeBytes(of: length.littleEndian) { raw in
            for index in 0..<4 { bytes[start + 4 + index] = raw[index] }
        }
    }

    // MARK: blocks

    /// Section Header Block: version 1.0, section length unknown (-1).
    mutating func sectionHeader(application: String, os: String?, comment: String?) {
        block(Self.sectionHeaderType) { e in
            e.u32(Self.byteOrderMagic)
            e.u16(1)
            e.u16(0)
            e.u32(0xFFFF_FFFF)
            e.u32(0xFFFF_FFFF)
            if let comment { e.option(Option.comment, text: comment) }
            if let os { e.option(Option.shbOS, text: os) }
            e.option(Option.shbUserApplication, text: application)
            e.option(Option.endOfOptions, [])
        }
    }

    /// Interface Description Block with `if_name`, `if_description`, `if_tsresol` = 9 (ns) and
    /// `if_filter` (libpcap filter string form: a leading 0 byte).
    mutating func interfaceDescription(linkType: UInt16, snapLength: UInt32, name: String,
                                       description: String?, filter: String?) {
        block(Self.interfaceDescriptionType) { e in
            e.u16(linkType)
            e.u16(0)
            e.u32(snapLength)
            e.option(Option.ifName, text: name)
            if let description { e.option(Option.ifDescription, text: description) }
            e.option(Option.ifTimestampResolution, [9])
            if let filter { e.option(Option.ifFilter, [0] + Array(filter.utf8)) }
            e.option(Option.endOfOptions, [])
        }
    }

    /// Enhanced Packet Block for interface 0 with a nanosecond timestamp.
    @inline(__always)
    mutating func enhancedPacket(timestampNanoseconds: UInt64, originalLength: UInt32,
                                 data: UnsafeRawBufferPointer) {
        let captured = data.count
        let padded = (captured + 3) & ~3
        let length = UInt32(32 + padded)
        u32(Self.enhancedPacketType)
        u32(length)
        u32(0)
        timestamp(timestampNanoseconds)
        u32(UInt32(truncatingIfNeeded: captured))
        u32(originalLength)
        bytes.append(contentsOf: data)
        for _ in captured..<padded { bytes.append(0) }
        u32(length)
    }

    /// Interface Statistics Block for interface 0 carrying only `isb_starttime`: written right
    /// after the interface description, so that a capture killed before its final statistics block
    /// still tells a reader when it began listening (an analysis reasoning from a packet's absence
    /// needs to know the capture was running).
    mutating func captureStart(nanoseconds start: UInt64) {
        block(Self.interfaceStatisticsType) { e in
            e.u32(0)
            e.timestamp(start)
            e.option(Option.isbStartTime, timestamp: start)
            e.option(Option.endOfOptions, [])
        }
    }

    /// Interface Statistics Block for interface 0 (nanosecond timestamps).
    mutating func interfaceStatistics(timestampNanoseconds: UInt64, startNanoseconds: UInt64,
                                      endNanoseconds: UInt64, received: UInt64, interfaceDropped: UInt64,
                                      filterAccepted: UInt64, osDropped: UInt64, delivered: UInt64,
                                      comment: String?) {
        block(Self.interfaceStatisticsType) { e in
            e.u32(0)
            e.timestamp(timestampNanoseconds)
            if let comment { e.option(Option.comment, text: comment) }
            e.option(Option.isbStartTime, timestamp: startNanoseconds)
            e.option(Option.isbEndTime, timestamp: endNanoseconds)
            e.option(Option.isbInterfaceReceived, u64: received)
            e.option(Option.isbInterfaceDropped, u64: interfaceDropped)
            e.option(Option.isbFilterAccepted, u64: filterAccepted)
            e.option(Option.isbOSDropped, u64: osDropped)
            e.option(Option.isbUserDelivered, u64: delivered)
            e.option(Option.endOfOptions, [])
        }
    }
}
