import Glibc
import TestSupport

/// Walks the raw blocks of a little-endian pcapng file, to check what the Analysis reader skips
/// (the Interface Statistics Block) and how the file ends.
struct BlockWalker {
    struct Block {
        var type: UInt32
        var offset: Int
        var body: ArraySlice<UInt8>  // between the length fields
    }

    var blocks: [Block] = []
    /// Bytes after the last complete block (a cut block), 0 for a clean file.
    var trailingBytes = 0

    init(path: String) throws {
        let bytes = try Self.readAll(path)
        var at = 0
        while at + 12 <= bytes.count {
            let type = Self.u32(bytes, at)
            let length = Int(Self.u32(bytes, at + 4))
            guard length >= 12, length % 4 == 0, at + length <= bytes.count else { break }
            blocks.append(Block(type: type, offset: at, body: bytes[(at + 8)..<(at + length - 4)]))
            at += length
        }
        trailingBytes = bytes.count - at
    }

    static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    static func u64(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var value: UInt64 = 0
        for (index, byte) in bytes.prefix(8).enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        return value
    }

    /// Options of a block whose fixed part is `fixed` bytes long: code → value.
    static func options(_ block: Block, fixed: Int) -> [UInt16: ArraySlice<UInt8>] {
        let body = Array(block.body)
        var result: [UInt16: ArraySlice<UInt8>] = [:]
        var at = fixed
        while at + 4 <= body.count {
            let code = UInt16(body[at]) | UInt16(body[at + 1]) << 8
            let length = Int(UInt16(body[at + 2]) | UInt16(body[at + 3]) << 8)
            if code == 0 || at + 4 + length > body.count { break }
            result[code] = body[(at + 4)..<(at + 4 + length)]
            at += 4 + ((length + 3) & ~3)
        }
        return result
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TestSupportError("open \(path): errno \(errno)") }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            data.append(contentsOf: buffer[0..<count])
        }
        return data
    }
}
