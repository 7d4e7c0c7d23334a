/// Reader for pcapng files (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html).
///
/// Blocks handled: Section Header (both byte orders; a file may hold several sections),
/// Interface Description (link type, snap length, `if_tsresol`, `if_tsoffset`, `if_fcslen`,
/// name/description), Enhanced Packet, Simple Packet and the obsolete Packet block. Every other
/// block type is skipped by its length. Per-packet `opt_comment` is exposed without copying.
final class PcapngReader {
    static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D
    /// Refuse blocks larger than this: such a length is corruption, not data (wiretap uses 16 MiB).
    static let maximumBlockLength = 16 * 1024 * 1024

    /// Per-interface facts needed to turn a packet block into a `PacketRecord`.
    struct Interface {
        var linkType: LinkType
        var snapLength: UInt32
        var scale: TimestampScale
        var offsetSeconds: Int64
        var globalIndex: UInt32
    }

    private(set) var swapped = false
    /// Interfaces of the current section, indexed by the section-local interface ID.
    private var sectionInterfaces: [Interface] = []
    /// Every interface seen so far, across sections (public description).
    private(set) var interfaces: [CaptureInterface] = []
    /// Section comments and writer application names, in file order.
    private(set) var comments: [String] = []
    /// The capturing tool's own counters from Interface Statistics Blocks (the last one per
    /// interface wins: they are cumulative), keyed by the global interface index.
    private(set) var statistics: [UInt32: CaptureInterfaceStatistics] = [:]

    /// Parses the first Section Header Block.
    init(input: ChunkedInput) throws(CaptureError) {
        guard try input.ensure(12) else {
            throw .tooShort(size: input.available, expected: "a pcapng section header block (at least 28 bytes)")
        }
        switch try nextBlock(input: input, frameNumber: 1, firstBlock: true) {
        case .end, .packet: break
        case let .truncated(cut):
            throw .tooShort(size: cut.offset + cut.available, expected: "a complete pcapng section header block of \(cut.needed) bytes")
        }
    }

    /// Reads blocks until the next packet. The returned bytes stay valid until the next call.
    @inline(__always)
    func next(input: ChunkedInput, frameNumber: UInt64) throws(CaptureError) -> RecordResult {
        try nextBlock(input: input, frameNumber: frameNumber, firstBlock: false)
    }

    private func nextBlock(input: ChunkedInput, frameNumber: UInt64, firstBlock: Bool) throws(CaptureError) -> RecordResult {
        while true {
            guard try input.ensure(8) else {
                let left = input.available
                if left == 0 { return .end }
                return .truncated(CaptureTruncation(offset: input.offset, needed: 12, available: left))
            }
            let blockOffset = input.offset
            var p = input.pointer
            let rawType = p.u32(0, swapped: false)
            let isSection = rawType == Self.sectionHeaderType  // palindromic: same in both orders
            if firstBlock && !isSection {
                throw .unknownFormat(magic: UInt32(bigEndian: rawType))
            }
            if isSection {
                guard try input.ensure(12) else {
                    return .truncated(CaptureTruncation(offset: blockOffset, needed: 28, available: input.available))
                }
                p = input.pointer
                switch p.u32(8, swapped: false) {
                case Self.byteOrderMagic: swapped = false
                case Self.byteOrderMagic.byteSwapped: swapped = true
                case let other:
                    throw .corrupt(offset: blockOffset + 8,
                                   reason: "byte-order magic 0x\(String(UInt32(bigEndian: other), radix: 16)) is not 1a2b3c4d in either byte order")
                }
            }
            let type = p.u32(0, swapped: swapped)
            let length = Int(p.u32(4, swapped: swapped))
            // A block whose length is damaged ends the readable part of the file: the blocks before
            // it were good and are kept (tshark reads every packet before the damage too). Only a
            // damaged first block leaves nothing to read.
            func damaged(_ reason: String) throws(CaptureError) -> RecordResult {
                if firstBlock { throw .corrupt(offset: blockOffset + 4, reason: reason) }
                return .truncated(CaptureTruncation(offset: blockOffset, needed: max(length, 12), available: input.available,
                                                    damage: reason))
            }
            if length % 4 != 0 {
                return try damaged("block length \(length) is not a multiple of 4")
            }
            let minimum = isSection ? 28 : 12
            if length < minimum {
                return try damaged("block length \(length) is shorter than the minimum \(minimum)")
            }
            if length > Self.maximumBlockLength {
                return try damaged("block length \(length) exceeds the maximum \(Self.maximumBlockLength)")
            }
            guard try input.ensure(length) else {
                return .truncated(CaptureTruncation(offset: blockOffset, needed: length, available: input.available))
            }
            p = input.pointer
            let trailer = Int(p.u32(length - 4, swapped: swapped))
            if trailer != length {
                return try damaged("trailing block length \(trailer) does not match the leading length \(length)")
            }
            let block = UnsafeRawBufferPointer(start: p, count: length)
            switch type {
            case 6:  // Enhanced Packet Block
                let record = try enhancedPacket(block, offset: blockOffset, frameNumber: frameNumber)
                input.consume(length)
                return .packet(record)
            case 3:  // Simple Packet Block
                let record = try simplePacket(block, offset: blockOffset, frameNumber: frameNumber)
                input.consume(length)
                return .packet(record)
            case 2:  // Packet Block (obsolete, still written by old tools)
                let record = try obsoletePacket(block, offset: blockOffset, frameNumber: frameNumber)
                input.consume(length)
                return .packet(record)
            case 1:
                try interfaceDescription(block, offset: blockOffset)
            case 5:
                try interfaceStatistics(block, offset: blockOffset)
            case Self.sectionHeaderType:
                try sectionHeader(block, offset: blockOffset)
            default:
                break  // statistics, name resolution, secrets, custom blocks: not needed
            }
            input.consume(length)
            if firstBlock { return .end }
        }
    }

