/// 32-bit wrap-aware sequence-number comparisons, defined exactly like tshark's GT_SEQ/LT_SEQ/
/// GE_SEQ/LE_SEQ macros (including how a difference of exactly 2^31 compares).
enum SeqNum {
    /// LT_SEQ(x, y): (gint32)(x - y) < 0
    @inline(__always)
    static func lessThan(_ x: UInt32, _ y: UInt32) -> Bool { Int32(bitPattern: x &- y) < 0 }
    /// LE_SEQ(x, y): (gint32)(x - y) <= 0
    @inline(__always)
    static func lessOrEqual(_ x: UInt32, _ y: UInt32) -> Bool { Int32(bitPattern: x &- y) <= 0 }
    /// GT_SEQ(x, y): (gint32)(y - x) < 0
    @inline(__always)
    static func greaterThan(_ x: UInt32, _ y: UInt32) -> Bool { Int32(bitPattern: y &- x) < 0 }
    /// GE_SEQ(x, y): (gint32)(y - x) <= 0
    @inline(__always)
    static func greaterOrEqual(_ x: UInt32, _ y: UInt32) -> Bool { Int32(bitPattern: y &- x) <= 0 }
}
