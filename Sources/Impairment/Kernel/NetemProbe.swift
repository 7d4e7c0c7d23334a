import Netlink

/// Asking the kernel whether it has sch_netem: the smallest netem qdisc (limit 1000, nothing
/// else), encoded by the same `NetemConfiguration` the engine sends, installed and removed again.
/// Used by the runner before it places the first entry that needs netem, and by `doctor`.
public enum NetemProbe {
    /// The probe's qdisc at the root of an interface.
    public static var request: QdiscRequest {
        QdiscRequest(kind: "netem", handle: KernelPlan.netemHandle, parent: QdiscRequest.root, options: NetemConfiguration().serialized())
    }

    /// nil when the kernel took netem (the probe qdisc is gone again); otherwise the kernel's
    /// refusal, when it is the refusal of netem itself (`KernelEngineError.netemUnavailable`).
    /// Any other error (a busy interface, no permission) is not an answer about netem: nil too,
    /// and the real request will report it.
    public static func refusal(handle: NetlinkHandle, interface: String) -> NetlinkError? {
        do {
            try handle.apply(request.qdisc(interface: interface), .add)
            try? handle.deleteQdisc(interface: interface)
            return nil
        } catch {
            if case .netemUnavailable(let refusal) = KernelEngineError.classify(error, kind: "netem") { return refusal }
            return nil
        }
    }

    /// The kernel's answer in its own words: `RTM_NEWQDISC kind "netem": ENOENT, kernel says "…"`.
    public static func words(_ error: NetlinkError, kind: String = "netem") -> String {
        var text = "RTM_NEWQDISC kind \"\(kind)\": \(error.errno.name)"
        if let message = error.kernelMessage, !message.isEmpty { text += ", kernel says \"\(message)\"" }
        return text
    }
}
