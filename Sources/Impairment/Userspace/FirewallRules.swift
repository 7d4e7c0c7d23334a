import Values
import CLinux
import Glibc
import Netlink

/// The iptables/ip6tables rules that send one forwarding direction to its NFQUEUE, installed and
/// removed inside the router namespace (this kernel has the NFQUEUE target but no nftables
/// `queue` expression).
///
///     iptables -w -A FORWARD -i to-client -o to-server -m mark ! --mark 0xfa17 -j NFQUEUE --queue-num 64000
///
/// On a router with several stages (`ForwardingStages`) each rule also skips packets carrying its
/// stage's mark bit (`-m mark ! --mark 0x10000/0x10000`): those passed it already.
///
/// No `--queue-bypass`: with nobody bound to the queue the kernel drops, so a dead engine stops
/// traffic instead of letting it through unimpaired.
struct FirewallRule: Sendable, Equatable {
    var ipv6: Bool
    var inInterface: String?
    var outInterface: String?
    var queue: UInt16
    var mark: UInt32
    /// The stage's bit: packets with it set have passed this stage (nil: a lone stage).
    var passedBit: UInt32? = nil

    func arguments(_ verb: String) -> [String] {
        var argv = [ipv6 ? "ip6tables" : "iptables", "-w", verb, "FORWARD"]
        if let inInterface { argv += ["-i", inInterface] }
        if let outInterface { argv += ["-o", outInterface] }
        argv += ["-m", "mark", "!", "--mark", "0x" + String(mark, radix: 16)]
        if let passedBit {
            let bit = "0x" + String(passedBit, radix: 16)
            argv += ["-m", "mark", "!", "--mark", bit + "/" + bit]
        }
        argv += ["-j", "NFQUEUE", "--queue-num", "\(queue)"]
        return argv
    }

    func install(in namespace: NetworkNamespace) throws(UserspaceEngineError) {
        try Self.run(arguments("-A"), in: namespace)
    }

    func remove(from namespace: NetworkNamespace) throws(UserspaceEngineError) {
        try Self.run(arguments("-D"), in: namespace)
    }

    /// Runs a command in `namespace`, returning its output; throws with the output when it fails.
    @discardableResult
    static func run(_ argv: [String], in namespace: NetworkNamespace) throws(UserspaceEngineError) -> String {
        var fds: [Int32] = [-1, -1]
        guard fl_pipe_cloexec(&fds) == 0 else { throw .system(operation: "create a pipe for \(argv[0])", errno: Errno.current) }
        let child: ChildProcess
        do {
            child = try namespace.spawn(argv, stdout: fds[1], stderr: fds[1])
        } catch {
            close(fds[0]); close(fds[1])
            throw .firewall(command: argv, status: "could not start", output: error.description)
        }
        close(fds[1])
        let output = (try? FileIO.readAll(fd: fds[0])) ?? []
        close(fds[0])
        let status = child.wait()
        let text = String(decoding: output, as: UTF8.self)
        if status != .exited(0) { throw .firewall(command: argv, status: status.description, output: text) }
        return text
    }
}
