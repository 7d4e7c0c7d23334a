/// Reads netlink bytes: the messages of a datagram and the attributes (TLVs) of a payload, over
/// an `ArraySlice` of a reply or, on the userspace engine's per-packet path, a slice of the
/// receive buffer itself (no copy; indices stay those of the buffer, so a payload found here can
/// be changed in place). The one parser of netlink bytes; `NetlinkBuilder` is the one builder.

/// Bytes the parser reads: a random-access byte slice whose slices are of the same type, with
/// fixed-width little-endian loads implemented for the type itself (so the walk costs a few
/// direct calls per message even where generic code is not specialized, as in debug builds).
public protocol NetlinkByteSource: RandomAccessCollection
where Element == UInt8, Index == Int, SubSequence == Self {
    /// The little-endian value at `index` (an index of the collection), nil when fewer than
    /// its size of bytes remain.
    func littleEndianUInt16(at index: Int) -> UInt16?
    func littleEndianUInt32(at index: Int) -> UInt32?
    func littleEndianUInt64(at index: Int) -> UInt64?
}

extension ArraySlice: NetlinkByteSource where Element == UInt8 {
    public func littleEndianUInt16(at index: Int) -> UInt16? { load(UInt16.self, at: index) }
    public func littleEndianUInt32(at index: Int) -> UInt32? { load(UInt32.self, at: index) }
    public func littleEndianUInt64(at index: Int) -> UInt64? { load(UInt64.self, at: index) }

    private func load<T: FixedWidthInteger>(_ type: T.Type, at index: Int) -> T? {
        guard index >= startIndex, endIndex - index >= MemoryLayout<T>.size else { return nil }
        return withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: index - startIndex, as: T.self)) }
    }
}

extension Slice: NetlinkByteSource where Base == UnsafeRawBufferPointer {
    public func littleEndianUInt16(at index: Int) -> UInt16? {
        guard index >= startIndex, endIndex - index >= 2 else { return nil }
        return UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt16.self))
    }
    public func littleEndianUInt32(at index: Int) -> UInt32? {
        guard index >= startIndex, endIndex - index >= 4 else { return nil }
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt32.self))
    }
    public func littleEndianUInt64(at index: Int) -> UInt64? {
        guard index >= startIndex, endIndex - index >= 8 else { return nil }
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
    }
}

/// The messages of one netlink datagram, in order (nlmsghdr walk, NLMSG_ALIGN). A malformed
/// length ends the walk.
public struct NetlinkMessages<Bytes: NetlinkByteSource>: Sequence, IteratorProtocol {
    public let bytes: Bytes
    private var index: Int

    public init(_ bytes: Bytes) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    /// One message: its nlmsghdr fields and the payload after the header.
    public struct Message {
        public let type: UInt16
        public let flags: UInt16
        public let sequence: UInt32
        public let portID: UInt32
        /// The bytes after the 16-byte header (the message's family header and attributes).
        public let payload: Bytes

        /// NLMSG_ERROR: the error code (0 is an ACK, else a negative errno); nil for other types.
        public var errorCode: Int32? {
            guard type == NetlinkMessageType.error else { return nil }
            return Int32(bitPattern: payload.littleEndianUInt32(at: payload.startIndex) ?? 0)
        }

        /// NLMSG_ERROR: the sequence number of the request it answers (in the echoed header).
        public var acknowledgedSequence: UInt32? {
            guard type == NetlinkMessageType.error else { return nil }
            return payload.littleEndianUInt32(at: payload.startIndex + 4 + 8)
        }

        /// NLMSG_ERROR with NLM_F_ACK_TLVS: the kernel's extended-ack text. With NETLINK_CAP_ACK
        /// the payload is the error code, the request's nlmsghdr, then the TLVs.
        public var extendedAckMessage: String? {
            let tlvs = payload.startIndex + 4 + NetlinkBuilder.headerLength
            guard type == NetlinkMessageType.error, flags & NetlinkMessageType.ackTLVsFlag != 0,
                  tlvs < payload.endIndex else { return nil }
            return NetlinkAttributes(payload[tlvs..<payload.endIndex]).first(NetlinkMessageType.extendedAckMessageAttribute)?.string
        }
    }

