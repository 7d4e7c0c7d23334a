import CLinux
import Glibc

/// Processes by network namespace, read from /proc: what ends every process that ever ran in a
/// node — daemons that left their process group (`setsid`, double forks), grandchildren whose
/// parent died, programs started with `faultline exec` or `ip netns exec` — when the node ends,
/// and what the sweep uses on the namespaces of a SIGKILLed run.
///
/// A namespace is known by its nsfs inode (`stat` of /proc/PID/ns/net, of an fd on it, or of
/// its bind mount under /run/netns), which no other namespace shares while it exists.
public enum NamespaceProcesses {
    /// The inode of the network namespace an fd refers to, or nil.
    public static func inode(ofFD fd: Int32) -> UInt64? {
        var s = stat()
        return fstat(fd, &s) == 0 ? UInt64(s.st_ino) : nil
    }

    /// The inode of the network namespace at `path` (/proc/PID/ns/net, /run/netns/NAME), or nil.
    public static func inode(atPath path: String) -> UInt64? {
        var s = stat()
        return stat(path, &s) == 0 ? UInt64(s.st_ino) : nil
    }

    /// The namespaces no sweep or teardown may ever empty: the machine's own (pid 1's) and ours.
    static func isProtected(_ inode: UInt64) -> Bool {
        inode == Self.inode(atPath: "/proc/1/ns/net") || inode == Self.inode(atPath: "/proc/self/ns/net")
    }

    /// Every process (other than this one) whose network namespace is `inode`. Zombies have
    /// left their namespaces and are not listed.
    public static func pids(in inode: UInt64) -> [Int32] {
        let me = getpid()
        var found: [Int32] = []
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let pid: Int32? = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let bytes = raw.prefix { $0 != 0 }
                guard !bytes.isEmpty, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
                return Int32(String(decoding: bytes, as: UTF8.self))
            }
            guard let pid, pid != me else { continue }
            if Self.inode(atPath: "/proc/\(pid)/ns/net") == inode { found.append(pid) }
        }
        return found
    }

    /// SIGKILLs every process in the namespace until none is left (a forking process may add
    /// one between two scans; each round kills what it finds). Returns the pids it killed.
    /// Refuses the machine's own namespace and the caller's.
    @discardableResult
    public static func killAll(in inode: UInt64, timeoutNanoseconds: UInt64 = 3_000_000_000) -> [Int32] {
        if isProtected(inode) { return [] }
        var killed: [Int32] = []
        let deadline = fl_monotonic_ns() &+ timeoutNanoseconds
        while true {
            let found = pids(in: inode)
            if found.isEmpty { break }
            for pid in found {
                if kill(pid, SIGKILL) == 0, !killed.contains(pid) { killed.append(pid) }
            }
            if fl_monotonic_ns() >= deadline { break }
            usleep(1_000)
        }
        return killed
    }

    /// The network namespaces `pid` holds open fds on (what a live owner does for every
    /// namespace it created), or nil when its fds cannot be read (it is gone, or we lack rights).
    static func heldNamespaces(of pid: Int32) -> Set<UInt64>? {
        guard let dir = opendir("/proc/\(pid)/fd") else { return nil }
        defer { closedir(dir) }
        var held: Set<UInt64> = []
        var buffer = [CChar](repeating: 0, count: 64)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard Int32(name) != nil else { continue }
            let count = readlink("/proc/\(pid)/fd/\(name)", &buffer, buffer.count - 1)
            guard count > 5 else { continue }
            let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // "net:[4026532456]"
            if target.hasPrefix("net:["), target.hasSuffix("]"), let ino = UInt64(target.dropFirst(5).dropLast()) {
                held.insert(ino)
            }
        }
        return held
    }
}
