/// Moments on a capture's clock and the spans between them, in nanoseconds, after swift-nio's
/// `NIODeadline` and `TimeAmount` — but with saturating arithmetic throughout.
///
/// Timestamps come from capture files, and a damaged or hostile file may put them anywhere in
/// Int64: a difference, a sum or a small multiple must clamp at the ends of Int64, never trap
/// (the fuzzer found such traps) nor wrap around into a plausible-looking value.
///
/// ```swift
/// let rtt = ack.time - segment.time                  // TimeSpan, saturating
/// if rtt > max(srtt * 3, .milliseconds(1)) { ... }
/// evidence["rtt_ms"] = .double(rtt.inMilliseconds)
/// ```

/// A moment on a capture's clock: nanoseconds since the Unix epoch, as pcap and pcapng record it.
@frozen
public struct CaptureTime: Sendable, Hashable, Comparable {
    public var nanosecondsSinceEpoch: Int64

    @inlinable
    public init(nanosecondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = nanosecondsSinceEpoch
    }

    // (Computed, not stored: a stored static of another module is reached through a
    // lazy-initialisation accessor on every use, these are constants in the caller.)

    /// 1970-01-01 00:00 UTC: nanosecond 0 (also where a time not yet set starts).
    @inlinable public static var epoch: CaptureTime { CaptureTime(nanosecondsSinceEpoch: 0) }
    /// The earliest and the latest moment a capture time can name.
    @inlinable public static var distantPast: CaptureTime { CaptureTime(nanosecondsSinceEpoch: .min) }
    @inlinable public static var distantFuture: CaptureTime { CaptureTime(nanosecondsSinceEpoch: .max) }

    @inlinable
    public static func < (lhs: CaptureTime, rhs: CaptureTime) -> Bool {
        lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch
    }

    /// The span from `rhs` to `lhs` (negative when `lhs` is earlier), clamped to Int64.
    @inlinable
    public static func - (lhs: CaptureTime, rhs: CaptureTime) -> TimeSpan {
        TimeSpan(nanoseconds: TimeSpan.saturating(lhs.nanosecondsSinceEpoch.subtractingReportingOverflow(rhs.nanosecondsSinceEpoch),
                                                  positiveOverflow: rhs.nanosecondsSinceEpoch < 0))
    }

    @inlinable
    public static func + (lhs: CaptureTime, rhs: TimeSpan) -> CaptureTime {
        CaptureTime(nanosecondsSinceEpoch: TimeSpan.saturating(lhs.nanosecondsSinceEpoch.addingReportingOverflow(rhs.nanoseconds),
                                                               positiveOverflow: rhs.nanoseconds > 0))
    }

    @inlinable
    public static func - (lhs: CaptureTime, rhs: TimeSpan) -> CaptureTime {
        CaptureTime(nanosecondsSinceEpoch: TimeSpan.saturating(lhs.nanosecondsSinceEpoch.subtractingReportingOverflow(rhs.nanoseconds),
                                                               positiveOverflow: rhs.nanoseconds < 0))
    }

    @inlinable
    public static func += (lhs: inout CaptureTime, rhs: TimeSpan) { lhs = lhs + rhs }

    @inlinable
    public static func -= (lhs: inout CaptureTime, rhs: TimeSpan) { lhs = lhs - rhs }
}

/// A signed span of time in nanoseconds (about ±292 years), clamped at the ends of Int64.
@frozen
public struct TimeSpan: Sendable, Hashable, Comparable {
    public var nanoseconds: Int64

    @inlinable
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    @inlinable public static var zero: TimeSpan { TimeSpan(nanoseconds: 0) }

    @inlinable
    public static func nanoseconds(_ amount: Int64) -> TimeSpan { TimeSpan(nanoseconds: amount) }

    @inlinable
    public static func microseconds(_ amount: Int64) -> TimeSpan { TimeSpan(nanoseconds: amount) * 1_000 }

    @inlinable
    public static func milliseconds(_ amount: Int64) -> TimeSpan { TimeSpan(nanoseconds: amount) * 1_000_000 }

    @inlinable
    public static func seconds(_ amount: Int64) -> TimeSpan { TimeSpan(nanoseconds: amount) * 1_000_000_000 }

    /// The span in milliseconds (exact as a Double can be; for output).
    @inlinable
    public var inMilliseconds: Double { Double(nanoseconds) / 1_000_000 }

    /// The span in seconds (exact as a Double can be; for output).
    @inlinable
    public var inSeconds: Double { Double(nanoseconds) / 1_000_000_000 }

    @inlinable
    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    @inlinable
    public static func + (lhs: TimeSpan, rhs: TimeSpan) -> TimeSpan {
        TimeSpan(nanoseconds: saturating(lhs.nanoseconds.addingReportingOverflow(rhs.nanoseconds),
                                         positiveOverflow: rhs.nanoseconds > 0))
    }

    @inlinable
    public static func - (lhs: TimeSpan, rhs: TimeSpan) -> TimeSpan {
        TimeSpan(nanoseconds: saturating(lhs.nanoseconds.subtractingReportingOverflow(rhs.nanoseconds),
                                         positiveOverflow: rhs.nanoseconds < 0))
    }

    @inlinable
    public static prefix func - (span: TimeSpan) -> TimeSpan { .zero - span }

    @inlinable
    public static func * (lhs: TimeSpan, rhs: Int64) -> TimeSpan {
        TimeSpan(nanoseconds: saturating(lhs.nanoseconds.multipliedReportingOverflow(by: rhs),
                                         positiveOverflow: (lhs.nanoseconds < 0) == (rhs < 0)))
    }

    @inlinable
    public static func * (lhs: Int64, rhs: TimeSpan) -> TimeSpan { rhs * lhs }

    /// Truncated toward zero, as integer division is. Dividing by zero traps, as it does for Int64.
    @inlinable
    public static func / (lhs: TimeSpan, rhs: Int64) -> TimeSpan {
        rhs == -1 ? -lhs : TimeSpan(nanoseconds: lhs.nanoseconds / rhs)
    }

    @inlinable
    public static func += (lhs: inout TimeSpan, rhs: TimeSpan) { lhs = lhs + rhs }

    @inlinable
    public static func -= (lhs: inout TimeSpan, rhs: TimeSpan) { lhs = lhs - rhs }

    /// The result of an Int64 operation, or the end of Int64 it overflowed past.
    @inlinable @inline(__always)
    static func saturating(_ result: (partialValue: Int64, overflow: Bool), positiveOverflow: Bool) -> Int64 {
        result.overflow ? (positiveOverflow ? .max : .min) : result.partialValue
    }
}

extension TimeSpan: CustomStringConvertible {
    public var description: String { "\(nanoseconds) ns" }
}

extension CaptureTime: CustomStringConvertible {
    public var description: String { "\(nanosecondsSinceEpoch) ns since the epoch" }
}
