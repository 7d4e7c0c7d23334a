import Values
import CLinux
import Glibc

/// A network namespace Faultline created (or joined), with its own thread.
///
/// Anonymous namespaces live exactly as long as this object's fd and thread — a SIGKILLed run
/// leaves nothing, by construction. Named ones (`faultline-<owner-pid>-<name>`, for labs and
/// `ip netns exec`) are bind-mounted under /run/netns and swept by `NamespaceSweeper` once their
/// owner pid is dead. Rootless, they stay anonymous and fd-held, and are only published (a small
/// file naming the thread that lives in them: `NamespaceRegistry`) in the user's runtime folder.
public final class NetworkNamespace: @unchecked Sendable {
    /// The prefix of every namespace name Faultline creates; the sweeper touches nothing else.
    public static let namePrefix = "faultline-"
    public static let runDirectory = "/run/netns"

    /// A human label for messages (`client`, or the full mounted name).
    public let label: String
    /// The full name under /run/netns, for named namespaces.
    public let mountedName: String?
    /// An open fd on the namespace (for IFLA_NET_NS_FD and setns).
    public let fd: Int32
    /// The namespace's nsfs inode (what /proc/PID/ns/net of every process inside it shows).
    public let inode: UInt64?

    private let thread: NamespaceThread
    private let lock = PThreadMutex()
    private var children: [ChildProcess] = []
    private var destroyed = false

    /// Creates a fresh namespace with only a loopback device (down).
    /// - Parameter name: nil for an anonymous namespace; otherwise it is mounted as
    ///   `/run/netns/faultline-<pid>-<name>`.
    public static func create(name: String? = nil, label: String? = nil) throws(NetlinkError) -> NetworkNamespace {
        let entry: NamespaceThread.Entry = NamespaceNursery.shared.map { .unshareWithin($0.fd) } ?? .unshare
        let thread = try NamespaceThread(entry: entry, label: label ?? name ?? "(anonymous)")
        let fd: Int32 = thread.run { Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC) }
        if fd < 0 {
            let error = Errno.current
            thread.stop()
            throw NetlinkError(operation: "open the new namespace's fd", errno: error)
        }
        var mounted: String?
        if let name {
            let full = "\(namePrefix)\(getpid())-\(name)"
            do {
                if Rootless.isRootless {
                    try NamespaceRegistry.publish(fd: fd, as: full, thread: thread)
                } else {
                    try Self.mount(fd: fd, as: full, thread: thread)
                }
            } catch {
                close(fd)
                thread.stop()
                throw error
            }
            mounted = full
        }
        return NetworkNamespace(label: label ?? name ?? "netns", mountedName: mounted, fd: fd, thread: thread)
    }

    /// Joins an existing namespace mounted at /run/netns/`mountedName` (e.g. a running lab's).
    public static func open(mountedName: String) throws(NetlinkError) -> NetworkNamespace {
        let path = "\(runDirectory)/\(mountedName)"
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            throw NetlinkError(operation: "open namespace \(path)", errno: Errno.current,
                               remedy: "No such namespace: is the lab still running? `faultline exec --lab` lists the running ones")
        }
        do {
            let thread = try NamespaceThread(entry: .join(fd), label: mountedName)
            return NetworkNamespace(label: mountedName, mountedName: nil, fd: fd, thread: thread, owns: false)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Created here (not joined): its processes end with it.
    private let ownsNamespace: Bool

    private init(label: String, mountedName: String?, fd: Int32, thread: NamespaceThread, owns: Bool = true) {
        self.ownsNamespace = owns
        self.label = label
        self.mountedName = mountedName
        self.fd = fd
        self.thread = thread
        self.inode = NamespaceProcesses.inode(ofFD: fd)
    }

    private static func mount(fd: Int32, as name: String, thread: NamespaceThread) throws(NetlinkError) {
        mkdir(runDirectory, 0o755)
        let target = "\(runDirectory)/\(name)"
        let created = Glibc.open(target, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        if created < 0 {
            throw NetlinkError(operation: "create \(target)", errno: Errno.current)
        }
        close(created)
        let rc: Int32 = thread.run { fl_bind_mount("/proc/thread-self/ns/net", target) }
        if rc != 0 {
            let error = Errno.current
            unlink(target)
            throw NetlinkError(operation: "bind-mount the namespace on \(target)", errno: error)
        }
    }

    /// Runs `body` on the namespace's own thread (inside the namespace) and returns its result.
    /// Sockets created in `body` belong to this namespace and may be used from any thread after.
    public func run<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        try thread.run(body)
    }

    /// Starts `argv` inside the namespace. The child dies with this namespace's thread
    /// (PR_SET_PDEATHSIG), is killed by `destroy()`, and gets its own process group.
    public func spawn(_ argv: [String], environment: [String: String]? = nil,
                      stdin: Int32 = -1, stdout: Int32 = -1, stderr: Int32 = -1) throws(NetlinkError) -> ChildProcess {
        let child = try thread.run { () throws(NetlinkError) -> ChildProcess in
            try ChildProcess.spawn(argv, environment: environment, stdin: stdin, stdout: stdout, stderr: stderr)
        }
        lock.withLock { children.append(child) }
        return child
    }

    /// The processes started here that have not been reaped.
    public var runningChildren: [ChildProcess] {
        lock.withLock { children.filter { !$0.hasExited } }
    }

    /// Kills every child, then every other process still in the namespace (daemons, orphaned
    /// grandchildren, `faultline exec` and `ip netns exec` sessions), stops the thread, unmounts
    /// a named namespace and closes the fd. The kernel frees the namespace (and its veth ends)
    /// once nothing holds it. A namespace this object joined (`open`) is left to its owner.
    public func destroy() {
        let toKill: [ChildProcess] = lock.withLock {
            if destroyed { return [] }
            destroyed = true
            return children
        }
        for child in toKill { child.kill() }
        for child in toKill { _ = child.wait() }
        if ownsNamespace, let inode { NamespaceProcesses.killAll(in: inode) }
        thread.stop()
        if let mountedName {
            if Rootless.isRootless {
                NamespaceRegistry.unpublish(mountedName)
            } else {
                let target = "\(Self.runDirectory)/\(mountedName)"
                _ = fl_umount_detach(target)
                unlink(target)
            }
        }
        close(fd)
    }

    deinit {
        let alreadyDestroyed = lock.withLock { destroyed }
        if !alreadyDestroyed { destroy() }
    }
}

/// A pthread mutex in a class: usable from any thread (namespace threads included), never
/// suspends, and guards state that lives outside the value it protects.
/// A value behind a lock.
public final class LockedBox<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = PThreadMutex()
    public init(_ value: Value) { self.value = value }
    public func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}

public final class PThreadMutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    public init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}
