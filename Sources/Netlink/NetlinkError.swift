import Values
/// The one error type of the Netlink module: what was attempted, the errno, the kernel's own words
/// (extended ACK) when it gave any, and what the user can do about it.
public struct NetlinkError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What Faultline was doing, e.g. `create veth "c0" <-> "r0"`.
    public var operation: String
    public var errno: Errno
    /// The kernel's extended-ack message ("Specified qdisc kind is unknown"), if it sent one.
    public var kernelMessage: String?
    /// What the user can do about it, where known.
    public var remedy: String?

    public init(operation: String, errno: Errno, kernelMessage: String? = nil, remedy: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.kernelMessage = kernelMessage
        self.remedy = remedy ?? NetlinkError.defaultRemedy(for: errno, kernelMessage: kernelMessage)
    }

    public var description: String {
        var text = "\(operation): \(errno.name) (\(errno.message))"
        if let kernelMessage, !kernelMessage.isEmpty { text += ": kernel says \"\(kernelMessage)\"" }
        if let remedy { text += ". \(remedy)" }
        return text
    }

    static func defaultRemedy(for errno: Errno, kernelMessage: String?) -> String? {
        switch errno {
        case .EPERM, .EACCES:
            return "Faultline needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): run it with sudo"
        case .EEXIST:
            return "Something with that name already exists in the namespace: pick another name, or run `faultline cleanup` if a previous run left it"
        case .ENODEV:
            return "No such network device in that namespace: check the interface name"
        case .EOPNOTSUPP:
            return "The kernel lacks this feature: run `faultline doctor` to see what is available"
        default:
            if kernelMessage?.contains("kind is unknown") == true {
                return "The kernel has no module for this kind: `modprobe` it, or run `faultline doctor`"
            }
            return nil
        }
    }
}
