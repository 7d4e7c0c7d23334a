import Values
/// Small, fast text helpers for building HTML and SVG (a report of a 500k-packet capture writes
/// hundreds of thousands of numbers: no Foundation formatting on that path).
enum SVGText {
    /// One decimal place, no trailing ".0".
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let tenths = Int((value * 10).rounded())
        let whole = tenths / 10, fraction = abs(tenths % 10)
        if fraction == 0 { return String(whole) }
        return (tenths < 0 && whole == 0 ? "-0" : String(whole)) + "." + String(fraction)
    }

    /// Seconds with enough digits for the scale (`step` is the tick spacing in seconds).
    static func seconds(_ value: Double, digits: Int = 6) -> String {
        guard value.isFinite else { return "0" }
        let scale = [1.0, 10, 100, 1000, 10000, 100000, 1000000][min(max(digits, 0), 6)]
        let scaled = Int((value * scale).rounded())
        if digits == 0 { return String(scaled) }
        let sign = scaled < 0 ? "-" : ""
        let magnitude = abs(scaled)
        var fraction = String(magnitude % Int(scale))
        while fraction.count < digits { fraction = "0" + fraction }
        return sign + String(magnitude / Int(scale)) + "." + fraction
    }

    /// Escapes text for HTML and SVG content and attribute values.
    static func escape(_ text: String) -> String { MarkupText.escaped(text) }

    /// Byte counts as people read them.
    static func bytes(_ value: Double) -> String {
        if value >= 1_048_576 { return number(value / 1_048_576) + " MiB" }
        if value >= 1024 { return number(value / 1024) + " KiB" }
        return String(Int(value)) + " B"
    }
}

/// Tick positions for an axis: 1, 2 or 5 times a power of ten, about `count` of them.
func niceTicks(from low: Double, to high: Double, count: Int) -> (values: [Double], step: Double) {
    let span = high - low
    guard span > 0, span.isFinite else { return ([low], 1) }
    let raw = span / Double(max(count, 1))
    var power = 1.0
    while power * 10 <= raw { power *= 10 }
    while power > raw { power /= 10 }
    let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? power * 10
    var values: [Double] = []
    var value = (low / step).rounded(.up) * step
    while value <= high + step * 1e-9, values.count < 50 {
        values.append(value)
        value += step
    }
    return (values, step)
}

/// Decimal places a tick step needs (0.005 → 3).
func digits(forStep step: Double) -> Int {
    var digits = 0
    var value = step
    while value < 0.999, digits < 6 { value *= 10; digits += 1 }
    return digits
}
