import CLinux
import Foundation
import Glibc
import Netlink

/// Keeps each flow's packets in order across the scenario's veth links.
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
/// the sender transmitted in is the order of delivery, hop after hop. `rps_cpus` lives in the
/// namespace's own sysfs, so it is written from a throwaway thread that joins the namespace,
/// takes a private mount namespace of its own (nothing propagates to the machine's mounts),
/// mounts sysfs there, writes, and exits.
enum PathOrder {
    /// Every online CPU, as the hex mask rps_cpus takes ("3" for two CPUs).
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

    /// Sets rps_cpus on every interface of every node. Throws when the kernel refuses.
    static func steer(_ network: Network, topology: Netlink.Topology) throws(RunnerError) {
        let mask = allCPUsMask
        for node in topology.nodes {
            let interfaces = topology.links.flatMap { [$0.a, $0.b] }.filter { $0.node == node.name }.map(\.interface)
            guard !interfaces.isEmpty else { continue }
            let namespace: NetworkNamespace
            do { namespace = try network.namespace(node.name) } catch { throw .execution(error.description) }
            if let problem = write(mask: mask, interfaces: interfaces, namespaceFD: namespace.fd) {
                throw .environment("keep packets in order on \(node.name) (rps_cpus): \(problem)")
            }
        }
    }

    /// On a fresh thread: join the namespace, private mounts, sysfs, write. Returns a problem or nil.
    private static func write(mask: String, interfaces: [String], namespaceFD: Int32) -> String? {
        let outcome = LockedBox<String?>("did not run")
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            var signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE]
            _ = fl_block_signals(&signals, Int32(signals.count))
            let cloneNewNS: Int32 = 0x0002_0000
            if fl_unshare(cloneNewNS) != 0 { outcome.withLock { $0 = "unshare(CLONE_NEWNS): \(Errno.current)" }; return }
            if fl_mount_private_root() != 0 { outcome.withLock { $0 = "make mounts private: \(Errno.current)" }; return }
            if fl_setns(namespaceFD, fl_clone_newnet()) != 0 { outcome.withLock { $0 = "setns: \(Errno.current)" }; return }
            var template = Array("/tmp/faultline-sysfs-XXXXXX".utf8CString)
            let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
                guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
                return String(cString: base)
            }
            guard let dir = made else { outcome.withLock { $0 = "mkdtemp: \(Errno.current)" }; return }
            defer { rmdir(dir) }
            if fl_mount_sysfs(dir) != 0 { outcome.withLock { $0 = "mount sysfs: \(Errno.current)" }; return }
            defer { _ = fl_umount_detach(dir) }
            for interface in interfaces {
                let path = "\(dir)/class/net/\(interface)/queues/rx-0/rps_cpus"
                let fd = open(path, O_WRONLY | O_CLOEXEC)
                if fd < 0 { outcome.withLock { $0 = "open \(path): \(Errno.current)" }; return }
                let bytes = Array(mask.utf8)
                let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                let error = Errno.current
                close(fd)
                if written != bytes.count { outcome.withLock { $0 = "write \(mask) to rps_cpus of \(interface): \(error)" }; return }
            }
            outcome.withLock { $0 = nil }
        }
        thread.name = "fl-rps"
        thread.start()
        done.wait()
        return outcome.withLock { $0 }
    }
}
