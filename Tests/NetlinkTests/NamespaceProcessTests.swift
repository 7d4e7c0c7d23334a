import CLinux
import Glibc
import Netlink
import Testing
import TestSupport

/// Every process that ever ran in a namespace ends with it: daemons that left the process group,
/// orphaned grandchildren, programs that entered it on their own; and the sweep does the same for
/// a dead owner's namespaces. A live pid that is not the owner does not keep them.
@Suite("Processes end with their namespace")
struct NamespaceProcessTests {
    /// A duration no other process on the machine sleeps for, to find our sleepers by cmdline.
    static func marker() -> String { "31\(fl_monotonic_ns() % 1_000_000).5" }

    /// Pids whose command line contains `text`.
    static func processes(mentioning text: String) -> [Int32] {
        var found: [Int32] = []
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), pid != getpid(), let raw = TestSupport.readFile("/proc/\(pid)/cmdline") else { continue }
            // Zombies have an empty cmdline: only live processes count.
            if raw.replacingZeros.contains(text) { found.append(pid) }
        }
        return found
    }

    static func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = fl_monotonic_ns() + UInt64(seconds * 1e9)
        while fl_monotonic_ns() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    /// `setsid sleep` (a new session: out of reach of the process-group kill), an orphaned
    /// grandchild, and a double fork; the shell itself exits at once.
    static func daemonize(_ mark: String) -> [String] {
        ["/bin/sh", "-c", "setsid sleep \(mark) & (sleep \(mark); true) & (sh -c 'sleep \(mark) &' &) ; exit 0"]
    }

    @Test("destroy ends daemons, double forks and orphaned grandchildren of its processes")
    func daemonsEndWithTheNamespace() throws {
        let namespace = try NetworkNamespace.create(label: "daemons")
        let mark = Self.marker()
        let shell = try namespace.spawn(Self.daemonize(mark))
        _ = shell.wait()
        #expect(Self.waitFor(5) { Self.processes(mentioning: mark).count >= 3 }, "\(Self.processes(mentioning: mark))")
        namespace.destroy()
        let gone = Self.waitFor(2) { Self.processes(mentioning: mark).isEmpty }
        #expect(gone, "outlived their namespace: \(Self.processes(mentioning: mark))")
        for pid in Self.processes(mentioning: mark) { kill(pid, SIGKILL) }
    }

    @Test("destroy ends processes that entered the namespace on their own (ip netns exec)")
    func enteredProcessesEnd() throws {
        let namespace = try NetworkNamespace.create(name: "entered\(fl_monotonic_ns() % 100000)")
        let name = try #require(namespace.mountedName)
        let mark = Self.marker()
        let entered = try ChildProcess.start(["/usr/sbin/ip", "netns", "exec", name, "sleep", mark])
        // Until it has exec'd sleep, `ip` may not have entered the namespace yet.
        #expect(Self.waitFor(5) { TestSupport.readFile("/proc/\(entered.pid)/comm") == "sleep\n" })
        namespace.destroy()
        #expect(entered.wait(timeoutNanoseconds: 2_000_000_000) == .signaled(SIGKILL))
        entered.kill()
    }

    @Test("the sweep kills what still runs in a dead owner's namespace before removing it")
    func sweepKillsSurvivors() throws {
        let deadOwner: Int32 = 4_194_303 - Int32(fl_monotonic_ns() % 1000)
        let stale = "faultline-\(deadOwner)-survivors"
        let holder = try NetworkNamespace.create(label: "holder")
        defer { holder.destroy() }
        let mark = Self.marker()
        _ = try holder.spawn(Self.daemonize(mark)).wait()
        #expect(Self.waitFor(5) { Self.processes(mentioning: mark).count >= 3 })
        close(open("/run/netns/\(stale)", O_RDONLY | O_CREAT | O_CLOEXEC, 0o444))
        let rc: Int32 = holder.run { fl_bind_mount("/proc/thread-self/ns/net", "/run/netns/\(stale)") }
        #expect(rc == 0)
        // Tests run in parallel and sweep too: what matters is that it is gone, not whose sweep it was.
        _ = NamespaceSweeper.sweep()
        #expect(access("/run/netns/\(stale)", F_OK) != 0)
        let gone = Self.waitFor(2) { Self.processes(mentioning: mark).isEmpty }
        #expect(gone, "the sweep left processes of a dead run: \(Self.processes(mentioning: mark))")
        for pid in Self.processes(mentioning: mark) { kill(pid, SIGKILL) }
    }

    @Test("a reused pid does not keep a dead owner's namespaces; a live owner's are left alone")
    func reusedPID() throws {
        // A live process that never created the namespace stands for a pid the kernel reused.
        let stranger = try ChildProcess.start(["/bin/sleep", "30"])
        defer { stranger.kill(); stranger.wait() }
        let name = "faultline-\(stranger.pid)-reused"
        let holder = try NetworkNamespace.create(label: "holder")
        defer { holder.destroy() }
        close(open("/run/netns/\(name)", O_RDONLY | O_CREAT | O_CLOEXEC, 0o444))
        let rc: Int32 = holder.run { fl_bind_mount("/proc/thread-self/ns/net", "/run/netns/\(name)") }
        #expect(rc == 0)
        defer { _ = fl_umount_detach("/run/netns/\(name)"); unlink("/run/netns/\(name)") }
        let mine = try NetworkNamespace.create(name: "owned\(fl_monotonic_ns() % 100000)")
        defer { mine.destroy() }
        let swept = NamespaceSweeper.sweep()
        #expect(access("/run/netns/\(name)", F_OK) != 0)
        #expect(!swept.contains { $0.name == mine.mountedName })
        #expect(access("/run/netns/\(mine.mountedName ?? "")", F_OK) == 0)
        #expect(stranger.poll() == nil, "the sweep must not kill a stranger outside the namespace")
    }

    @Test("the sweep never empties the machine's own namespace, even mounted under Faultline's prefix")
    func rootNamespaceIsProtected() throws {
        let deadOwner: Int32 = 4_194_303 - Int32(fl_monotonic_ns() % 1000)
        let name = "faultline-\(deadOwner)-rootns"
        let stranger = try ChildProcess.start(["/bin/sleep", "30"])
        defer { stranger.kill(); stranger.wait() }
        close(open("/run/netns/\(name)", O_RDONLY | O_CREAT | O_CLOEXEC, 0o444))
        #expect(fl_bind_mount("/proc/self/ns/net", "/run/netns/\(name)") == 0)
        defer { _ = fl_umount_detach("/run/netns/\(name)"); unlink("/run/netns/\(name)") }
        _ = NamespaceSweeper.sweep()
        #expect(stranger.poll() == nil)
    }
}

extension String {
    var replacingZeros: String { String(map { $0 == "\0" ? " " : $0 }) }
}
