/// Why a human-written value (a duration, rate, size or percentage) could not be read.
///
/// `description` is a complete sentence for the user, for example
/// `duration "20xs": unknown unit "xs"; expected ns, us, ms or s (e.g. "20ms", "1.5s", "250us", "0")`.
/// The scenario layer prefixes it with file:line:column; the CLI with the flag name.
public struct ValueParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being read: "duration", "rate", "size", "percentage", "count", "link", "address", "port".
    public var kind: String
    /// The text as given.
    public var text: String
    /// What is wrong and what was expected.
    public var reason: String

    public init(kind: String, text: String, reason: String) {
        self.kind = kind
        self.text = text
        self.reason = reason
    }

    public var description: String { "\(kind) \"\(text)\": \(reason)" }
}
