import Glibc

/// An errno value with its symbolic name, so messages say `EEXIST (17)` rather than a bare number.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The current thread's errno.
    public static var current: Errno { Errno(errno) }

    public var name: String { Errno.names[rawValue] ?? "E\(rawValue)" }
    public var message: String { String(cString: strerror(rawValue)) }
    public var description: String { "\(name) (\(message))" }

    public static let EPERM = Errno(1), ENOENT = Errno(2), ESRCH = Errno(3), EINTR = Errno(4)
    public static let EIO = Errno(5), EBADF = Errno(9), EAGAIN = Errno(11), ENOMEM = Errno(12)
    public static let EACCES = Errno(13), EBUSY = Errno(16), EEXIST = Errno(17), ENODEV = Errno(19)
    public static let EINVAL = Errno(22), ERANGE = Errno(34), EOPNOTSUPP = Errno(95)
    public static let EADDRNOTAVAIL = Errno(99), ENETUNREACH = Errno(101), ECONNRESET = Errno(104)
    public static let ETIMEDOUT = Errno(110), ECONNREFUSED = Errno(111), EHOSTUNREACH = Errno(113)

    /// Linux x86-64/arm64 errno names (asm-generic), enough for every error a socket or netlink call returns.
    static let names: [Int32: String] = [
        1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC",
        9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY",
        17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE",
        24: "EMFILE", 25: "ENOTTY", 27: "EFBIG", 28: "ENOSPC", 32: "EPIPE", 34: "ERANGE", 36: "ENAMETOOLONG",
        38: "ENOSYS", 39: "ENOTEMPTY", 61: "ENODATA", 62: "ETIME", 71: "EPROTO", 74: "EBADMSG",
        75: "EOVERFLOW", 84: "EILSEQ", 88: "ENOTSOCK", 89: "EDESTADDRREQ", 90: "EMSGSIZE",
        91: "EPROTOTYPE", 92: "ENOPROTOOPT", 93: "EPROTONOSUPPORT", 94: "ESOCKTNOSUPPORT",
        95: "EOPNOTSUPP", 96: "EPFNOSUPPORT", 97: "EAFNOSUPPORT", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL",
        100: "ENETDOWN", 101: "ENETUNREACH", 102: "ENETRESET", 103: "ECONNABORTED", 104: "ECONNRESET",
        105: "ENOBUFS", 106: "EISCONN", 107: "ENOTCONN", 108: "ESHUTDOWN", 110: "ETIMEDOUT",
        111: "ECONNREFUSED", 112: "EHOSTDOWN", 113: "EHOSTUNREACH", 114: "EALREADY", 115: "EINPROGRESS",
        125: "ECANCELED", 524: "ENOTSUPP",
    ]

    /// The errno whose name is `name` ("ECONNREFUSED"), for expectations written by people.
    public init?(name: String) {
        guard let entry = Errno.names.first(where: { $0.value == name }) else { return nil }
        self.rawValue = entry.key
    }
}
