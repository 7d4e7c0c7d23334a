import Values
import CLinux
import Glibc

/// Writes into a network namespace's own sysfs.
///
/// `/sys/class/net` shows the devices of the namespace that *mounted* sysfs, not of the thread
/// reading it, and some per-device knobs (rps_cpus, threaded NAPI) exist only there. So each
/// write runs on a throwaway thread that joins the namespace, takes a private mount namespace of
/// its own (nothing propagates to the machine's mounts), mounts sysfs over /sys there, writes and
/// exits; its mount namespace, and the mount, end with it. No temporary folder: nothing is left
/// on the machine even when the process is SIGKILLed in the middle.
extension NetworkNamespace {
    /// Writes each `value` to its `path` (relative to the sysfs root, e.g.
    /// `class/net/eth0/queues/rx-0/rps_cpus`), in order; stops at the first failure.
    public func writeSysfs(_ writes: [(path: String, value: String)]) throws(NetlinkError) {
        _ = try runSysfs(SysfsJob(namespaceFD: fd, label: label, writes: writes, reads: []))
    }

    /// Reads each file at `paths` (relative to the sysfs root), as text without the final newline.
    public func readSysfs(_ paths: [String]) throws(NetlinkError) -> [String] {
        try runSysfs(SysfsJob(namespaceFD: fd, label: label, writes: [], reads: paths))
    }

    private func runSysfs(_ job: SysfsJob) throws(NetlinkError) -> [String] {
        let thread: PosixThread
        do throws(Errno) {
            thread = try PosixThread.start { job.run() }
        } catch {
            throw NetlinkError(operation: "start a thread to write the sysfs of \(label)", errno: error)
        }
        thread.join()   // orders the thread's writes of `failure`/`values` before the reads below
        if let failure = job.failure { throw failure }
        return job.values
    }
}

/// One batch of sysfs writes, then reads; `failure` and `values` are written by its thread and
/// read after the join.
private final class SysfsJob: @unchecked Sendable {
    let namespaceFD: Int32
    let label: String
    let writes: [(path: String, value: String)]
    let reads: [String]
    var failure: NetlinkError?
    var values: [String] = []

    init(namespaceFD: Int32, label: String, writes: [(path: String, value: String)], reads: [String]) {
        self.namespaceFD = namespaceFD
        self.label = label
        self.writes = writes
        self.reads = reads
    }

    func run() {
        _ = fl_prctl_set_name("fl-sysfs")
        var signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGPIPE]
        _ = fl_block_signals(&signals, Int32(signals.count))
        func fail(_ what: String, _ errno: Errno) { failure = NetlinkError(operation: "\(what) (sysfs of \(label))", errno: errno) }
        let cloneNewNS: Int32 = 0x0002_0000
        if fl_unshare(cloneNewNS) != 0 { return fail("unshare(CLONE_NEWNS)", Errno.current) }
        if fl_mount_private_root() != 0 { return fail("make this thread's mounts private", Errno.current) }
        if fl_setns(namespaceFD, fl_clone_newnet()) != 0 { return fail("enter the namespace", Errno.current) }
        // Only this thread's private mount namespace sees this mount.
        let directory = "/sys"
        if fl_mount_sysfs(directory) != 0 { return fail("mount sysfs", Errno.current) }
        for (path, value) in writes {
            let fd = retryingInterrupts { open("\(directory)/\(path)", O_WRONLY | O_CLOEXEC) }
            if fd < 0 { return fail("open /sys/\(path)", Errno.current) }
            defer { close(fd) }
            do throws(Errno) { try FileIO.writeAll(fd: fd, value) } catch { return fail("write \"\(value)\" to /sys/\(path)", error) }
        }
        for path in reads {
            let fd = retryingInterrupts { open("\(directory)/\(path)", O_RDONLY | O_CLOEXEC) }
            if fd < 0 { return fail("open /sys/\(path)", Errno.current) }
            defer { close(fd) }
            var text: String
            do throws(Errno) { text = String(decoding: try FileIO.readAll(fd: fd), as: UTF8.self) } catch {
                return fail("read /sys/\(path)", error)
            }
            while text.last == "\n" { text.removeLast() }
            values.append(text)
        }
    }
}

