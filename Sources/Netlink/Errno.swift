import CLinux
import Glibc

/// An errno value with its symbolic name, so messages say `EEXIST (17)` rather than a bare number.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The current thread's errno.
    public static var current: Errno { Errno(errno) }

    public var name: String { Errno.name(of: rawValue) ?? "E\(rawValue)" }
    public var message: String { String(cString: strerror(rawValue)) }
    public var description: String { "\(name) (\(message))" }

    public static let EPERM = Errno(1), ENOENT = Errno(2), ESRCH = Errno(3), EINTR = Errno(4)
    public static let EIO = Errno(5), EBADF = Errno(9), EAGAIN = Errno(11), ENOMEM = Errno(12)
    public static let EACCES = Errno(13), EBUSY = Errno(16), EEXIST = Errno(17), ENODEV = Errno(19)
    public static let EINVAL = Errno(22), ERANGE = Errno(34), EOPNOTSUPP = Errno(95)
    public static let EADDRNOTAVAIL = Errno(99), ENETUNREACH = Errno(101), ECONNRESET = Errno(104)
    public static let ETIMEDOUT = Errno(110), ECONNREFUSED = Errno(111), EHOSTUNREACH = Errno(113)

    /// glibc's own table (strerrorname_np), so every errno the kernel can return has its name.
    static func name(of value: Int32) -> String? {
        fl_errno_name(value).map { String(cString: $0) }
    }

    /// The errno whose name is `name` ("ECONNREFUSED"), for expectations written by people.
    public init?(name: String) {
        let value = fl_errno_value(name)
        guard value != 0 else { return nil }
        self.rawValue = value
    }
}