    // MARK: blocks

    /// Interface Statistics Block: interface id, timestamp, then isb_starttime (2) and
    /// isb_endtime (3) as timestamps in the interface's resolution, isb_ifrecv (4), isb_ifdrop (5),
    /// isb_osdrop (7) as u64 options. Unknown or short options are ignored (they are advisory).
    /// Counters are cumulative (the last block wins); the recorded window is the earliest start
    /// and the latest end over all blocks (a writer may record its start in a first block and
    /// its end in a last one).
    private func interfaceStatistics(_ block: UnsafeRawBufferPointer, offset: Int) throws(CaptureError) {
        guard block.count >= 24 else {
            throw .corrupt(offset: offset + 4, reason: "interface statistics block length \(block.count) is shorter than 24")
        }
        let p = block.baseAddress.unsafelyUnwrapped
        let local = Int(p.u32(8, swapped: swapped))
        guard local < sectionInterfaces.count else {
            throw .corrupt(offset: offset + 8, reason: "interface statistics for interface \(local), but the section describes \(sectionInterfaces.count)")
        }
        let iface = sectionInterfaces[local]
        let id = iface.globalIndex
        var entry = statistics[id] ?? CaptureInterfaceStatistics(interfaceID: id)
        let swapped = self.swapped
        try forEachOption(block, from: 20, blockOffset: offset) { code, value in
            guard value.count == 8, let base = value.baseAddress else { return }
            let number = base.u64(0, swapped: swapped)
            switch code {
            case 2, 3:
                // A timestamp: high word first, then low word, like a packet block's.
                let ticks = UInt64(base.u32(0, swapped: swapped)) << 32 | UInt64(base.u32(4, swapped: swapped))
                let time = iface.scale.time(ticks, offsetSeconds: iface.offsetSeconds)
                if code == 2 {
                    entry.startTime = min(entry.startTime ?? time, time)
                } else {
                    entry.endTime = max(entry.endTime ?? time, time)
                }
            case 4: entry.received = number
            case 5: entry.droppedByInterface = number
            case 7: entry.droppedByOS = number
            default: break
            }
        }
        statistics[id] = entry
    }

    private func sectionHeader(_ block: UnsafeRawBufferPointer, offset: Int) throws(CaptureError) {
        let p = block.baseAddress.unsafelyUnwrapped
        let major = p.u16(12, swapped: swapped)
        if major != 1 {
            throw .corrupt(offset: offset + 12, reason: "pcapng major version \(major) is not 1")
        }
        // A new section starts a new set of interfaces.
        sectionInterfaces.removeAll(keepingCapacity: true)
        try forEachOption(block, from: 24, blockOffset: offset) { code, value in
            // opt_comment, shb_hardware, shb_os, shb_userappl: kept as text for reports.
            if code == 1 || code == 4 {
                comments.append(String(decoding: value, as: UTF8.self))
            }
        }
    }

