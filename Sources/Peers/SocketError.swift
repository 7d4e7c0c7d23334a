import Values

/// A system call that failed: which call, on what, and the errno with its symbolic name
/// (`connect 198.18.2.2:9000: ECONNREFUSED (Connection refused)`).
public struct SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call as an application would name it: "connect", "send", "recv", "accept", "bind", ...
    public var call: String
    public var errno: Errno
    /// What the call was applied to (an address, an option), for the message.
    public var detail: String?

    public init(call: String, errno: Errno, detail: String? = nil) {
        self.call = call
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        "\(call)\(detail.map { " \($0)" } ?? ""): \(errno)"
    }
}
