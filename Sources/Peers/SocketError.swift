import CLinux
import Glibc

/// A system call that failed: which call, on what, and the errno with its symbolic name
/// (`connect 198.18.2.2:9000: ECONNREFUSED (Connection refused)`).
public struct SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call as an application would name it: "connect", "send", "recv", "accept", "bind", ...
    public var call: String
    public var errno: Int32
    /// What the call was applied to (an address, an option), for the message.
    public var detail: String?

    public init(call: String, errno: Int32, detail: String? = nil) {
        self.call = call
        self.errno = errno
        self.detail = detail
    }

    public var errnoName: String { PeerErrno.name(errno) }
    public var message: String { String(cString: strerror(errno)) }

    public var description: String {
        "\(call)\(detail.map { " \($0)" } ?? ""): \(errnoName) (\(message))"
    }
}

/// Linux errno names, so events say `"errno":"ECONNRESET"` rather than 104.
public enum PeerErrno {
    public static func name(_ value: Int32) -> String {
        fl_errno_name(value).map { String(cString: $0) } ?? "E\(value)"
    }

    /// The number for a name ("ECONNREFUSED" → 111), for expectations written by people.
    public static func value(named name: String) -> Int32? {
        let value = fl_errno_value(name)
        return value == 0 ? nil : value
    }
}
