import CLinux
import Glibc
import Netlink
import Testing
import TestSupport
import Values

@Suite("Namespaces")
struct NamespaceTests {
    @Test("a new namespace has only a loopback device, and its thread really is inside it")
    func freshNamespace() throws {
        let namespace = try NetworkNamespace.create(label: "fresh")
        defer { namespace.destroy() }
        let links = try namespace.netlink().links()
        #expect(links.map(\.name) == ["lo"])
        let inside: String = namespace.run { readLink("/proc/thread-self/ns/net") }
        let outside = readLink("/proc/thread-self/ns/net")
        #expect(inside != outside)
        #expect(inside.hasPrefix("net:["))
    }

    @Test("the kernel's counters are read per namespace: a datagram on one namespace's loopback counts there, not in another")
    func countersPerNamespace() throws {
        let one = try NetworkNamespace.create(label: "counters-a")
        defer { one.destroy() }
        let other = try NetworkNamespace.create(label: "counters-b")
        defer { other.destroy() }
        try one.netlink().setLinkUp("lo")
        let loopback = try #require(IPAddress("127.0.0.1"))
        let before: KernelCounters = try one.run { try KernelCounters.read() }
        let otherBefore: KernelCounters = try other.run { try KernelCounters.read() }
        #expect(before["TcpExtListenOverflows"] == 0, "a new namespace starts its counters at zero")
        let delivered: Bool = try one.run {
            let receiver = try Sockets.udpReceiver(loopback, port: 9100)
            defer { close(receiver) }
            try Sockets.udpSend(loopback, port: 9100)
            return Sockets.receiveTTL(receiver) != nil
        }
        #expect(delivered)
        let grown = (try one.run { try KernelCounters.read() }).since(before)
        #expect(grown["UdpInDatagrams"] == 1 && grown["UdpOutDatagrams"] == 1, "\(grown.values.filter { $0.value != 0 })")
        let otherGrown = (try other.run { try KernelCounters.read() }).since(otherBefore)
        #expect(otherGrown["UdpInDatagrams"] == 0)
    }

    @Test("counter text in the netstat/snmp format: prefix and name joined; lines that do not pair up skipped")
    func counterText() {
        let text = """
        TcpExt: SyncookiesSent ListenOverflows ListenDrops
        TcpExt: 0 7 9
        Orphan: 1 2
        Udp: InDatagrams NoPorts
        Udp: 12 x
        """
        let counters = KernelCounters(parsing: text)
        #expect(counters.values == ["TcpExtSyncookiesSent": 0, "TcpExtListenOverflows": 7, "TcpExtListenDrops": 9, "UdpInDatagrams": 12])
    }

    @Test("run{} never moves the calling thread")
    func callerUnmoved() throws {
        let before = readLink("/proc/thread-self/ns/net")
        let namespace = try NetworkNamespace.create(label: "unmoved")
        defer { namespace.destroy() }
        _ = namespace.run { 1 }
        #expect(readLink("/proc/thread-self/ns/net") == before)
    }

    @Test("a named namespace is mounted as faultline-<pid>-<name> and unmounted by destroy")
    func namedNamespace() throws {
        let namespace = try NetworkNamespace.create(name: "nstest\(fl_monotonic_ns() % 100000)")
        let name = try #require(namespace.mountedName)
        #expect(name.hasPrefix("faultline-\(getpid())-"))
        #expect(access("/run/netns/\(name)", F_OK) == 0)
        let ipView = TestSupport.runCommand(["/usr/sbin/ip", "-n", name, "-o", "link", "show"])
        #expect(ipView.status == 0)
        #expect(ipView.output.contains("lo:"))
        namespace.destroy()
        #expect(access("/run/netns/\(name)", F_OK) != 0)
    }

    @Test("spawn runs the child inside the namespace; destroy kills it")
    func spawnInside() throws {
        let namespace = try NetworkNamespace.create(label: "spawn")
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let out = open(dir + "/out", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        let child = try namespace.spawn(["/bin/sh", "-c", "readlink /proc/self/ns/net; exec sleep 30"], stdout: out)
        close(out)
        var text = ""
        for _ in 0..<200 where !(text.contains("]")) { usleep(5_000); text = TestSupport.readFile(dir + "/out") ?? "" }
        let inside: String = namespace.run { readLink("/proc/thread-self/ns/net") }
        #expect(text.trimmingWhitespace == inside)
        #expect(child.poll() == nil)
        namespace.destroy()
        #expect(child.poll() == .signaled(SIGKILL))
        #expect(kill(child.pid, 0) != 0)
    }

    @Test("opening a namespace that does not exist gives ENOENT with a remedy")
    func missingNamespace() {
        #expect {
            _ = try NetworkNamespace.open(mountedName: "faultline-0-does-not-exist")
        } throws: { error in
            guard let error = error as? NetlinkError else { return false }
            return error.errno == .ENOENT
                && error.description == "open namespace /run/netns/faultline-0-does-not-exist: ENOENT (No such file or directory). No such namespace: is the lab still running? `faultline exec --lab` lists the running ones"
        }
    }

    @Test("the sweeper removes Faultline namespaces of dead owners and nothing else")
    func sweeper() throws {
        // A namespace that claims a dead owner: pid 2^22-1 is above pid_max's default range in use here.
        let deadOwner: Int32 = 4_194_303 - Int32(fl_monotonic_ns() % 1000)
        #expect(!NamespaceSweeper.isAlive(deadOwner))
        let stale = "faultline-\(deadOwner)-stale"
        let foreign = "notfaultline-\(deadOwner)-keep"
        let holder = try NetworkNamespace.create(label: "holder")
        defer { holder.destroy() }
        for name in [stale, foreign] {
            let fd = open("/run/netns/\(name)", O_RDONLY | O_CREAT | O_CLOEXEC, 0o444)
            close(fd)
            let rc: Int32 = holder.run { fl_bind_mount("/proc/thread-self/ns/net", "/run/netns/\(name)") }
            #expect(rc == 0)
        }
        defer { _ = fl_umount_detach("/run/netns/\(foreign)"); unlink("/run/netns/\(foreign)") }
        // Other tests sweep in parallel: the stale one may be gone by their sweep rather than ours.
        let swept = NamespaceSweeper.sweep()
        #expect(access("/run/netns/\(stale)", F_OK) != 0)
        #expect(access("/run/netns/\(foreign)", F_OK) == 0)
        #expect(!swept.contains { $0.name == foreign })
    }
}

func readLink(_ path: String) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    let count = readlink(path, &buffer, 255)
    return count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
}

extension String {
    var trimmingWhitespace: String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
