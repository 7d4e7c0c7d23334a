import Netlink

/// Why the kernel engine (netem / tbf) cannot do what a spec asks. Every case says what to do.
public enum KernelEngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kernel has no sch_netem: RTM_NEWQDISC kind "netem" failed with ENOENT and
    /// "Specified qdisc kind is unknown".
    case netemUnavailable(NetlinkError)
    /// The kernel refused a qdisc for another reason.
    case qdiscRefused(NetlinkError)
    /// netem/tbf cannot express parts of the spec (each reason names the key).
    case cannotExpress([String])
    /// A value is beyond what the kernel's fields hold.
    case valueOutOfRange(key: String, value: String, limit: String)
    case pschedUnreadable(path: String, reason: String)
    case distributionTableInvalid(path: String, line: Int, reason: String)

    /// Classifies a kernel answer to a qdisc request of `kind`.
    public static func classify(_ error: NetlinkError, kind: String) -> KernelEngineError {
        if kind == "netem", error.errno == .ENOENT, error.kernelMessage?.contains("qdisc kind is unknown") == true {
            return .netemUnavailable(error)
        }
        return .qdiscRefused(error)
    }

    public var description: String {
        switch self {
        case .netemUnavailable(let e):
            return "netem is not available in this kernel (\(e.operation): \(e.errno.name), kernel says \"\(e.kernelMessage ?? "")\"). "
                + "Load it with `modprobe sch_netem` (on some distributions it ships in linux-modules-extra), "
                + "or use the userspace engine: Faultline switches to it automatically unless the scenario pins `engine: netem`."
        case .qdiscRefused(let e):
            return e.description
        case .cannotExpress(let reasons):
            return "the kernel engine (netem/tbf) cannot do: \(reasons.joined(separator: "; ")). "
                + "Use the userspace engine (the default with `engine: automatic`) or remove those settings."
        case .valueOutOfRange(let key, let value, let limit):
            return "\(key): \(value) is beyond what the kernel takes (\(limit))"
        case .pschedUnreadable(let path, let reason):
            return "cannot read the packet scheduler clock from \(path): \(reason). tc needs it too; is /proc mounted?"
        case .distributionTableInvalid(let path, let line, let reason):
            return "\(path):\(line): \(reason) (a netem distribution table: numbers, with # comment lines)"
        }
    }
}
