import Values
import CLinux
import Glibc

/// Rootless labs and runs, published where `faultline exec` and the sweep of another process of
/// the same user find them: one file per node in `Rootless.registryDirectory`, named like the
/// /run/netns mount root would make (`faultline-<owner-pid>-<id>-<node>`), holding the thread
/// that lives in the node's namespace and the namespace's inode: `<tid> <inode>`.
///
/// A user cannot mount under /run/netns, and needs none: the namespace stays anonymous and
/// fd-held (it dies with its owner, unless a leftover process keeps it), and another process of
/// the same user reaches it through `/proc/<pid>/task/<tid>/ns/net` (the owner's namespace
/// thread), with the user namespace at `/proc/<pid>/ns/user`. The inode tells a live owner from a
/// pid the kernel reused, and lets the sweep find processes a dead lab left in it.
public enum NamespaceRegistry {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var owner: Int32
        public var thread: Int32
        public var inode: UInt64
        /// The node's network namespace, while its owner lives.
        public var networkNamespacePath: String { "/proc/\(owner)/task/\(thread)/ns/net" }
        /// The owner's user namespace (the lab's).
        public var userNamespacePath: String { "/proc/\(owner)/ns/user" }
    }

    static func publish(fd: Int32, as name: String, thread: NamespaceThread) throws(NetlinkError) {
        guard let folder = Rootless.registryDirectory else {
            throw NetlinkError(operation: "publish namespace \(name)", errno: .EACCES,
                               remedy: "Neither $XDG_RUNTIME_DIR/faultline nor /tmp/faultline-\(Rootless.outerUID) can be a private folder of this user's")
        }
        guard let inode = NamespaceProcesses.inode(ofFD: fd) else {
            throw NetlinkError(operation: "stat namespace \(name)", errno: Errno.current)
        }
        let tid: Int32 = thread.run { fl_gettid() }
        let path = "\(folder)/\(name)"
        let temporary = "\(folder)/.\(name).\(getpid())"
        let file = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if file < 0 { throw NetlinkError(operation: "create \(temporary)", errno: Errno.current) }
        let text = Array("\(tid) \(inode)\n".utf8)
        let written = text.withUnsafeBytes { Glibc.write(file, $0.baseAddress, $0.count) }
        close(file)
        if written != text.count || rename(temporary, path) != 0 {
            let error = Errno.current
            unlink(temporary)
            throw NetlinkError(operation: "publish \(path)", errno: error)
        }
    }

    static func unpublish(_ name: String) {
        guard let folder = Rootless.registryDirectory else { return }
        unlink("\(folder)/\(name)")
    }

    /// Every published entry of this user's (owners alive or not).
    public static func entries() -> [Entry] {
        guard let folder = Rootless.registryDirectory, let dir = opendir(folder) else { return [] }
        defer { closedir(dir) }
        var result: [Entry] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let owner = NamespaceSweeper.ownerPID(of: name) else { continue }
            let fields = (Rootless.readText("\(folder)/\(name)") ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard fields.count >= 2, let tid = Int32(fields[0]), let inode = UInt64(fields[1]) else {
                // Half-written or foreign: a dead owner's is removed by the sweep below.
                result.append(Entry(name: name, owner: owner, thread: 0, inode: 0))
                continue
            }
            result.append(Entry(name: name, owner: owner, thread: tid, inode: inode))
        }
        return result.sorted { $0.name < $1.name }
    }

    public static func entry(named name: String) -> Entry? { entries().first { $0.name == name } }

    /// The owner is alive and still holds the namespace (a reused pid holds none).
    public static func isOwnerAlive(_ entry: Entry) -> Bool {
        guard entry.inode != 0, NamespaceSweeper.isAlive(entry.owner) else { return false }
        if NamespaceProcesses.inode(atPath: entry.networkNamespacePath) == entry.inode { return true }
        guard let held = NamespaceProcesses.heldNamespaces(of: entry.owner) else { return false }
        return held.contains(entry.inode)
    }

    /// Removes the entries of dead owners, after killing every process still running in their
    /// namespaces (processes of this user's only: the kernel refuses the rest).
    static func sweep() -> [NamespaceSweeper.Swept] {
        guard let folder = Rootless.registryDirectory else { return [] }
        var swept: [NamespaceSweeper.Swept] = []
        for entry in entries() where !isOwnerAlive(entry) {
            if entry.inode != 0 { NamespaceProcesses.killAll(in: entry.inode) }
            if unlink("\(folder)/\(entry.name)") == 0 { swept.append(.init(name: entry.name, ownerPID: entry.owner)) }
        }
        // Temporary files of publishers that died mid-write.
        if let dir = opendir(folder) {
            var stale: [String] = []
            while let item = readdir(dir) {
                let name = withUnsafeBytes(of: item.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard name.hasPrefix(".\(NetworkNamespace.namePrefix)"), let dot = name.lastIndex(of: "."),
                      let pid = Int32(name[name.index(after: dot)...]), !NamespaceSweeper.isAlive(pid) else { continue }
                stale.append(name)
            }
            closedir(dir)
            for name in stale { unlink("\(folder)/\(name)") }
        }
        return swept
    }
}
