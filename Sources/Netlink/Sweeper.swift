import CLinux
import Glibc

/// Removes named namespaces (`/run/netns/faultline-<pid>-...`) whose owner process is gone —
/// what a SIGKILLed lab leaves behind — after killing every process still running in them.
/// Names without Faultline's prefix are never touched.
///
/// An owner is alive only if its pid holds an fd on the namespace (every owner does, from the
/// namespace's creation until after its unmount): a pid the kernel reused for another process
/// holds none, so a dead run's namespaces cannot be kept forever by a stranger with its pid.
public enum NamespaceSweeper {
    public struct Swept: Sendable, Equatable {
        public var name: String
        public var ownerPID: Int32
        public init(name: String, ownerPID: Int32) {
            self.name = name
            self.ownerPID = ownerPID
        }
    }

    /// The owner pid encoded in a Faultline namespace name, or nil for any other name.
    public static func ownerPID(of name: String) -> Int32? {
        guard name.hasPrefix(NetworkNamespace.namePrefix) else { return nil }
        let rest = name.dropFirst(NetworkNamespace.namePrefix.count)
        guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[rest.startIndex..<dash]), pid > 0 else { return nil }
        return pid
    }

    /// Whether a process with this pid exists (any process: see `isOwnerAlive` for owners).
    public static func isAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Whether `pid` is alive and is the owner of the namespace mounted at /run/netns/`name`:
    /// it holds an fd on that namespace. When its fds cannot be read (no rights), a live pid counts.
    public static func isOwnerAlive(_ pid: Int32, of name: String) -> Bool {
        if Rootless.usesRegistry { return NamespaceRegistry.entry(named: name).map(NamespaceRegistry.isOwnerAlive) ?? false }
        guard isAlive(pid) else { return false }
        guard let inode = NamespaceProcesses.inode(atPath: "\(NetworkNamespace.runDirectory)/\(name)") else { return false }
        guard let held = NamespaceProcesses.heldNamespaces(of: pid) else {
            return access("/proc/\(pid)", F_OK) == 0
        }
        return held.contains(inode)
    }

    /// Names of Faultline namespaces currently mounted (rootless: published), with their owners.
    public static func mounted() -> [(name: String, owner: Int32)] {
        if Rootless.usesRegistry { return NamespaceRegistry.entries().map { ($0.name, $0.owner) } }
        guard let dir = opendir(NetworkNamespace.runDirectory) else { return [] }
        defer { closedir(dir) }
        var result: [(String, Int32)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let pid = ownerPID(of: name) { result.append((name, pid)) }
        }
        return result.sorted { $0.0 < $1.0 }
    }

    /// Kills every process still running in each Faultline namespace whose owner is dead (the
    /// owner's direct children died with it, PR_SET_PDEATHSIG; daemons and grandchildren did
    /// not), then unmounts and removes it.
    @discardableResult
    public static func sweep() -> [Swept] {
        if Rootless.usesRegistry { return NamespaceRegistry.sweep() }
        var swept: [Swept] = []
        for (name, owner) in mounted() where !isOwnerAlive(owner, of: name) {
            let path = "\(NetworkNamespace.runDirectory)/\(name)"
            if let inode = NamespaceProcesses.inode(atPath: path) { NamespaceProcesses.killAll(in: inode) }
            _ = fl_umount_detach(path)
            if unlink(path) == 0 { swept.append(Swept(name: name, ownerPID: owner)) }
        }
        return swept
    }
}
