import Testing
import Values

/// Capture times and spans clamp at the ends of Int64: a hostile file's timestamps must never
/// trap nor wrap around into a small, plausible span.
@Suite("Capture time and time span arithmetic")
struct TimeSpanTests {
    let epoch = CaptureTime(nanosecondsSinceEpoch: 0)

    @Test("ordinary arithmetic is exact")
    func ordinary() {
        let sent = CaptureTime(nanosecondsSinceEpoch: 1_700_000_000_000_000_000)
        let acked = sent + .milliseconds(20)
        #expect(acked - sent == .milliseconds(20))
        #expect(sent - acked == -TimeSpan.milliseconds(20))
        #expect(acked - .milliseconds(20) == sent)
        #expect(TimeSpan.seconds(2) == .milliseconds(2_000) && TimeSpan.microseconds(3) == .nanoseconds(3_000))
        #expect(TimeSpan.milliseconds(5) * 4 == .milliseconds(20) && 4 * TimeSpan.milliseconds(5) == .milliseconds(20))
        #expect(TimeSpan.milliseconds(20) / 4 == .milliseconds(5) && TimeSpan.nanoseconds(-7) / 2 == .nanoseconds(-3))
        #expect(TimeSpan.milliseconds(1) < .milliseconds(2) && sent < acked)
        #expect(TimeSpan.nanoseconds(1_234_567).inMilliseconds == 1.234567)
        #expect(TimeSpan.milliseconds(1_500).inSeconds == 1.5)
    }

    @Test("differences, sums and multiples saturate instead of trapping or wrapping")
    func saturation() {
        let latest = CaptureTime.distantFuture, earliest = CaptureTime.distantPast
        #expect((latest - earliest).nanoseconds == .max)
        #expect((earliest - latest).nanoseconds == .min)
        #expect((latest - epoch).nanoseconds == .max && (epoch - earliest).nanoseconds == .max)
        #expect(latest + .seconds(1) == latest && earliest - .seconds(1) == earliest)
        #expect(earliest + (epoch - latest) == earliest)
        #expect(TimeSpan.nanoseconds(.max) * 2 == .nanoseconds(.max))
        #expect(TimeSpan.nanoseconds(.max) * -2 == .nanoseconds(.min))
        #expect(TimeSpan.nanoseconds(.min) * -1 == .nanoseconds(.max))
        #expect(TimeSpan.nanoseconds(.max) + .nanoseconds(1) == .nanoseconds(.max))
        #expect(TimeSpan.nanoseconds(.min) - .nanoseconds(1) == .nanoseconds(.min))
        #expect(-TimeSpan.nanoseconds(.min) == .nanoseconds(.max))
        #expect(TimeSpan.nanoseconds(.min) / -1 == .nanoseconds(.max))
        #expect(TimeSpan.seconds(.max / 2) == .nanoseconds(.max))
    }
}
