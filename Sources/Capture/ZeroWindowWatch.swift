import Synchronization

/// The first TCP segment a capture point sees advertising a zero receive window (not a SYN, not
/// an RST: their windows say nothing about a full buffer), for scenario steps that wait for it
/// (`after: zero-window at server`). Checked on the capture thread for every packet: a few
/// header reads, no allocation; the time is kept once, in an atomic the timeline reads.
final class ZeroWindowWatch: Sendable {
    /// Capture time (ns) of the first zero window, 0 while none was seen.
    private let first = Atomic<UInt64>(0)
    private let linkType: Int

    init(linkType: Int) {
        self.linkType = linkType
    }

    var firstSeen: UInt64? {
        let value = first.load(ordering: .acquiring)
        return value == 0 ? nil : value
    }

    /// DLT_EN10MB (1) and DLT_LINUX_SLL (113) / SLL2 (276), IPv4 or IPv6 carrying TCP.
    func observe(_ data: UnsafePointer<UInt8>, length: Int, timestamp: UInt64) {
        guard first.load(ordering: .relaxed) == 0, let tcp = Self.tcpOffset(data, length: length, linkType: linkType),
              tcp + 16 <= length else { return }
        let flags = data[tcp + 13]
        let window = UInt16(data[tcp + 14]) << 8 | UInt16(data[tcp + 15])
        let synOrRst: UInt8 = 0x02 | 0x04
        if window == 0, flags & synOrRst == 0, flags & 0x10 != 0 {
            first.store(max(timestamp, 1), ordering: .releasing)
        }
    }

    static func tcpOffset(_ data: UnsafePointer<UInt8>, length: Int, linkType: Int) -> Int? {
        var offset: Int
        var etherType: UInt16
        switch linkType {
        case 1:
            guard length >= 14 else { return nil }
            offset = 14
            etherType = UInt16(data[12]) << 8 | UInt16(data[13])
            if etherType == 0x8100, length >= 18 {
                offset = 18
                etherType = UInt16(data[16]) << 8 | UInt16(data[17])
            }
        case 113:
            guard length >= 16 else { return nil }
            offset = 16
            etherType = UInt16(data[14]) << 8 | UInt16(data[15])
        case 276:
            guard length >= 20 else { return nil }
            offset = 20
            etherType = UInt16(data[0]) << 8 | UInt16(data[1])
        default:
            return nil
        }
        switch etherType {
        case 0x0800:
            guard length >= offset + 20, data[offset + 9] == 6 else { return nil }
            return offset + Int(data[offset] & 0x0F) * 4
        case 0x86DD:
            // The fixed header only: a TCP segment behind extension headers is not looked at.
            guard length >= offset + 40, data[offset + 6] == 6 else { return nil }
            return offset + 40
        default:
            return nil
        }
    }
}
