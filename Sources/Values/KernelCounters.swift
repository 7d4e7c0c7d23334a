/// The kernel's protocol counters of one network namespace: `/proc/thread-self/net/netstat`
/// (TcpExt, IpExt, MPTcpExt) and `/proc/thread-self/net/snmp` (Ip, Icmp, Tcp, Udp …), the numbers
/// `nstat` prints. Each file is pairs of lines, `Prefix: name name …` then `Prefix: value value …`;
/// a counter's key is its prefix and name together, as nstat spells it: `TcpExtListenOverflows`,
/// `UdpRcvbufErrors`. The calling *thread*'s namespace counts (`thread-self`, not `self`): a
/// namespace thread reads its namespace, not the process's.
public struct KernelCounters: Sendable, Equatable {
    public private(set) var values: [String: Int64] = [:]

    public init() {}

    /// Counters from text in the netstat/snmp format. Lines that do not pair up (a names line
    /// without its values line, a different prefix) are skipped; a value that is not an integer
    /// leaves its counter out.
    public init(parsing text: String) {
        let lines = text.split(separator: "\n")
        var index = 0
        while index + 1 < lines.count {
            let names = lines[index].split(separator: " ")
            let numbers = lines[index + 1].split(separator: " ")
            guard let prefix = names.first, prefix.hasSuffix(":"), numbers.first == prefix else {
                index += 1
                continue
            }
            for (name, number) in zip(names.dropFirst(), numbers.dropFirst()) {
                if let value = Int64(number) { values["\(prefix.dropLast())\(name)"] = value }
            }
            index += 2
        }
    }

    /// The counters of the calling thread's network namespace, from `files` under
    /// /proc/thread-self/net.
    public static func read(_ files: [String] = ["netstat", "snmp"]) throws(Errno) -> KernelCounters {
        var counters = KernelCounters()
        for file in files {
            let text = try FileIO.readText(path: "/proc/thread-self/net/\(file)", limit: 1 << 20)
            counters.values.merge(KernelCounters(parsing: text).values) { first, _ in first }
        }
        return counters
    }

    public subscript(name: String) -> Int64? { values[name] }

    /// How much each counter grew from `earlier` (counters absent from either are left out).
    public func since(_ earlier: KernelCounters) -> KernelCounters {
        var delta = KernelCounters()
        for (name, value) in values { if let before = earlier.values[name] { delta.values[name] = value &- before } }
        return delta
    }
}
