/// Builds one netlink message: a 16-byte `nlmsghdr`, a family header, then attributes, each padded
/// to 4 bytes (NLMSG_ALIGN / NLA_ALIGN). Pure Swift bytes; the socket layer sends them.
public struct NetlinkMessage: Sendable {
    public private(set) var bytes: [UInt8]

    public static let headerLength = 16

    public init(type: UInt16, flags: UInt16, sequence: UInt32 = 0) {
        bytes = []
        bytes.reserveCapacity(256)
        appendScalar(UInt32(0))        // nlmsg_len, fixed in `finished`
        appendScalar(type)
        appendScalar(flags)
        appendScalar(sequence)
        appendScalar(UInt32(0))        // nlmsg_pid: the kernel fills it
    }

    public var sequence: UInt32 {
        get { readScalar(at: 8) }
        set { writeScalar(newValue, at: 8) }
    }

    /// The message with its length field set.
    public var finished: [UInt8] {
        var copy = self
        copy.writeScalar(UInt32(copy.bytes.count), at: 0)
        return copy.bytes
    }

    // MARK: family headers and attributes

    /// Appends a fixed family header (ifinfomsg, tcmsg, ...) given as raw bytes, padded.
    public mutating func appendHeader(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
        pad()
    }

    public mutating func appendScalar<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func put(_ type: UInt16, bytes payload: [UInt8]) {
        appendScalar(UInt16(4 + payload.count))
        appendScalar(type)
        bytes.append(contentsOf: payload)
        pad()
    }
    public mutating func put(_ type: UInt16, u8 value: UInt8) { put(type, bytes: [value]) }
    public mutating func put(_ type: UInt16, u16 value: UInt16) { put(type, bytes: Self.le(value)) }
    public mutating func put(_ type: UInt16, u32 value: UInt32) { put(type, bytes: Self.le(value)) }
    public mutating func put(_ type: UInt16, u64 value: UInt64) { put(type, bytes: Self.le(value)) }
    public mutating func put(_ type: UInt16, s32 value: Int32) { put(type, bytes: Self.le(value)) }
    /// A NUL-terminated string attribute (IFLA_IFNAME, TCA_KIND, ...).
    public mutating func put(_ type: UInt16, string: String) { put(type, bytes: Array(string.utf8) + [0]) }
    public mutating func putFlag(_ type: UInt16) { put(type, bytes: []) }

    /// A nested attribute; `NLA_F_NESTED` is not set, matching iproute2.
    public mutating func nest(_ type: UInt16, _ body: (inout NetlinkMessage) -> Void) {
        let start = bytes.count
        appendScalar(UInt16(0))
        appendScalar(type)
        body(&self)
        writeScalar(UInt16(bytes.count - start), at: start)
    }

    public static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    private mutating func writeScalar<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (index, byte) in raw.enumerated() { bytes[offset + index] = byte }
        }
    }

    private func readScalar<T: FixedWidthInteger>(at offset: Int) -> T {
        var value: T = 0
        for index in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(bytes[offset + index]) }
        return value
    }
}

/// Walks netlink attributes (TLVs) in a byte range. Malformed lengths end the walk.
public struct NetlinkAttributes: Sequence, Sendable {
    public let bytes: ArraySlice<UInt8>
    public init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    public struct Attribute: Sendable {
        /// Type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits.
        public let type: UInt16
        public let payload: ArraySlice<UInt8>
        public var u8: UInt8? { payload.first }
        public var u16: UInt16? { scalar() }
        public var u32: UInt32? { scalar() }
        public var u64: UInt64? { scalar() }
        public var string: String {
            String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
        }
        public var nested: NetlinkAttributes { NetlinkAttributes(payload) }
        func scalar<T: FixedWidthInteger>() -> T? {
            guard payload.count >= MemoryLayout<T>.size else { return nil }
            var value: T = 0
            let base = payload.startIndex
            for index in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(payload[base + index]) }
            return value
        }
    }

    public func makeIterator() -> AnyIterator<Attribute> {
        var offset = bytes.startIndex
        let end = bytes.endIndex
        return AnyIterator {
            guard offset + 4 <= end else { return nil }
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            let rawType = UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8
            guard length >= 4, offset + length <= end else { return nil }
            let attribute = Attribute(type: rawType & 0x3fff, payload: bytes[(offset + 4)..<(offset + length)])
            offset += (length + 3) & ~3
            return attribute
        }
    }

    public func first(_ type: UInt16) -> Attribute? { first { $0.type == type } }
}

/// Little-endian reads from a byte slice, used for family headers in replies.
extension ArraySlice where Element == UInt8 {
    func le<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        var value: T = 0
        let base = startIndex + offset
        guard base + MemoryLayout<T>.size <= endIndex else { return 0 }
        for index in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(self[base + index]) }
        return value
    }
}
