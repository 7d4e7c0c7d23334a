#if canImport(CLinux)
import CLinux
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An errno value with its symbolic name, so messages say `ECONNREFUSED (Connection refused)`
/// rather than a bare number. The one errno type of every module.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The current thread's errno.
    public static var current: Errno { Errno(errno) }

    /// "ECONNREFUSED"; "E<number>" for a value the C library has no name for.
    public var name: String { Errno.name(of: rawValue) ?? "E\(rawValue)" }
    /// The C library's text: "Connection refused".
    public var message: String { String(cString: strerror(rawValue)) }
    /// "ECONNREFUSED (Connection refused)".
    public var description: String { "\(name) (\(message))" }

    public static let EPERM = Errno(1), ENOENT = Errno(2), ESRCH = Errno(3), EINTR = Errno(4)
    public static let EIO = Errno(5), EBADF = Errno(9), EAGAIN = Errno(11), ENOMEM = Errno(12)
    public static let EACCES = Errno(13), EBUSY = Errno(16), EEXIST = Errno(17), ENODEV = Errno(19)
    public static let EINVAL = Errno(22), ERANGE = Errno(34), EOPNOTSUPP = Errno(95)
    public static let EADDRNOTAVAIL = Errno(99), ENETUNREACH = Errno(101), ECONNRESET = Errno(104)
    public static let ETIMEDOUT = Errno(110), ECONNREFUSED = Errno(111), EHOSTUNREACH = Errno(113)

    /// The C library's own table (glibc's strerrorname_np), so every errno the kernel can return
    /// has its name.
    static func name(of value: Int32) -> String? {
        #if canImport(CLinux)
        return fl_errno_name(value).map { String(cString: $0) }
        #else
        return nil
        #endif
    }

    /// The errno whose name is `name` ("ECONNREFUSED"), for expectations written by people.
    public init?(name: String) {
        #if canImport(CLinux)
        let value = fl_errno_value(name)
        guard value != 0 else { return nil }
        self.rawValue = value
        #else
        return nil
        #endif
    }
}
