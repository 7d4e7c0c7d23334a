import Values
import Netlink

/// Why the userspace engine could not start, change, or keep running.
public enum UserspaceEngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A spec failed validation; `issues` carry the key paths (`placements[1].loss.probability`).
    case invalidSpec(placement: Int, issues: [ModelIssue])
    /// A match names a node the engine was not told the addresses of.
    case unknownNode(name: String, keyPath: String, known: [String])
    /// A link direction that does not pass through the router's forwarding path.
    case notOnForwardingPath(link: LinkDirection, reason: String)
    /// Two placements ask for the same queue number.
    case duplicateQueue(UInt16)
    /// A system call failed (socket, bind, thread, timerfd, ...).
    case system(operation: String, errno: Errno)
    /// The kernel refused a netlink request (NFQUEUE bind or configuration), with its ext-ack text.
    case kernel(operation: String, errno: Errno, message: String?)
    /// iptables/ip6tables failed inside the router namespace.
    case firewall(command: [String], status: String, output: String)
    /// The engine was stopped or had already failed.
    case notRunning(String)

    public var description: String {
        switch self {
        case .invalidSpec(let placement, let issues):
            return "placements[\(placement)]: the spec is invalid:\n" + issues.map { "  \($0)" }.joined(separator: "\n")
        case .unknownNode(let name, let keyPath, let known):
            return "\(keyPath): no node named \"\(name)\"; known nodes: \(known.isEmpty ? "(none given)" : known.joined(separator: ", "))"
        case .notOnForwardingPath(let link, let reason):
            return "link \(link): \(reason)"
        case .duplicateQueue(let n):
            return "queue number \(n) is used by two placements; give each direction its own queue"
        case .system(let operation, let errno):
            return "\(operation): \(errno.name) (\(errno.message))"
        case .kernel(let operation, let errno, let message):
            var text = "\(operation): \(errno.name) (\(errno.message))"
            if let message, !message.isEmpty { text += ": kernel says \"\(message)\"" }
            if errno == .EPERM { text += ". The engine needs root (CAP_NET_ADMIN)" }
            if errno == .EBUSY { text += ". Another program is bound to this NFQUEUE number in the router namespace" }
            return text
        case .firewall(let command, let status, let output):
            let trimmed = output.split(separator: "\n").prefix(5).joined(separator: " | ")
            return "`\(command.joined(separator: " "))` in the router namespace \(status)" + (trimmed.isEmpty ? "" : ": \(trimmed)")
                + ". The engine needs iptables (with the NFQUEUE target and the mark match) in PATH"
        case .notRunning(let why):
            return "the userspace engine is not running: \(why)"
        }
    }
}

/// A running engine's death: what failed, on which direction, when (monotonic ns).
public struct UserspaceEngineFailure: Sendable, Equatable, CustomStringConvertible {
    /// The direction ("router→server"), or "engine" for the engine as a whole.
    public var path: String
    public var reason: String
    public var monotonicNanoseconds: UInt64

    public init(path: String, reason: String, monotonicNanoseconds: UInt64) {
        self.path = path
        self.reason = reason
        self.monotonicNanoseconds = monotonicNanoseconds
    }

    public var description: String {
        "userspace impairment engine failed on \(path): \(reason). Its NFQUEUE rules stay in place, so traffic on that direction is dropped (not passed unimpaired) until the engine is stopped"
    }
}
