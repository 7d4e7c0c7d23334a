import Glibc

/// The namespace Faultline's namespaces are created from, so that each gets a TCP socket hash
/// table of its own.
///
/// By default every namespace shares the host's TCP established-hash table (262144 buckets on
/// a machine with a few GB): a sock_diag dump inside a namespace walks all of it, ~1.5 ms a dump,
/// which made sampling TCP_INFO every 10 ms cost a quarter of a CPU. Since Linux 6.1 a namespace
/// created from a namespace whose `net.ipv4.tcp_child_ehash_entries` is set gets its own table
/// of that size: the nursery is an empty namespace with that sysctl set, and new namespaces are
/// unshared from a thread that joined it. The host's own setting is never touched. On kernels
/// without the sysctl there is no nursery and namespaces are created from the host's as before.
final class NamespaceNursery: @unchecked Sendable {
    /// Buckets of each child namespace's table (the kernel rounds to a power of two). Plenty for
    /// a scenario's few sockets, and a dump walks it in microseconds.
    static let childHashEntries = 1024

    let fd: Int32
    private let thread: NamespaceThread

    private init(fd: Int32, thread: NamespaceThread) {
        self.fd = fd
        self.thread = thread
    }

    /// Made once per process, on first use; nil where the kernel cannot give children their own table.
    static let shared: NamespaceNursery? = {
        guard let thread = try? NamespaceThread(entry: .unshare, label: "nursery") else { return nil }
        let ready: Int32 = thread.run {
            let sysctl = Glibc.open("/proc/sys/net/ipv4/tcp_child_ehash_entries", O_WRONLY | O_CLOEXEC)
            guard sysctl >= 0 else { return -1 }
            defer { close(sysctl) }
            let text = Array("\(childHashEntries)\n".utf8)
            guard text.withUnsafeBytes({ Glibc.write(sysctl, $0.baseAddress, $0.count) }) == text.count else { return -1 }
            return Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        }
        guard ready >= 0 else {
            thread.stop()
            return nil
        }
        return NamespaceNursery(fd: ready, thread: thread)
    }()
}