    private func interfaceDescription(_ block: UnsafeRawBufferPointer, offset: Int) throws(CaptureError) {
        if block.count < 20 {
            throw .corrupt(offset: offset + 4, reason: "interface description block length \(block.count) is shorter than 20")
        }
        let p = block.baseAddress.unsafelyUnwrapped
        let linkType = LinkType(rawValue: UInt32(p.u16(8, swapped: swapped)))
        let snapLength = p.u32(12, swapped: swapped)
        var resolution: UInt8 = 6
        var offsetSeconds: Int64 = 0
        var name: String?
        var description: String?
        var fcsLength: Int?
        let swapped = self.swapped
        try forEachOption(block, from: 16, blockOffset: offset) { code, value in
            switch code {
            case 2: name = String(decoding: value, as: UTF8.self)
            case 3: description = String(decoding: value, as: UTF8.self)
            case 9: if value.count >= 1 { resolution = value[0] }
            case 13: if value.count >= 1 { fcsLength = Int(value[0]) }
            case 14:
                if value.count >= 8 {
                    let raw = value.baseAddress.unsafelyUnwrapped.loadUnaligned(as: UInt64.self)
                    offsetSeconds = Int64(bitPattern: swapped ? raw.byteSwapped : raw)
                }
            default: break
            }
        }
        guard let scale = TimestampScale(resolution: resolution) else {
            throw .corrupt(offset: offset + 16, reason: "if_tsresol \(resolution) is out of range (expected 10^-0..10^-19 or 2^-0..2^-63)")
        }
        let global = UInt32(interfaces.count)
        sectionInterfaces.append(Interface(linkType: linkType, snapLength: snapLength, scale: scale,
                                           offsetSeconds: offsetSeconds, globalIndex: global))
        interfaces.append(CaptureInterface(id: global, linkType: linkType, snapLength: snapLength,
                                           timestampResolution: resolution, name: name,
                                           description: description, fcsLength: fcsLength))
    }

    @inline(__always)
    private func interface(_ id: UInt32, at offset: Int) throws(CaptureError) -> Interface {
        guard Int(id) < sectionInterfaces.count else {
            throw .corrupt(offset: offset,
                           reason: "interface ID \(id) refers to no interface (the section describes \(sectionInterfaces.count))")
        }
        return sectionInterfaces[Int(id)]
    }

    @inline(__always)
    private func enhancedPacket(_ block: UnsafeRawBufferPointer, offset: Int, frameNumber: UInt64) throws(CaptureError) -> PacketRecord {
        let p = block.baseAddress.unsafelyUnwrapped
        if block.count < 32 {
            throw .corrupt(offset: offset + 4, reason: "enhanced packet block length \(block.count) is shorter than 32")
        }
        let iface = try interface(p.u32(8, swapped: swapped), at: offset + 8)
        let ticks = UInt64(p.u32(12, swapped: swapped)) << 32 | UInt64(p.u32(16, swapped: swapped))
        let captured = Int(p.u32(20, swapped: swapped))
        let original = Int(p.u32(24, swapped: swapped))
        let padded = (captured + 3) & ~3
        if 28 + padded + 4 > block.count {
            throw .corrupt(offset: offset + 20,
                           reason: "captured length \(captured) does not fit in an enhanced packet block of \(block.count) bytes")
        }
        var comment: UnsafeRawBufferPointer?
        if 28 + padded + 4 < block.count {
            comment = firstComment(block, from: 28 + padded)
        }
        return PacketRecord(
            frameNumber: frameNumber,
            timestamp: iface.scale.time(ticks, offsetSeconds: iface.offsetSeconds),
            originalLength: original,
            interfaceID: iface.globalIndex,
            linkType: iface.linkType,
            bytes: UnsafeRawBufferPointer(start: p + 28, count: captured),
            fileOffset: offset,
            commentBytes: comment)
    }

