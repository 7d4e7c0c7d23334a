import Values
import CPcap
import Netlink

/// Why a capture could not start (or had to stop early).
///
/// Always names the capture point (`namespace:interface`), the step that failed, and the text
/// libpcap or the kernel gave, e.g.
/// `capture on server:eth9: pcap_activate failed with PCAP_ERROR_NO_SUCH_DEVICE (No such device exists): SIOCGIFINDEX: No such device`.
public struct PacketCaptureError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Step: String, Sendable, Equatable {
        /// pcap_create
        case create = "pcap_create"
        /// a pcap_set_* call before activation
        case configure = "configure the handle"
        case activate = "pcap_activate"
        case compileFilter = "pcap_compile"
        case setFilter = "pcap_setfilter"
        case setNonBlocking = "pcap_setnonblock"
        case selectableDescriptor = "pcap_get_selectable_fd"
        case openFile = "open the capture file"
        case writeFile = "write the capture file"
        case startThread = "start the capture thread"
        case stopDescriptor = "create the stop eventfd"
        case invalidArgument = "check the capture request"
    }

    /// Label of the namespace (`client`, `server`, or `(current)` for the caller's own).
    public var namespace: String
    public var interface: String
    public var step: Step
    /// libpcap's status code (PCAP_ERROR_*), when a pcap call returned one.
    public var pcapStatus: Int32?
    /// The errno of a failed system call (file, thread, eventfd).
    public var errno: Errno?
    /// libpcap's error text (pcap_geterr or the errbuf), or the detail of the problem.
    public var message: String
    /// The capture file concerned, for file errors.
    public var file: String?

    public init(namespace: String, interface: String, step: Step, pcapStatus: Int32? = nil,
                errno: Errno? = nil, message: String, file: String? = nil) {
        self.namespace = namespace
        self.interface = interface
        self.step = step
        self.pcapStatus = pcapStatus
        self.errno = errno
        self.message = message
        self.file = file
    }

    /// True when the cause is missing privileges (CAP_NET_RAW): the environment, not the request.
    public var isPermissionProblem: Bool {
        if let pcapStatus, pcapStatus == PCAP_ERROR_PERM_DENIED { return true }
        if let errno, errno == .EPERM || errno == .EACCES { return true }
        return false
    }

    /// True when the interface does not exist in that namespace.
    public var isNoSuchInterface: Bool {
        pcapStatus == PCAP_ERROR_NO_SUCH_DEVICE
    }

    public var description: String {
        var text = "capture on \(namespace):\(interface): "
        if let file, step == .openFile || step == .writeFile {
            text += "\(step.rawValue) \(file) failed"
        } else {
            text += "\(step.rawValue) failed"
        }
        var statusText = ""
        if let pcapStatus {
            statusText = String(cString: pcap_statustostr(pcapStatus))
            text += " with \(Self.statusName(pcapStatus)) (\(statusText))"
        }
        if let errno { text += " with \(errno)" }
        if !message.isEmpty && message != statusText { text += ": \(message)" }
        if isPermissionProblem {
            text += " — capturing needs root or CAP_NET_RAW"
        } else if isNoSuchInterface {
            text += " — no interface named \"\(interface)\" in namespace \(namespace)"
        }
        return text
    }

    /// The PCAP_ERROR_* / PCAP_WARNING_* name of a libpcap status code.
    public static func statusName(_ status: Int32) -> String {
        switch status {
        case 0: return "0"
        case PCAP_ERROR: return "PCAP_ERROR"
        case PCAP_ERROR_BREAK: return "PCAP_ERROR_BREAK"
        case PCAP_ERROR_NOT_ACTIVATED: return "PCAP_ERROR_NOT_ACTIVATED"
        case PCAP_ERROR_ACTIVATED: return "PCAP_ERROR_ACTIVATED"
        case PCAP_ERROR_NO_SUCH_DEVICE: return "PCAP_ERROR_NO_SUCH_DEVICE"
        case PCAP_ERROR_RFMON_NOTSUP: return "PCAP_ERROR_RFMON_NOTSUP"
        case PCAP_ERROR_NOT_RFMON: return "PCAP_ERROR_NOT_RFMON"
        case PCAP_ERROR_PERM_DENIED: return "PCAP_ERROR_PERM_DENIED"
        case PCAP_ERROR_IFACE_NOT_UP: return "PCAP_ERROR_IFACE_NOT_UP"
        case PCAP_ERROR_CANTSET_TSTAMP_TYPE: return "PCAP_ERROR_CANTSET_TSTAMP_TYPE"
        case PCAP_ERROR_PROMISC_PERM_DENIED: return "PCAP_ERROR_PROMISC_PERM_DENIED"
        case PCAP_ERROR_TSTAMP_PRECISION_NOTSUP: return "PCAP_ERROR_TSTAMP_PRECISION_NOTSUP"
        case PCAP_WARNING: return "PCAP_WARNING"
        case PCAP_WARNING_PROMISC_NOTSUP: return "PCAP_WARNING_PROMISC_NOTSUP"
        case PCAP_WARNING_TSTAMP_TYPE_NOTSUP: return "PCAP_WARNING_TSTAMP_TYPE_NOTSUP"
        default: return "pcap status \(status)"
        }
    }
}
