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
    public static func name(_ value: Int32) -> String { names[value] ?? "E\(value)" }

    /// The number for a name ("ECONNREFUSED" → 111), for expectations written by people.
    public static func value(named name: String) -> Int32? { names.first(where: { $0.value == name })?.key }

    static let names: [Int32: String] = [
        1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC",
        9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY",
        17: "EEXIST", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE",
        25: "ENOTTY", 28: "ENOSPC", 32: "EPIPE", 34: "ERANGE", 36: "ENAMETOOLONG", 38: "ENOSYS",
        71: "EPROTO", 88: "ENOTSOCK", 89: "EDESTADDRREQ", 90: "EMSGSIZE", 91: "EPROTOTYPE",
        92: "ENOPROTOOPT", 93: "EPROTONOSUPPORT", 94: "ESOCKTNOSUPPORT", 95: "EOPNOTSUPP",
        96: "EPFNOSUPPORT", 97: "EAFNOSUPPORT", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 100: "ENETDOWN",
        101: "ENETUNREACH", 102: "ENETRESET", 103: "ECONNABORTED", 104: "ECONNRESET", 105: "ENOBUFS",
        106: "EISCONN", 107: "ENOTCONN", 108: "ESHUTDOWN", 110: "ETIMEDOUT", 111: "ECONNREFUSED",
        112: "EHOSTDOWN", 113: "EHOSTUNREACH", 114: "EALREADY", 115: "EINPROGRESS", 125: "ECANCELED",
    ]
}
