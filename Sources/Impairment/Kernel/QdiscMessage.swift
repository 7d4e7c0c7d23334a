import Netlink
/// A decoded RTM_NEWQDISC request: the header fields and the kind/options attributes
/// (for tests against recorded `tc` requests, and for `faultline doctor`-style explanations).
public struct QdiscMessage: Sendable, Equatable {
    public var type: UInt16
    public var flags: UInt16
    public var sequence: UInt32
    public var pid: UInt32
    public var family: UInt8
    public var interfaceIndex: Int32
    public var handle: UInt32
    public var parent: UInt32
    public var info: UInt32
    public var kind: String?
    /// TCA_OPTIONS payload.
    public var options: [UInt8]?
    /// Offset of the TCA_OPTIONS payload within the message (for error offsets).
    public var optionsOffset: Int
    /// Attribute types after tcmsg, in order.
    public var attributeTypes: [UInt16]

    public init(bytes: [UInt8]) throws(NetlinkDecodingError) {
        let length = try NetlinkBytes.field(UInt32.self, in: bytes[...], at: 0, "nlmsghdr.nlmsg_len")
        guard Int(length) == bytes.count else {
            throw NetlinkDecodingError(offset: 0, reason: "nlmsg_len is \(length) but the message has \(bytes.count) bytes")
        }
        type = try NetlinkBytes.field(UInt16.self, in: bytes[...], at: 4, "nlmsghdr.nlmsg_type")
        flags = try NetlinkBytes.field(UInt16.self, in: bytes[...], at: 6, "nlmsghdr.nlmsg_flags")
        sequence = try NetlinkBytes.field(UInt32.self, in: bytes[...], at: 8, "nlmsghdr.nlmsg_seq")
        pid = try NetlinkBytes.field(UInt32.self, in: bytes[...], at: 12, "nlmsghdr.nlmsg_pid")
        family = try NetlinkBytes.field(UInt8.self, in: bytes[...], at: 16, "tcmsg.tcm_family")
        interfaceIndex = try NetlinkBytes.field(Int32.self, in: bytes[...], at: 20, "tcmsg.tcm_ifindex")
        handle = try NetlinkBytes.field(UInt32.self, in: bytes[...], at: 24, "tcmsg.tcm_handle")
        parent = try NetlinkBytes.field(UInt32.self, in: bytes[...], at: 28, "tcmsg.tcm_parent")
        info = try NetlinkBytes.field(UInt32.self, in: bytes[...], at: 32, "tcmsg.tcm_info")
        kind = nil
        options = nil
        optionsOffset = 0
        attributeTypes = []
        for a in try NetlinkAttributes(bytes.dropFirst(36), baseOffset: 36).validated() {
            attributeTypes.append(a.type)
            switch a.type {
            case 1: kind = String(decoding: a.payload.prefix { $0 != 0 }, as: UTF8.self)
            case 2:
                options = Array(a.payload)
                optionsOffset = a.offset + 4
            default: break
            }
        }
    }

    /// Parses hex text (whitespace and newlines ignored) into bytes.
    public static func bytes(hex: String) throws(NetlinkDecodingError) -> [UInt8] {
        var result: [UInt8] = []
        var high: UInt8?
        for (i, ch) in hex.unicodeScalars.enumerated() where !(ch == " " || ch == "\n" || ch == "\t" || ch == "\r") {
            guard let v = UInt8(String(ch), radix: 16) else {
                throw NetlinkDecodingError(offset: i, reason: "\"\(ch)\" is not a hex digit")
            }
            if let h = high { result.append(h << 4 | v); high = nil } else { high = v }
        }
        if high != nil { throw NetlinkDecodingError(offset: hex.count, reason: "odd number of hex digits") }
        return result
    }
}
