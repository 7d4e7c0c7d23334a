import ArgumentParser
import CLinux
import Foundation
import Netlink

/// `faultline _bench-topology`: the measurement behind `scripts/bench topology`. Builds and tears
/// down the line topology N times through the Netlink layer, then does the same work with `ip`
/// (and `ethtool`, `sysctl`) commands, in the same run, and prints medians and one JSON line.
struct BenchTopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_bench-topology",
        abstract: "Benchmark: line topology build+teardown, netlink vs ip commands.",
        shouldDisplay: false)

    @Option(help: "Build/teardown cycles per method.")
    var iterations = 30

    func run() throws {
        NamespaceSweeper.sweep()
        var faultline: [Double] = []
        for _ in 0..<iterations {
            let start = fl_monotonic_ns()
            let network = try Topology.line().build()
            network.teardown()
            faultline.append(Double(fl_monotonic_ns() - start) / 1e6)
        }
        var shell: [Double] = []
        let hasEthtool = ChildProcess.resolveInPath("ethtool") != nil
        for iteration in 0..<iterations {
            let start = fl_monotonic_ns()
            try runIPEquivalent(tag: "flb\(getpid() % 10000)x\(iteration)", ethtool: hasEthtool)
            shell.append(Double(fl_monotonic_ns() - start) / 1e6)
        }
        let faultlineMedian = median(faultline)
        let ipMedian = median(shell)
        print("line topology (3 namespaces, 2 veth pairs, 8 addresses, 4 routes, forwarding, offloads off), \(iterations) cycles each:")
        print(String(format: "  faultline (netlink):   median %.2f ms  min %.2f  max %.2f", faultlineMedian, faultline.min() ?? 0, faultline.max() ?? 0))
        print(String(format: "  ip commands (%d):      median %.2f ms  min %.2f  max %.2f", commandCount(ethtool: hasEthtool), ipMedian, shell.min() ?? 0, shell.max() ?? 0))
        if !hasEthtool { print("  (ethtool not installed: the ip baseline leaves offloads on, so it does less work)") }
        print(String(format: "{\"bench\":\"topology\",\"faultline_ms\":%.3f,\"ip_ms\":%.3f,\"ratio\":%.2f}", faultlineMedian, ipMedian, ipMedian / faultlineMedian))
    }

    private func commands(tag: String, ethtool: Bool) -> [[String]] {
        let c = "\(tag)c", r = "\(tag)r", s = "\(tag)s"
        var list: [[String]] = [
            ["ip", "netns", "add", c], ["ip", "netns", "add", r], ["ip", "netns", "add", s],
            ["ip", "-n", c, "link", "add", "eth0", "type", "veth", "peer", "name", "to-client", "netns", r],
            ["ip", "-n", r, "link", "add", "to-server", "type", "veth", "peer", "name", "eth0", "netns", s],
            ["ip", "netns", "exec", r, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"],
            ["ip", "-n", c, "addr", "add", "198.18.1.2/24", "dev", "eth0"],
            ["ip", "-n", c, "addr", "add", "fd00:fa17:1::2/64", "dev", "eth0", "nodad"],
            ["ip", "-n", r, "addr", "add", "198.18.1.1/24", "dev", "to-client"],
            ["ip", "-n", r, "addr", "add", "fd00:fa17:1::1/64", "dev", "to-client", "nodad"],
            ["ip", "-n", r, "addr", "add", "198.18.2.1/24", "dev", "to-server"],
            ["ip", "-n", r, "addr", "add", "fd00:fa17:2::1/64", "dev", "to-server", "nodad"],
            ["ip", "-n", s, "addr", "add", "198.18.2.2/24", "dev", "eth0"],
            ["ip", "-n", s, "addr", "add", "fd00:fa17:2::2/64", "dev", "eth0", "nodad"],
            ["ip", "-n", c, "link", "set", "lo", "up"], ["ip", "-n", r, "link", "set", "lo", "up"], ["ip", "-n", s, "link", "set", "lo", "up"],
            ["ip", "-n", c, "link", "set", "eth0", "up"], ["ip", "-n", r, "link", "set", "to-client", "up"],
            ["ip", "-n", r, "link", "set", "to-server", "up"], ["ip", "-n", s, "link", "set", "eth0", "up"],
            ["ip", "-n", c, "route", "add", "default", "via", "198.18.1.1"],
            ["ip", "-n", c, "-6", "route", "add", "default", "via", "fd00:fa17:1::1"],
            ["ip", "-n", s, "route", "add", "default", "via", "198.18.2.1"],
            ["ip", "-n", s, "-6", "route", "add", "default", "via", "fd00:fa17:2::1"],
        ]
        if ethtool {
            for (ns, dev) in [(c, "eth0"), (r, "to-client"), (r, "to-server"), (s, "eth0")] {
                list.insert(["ip", "netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off"], at: 6)
            }
        }
        list += [["ip", "netns", "del", c], ["ip", "netns", "del", r], ["ip", "netns", "del", s]]
        return list
    }

    private func commandCount(ethtool: Bool) -> Int { commands(tag: "x", ethtool: ethtool).count }

    private func runIPEquivalent(tag: String, ethtool: Bool) throws {
        for argv in commands(tag: tag, ethtool: ethtool) {
            let child = try ChildProcess.start(argv)
            let status = child.wait()
            if status != .exited(0) {
                for name in ["c", "r", "s"] { _ = try? ChildProcess.start(["ip", "netns", "del", tag + name]).wait() }
                throw ValidationError("`\(argv.joined(separator: " "))` \(status)")
            }
        }
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
