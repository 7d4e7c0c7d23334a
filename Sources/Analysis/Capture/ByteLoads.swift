/// Unaligned integer loads used by every parser in this module.
///
/// Capture files put headers at arbitrary byte offsets, so every multi-byte field is read with
/// `loadUnaligned`. Callers check bounds first (one check per header, not per field), which keeps
/// the hot path to a handful of instructions per field.
extension UnsafeRawPointer {
    @inline(__always)
    func u8(_ offset: Int) -> UInt8 {
        load(fromByteOffset: offset, as: UInt8.self)
    }

    @inline(__always)
    func be16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    func be32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    func be64(_ offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    func le32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// A 16-bit field in the byte order of a capture file section (`swapped` = not host order).
    @inline(__always)
    func u16(_ offset: Int, swapped: Bool) -> UInt16 {
        let raw = loadUnaligned(fromByteOffset: offset, as: UInt16.self)
        return swapped ? raw.byteSwapped : raw
    }

    /// A 32-bit field in the byte order of a capture file section (`swapped` = not host order).
    @inline(__always)
    func u32(_ offset: Int, swapped: Bool) -> UInt32 {
        let raw = loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        return swapped ? raw.byteSwapped : raw
    }

    /// A 64-bit field in the byte order of a capture file section (`swapped` = not host order).
    @inline(__always)
    func u64(_ offset: Int, swapped: Bool) -> UInt64 {
        let raw = loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        return swapped ? raw.byteSwapped : raw
    }
}
