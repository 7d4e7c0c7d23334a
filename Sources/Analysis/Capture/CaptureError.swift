/// Why a capture file could not be read.
///
/// Every case that concerns the file's content names the byte offset of the offending field and
/// what was expected there, e.g. `byte 32: block length 7 is not a multiple of 4`.
/// A file that simply stops in the middle of a packet is *not* an error: see `CaptureTruncation`.
public enum CaptureError: Error, Equatable, Sendable, CustomStringConvertible {
    /// open(2) failed.
    case cannotOpen(path: String, errno: Int32, message: String)
    /// read(2) failed at a file offset.
    case readFailed(offset: Int, errno: Int32, message: String)
    /// The file is shorter than the smallest valid header.
    case tooShort(size: Int, expected: String)
    /// The first four bytes are neither a pcap nor a pcapng magic number.
    case unknownFormat(magic: UInt32)
    /// The content is inconsistent: `offset` is the byte where the bad field starts.
    case corrupt(offset: Int, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, errno, message):
            return "cannot open \(path): \(message) (errno \(errno))"
        case let .readFailed(offset, errno, message):
            return "read failed at byte \(offset): \(message) (errno \(errno))"
        case let .tooShort(size, expected):
            return "file is \(size) bytes long: expected \(expected)"
        case let .unknownFormat(magic):
            let hex = String(magic, radix: 16)
            return "byte 0: magic number 0x\(String(repeating: "0", count: max(0, 8 - hex.count)) + hex) is neither pcap (a1b2c3d4, a1b23c4d) nor pcapng (0a0d0d0a)"
        case let .corrupt(offset, reason):
            return "byte \(offset): \(reason)"
        }
    }
}

/// Where and how a capture file stops in the middle of a record (a writer that died, a copy cut
/// short). Everything before `offset` was read and analysed normally.
public struct CaptureTruncation: Equatable, Sendable, CustomStringConvertible {
    /// File offset of the record that is incomplete.
    public var offset: Int
    /// Bytes that record needed.
    public var needed: Int
    /// Bytes the file still had.
    public var available: Int
    /// Set when the file goes on but is damaged from `offset` on: why it was not read further.
    /// Everything before the damage was read and analysed (as tshark does).
    public var damage: String? = nil

    public var description: String {
        if let damage {
            return "file is damaged at byte \(offset): \(damage); read up to there, \(available) bytes after it left unread"
        }
        return "file is cut at byte \(offset + available): the record at byte \(offset) needs \(needed) bytes, only \(available) are present"
    }
}
