/// Reads netlink bytes: the messages of a datagram and the attributes (TLVs) of a payload, over
/// any byte collection with integer indices (an `ArraySlice` of a reply, or the receive buffer
/// itself on the userspace engine's per-packet path, without copying). The one parser of
/// netlink bytes; `NetlinkBuilder` is the one builder.

/// The messages of one netlink datagram, in order (nlmsghdr walk, NLMSG_ALIGN). A malformed
/// length ends the walk.
public struct NetlinkMessages<Bytes: RandomAccessCollection>: Sequence, IteratorProtocol
where Bytes.Element == UInt8, Bytes.Index == Int {
    @usableFromInline let bytes: Bytes
    @usableFromInline var offset: Int

    @inlinable
    public init(_ bytes: Bytes) {
        self.bytes = bytes
        offset = bytes.startIndex
    }

    /// One message: its nlmsghdr fields and the payload after the header.
    public struct Message {
        public let type: UInt16
        public let flags: UInt16
        public let sequence: UInt32
        public let portID: UInt32
        /// Index of the nlmsghdr in the datagram's bytes.
        public let start: Int
        /// The bytes after the 16-byte header (the message's family header and attributes).
        public let payload: Bytes.SubSequence

        @inlinable
        init(type: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32, start: Int, payload: Bytes.SubSequence) {
            self.type = type
            self.flags = flags
            self.sequence = sequence
            self.portID = portID
            self.start = start
            self.payload = payload
        }

        /// NLMSG_ERROR: the error code (0 is an ACK, else a negative errno); nil for other types.
        @inlinable
        public var errorCode: Int32? {
            guard type == NetlinkMessageType.error else { return nil }
            return NetlinkBytes.scalar(Int32.self, in: payload, at: payload.startIndex) ?? 0
        }

        /// NLMSG_ERROR: the sequence number of the request it answers (the echoed header).
        public var acknowledgedSequence: UInt32? {
            guard type == NetlinkMessageType.error else { return nil }
            return NetlinkBytes.scalar(UInt32.self, in: payload, at: payload.startIndex + 4 + 8)
        }

        /// NLMSG_ERROR with NLM_F_ACK_TLVS: the kernel's extended-ack text. With NETLINK_CAP_ACK
        /// the payload is the error code, the request's nlmsghdr, then the TLVs.
        public var extendedAckMessage: String? {
            guard type == NetlinkMessageType.error, flags & NetlinkMessageType.ackTLVsFlag != 0,
                  payload.count > 4 + NetlinkBuilder.headerLength else { return nil }
            let tlvs = payload.dropFirst(4 + NetlinkBuilder.headerLength)
            return NetlinkAttributes(tlvs).first(NetlinkMessageType.extendedAckMessageAttribute)?.string
        }
    }

    @inlinable
    public mutating func next() -> Message? {
        let end = bytes.endIndex
        guard offset + NetlinkBuilder.headerLength <= end else { return nil }
        let length = Int(NetlinkBytes.scalar(UInt32.self, in: bytes, at: offset) ?? 0)
        guard length >= NetlinkBuilder.headerLength, length <= end - offset else { return nil }
        let message = Message(type: NetlinkBytes.scalar(UInt16.self, in: bytes, at: offset + 4) ?? 0,
                              flags: NetlinkBytes.scalar(UInt16.self, in: bytes, at: offset + 6) ?? 0,
                              sequence: NetlinkBytes.scalar(UInt32.self, in: bytes, at: offset + 8) ?? 0,
                              portID: NetlinkBytes.scalar(UInt32.self, in: bytes, at: offset + 12) ?? 0,
                              start: offset,
                              payload: bytes[(offset + NetlinkBuilder.headerLength)..<(offset + length)])
        offset += (length + 3) & ~3
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
public struct NetlinkAttributes<Bytes: RandomAccessCollection>: Sequence, IteratorProtocol
where Bytes.Element == UInt8, Bytes.Index == Int {
    public let bytes: Bytes
    /// Offset of `bytes.startIndex` within the whole message, for the offsets errors name.
    public let baseOffset: Int
    @usableFromInline var index: Int

    @inlinable
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
        public let raw: Bytes.SubSequence

        @inlinable
        init(type: UInt16, isNested: Bool, offset: Int, raw: Bytes.SubSequence) {
            self.type = type
            self.isNested = isNested
            self.offset = offset
            self.raw = raw
        }

        @inlinable
        public var payload: Bytes.SubSequence { raw.dropFirst(4) }
        public var u8: UInt8? { payload.first }
        public var u16: UInt16? { NetlinkBytes.scalar(UInt16.self, in: payload, at: payload.startIndex) }
        @inlinable
        public var u32: UInt32? { NetlinkBytes.scalar(UInt32.self, in: payload, at: payload.startIndex) }
        public var u64: UInt64? { NetlinkBytes.scalar(UInt64.self, in: payload, at: payload.startIndex) }
        /// A 32-bit value in network order (nfnetlink).
        @inlinable
        public var be32: UInt32? { be32(at: 0) }
        /// A 32-bit value in network order at `offset` in the payload (nfnetlink structs).
        @inlinable
        public func be32(at offset: Int) -> UInt32? {
            NetlinkBytes.scalar(UInt32.self, in: payload, at: payload.startIndex + offset).map { $0.byteSwapped }
        }
        /// A 64-bit value in network order at `offset` in the payload (nfnetlink).
        @inlinable
        public func be64(at offset: Int) -> UInt64? {
            NetlinkBytes.scalar(UInt64.self, in: payload, at: payload.startIndex + offset).map { $0.byteSwapped }
        }
        public var string: String {
            String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
        }
        /// The attributes nested in this one, leniently.
        public var nested: NetlinkAttributes<Bytes.SubSequence> {
            NetlinkAttributes<Bytes.SubSequence>(payload, baseOffset: offset + 4)
        }

        /// A field of the payload's struct (`what` names it for the error: "TCA_NETEM_CORR.loss_corr").
        public func field<T: FixedWidthInteger>(_ type: T.Type, at fieldOffset: Int, _ what: String) throws(NetlinkDecodingError) -> T {
            try NetlinkBytes.field(T.self, in: payload, at: fieldOffset, baseOffset: offset + 4, what)
        }

        /// The attributes nested in this one, or where they stop being attributes.
        public func attributes() throws(NetlinkDecodingError) -> [NetlinkAttributes<Bytes.SubSequence>.Attribute] {
            try nested.validated()
        }
    }

    @inlinable
    public mutating func next() -> Attribute? {
        let end = bytes.endIndex
        guard end - index >= 4 else { return nil }
        let length = Int(NetlinkBytes.scalar(UInt16.self, in: bytes, at: index) ?? 0)
        let rawType = NetlinkBytes.scalar(UInt16.self, in: bytes, at: index + 2) ?? 0
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
            guard end - at >= 4 else {
                throw NetlinkDecodingError(offset: offset, reason: "attribute header: \(end - at) trailing bytes, expected 4 or none")
            }
            let length = Int(NetlinkBytes.scalar(UInt16.self, in: bytes, at: at) ?? 0)
            let rawType = NetlinkBytes.scalar(UInt16.self, in: bytes, at: at + 2) ?? 0
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

/// Fixed-width reads from netlink bytes (host order, little-endian).
public enum NetlinkBytes {
    /// The scalar at `index`, or nil when fewer bytes remain.
    @inlinable
    public static func scalar<T: FixedWidthInteger, Bytes: RandomAccessCollection>(_ type: T.Type, in bytes: Bytes, at index: Int) -> T?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let size = MemoryLayout<T>.size
        guard index >= bytes.startIndex, bytes.endIndex - index >= size else { return nil }
        var value: T = 0
        for i in stride(from: size - 1, through: 0, by: -1) { value = value << 8 | T(truncatingIfNeeded: bytes[index + i]) }
        return value
    }

    /// As `scalar`, with an error saying which field was cut short and where (`what`: the
    /// struct member, "tcmsg.tcm_ifindex"). `offset` is relative to `bytes.startIndex`, and
    /// `baseOffset` the offset of `bytes.startIndex` in the whole message.
    public static func field<T: FixedWidthInteger, Bytes: RandomAccessCollection>(_ type: T.Type, in bytes: Bytes, at offset: Int,
                                                                                  baseOffset: Int = 0, _ what: String) throws(NetlinkDecodingError) -> T
    where Bytes.Element == UInt8, Bytes.Index == Int {
        guard offset >= 0, let value = scalar(T.self, in: bytes, at: bytes.startIndex + offset) else {
            let left = max(0, bytes.count - offset)
            throw NetlinkDecodingError(offset: baseOffset + offset,
                                       reason: "\(what): needs \(MemoryLayout<T>.size) bytes, only \(left) left")
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
        NetlinkBytes.scalar(T.self, in: self, at: startIndex + offset) ?? 0
    }
}