    public mutating func next() -> Message? {
        let end = bytes.endIndex
        guard end - index >= NetlinkBuilder.headerLength, let length32 = bytes.littleEndianUInt32(at: index) else { return nil }
        let length = Int(length32)
        guard length >= NetlinkBuilder.headerLength, length <= end - index else { return nil }
        let message = Message(type: bytes.littleEndianUInt16(at: index + 4) ?? 0,
                              flags: bytes.littleEndianUInt16(at: index + 6) ?? 0,
                              sequence: bytes.littleEndianUInt32(at: index + 8) ?? 0,
                              portID: bytes.littleEndianUInt32(at: index + 12) ?? 0,
                              payload: bytes[(index + NetlinkBuilder.headerLength)..<(index + length)])
        index += (length + 3) & ~3
        return message
    }
}

/// The netlink message types and flags every family shares (linux/netlink.h).
public enum NetlinkMessageType {
    public static let noop: UInt16 = 1            // NLMSG_NOOP
    public static let error: UInt16 = 2           // NLMSG_ERROR (also the ACK)
    public static let done: UInt16 = 3            // NLMSG_DONE
    public static let ackTLVsFlag: UInt16 = 0x200 // NLM_F_ACK_TLVS
    public static let extendedAckMessageAttribute: UInt16 = 1   // NLMSGERR_ATTR_MSG
}

/// The attributes (TLVs) in a byte range, in order (NLA_ALIGN). Malformed lengths end the walk;
/// `validated` says where instead.
public struct NetlinkAttributes<Bytes: NetlinkByteSource>: Sequence, IteratorProtocol {
    public let bytes: Bytes
    /// Offset of `bytes.startIndex` within the whole message, for the offsets errors name.
    public let baseOffset: Int
    private var index: Int

    public init(_ bytes: Bytes, baseOffset: Int = 0) {
        self.bytes = bytes
        self.baseOffset = baseOffset
        index = bytes.startIndex
    }

    public struct Attribute {
        /// Type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits.
        public let type: UInt16
        /// NLA_F_NESTED was set.
        public let isNested: Bool
        /// Offset of the attribute header within the whole message.
        public let offset: Int
        /// The attribute's whole bytes (header and payload, unpadded).
        public let raw: Bytes

        /// The bytes after the 4-byte header.
        public var payload: Bytes { raw[(raw.startIndex + 4)..<raw.endIndex] }
        public var u8: UInt8? { raw.count > 4 ? raw[raw.startIndex + 4] : nil }
        public var u16: UInt16? { raw.littleEndianUInt16(at: raw.startIndex + 4) }
        public var u32: UInt32? { raw.littleEndianUInt32(at: raw.startIndex + 4) }
        public var u64: UInt64? { raw.littleEndianUInt64(at: raw.startIndex + 4) }
        /// A 32-bit value in network order (nfnetlink).
        public var be32: UInt32? { be32(at: 0) }
        /// A 32-bit value in network order at `offset` in the payload (nfnetlink structs).
        public func be32(at offset: Int) -> UInt32? {
            raw.littleEndianUInt32(at: raw.startIndex + 4 + offset).map { $0.byteSwapped }
        }
        /// A 64-bit value in network order at `offset` in the payload (nfnetlink structs).
        public func be64(at offset: Int) -> UInt64? {
            raw.littleEndianUInt64(at: raw.startIndex + 4 + offset).map { $0.byteSwapped }
        }
        public var string: String {
            String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
        }
        /// The attributes nested in this one, leniently.
        public var nested: NetlinkAttributes<Bytes> { NetlinkAttributes(payload, baseOffset: offset + 4) }