extension Network {
    /// Keeps each flow's packets in order across every veth of the network.
    ///
    /// veth hands every packet to the receiving side's backlog *on the CPU that sent it*. A TCP
    /// sender transmits from process context on one CPU and from softirq (ACK-clocked) on another,
    /// so two segments of one flow can sit in two CPUs' backlogs and be delivered out of order:
    /// measured here on a clean path, a 1 MiB transfer saw segments arrive reordered by up to
    /// five positions, the receiver's SACKs made the sender retransmit three of them, and the
    /// "clean" baseline showed retransmissions. A real wire never does that.
    ///
    /// Receive packet steering fixes it: with `rps_cpus` set on a device, every packet it receives
    /// is queued to a CPU chosen by the flow's hash, the same CPU for the whole flow, so the order
    /// the sender transmitted in is the order of delivery, hop after hop.
    ///
    /// Rootless, rps_cpus cannot be written (the kernel checks CAP_NET_ADMIN in the machine's own
    /// user namespace, and xps_cpus likewise), so the same end is reached from the sending side:
    /// see `keepFlowsOnOneCPU`.
    public func keepFlowsInOrder() throws(NetlinkError) {
        if Rootless.isRootless {
            try keepFlowsOnOneCPU()
            return
        }
        let mask = Self.allCPUsMask
        for node in topology.nodes {
            let interfaces = topology.links.flatMap { [$0.a, $0.b] }.filter { $0.node == node.name }.map(\.interface)
            guard !interfaces.isEmpty else { continue }
            try namespace(node.name).writeSysfs(interfaces.map { ("class/net/\($0)/queues/rx-0/rps_cpus", mask) })
        }
    }

    /// Every online CPU, as the hex mask rps_cpus takes ("3" for two CPUs; 32-bit groups joined
    /// by commas beyond 32).
    static var allCPUsMask: String {
        let count = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        var groups: [String] = []
        var remaining = count
        while remaining > 0 {
            let bits = min(32, remaining)
            let value: UInt64 = bits == 32 ? 0xFFFF_FFFF : (UInt64(1) << UInt64(bits)) - 1
            groups.insert(String(value, radix: 16), at: 0)
            remaining -= bits
        }
        return groups.joined(separator: ",")
    }
}

extension Network {
    /// Rootless flow order: every sender of the network runs on one CPU.
    ///
    /// Reordering needs two CPUs: veth queues a packet to the backlog of the CPU that sent it, and
    /// two backlogs drain independently. If everything that transmits into the network runs on
    /// one CPU — the processes started in its nodes (they inherit the affinity of their node's
    /// namespace thread, set here, as do `faultline exec` sessions, which take the lab's), the
    /// userspace engine's threads (`flowCPU`), and the softirq and timer work those trigger
    /// (run on the CPU that raised them) — every packet goes through one backlog, in order.
    /// The cost: the network's traffic shares one CPU (the userspace bench's throughput drops;
    /// the catalog's few Mbit/s do not notice). Measured in `scripts/bench impairment --rootless`
    /// and in the catalog's reordering counts (README, "Without root").
    ///
    /// FAULTLINE_ROOTLESS_UNPINNED=1 leaves the senders where the scheduler puts them: only for
    /// measuring what the pinning is worth (scripts/reorder-count).
    func keepFlowsOnOneCPU() throws(NetlinkError) {
        if getenv("FAULTLINE_ROOTLESS_UNPINNED") != nil { return }
        // The last CPU this process may use: CPU 0 takes most of the machine's interrupts.
        let cpu = Rootless.allowedCPUs.last ?? 0
        for node in nodeNames {
            let ns = try namespace(node)
            let rc: Int32 = ns.run {
                var cpus = [cpu]
                return fl_set_thread_cpus(&cpus, 1)
            }
            if rc != 0 { throw NetlinkError(operation: "run \(node)'s traffic on CPU \(cpu) (sched_setaffinity)", errno: Errno(rc)) }
        }
        setFlowCPU(cpu)
    }
}
