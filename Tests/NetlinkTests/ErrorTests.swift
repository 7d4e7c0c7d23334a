import Values
import Glibc
import Netlink
import Testing
import TestSupport

@Suite("Kernel errors arrive typed, with errno and the kernel's own message")
struct ErrorTests {
    @Test("a duplicate link name is EEXIST with the remedy")
    func duplicateLink() throws {
        let a = try NetworkNamespace.create(label: "dup-a")
        let b = try NetworkNamespace.create(label: "dup-b")
        defer { a.destroy(); b.destroy() }
        let handle = try a.netlink()
        try handle.addVeth(VethPair(name: "v0", in: a, peer: "v1", in: b))
        #expect {
            try handle.addVeth(VethPair(name: "v0", in: a, peer: "v2", in: b))
        } throws: { error in
            guard let error = error as? NetlinkError else { return false }
            return error.errno == .EEXIST
                && error.description.hasPrefix("create veth \"v0\" (dup-a) <-> \"v2\" (dup-b) in dup-a: EEXIST (File exists)")
                && error.description.hasSuffix("Something with that name already exists in the namespace: pick another name, or run `faultline cleanup` if a previous run left it")
        }
    }

    @Test("an address on a missing interface is ENODEV")
    func addressOnMissingInterface() throws {
        let namespace = try NetworkNamespace.create(label: "noif")
        defer { namespace.destroy() }
        let handle = try namespace.netlink()
        let network = try #require(IPPrefix("198.18.9.1/24"))
        #expect {
            try handle.addAddress(InterfaceAddress(interface: "nope0", network: network))
        } throws: { error in
            guard let error = error as? NetlinkError else { return false }
            return error.errno == .ENODEV && error.description.hasPrefix("look up link \"nope0\" in noif: ENODEV (No such device)")
        }
    }

    @Test("a bad address is refused: text that is not an address, and a prefix the kernel rejects")
    func badAddress() throws {
        #expect(IPPrefix("198.18.300.1/24") == nil)
        #expect(IPPrefix("198.18.1.1/33") == nil)
        #expect(IPPrefix("fd00::1/129") == nil)
        #expect(IPAddress("client") == nil)
        let namespace = try NetworkNamespace.create(label: "badaddr")
        defer { namespace.destroy() }
        let handle = try namespace.netlink()
        // A route through a gateway that is not on any connected network: the kernel says why.
        #expect {
            try handle.addRoute(Route(gateway: IPAddress("198.18.77.1")))
        } throws: { error in
            guard let error = error as? NetlinkError else { return false }
            return error.errno == .ENETUNREACH && error.kernelMessage == "Nexthop has invalid gateway"
        }
    }

    @Test("a netem qdisc on a kernel without sch_netem: ENOENT and the kernel's words")
    func unknownQdiscKind() throws {
        let a = try NetworkNamespace.create(label: "qd-a")
        let b = try NetworkNamespace.create(label: "qd-b")
        defer { a.destroy(); b.destroy() }
        let handle = try a.netlink()
        try handle.addVeth(VethPair(name: "q0", in: a, peer: "q1", in: b))
        // Kind "faultline-nonexistent" is unknown on every kernel, so this test holds everywhere.
        #expect {
            try handle.apply(Qdisc(interface: "q0", kind: "faultline-none", options: []))
        } throws: { error in
            guard let error = error as? NetlinkError else { return false }
            return error.errno == .ENOENT && error.kernelMessage == "Specified qdisc kind is unknown"
                && error.description.contains("kernel says \"Specified qdisc kind is unknown\"")
        }
    }

    @Test("a bad interface name never reaches the kernel")
    func badInterfaceName() throws {
        let a = try NetworkNamespace.create(label: "name-a")
        defer { a.destroy() }
        #expect {
            try a.netlink().addVeth(VethPair(name: "this-name-is-too-long", in: a, peer: "x", in: a))
        } throws: { error in
            (error as? NetlinkError)?.description == "use interface name \"this-name-is-too-long\": EINVAL (Invalid argument). Interface names are 1 to 15 bytes without '/' or spaces"
        }
    }

    @Test("a sysctl that does not exist: ENOENT with advice")
    func missingSysctl() throws {
        let namespace = try NetworkNamespace.create(label: "sysctl")
        defer { namespace.destroy() }
        #expect {
            _ = try namespace.sysctl("net.ipv4.tcp_delack_min")
        } throws: { error in
            guard let error = error as? NetlinkError else { return false }
            return error.errno == .ENOENT && error.description.hasPrefix("read sysctl net.ipv4.tcp_delack_min in sysctl: ENOENT")
        }
    }
}

@Suite("Nothing is left in the root namespace")
struct LeakTests {
    @Test("building and tearing down lines leaves root links, routes, qdiscs and rules identical")
    func rootUnchanged() throws {
        let before = TestSupport.rootSnapshot()
        for _ in 0..<3 {
            let network = try Topology.line().build()
            _ = try network.namespace("client").spawn(["/bin/sleep", "30"])
            network.teardown()
        }
        let after = TestSupport.rootSnapshot()
        #expect(after.links == before.links)
        #expect(after.routes == before.routes)
        #expect(after.qdiscs == before.qdiscs)
        #expect(after.nftRuleset == before.nftRuleset)
    }
}
