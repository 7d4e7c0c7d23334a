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
    /// engine's delay error at 20 ms from `scripts/bench impairment --rootless` on the 2-core
    /// development VM (README, "Without root"; `ReleaseHelpers`): rootless p99 66-108 µs at load
    /// 4-6.3 (root 43-196 µs), 8 ms beside a parallel build (load 8.5; root 47 µs).
    public static var line: String? {
        guard Rootless.isRootless else { return nil }
        return "rootless (uid \(Rootless.outerUID) outside its user namespace): SCHED_FIFO, /dev/cpu_dma_latency and rps_cpus need real root and are skipped — "
            + "the userspace engine's held packets leave on normal-priority threads (one per CPU waits for each release time): the delay error's p99 stays near root's (~0.1 ms) "
            + "while the CPUs have room, but rises to several ms while other processes keep them busy; "
            + "and each network's senders share one CPU to keep flows in order (CPU \(Rootless.allowedCPUs.last ?? 0))"
    }
}