        /// A field of the payload's struct (`what` names it for the error: "TCA_NETEM_CORR.loss_corr").
        public func field<T: FixedWidthInteger>(_ type: T.Type, at fieldOffset: Int, _ what: String) throws(NetlinkDecodingError) -> T {
            try NetlinkBytes.field(T.self, in: payload, at: fieldOffset, baseOffset: offset + 4, what)
        }

        /// The attributes nested in this one, or where they stop being attributes.
        public func attributes() throws(NetlinkDecodingError) -> [Attribute] {
            try nested.validated()
        }
    }

    public mutating func next() -> Attribute? {
        let end = bytes.endIndex
        guard end - index >= 4, let length16 = bytes.littleEndianUInt16(at: index),
              let rawType = bytes.littleEndianUInt16(at: index + 2) else { return nil }
        let length = Int(length16)
        guard length >= 4, length <= end - index else { return nil }
        let attribute = Attribute(type: rawType & 0x3fff, isNested: rawType & 0x8000 != 0,
                                  offset: baseOffset + index - bytes.startIndex, raw: bytes[index..<(index + length)])
        index += (length + 3) & ~3
        return attribute
    }

    public func first(_ type: UInt16) -> Attribute? {
        for attribute in NetlinkAttributes(bytes, baseOffset: baseOffset) where attribute.type == type { return attribute }
        return nil
    }

    /// Every attribute, or where the bytes stop being attributes.
    public func validated() throws(NetlinkDecodingError) -> [Attribute] {
        var result: [Attribute] = []
        var at = bytes.startIndex
        let end = bytes.endIndex
        while at < end {
            let offset = baseOffset + at - bytes.startIndex
            guard end - at >= 4, let length16 = bytes.littleEndianUInt16(at: at),
                  let rawType = bytes.littleEndianUInt16(at: at + 2) else {
                throw NetlinkDecodingError(offset: offset, reason: "attribute header: \(end - at) trailing bytes, expected 4 or none")
            }
            let length = Int(length16)
            guard length >= 4, length <= end - at else {
                throw NetlinkDecodingError(offset: offset,
                    reason: "attribute type \(rawType & 0x3fff): length \(length) runs past the end (\(end - at) bytes left)")
            }
            result.append(Attribute(type: rawType & 0x3fff, isNested: rawType & 0x8000 != 0, offset: offset,
                                    raw: bytes[at..<(at + length)]))
            at += (length + 3) & ~3
        }
        return result
    }
}

/// Fixed-width fields of structs in netlink bytes (host order, little-endian).
public enum NetlinkBytes {
    /// The field at `offset` from `bytes.startIndex`, with an error saying which field was cut
    /// short and where (`what`: the struct member, "tcmsg.tcm_ifindex"); `baseOffset` is the
    /// offset of `bytes.startIndex` in the whole message.
    public static func field<T: FixedWidthInteger, Bytes: NetlinkByteSource>(_ type: T.Type, in bytes: Bytes, at offset: Int,
                                                                           baseOffset: Int = 0, _ what: String) throws(NetlinkDecodingError) -> T {
        let size = MemoryLayout<T>.size
        guard offset >= 0, bytes.count - offset >= size else {
            throw NetlinkDecodingError(offset: baseOffset + offset,
                                       reason: "\(what): needs \(size) bytes, only \(max(0, bytes.count - offset)) left")
        }
        var value: T = 0
        for i in stride(from: size - 1, through: 0, by: -1) {
            value = value << 8 | T(truncatingIfNeeded: bytes[bytes.startIndex + offset + i])
        }
        return value
    }
}

/// Bytes that do not parse as the netlink message they claim to be.
public struct NetlinkDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset within the message (or the payload, when decoding a payload alone).
    public var offset: Int
    public var reason: String
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }
    public var description: String { "byte \(offset): \(reason)" }
}

extension ArraySlice where Element == UInt8 {
    /// A host-order field at `offset` from the slice's start (0 when the slice is too short):
    /// the family headers of replies (ifinfomsg, rtmsg, tcmsg, inet_diag_msg).
    func le<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        (try? NetlinkBytes.field(T.self, in: self, at: offset, "")) ?? 0
    }
}
