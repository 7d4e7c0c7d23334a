import Values
#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address with a prefix length ("198.18.0.0/15", "fd00::1" = /128).
public struct IPPrefix: Sendable, Hashable, Codable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 bytes (IPv6), network byte order.
    public var address: [UInt8]
    public var prefixLength: UInt8

    public var version: IPVersion { address.count == 4 ? .v4 : .v6 }

    public init(address: [UInt8], prefixLength: UInt8) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Whether `other` (4 or 16 bytes) lies inside this prefix.
    public func contains(_ other: [UInt8]) -> Bool {
        guard other.count == address.count else { return false }
        var bits = Int(prefixLength)
        for i in 0..<address.count where bits > 0 {
            let take = min(bits, 8)
            let mask: UInt8 = take == 8 ? 0xff : ~(0xff >> UInt8(take))
            if address[i] & mask != other[i] & mask { return false }
            bits -= take
        }
        return true
    }

    /// Reads "198.18.0.1", "198.18.0.0/24", "fd00::1", "fd00::/64" (brackets allowed for IPv6).
    public init(parsing text: String) throws(ValueParseError) {
        var t = text.trimmingSpaces()
        var length: UInt8?
        if let slash = t.firstIndex(of: "/") {
            guard let l = UInt8(t[t.index(after: slash)...]) else {
                throw ValueParseError(kind: "address", text: text, reason: "prefix length after \"/\" must be a number")
            }
            length = l
            t = String(t[..<slash])
        }
        if t.hasPrefix("["), t.hasSuffix("]") { t = String(t.dropFirst().dropLast()) }
        #if canImport(Glibc)
        var v4 = [UInt8](repeating: 0, count: 4)
        var v6 = [UInt8](repeating: 0, count: 16)
        if v4.withUnsafeMutableBytes({ inet_pton(AF_INET, t, $0.baseAddress) }) == 1 {
            address = v4
        } else if v6.withUnsafeMutableBytes({ inet_pton(AF_INET6, t, $0.baseAddress) }) == 1 {
            address = v6
        } else {
            throw ValueParseError(kind: "address", text: text, reason: "expected an IPv4 or IPv6 address, e.g. 198.18.0.1 or fd00::1")
        }
        #else
        throw ValueParseError(kind: "address", text: text, reason: "address parsing needs Glibc")
        #endif
        let maxLength = UInt8(address.count * 8)
        if let length, length > maxLength {
            throw ValueParseError(kind: "address", text: text, reason: "prefix length \(length) is larger than \(maxLength)")
        }
        prefixLength = length ?? maxLength
    }

    public var description: String {
        var text: String
        if address.count == 4 {
            text = address.map(String.init).joined(separator: ".")
        } else {
            #if canImport(Glibc)
            var buf = [CChar](repeating: 0, count: 64)
            let ok = address.withUnsafeBytes { a in inet_ntop(AF_INET6, a.baseAddress, &buf, 64) } != nil
            text = ok ? String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
            #else
            text = address.map { String($0, radix: 16) }.joined(separator: ":")
            #endif
        }
        if Int(prefixLength) != address.count * 8 { text += "/\(prefixLength)" }
        return text
    }
}
