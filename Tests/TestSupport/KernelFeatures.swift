import Glibc

/// What this kernel can do, asked of the kernel itself — never read from a config file (a kernel
/// need not provide one) nor assumed from the machine the tests were written on. Each probe runs
/// iproute2 in a throwaway network namespace (`unshare -n`), so it is independent of the code
/// under test and leaves nothing behind. Tests that depend on a feature assert whichever
/// behaviour the kernel has, and say which feature they lack when they cannot apply.
public enum KernelFeatures {
    /// The kernel's answer to `tc qdisc add … netem` on a fresh veth: nil when it took the qdisc,
    /// else tc's message (e.g. "Error: Specified qdisc kind is unknown.").
    public static let netemRefusal: String? = probe("tc qdisc add dev fl0 root netem delay 1ms")

    /// Whether sch_netem is there (built in, or loaded on demand).
    public static var hasNetem: Bool { netemRefusal == nil }

    /// A line for test output naming the feature a test lacks.
    public static func lacking(_ feature: String) -> String {
        "this kernel lacks \(feature) (\(netemRefusal ?? "")): the test asserts the other kernel's behaviour"
    }

    /// Runs `command` after creating a veth pair fl0/fl1 in a new network namespace; nil when it
    /// succeeded, else its stderr.
    static func probe(_ command: String) -> String? {
        let script = "ip link add fl0 type veth peer name fl1 && ip link set fl0 up && \(command)"
        let result = TestSupport.runCommandCapturingErrors(["/usr/bin/unshare", "-n", "/bin/sh", "-c", script])
        if result.status == 0 { return nil }
        let message = String(result.error.split(separator: "\n").first ?? "")
        return message.isEmpty ? "exit \(result.status)" : message
    }
}
