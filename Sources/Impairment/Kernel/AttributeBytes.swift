/// Little-endian byte building for qdisc option payloads: fixed structs and netlink attributes
/// (4-byte header, payload, padding to NLA_ALIGN = 4). The enclosing nlmsghdr/tcmsg/TCA_KIND/
/// TCA_OPTIONS framing comes from the Netlink module's `NetlinkMessage`.
struct AttributeBytes {
    private(set) var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(contentsOf raw: [UInt8]) { bytes.append(contentsOf: raw) }

    /// One attribute: length (header + payload, unpadded), type, payload, padding.
    mutating func put(_ type: UInt16, _ payload: [UInt8]) {
        append(UInt16(4 + payload.count))
        append(type)
        bytes.append(contentsOf: payload)
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    mutating func put(_ type: UInt16, _ build: (inout AttributeBytes) -> Void) {
        var inner = AttributeBytes()
        build(&inner)
        put(type, inner.bytes)
    }

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

/// Reads little-endian scalars and attributes, reporting byte offsets on malformed input.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    /// Offset of `bytes.startIndex` within the whole message, for error messages.
    let baseOffset: Int

    init(_ bytes: ArraySlice<UInt8>, baseOffset: Int = 0) {
        self.bytes = bytes
        self.baseOffset = baseOffset
    }

    func scalar<T: FixedWidthInteger>(_ type: T.Type, at offset: Int, _ what: String) throws(KernelDecodingError) -> T {
        let start = bytes.startIndex + offset
        guard offset >= 0, start + MemoryLayout<T>.size <= bytes.endIndex else {
            throw KernelDecodingError(offset: baseOffset + offset,
                reason: "\(what): needs \(MemoryLayout<T>.size) bytes, only \(max(0, bytes.endIndex - start)) left")
        }
        var value: T = 0
        for i in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(bytes[start + i]) }
        return value
    }

    struct Attribute {
        var type: UInt16
        var nested: Bool
        /// Offset of the attribute header within the whole message.
        var offset: Int
        /// The attribute's full bytes (header + payload, unpadded).
        var raw: ArraySlice<UInt8>
        var payload: ArraySlice<UInt8> { raw.dropFirst(4) }
        var payloadReader: ByteReader { ByteReader(payload, baseOffset: offset + 4) }
    }

    /// All attributes from `offset` to the end.
    func attributes(from offset: Int = 0) throws(KernelDecodingError) -> [Attribute] {
        var result: [Attribute] = []
        var at = bytes.startIndex + offset
        while at < bytes.endIndex {
            let rel = at - bytes.startIndex
            guard at + 4 <= bytes.endIndex else {
                throw KernelDecodingError(offset: baseOffset + rel, reason: "attribute header: \(bytes.endIndex - at) trailing bytes, expected 4 or none")
            }
            let length = Int(bytes[at]) | Int(bytes[at + 1]) << 8
            let rawType = UInt16(bytes[at + 2]) | UInt16(bytes[at + 3]) << 8
            guard length >= 4, at + length <= bytes.endIndex else {
                throw KernelDecodingError(offset: baseOffset + rel,
                    reason: "attribute type \(rawType & 0x3fff): length \(length) runs past the end (\(bytes.endIndex - at) bytes left)")
            }
            result.append(Attribute(type: rawType & 0x3fff, nested: rawType & 0x8000 != 0, offset: baseOffset + rel,
                                    raw: bytes[at..<(at + length)]))
            at += (length + 3) & ~3
        }
        return result
    }
}

/// Bytes that do not parse as the qdisc message they claim to be.
public struct KernelDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset within the message (or the options payload when decoding options alone).
    public var offset: Int
    public var reason: String
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }
    public var description: String { "byte \(offset): \(reason)" }
}