    private func simplePacket(_ block: UnsafeRawBufferPointer, offset: Int, frameNumber: UInt64) throws(CaptureError) -> PacketRecord {
        let p = block.baseAddress.unsafelyUnwrapped
        if block.count < 16 {
            throw .corrupt(offset: offset + 4, reason: "simple packet block length \(block.count) is shorter than 16")
        }
        let iface = try interface(0, at: offset)
        let original = Int(p.u32(8, swapped: swapped))
        var captured = min(original, block.count - 16)
        if iface.snapLength > 0 { captured = min(captured, Int(iface.snapLength)) }
        // A simple packet block has no timestamp.
        return PacketRecord(frameNumber: frameNumber, timestamp: 0, originalLength: original,
                            interfaceID: iface.globalIndex, linkType: iface.linkType,
                            bytes: UnsafeRawBufferPointer(start: p + 12, count: captured),
                            fileOffset: offset, commentBytes: nil)
    }

    private func obsoletePacket(_ block: UnsafeRawBufferPointer, offset: Int, frameNumber: UInt64) throws(CaptureError) -> PacketRecord {
        let p = block.baseAddress.unsafelyUnwrapped
        if block.count < 32 {
            throw .corrupt(offset: offset + 4, reason: "packet block length \(block.count) is shorter than 32")
        }
        let iface = try interface(UInt32(p.u16(8, swapped: swapped)), at: offset + 8)
        let ticks = UInt64(p.u32(12, swapped: swapped)) << 32 | UInt64(p.u32(16, swapped: swapped))
        let captured = Int(p.u32(20, swapped: swapped))
        let original = Int(p.u32(24, swapped: swapped))
        let padded = (captured + 3) & ~3
        if 28 + padded + 4 > block.count {
            throw .corrupt(offset: offset + 20,
                           reason: "captured length \(captured) does not fit in a packet block of \(block.count) bytes")
        }
        return PacketRecord(frameNumber: frameNumber,
                            timestamp: iface.scale.time(ticks, offsetSeconds: iface.offsetSeconds),
                            originalLength: original, interfaceID: iface.globalIndex, linkType: iface.linkType,
                            bytes: UnsafeRawBufferPointer(start: p + 28, count: captured),
                            fileOffset: offset, commentBytes: nil)
    }

    // MARK: options

    /// Walks the options of a block, from `start` to the trailing length.
    private func forEachOption(_ block: UnsafeRawBufferPointer, from start: Int, blockOffset: Int,
                               _ body: (UInt16, UnsafeRawBufferPointer) throws(CaptureError) -> Void) throws(CaptureError) {
        let p = block.baseAddress.unsafelyUnwrapped
        let end = block.count - 4
        var at = start
        while at + 4 <= end {
            let code = p.u16(at, swapped: swapped)
            let length = Int(p.u16(at + 2, swapped: swapped))
            if code == 0 { return }  // opt_endofopt
            if at + 4 + length > end {
                throw .corrupt(offset: blockOffset + at + 2,
                               reason: "option \(code) length \(length) runs past the end of its block")
            }
            try body(code, UnsafeRawBufferPointer(start: p + at + 4, count: length))
            at += 4 + ((length + 3) & ~3)
        }
    }

    /// The first `opt_comment` among packet-block options, or nil. Malformed options end the walk
    /// silently: a broken comment should not make the packet unreadable.
    private func firstComment(_ block: UnsafeRawBufferPointer, from start: Int) -> UnsafeRawBufferPointer? {
        let p = block.baseAddress.unsafelyUnwrapped
        let end = block.count - 4
        var at = start
        while at + 4 <= end {
            let code = p.u16(at, swapped: swapped)
            let length = Int(p.u16(at + 2, swapped: swapped))
            if code == 0 || at + 4 + length > end { return nil }
            if code == 1 { return UnsafeRawBufferPointer(start: p + at + 4, count: length) }
            at += 4 + ((length + 3) & ~3)
        }
        return nil
    }
}

/// Converts pcapng timestamp ticks to nanoseconds for one `if_tsresol`.
struct TimestampScale {
    private enum Kind { case multiply(UInt64), divide(UInt64), binary(UInt64) }
    private let kind: Kind

