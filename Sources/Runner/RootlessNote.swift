import Glibc
import Netlink

/// What commands that build networks say about privileges: why they cannot (not root, no user
/// namespace), or — once, rootless — what runs differently without real root and what it costs.
public enum RootlessNote {
    /// The error line when this process cannot build network namespaces; nil when it can.
    public static func refusal(command: String) -> String? {
        guard let reason = Rootless.cannotBuildReason else { return nil }
        return "error: faultline \(command) cannot build its network: \(reason)"
    }

    /// One line for a rootless command's start (nil as root). The figures are the userspace
    /// engine's delay error at 20 ms, root vs rootless, from `scripts/bench impairment --rootless`
    /// on the 2-core development VM at load 6-13 (README, "Without root"): p50 23-27 vs 24-62 µs,
    /// p99 60-106 µs vs 3.5-8 ms.
    public static var line: String? {
        guard Rootless.isRootless else { return nil }
        return "rootless (uid \(Rootless.outerUID) outside its user namespace): SCHED_FIFO, /dev/cpu_dma_latency and rps_cpus need real root and are skipped — "
            + "the userspace engine's held packets leave on a normal-priority thread (a short slice) and idle CPUs may sleep: the delay error's median stays near root's (25-60 µs) "
            + "but its p99 rises from ~0.1 ms to several ms while other processes keep the CPUs busy; "
            + "and each network's senders share one CPU to keep flows in order (CPU \(Rootless.allowedCPUs.last ?? 0))"
    }
}
