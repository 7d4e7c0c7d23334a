/// Builds netlink bytes: a whole message (a 16-byte `nlmsghdr`, a family header, attributes) or
/// an attribute payload on its own (a qdisc's TCA_OPTIONS). Family headers and attributes are
/// padded to 4 bytes (NLMSG_ALIGN / NLA_ALIGN); scalars are host order (little-endian) unless
/// written with `bigEndian`. Pure Swift bytes: the socket layer sends them. The one builder of
/// netlink bytes (rtnetlink, tc, nfnetlink_queue, sock_diag).
public struct NetlinkBuilder: Sendable {
    public private(set) var bytes: [UInt8]
    /// Whether `bytes` start with an nlmsghdr whose length `finished` sets.
    public let isMessage: Bool

    /// sizeof(struct nlmsghdr).
    public static let headerLength = 16

    /// A message: the nlmsghdr (length set by `finished`, port id left to the kernel).
    public init(type: UInt16, flags: UInt16, sequence: UInt32 = 0) {
        bytes = []
        bytes.reserveCapacity(256)
        isMessage = true
        append(UInt32(0))        // nlmsg_len, set in `finished`
        append(type)
        append(flags)
        append(sequence)
        append(UInt32(0))        // nlmsg_pid: the kernel fills it
    }

    /// Attributes (and fixed structs) without a message header, e.g. a TCA_OPTIONS payload.
    public init() {
        bytes = []
        isMessage = false
    }

    public var type: UInt16 { isMessage ? readScalar(at: 4) : 0 }
    public var flags: UInt16 { isMessage ? readScalar(at: 6) : 0 }

    public var sequence: UInt32 {
        get { isMessage ? readScalar(at: 8) : 0 }
        set { if isMessage { writeScalar(newValue, at: 8) } }
    }

    /// The bytes, with the message's length field set.
    public var finished: [UInt8] {
        guard isMessage else { return bytes }
        var copy = self
        copy.writeScalar(UInt32(copy.bytes.count), at: 0)
        return copy.bytes
    }

    // MARK: fixed structs

    /// Appends a fixed family header (ifinfomsg, tcmsg, nfgenmsg, ...) given as raw bytes, padded.
    public mutating func appendHeader(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
        pad()
    }

    /// A scalar in host order (netlink's own fields and most struct members).
    public mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// A scalar in network order (nfnetlink's attribute values, nfgenmsg.res_id).
    public mutating func append<T: FixedWidthInteger>(bigEndian value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Raw bytes, unpadded.
    public mutating func append(contentsOf raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }

    // MARK: attributes

    /// One attribute: length (header + payload, unpadded), type, payload, padding.
    public mutating func put(_ type: UInt16, bytes payload: [UInt8]) {
        append(UInt16(4 + payload.count))
        append(type)
        bytes.append(contentsOf: payload)
        pad()
    }
    public mutating func put(_ type: UInt16, u8 value: UInt8) { put(type, bytes: [value]) }
    public mutating func put(_ type: UInt16, u16 value: UInt16) { put(type, bytes: Self.le(value)) }
    public mutating func put(_ type: UInt16, u32 value: UInt32) { put(type, bytes: Self.le(value)) }
    public mutating func put(_ type: UInt16, u64 value: UInt64) { put(type, bytes: Self.le(value)) }
    public mutating func put(_ type: UInt16, s32 value: Int32) { put(type, bytes: Self.le(value)) }
    /// A 32-bit attribute in network order (nfnetlink).
    public mutating func put(_ type: UInt16, be32 value: UInt32) { put(type, bytes: Self.be(value)) }
    /// A NUL-terminated string attribute (IFLA_IFNAME, TCA_KIND, ...).
    public mutating func put(_ type: UInt16, string: String) { put(type, bytes: Array(string.utf8) + [0]) }
    public mutating func putFlag(_ type: UInt16) { put(type, bytes: []) }

    /// An attribute whose payload `body` builds (a struct, or attributes nested in it); its
    /// length covers the payload and the padding inside it. The type is written as given:
    /// `NLA_F_NESTED` only when the caller sets it (iproute2 sets it for some attributes only).
    public mutating func nest(_ type: UInt16, _ body: (inout NetlinkBuilder) -> Void) {
        let start = bytes.count
        append(UInt16(0))
        append(type)
        body(&self)
        writeScalar(UInt16(bytes.count - start), at: start)
        pad()
    }

    public static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    public static func be<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
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
