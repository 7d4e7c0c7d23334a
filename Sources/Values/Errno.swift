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

    /// The errno whose name is `name` ("ECONNREFUSED", or an alias such as "EWOULDBLOCK"), for
    /// expectations written by people. Its `name` is the canonical one: `EAGAIN` for `EWOULDBLOCK`,
    /// the name peers report.
    public init?(name: String) {
        guard let value = Errno.values[name] else { return nil }
        self.rawValue = value
    }

    /// Every errno name, in value order, each alias right after its value's own name: the one
    /// list that errno names written by people are checked against.
    public static let names: [String] = table.map(\.name)

    /// Name → value, aliases included.
    static let values: [String: Int32] = Dictionary(table.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })

    /// The C library's names (every value it has one for), and the C headers' other spellings of
    /// the same values, which people write too (`EWOULDBLOCK` is `EAGAIN` on Linux).
    private static let table: [(name: String, value: Int32)] = {
        var aliases: [(name: String, value: Int32)] = []
        #if canImport(Glibc)
        aliases = [("EWOULDBLOCK", EWOULDBLOCK), ("EDEADLOCK", EDEADLOCK), ("ENOTSUP", ENOTSUP)]
        #endif
        var out: [(name: String, value: Int32)] = []
        // Linux's errno values stay far below 4096 (the kernel's own limit for an error return).
        for value in Int32(1)..<4096 {
            guard let own = name(of: value) else { continue }
            out.append((own, value))
            for alias in aliases where alias.value == value && alias.name != own { out.append(alias) }
        }
        return out
    }()
}
