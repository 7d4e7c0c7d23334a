import Values
#if canImport(Glibc)
import Glibc
#endif

/// The packet scheduler clock as `/proc/net/psched` describes it, with iproute2's tick arithmetic
/// (tc_core.c), so times reach the kernel as exactly the ticks `tc` would send.
///
/// `/proc/net/psched` holds four hex words: NSEC_PER_USEC (1000), PSCHED_TICKS2NS(1) (ns per tick,
/// 64 on current kernels), 1000000, and NSEC_PER_SEC / hrtimer resolution. tc derives
/// `tick_in_usec = t2us / us2t × clock_factor` (15.625 here) and converts a time of T µs to
/// `(unsigned)(T × tick_in_usec)` ticks (truncated). The kernel turns ticks back into ns as
/// `ticks << PSCHED_SHIFT` — i.e. `ticks × nanosecondsPerTick`.
public struct PschedClock: Sendable, Equatable, CustomStringConvertible {
    public var t2us: UInt32
    public var us2t: UInt32
    public var clockResolution: UInt32
    public var hz: UInt32

    public init(t2us: UInt32, us2t: UInt32, clockResolution: UInt32, hz: UInt32 = 0) {
        self.t2us = t2us
        self.us2t = us2t
        self.clockResolution = clockResolution
        self.hz = hz
    }

    /// Parses the file's text ("000003e8 00000040 000f4240 3b9aca00").
    public init(text: String, source: String = "/proc/net/psched") throws(KernelEngineError) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        let values = words.compactMap { UInt32($0, radix: 16) }
        guard words.count >= 3, values.count == words.count, values[0] != 0, values[1] != 0 else {
            throw KernelEngineError.pschedUnreadable(path: source,
                reason: "expected 3 or 4 hex words like \"000003e8 00000040 000f4240 3b9aca00\", found \"\(text.trimmingSpaces())\"")
        }
        self.init(t2us: values[0], us2t: values[1], clockResolution: values[2], hz: values.count > 3 ? values[3] : 0)
    }

    /// Reads `/proc/net/psched` (or `path`).
    public static func current(path: String = "/proc/net/psched") throws(KernelEngineError) -> PschedClock {
        #if canImport(Glibc)
        let bytes: [UInt8]
        do throws(Errno) {
            bytes = try FileIO.read(path: path, limit: 256)
        } catch {
            throw KernelEngineError.pschedUnreadable(path: path, reason: error.message)
        }
        guard !bytes.isEmpty else { throw KernelEngineError.pschedUnreadable(path: path, reason: "empty file") }
        return try PschedClock(text: String(decoding: bytes, as: UTF8.self), source: path)
        #else
        throw KernelEngineError.pschedUnreadable(path: path, reason: "needs Linux")
        #endif
    }

    /// The file's text form (for fixtures and messages).
    public var description: String {
        [t2us, us2t, clockResolution, hz].map { word in
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: max(0, 8 - hex.count)) + hex
        }.joined(separator: " ")
    }

    /// tc's clock_factor: clock resolution ÷ 1 000 000.
    public var clockFactor: Double { Double(clockResolution) / 1_000_000 }

    /// tc's tick_in_usec (with tc's compatibility hack for nanosecond clock resolution).
    public var ticksPerMicrosecond: Double {
        let t2us = clockResolution == 1_000_000_000 ? us2t : self.t2us
        return Double(t2us) / Double(us2t) * clockFactor
    }

    /// Kernel nanoseconds per tick (PSCHED_TICKS2NS(1)): us2t × 1000 ÷ t2us (64 here).
    public var nanosecondsPerTick: Double { Double(us2t) * 1000 / Double(t2us) }

    /// tc_core_time2big: whether `microseconds` overflows 32-bit ticks.
    public func overflowsTicks(microseconds: UInt32) -> Bool {
        let t = Double(UInt64(microseconds)) * ticksPerMicrosecond
        return t >= 4_294_967_296
    }

    /// tc_core_time2tick: `(unsigned)(µs × tick_in_usec)`, clamped to UInt32 where C would overflow.
    public func ticks(microseconds: UInt32) -> UInt32 {
        Self.truncatedUInt32(Double(microseconds) * ticksPerMicrosecond)
    }

    /// tc_core_tick2time: `(unsigned)(ticks ÷ tick_in_usec)`.
    public func microseconds(ticks: UInt32) -> UInt32 {
        Self.truncatedUInt32(Double(ticks) / ticksPerMicrosecond)
    }

    /// The kernel's view of a tick count: nanoseconds (PSCHED_TICKS2NS).
    public func nanoseconds(ticks: UInt32) -> Int64 {
        Int64((Double(ticks) * nanosecondsPerTick).rounded(.down))
    }

    /// tc_calc_xmittime: ticks to send `size` bytes at `rate` bytes/s:
    /// `time2tick((unsigned)(1e6 × size ÷ rate))`.
    public func transmissionTicks(rateBytesPerSecond rate: UInt64, size: UInt32) -> UInt32 {
        guard rate > 0 else { return UInt32.max }
        let us = 1_000_000 * (Double(size) / Double(rate))
        return ticks(microseconds: Self.truncatedUInt32(us))
    }

    static func truncatedUInt32(_ v: Double) -> UInt32 {
        if !(v > 0) { return 0 }
        if v >= 4_294_967_295 { return UInt32.max }
        return UInt32(v)
    }
}