    /// `resolution` is the raw `if_tsresol` byte: top bit clear = 10^-n seconds, set = 2^-n.
    init?(resolution: UInt8) {
        let exponent = UInt64(resolution & 0x7F)
        if resolution & 0x80 == 0 {
            guard exponent <= 19 else { return nil }
            if exponent <= 9 {
                var factor: UInt64 = 1
                for _ in 0..<(9 - exponent) { factor *= 10 }
                kind = .multiply(factor)
            } else {
                var divisor: UInt64 = 1
                for _ in 0..<(exponent - 9) { divisor *= 10 }
                kind = .divide(divisor)
            }
        } else {
            guard exponent <= 63 else { return nil }
            kind = .binary(exponent)
        }
    }

    /// Nanoseconds since the epoch for `ticks` and the interface's `if_tsoffset`, saturating: a
    /// damaged or hostile file's time beyond 2262 (Int64 nanoseconds) stays the latest time
    /// there is, instead of wrapping round to before the capture began.
    @inline(__always)
    func time(_ ticks: UInt64, offsetSeconds: Int64) -> Int64 {
        let offset = offsetSeconds.multipliedReportingOverflow(by: 1_000_000_000)
        let sum = nanoseconds(ticks).addingReportingOverflow(offset.overflow ? (offsetSeconds < 0 ? .min : .max) : offset.partialValue)
        return sum.overflow ? (offsetSeconds < 0 ? .min : .max) : sum.partialValue
    }

    @inline(__always)
    func nanoseconds(_ ticks: UInt64) -> Int64 {
        switch kind {
        case let .multiply(factor):
            let product = ticks.multipliedReportingOverflow(by: factor)
            return product.overflow ? .max : Int64(clamping: product.partialValue)
        case let .divide(divisor):
            return Int64(clamping: ticks / divisor)
        case let .binary(shift):
            let whole = (ticks >> shift).multipliedReportingOverflow(by: 1_000_000_000)
            let fraction = ticks & ((1 << shift) &- 1)
            let product = fraction.multipliedFullWidth(by: 1_000_000_000)
            // (product >> shift) over 128 bits; shift < 64.
            let low = shift == 0 ? product.low : (product.low >> shift) | (product.high << (64 - shift))
            let sum = whole.partialValue.addingReportingOverflow(low)
            return whole.overflow || sum.overflow ? .max : Int64(clamping: sum.partialValue)
        }
    }
}

/// An interface described in a pcapng file (pcap files have one implicit interface).
public struct CaptureInterface: Sendable, Equatable {
    /// Index used by `PacketRecord.interfaceID` (numbered across all sections of the file).
    public var id: UInt32
    public var linkType: LinkType
    public var snapLength: UInt32
    /// Raw `if_tsresol` byte (6 = microseconds, 9 = nanoseconds).
    public var timestampResolution: UInt8
    public var name: String?
    public var description: String?
    public var fcsLength: Int?
}

/// What the capturing tool itself counted on one interface (pcapng Interface Statistics Block):
/// packets it dropped never reach the file, and loss found in the capture may be the capture's.
public struct CaptureInterfaceStatistics: Sendable, Equatable, Codable {
    public var interfaceID: UInt32
    public var received: UInt64?
    public var droppedByInterface: UInt64?
    public var droppedByOS: UInt64?
    /// When the tool began and stopped listening (`isb_starttime`, `isb_endtime`), ns since
    /// the epoch: the window in which a packet missing from the file was really not seen.
    public var startTime: Int64?
    public var endTime: Int64?

    public init(interfaceID: UInt32, received: UInt64? = nil, droppedByInterface: UInt64? = nil, droppedByOS: UInt64? = nil,
                startTime: Int64? = nil, endTime: Int64? = nil) {
        self.interfaceID = interfaceID
        self.received = received
        self.droppedByInterface = droppedByInterface
        self.droppedByOS = droppedByOS
        self.startTime = startTime
        self.endTime = endTime
    }

    /// Packets the capture lost, as far as the tool knew: at least the larger count, since
    /// tools differ on whether isb_ifdrop already includes the operating system's drops
    /// (dumpcap's and Faultline's do), and adding both would count those twice.
    public var dropped: UInt64 { max(droppedByInterface ?? 0, droppedByOS ?? 0) }
}
