import Values
import CLinux
import CNftables
import Glibc
import Impairment
import Netlink

/// Probes, in throwaway namespaces, each kernel feature Faultline uses, and says what to do
/// about what is missing. Nothing touches the root namespace.
public enum Doctor {
    public struct Feature: Sendable, Equatable, Codable {
        public var name: String
        public var available: Bool
        public var detail: String
        public var remedy: String?
        /// When false, a missing feature means Faultline cannot run (exit 3).
        public var hasFallback: Bool

        public init(name: String, available: Bool, detail: String, remedy: String? = nil, hasFallback: Bool) {
            self.name = name
            self.available = available
            self.detail = detail
            self.remedy = remedy
            self.hasFallback = hasFallback
        }
    }

    public struct Report: Sendable, Equatable {
        public var features: [Feature]
        /// True when a feature without a fallback is missing.
        public var blocking: Bool { features.contains { !$0.available && !$0.hasFallback } }
        public func feature(_ name: String) -> Feature? { features.first { $0.name == name } }
    }

    /// The order of the report; names are part of `doctor --json`'s schema.
    /// The last four say what this user can do: `user` (root, rootless in a user namespace, or
    /// neither and why), `labs` (what `run` and `lab` create: a named namespace — mounted under
    /// /run/netns, or published in the user's runtime folder — and flows kept in order — rps_cpus,
    /// or one CPU per network rootless), `realtime` (SCHED_FIFO) and `cpu_wakeup`
    /// (/dev/cpu_dma_latency): those two need real root and only make delays more precise; and
    /// `nfqueue_payload`: whether the kernel applies packets the userspace engine changed
    /// (corrupt, ECN marks, strip-window-scale) in its verdicts — refused inside a user namespace
    /// by recent kernels, where the engine sends changed copies through a raw socket instead.
    public static let featureNames = ["netns", "veth", "netem", "tbf", "nfqueue", "nftables", "af_packet", "userns", "tshark",
                                      "user", "labs", "realtime", "cpu_wakeup", "nfqueue_payload"]

    /// Features Faultline can do without (the rest stop it: exit 3).
    static let fallbackFeatures: Set<String> = ["netem", "tbf", "userns", "tshark", "realtime", "cpu_wakeup", "nfqueue_payload"]

    public static func run() -> Report {
        var features: [Feature] = []
        if Rootless.mode == .unprivileged {
            // No user namespace: nothing can be probed in one, and nothing will run.
            let reason = Rootless.cannotBuildReason ?? "not root"
            features.append(Feature(name: "netns", available: false, detail: "not probed: \(reason)",
                                    remedy: remedyForUserNamespaces, hasFallback: false))
            for name in featureNames.dropFirst() where name != "userns" && name != "tshark" && name != "user" {
                features.append(Feature(name: name, available: false, detail: "not probed: no namespace to probe in", hasFallback: fallbackFeatures.contains(name)))
            }
            features.append(probeUserNamespaces())
            features.append(probeTshark())
            features.append(probeUser())
            features.sort { featureNames.firstIndex(of: $0.name) ?? 99 < featureNames.firstIndex(of: $1.name) ?? 99 }
            return Report(features: features)
        }
        // One pair of throwaway namespaces serves every in-kernel probe.
        let a: NetworkNamespace
        let b: NetworkNamespace
        do {
            a = try NetworkNamespace.create(label: "doctor-a")
            b = try NetworkNamespace.create(label: "doctor-b")
        } catch {
            features.append(Feature(name: "netns", available: false, detail: error.description,
                                    remedy: "Faultline needs network namespaces (CONFIG_NET_NS), and root or a user namespace", hasFallback: false))
            for name in featureNames.dropFirst() where name != "user" {
                features.append(Feature(name: name, available: false, detail: "not probed: no namespace to probe in", hasFallback: fallbackFeatures.contains(name)))
            }
            features.append(probeUser())
            features.sort { featureNames.firstIndex(of: $0.name) ?? 99 < featureNames.firstIndex(of: $1.name) ?? 99 }
            return Report(features: features)
        }
        defer { a.destroy(); b.destroy() }
        features.append(Feature(name: "netns", available: true, detail: "network namespaces (unshare CLONE_NEWNET)", hasFallback: false))

        var vethReady = false
        do {
            let handle = try a.netlink()
            try handle.addVeth(VethPair(name: "probe0", in: a, peer: "probe1", in: b))
            try handle.setLinkUp("probe0")
            vethReady = true
            features.append(Feature(name: "veth", available: true, detail: "veth pairs created straight into two namespaces", hasFallback: false))
        } catch {
            features.append(Feature(name: "veth", available: false, detail: error.description,
                                    remedy: "Load the veth module (CONFIG_VETH): modprobe veth", hasFallback: false))
        }

        features.append(probeQdisc(name: "netem", in: a, ready: vethReady, qdisc: NetemProbe.request.qdisc(interface: "probe0"),
                                    okDetail: "kernel netem qdisc", hasFallback: true,
                                    remedy: "Load sch_netem (modprobe sch_netem; CONFIG_NET_SCH_NETEM). Until then Faultline applies impairments with its userspace engine (NFQUEUE); scenarios pinned to `engine: netem` cannot run"))
        features.append(probeQdisc(name: "tbf", in: a, ready: vethReady, qdisc: tbfProbe?.qdisc(interface: "probe0"),
                                    okDetail: "token bucket filter qdisc (rate limits)", hasFallback: true,
                                    remedy: "Load sch_tbf (modprobe sch_tbf); rate limits then run in the userspace engine"))
        features.append(probeNFQueue(in: a))
        features.append(probeNftables(in: a))
        features.append(probePacketSocket(in: a))
        features.append(probeUserNamespaces())
        features.append(probeTshark())
        features.append(probeUser())
        features.append(probeLabs(ready: vethReady))
        features.append(probeRealtime(in: a))
        features.append(probeCPUWakeup())
        features.append(probePayloadVerdicts())
        return Report(features: features)
    }

    static var remedyForUserNamespaces: String {
        if let blocker = Rootless.userNamespaceBlocker {
            return "\(blocker.setting) = \(blocker.value) disables unprivileged user namespaces. Fix: \(blocker.fix); or run Faultline with sudo"
        }
        return "Run Faultline with sudo, or allow unprivileged user namespaces (user.max_user_namespaces > 0)"
    }

    /// Who this is, and whether it can build networks at all.
    static func probeUser() -> Feature {
        switch Rootless.mode {
        case .root:
            return Feature(name: "user", available: true, detail: "root: every feature", hasFallback: false)
        case .rootless:
            return Feature(name: "user", available: true, detail: Rootless.entryDescription
                           + "; everything runs inside it (nothing outside can be touched)", hasFallback: false)
        case .unprivileged:
            return Feature(name: "user", available: false, detail: Rootless.cannotBuildReason ?? "not root",
                           remedy: remedyForUserNamespaces, hasFallback: false)
        }
    }

    /// What `run` and `lab` do beyond the probes above: a named namespace (mounted under
    /// /run/netns, or rootless, published in the user's folder) holding a veth pair, and flows
    /// kept in order (rps_cpus, or rootless one CPU per network).
    static func probeLabs(ready: Bool) -> Feature {
        do {
            let topology = Topology(nodes: [.init(name: "a"), .init(name: "b")],
                                    links: [.init(.init(node: "a", interface: "eth0", addresses: []), .init(node: "b", interface: "eth0", addresses: []))])
            let network = try topology.build(namedWith: "doctor")
            defer { network.teardown() }
            try network.keepFlowsInOrder()
            let name = try network.namespace("a").mountedName ?? "?"
            if Rootless.isRootless {
                return Feature(name: "labs", available: true,
                               detail: "labs published in \(Rootless.registryDirectory ?? "?") (\(name)); flows kept in order on CPU \(network.flowCPU ?? 0) (rps_cpus needs real root)",
                               hasFallback: false)
            }
            return Feature(name: "labs", available: true, detail: "named namespaces (/run/netns/\(name)), flows kept in order (rps_cpus)", hasFallback: false)
        } catch {
            return Feature(name: "labs", available: false, detail: "\(error)",
                           remedy: Rootless.isRootless ? "A private folder for labs: set XDG_RUNTIME_DIR to a folder of yours (mode 0700), or free /tmp/faultline-\(Rootless.outerUID)"
                                                       : "Faultline needs root (CAP_SYS_ADMIN) to mount namespaces under /run/netns and write rps_cpus",
                           hasFallback: false)
        }
    }

    /// SCHED_FIFO for the userspace engine's threads (tried on a throwaway namespace thread).
    static func probeRealtime(in namespace: NetworkNamespace) -> Feature {
        let rc: Int32 = namespace.run { fl_set_thread_fifo(1) }
        if rc == 0 {
            return Feature(name: "realtime", available: true, detail: "SCHED_FIFO for the userspace engine's threads", hasFallback: true)
        }
        return Feature(name: "realtime", available: false, detail: "SCHED_FIFO: \(Errno(rc)): the engine runs at normal priority (held packets leave later on a busy machine)",
                       remedy: Rootless.isRootless ? "Needs real root (CAP_SYS_NICE in the machine's user namespace), or an RLIMIT_RTPRIO for this user (limits.conf rtprio)" : "CAP_SYS_NICE",
                       hasFallback: true)
    }

    /// A PM QoS request on /dev/cpu_dma_latency (opened and closed at once).
    static func probeCPUWakeup() -> Feature {
        let fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC)
        if fd >= 0 {
            close(fd)
            return Feature(name: "cpu_wakeup", available: true, detail: "/dev/cpu_dma_latency: idle CPUs kept awake while the userspace engine runs", hasFallback: true)
        }
        return Feature(name: "cpu_wakeup", available: false, detail: "/dev/cpu_dma_latency: \(Errno.current): idle CPUs may sleep (the engine's timers fire a few µs to tens of µs late)",
                       remedy: "Needs real root (the device is root's)", hasFallback: true)
    }

    /// Whether the kernel applies a packet changed in an NFQUEUE verdict, here (asked of the
    /// kernel with a queued datagram, `PayloadVerdictProbe`).
    static func probePayloadVerdicts() -> Feature {
        let answer = PayloadVerdictProbe.probe()
        switch answer {
        case .applied:
            return Feature(name: "nfqueue_payload", available: true, detail: PayloadVerdictProbe.describe(answer), hasFallback: true)
        case .refused, .unknown:
            return Feature(name: "nfqueue_payload", available: false, detail: PayloadVerdictProbe.describe(answer),
                           remedy: "Nothing to do: changed packets leave through a raw socket (their IPv4 header checksum is the kernel's, a zero IP ID gets one); as root the verdict carries them",
                           hasFallback: true)
        }
    }

    // MARK: probes

    /// A 1 Mbit/s tbf, encoded by the engine's own `KernelPlan` (nil when the packet scheduler
    /// clock cannot be read: the probe then says so).
    static var tbfProbe: QdiscRequest? {
        guard let clock = try? PschedClock.current(), let rate = try? Rate(parsing: "1mbit"),
              let plan = try? KernelPlan(parameters: ImpairmentParameters(rate: RateLimit(rate: rate)), seed: nil, clock: clock)
        else { return nil }
        return plan.qdiscs.first
    }

    static func probeQdisc(name: String, in namespace: NetworkNamespace, ready: Bool, qdisc: Qdisc?, okDetail: String,
                           hasFallback: Bool, remedy: String) -> Feature {
        guard ready else { return Feature(name: name, available: false, detail: "not probed: no veth to attach to", remedy: remedy, hasFallback: hasFallback) }
        guard let qdisc else {
            return Feature(name: name, available: false, detail: "not probed: the packet scheduler clock (/proc/net/psched) cannot be read", remedy: remedy, hasFallback: hasFallback)
        }
        do {
            let handle = try namespace.netlink()
            try handle.apply(qdisc)
            try handle.deleteQdisc(interface: qdisc.interface)
            return Feature(name: name, available: true, detail: okDetail, hasFallback: hasFallback)
        } catch {
            return Feature(name: name, available: false, detail: NetemProbe.words(error, kind: qdisc.kind), remedy: remedy, hasFallback: hasFallback)
        }
    }

    /// The iptables NFQUEUE target accepts a rule, and nfnetlink_queue binds a queue.
    static func probeNFQueue(in namespace: NetworkNamespace) -> Feature {
        let remedy = "Install iptables and load nfnetlink_queue and xt_NFQUEUE (modprobe nfnetlink_queue xt_NFQUEUE); without them and without netem, impairments cannot run"
        let rule = runQuietly(["iptables", "-w", "-A", "FORWARD", "-p", "udp", "--dport", "9", "-j", "NFQUEUE", "--queue-num", "4242"], in: namespace)
        guard rule.ok else {
            return Feature(name: "nfqueue", available: false, detail: "iptables -j NFQUEUE: \(rule.detail)", remedy: remedy, hasFallback: false)
        }
        do {
            let socket = try namespace.run { () throws(NetlinkError) -> Int32 in
                let fd = fl_socket_cloexec(AF_NETLINK, fl_sock_raw(), 12 /* NETLINK_NETFILTER */)
                if fd < 0 { throw NetlinkError(operation: "open NETLINK_NETFILTER socket", errno: Errno.current) }
                return fd
            }
            defer { close(socket) }
            // NFQNL_MSG_CONFIG with NFQA_CFG_CMD {BIND, pf AF_INET} for queue 4242.
            var message = NetlinkBuilder(type: (3 << 8) | 2, flags: 0x1 | 0x4, sequence: 1)
            message.appendHeader([0, 0] + NetlinkBuilder.le(UInt16(4242).bigEndian))
            message.put(1, bytes: [1, 0] + NetlinkBuilder.le(UInt16(2).bigEndian))
            let bytes = message.finished
            _ = bytes.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
            var reply = [UInt8](repeating: 0, count: 256)
            let count = reply.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard count >= 20 else { throw NetlinkError(operation: "bind NFQUEUE 4242", errno: Errno.current) }
            let code = Int32(littleEndian: reply.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: Int32.self) })
            if code != 0 { throw NetlinkError(operation: "bind NFQUEUE 4242", errno: Errno(-code)) }
            return Feature(name: "nfqueue", available: true, detail: "iptables NFQUEUE target and nfnetlink_queue (userspace engine)", hasFallback: false)
        } catch {
            return Feature(name: "nfqueue", available: false, detail: "\(error)", remedy: remedy, hasFallback: false)
        }
    }

    /// libnftables, in-process: a table with a `reject with tcp reset` rule (the firewall RST scenarios).
    static func probeNftables(in namespace: NetworkNamespace) -> Feature {
        let result: (ok: Bool, message: String) = namespace.run {
            guard let context = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else { return (false, "nft_ctx_new failed") }
            defer { nft_ctx_free(context) }
            _ = nft_ctx_buffer_error(context)
            let commands = """
            add table inet faultline_probe
            add chain inet faultline_probe forward { type filter hook forward priority 0; }
            add rule inet faultline_probe forward tcp dport 9 reject with tcp reset
            delete table inet faultline_probe
            """
            let rc = nft_run_cmd_from_buffer(context, commands)
            let error = nft_ctx_get_error_buffer(context).map { String(cString: $0) } ?? ""
            return (rc == 0, error.isEmpty ? "nft exited \(rc)" : error)
        }
        if result.ok {
            return Feature(name: "nftables", available: true, detail: "nftables with `reject with tcp reset` (libnftables, in-process)", hasFallback: false)
        }
        return Feature(name: "nftables", available: false, detail: result.message,
                       remedy: "Load nf_tables and nft_reject_inet (CONFIG_NFT_REJECT_INET); firewall scenarios need them", hasFallback: false)
    }

    static func probePacketSocket(in namespace: NetworkNamespace) -> Feature {
        let fd: Int32 = namespace.run { fl_socket_cloexec(17 /* AF_PACKET */, fl_sock_raw(), Int32(UInt16(0x0003).bigEndian)) }
        if fd >= 0 {
            close(fd)
            return Feature(name: "af_packet", available: true, detail: "AF_PACKET sockets (live capture)", hasFallback: false)
        }
        return Feature(name: "af_packet", available: false, detail: "socket(AF_PACKET): \(Errno.current)",
                       remedy: "Captures need AF_PACKET (CONFIG_PACKET) and CAP_NET_RAW", hasFallback: false)
    }

    /// User namespaces: a child process unshares one (a multithreaded process cannot).
    static func probeUserNamespaces() -> Feature {
        let limit = readSmallFile("/proc/sys/user/max_user_namespaces").flatMap { Int($0) } ?? -1
        let run = runQuietly(["unshare", "--user", "--map-root-user", "true"], in: nil)
        if run.ok {
            return Feature(name: "userns", available: true, detail: "user namespaces (max_user_namespaces \(limit)): Faultline runs without root", hasFallback: true)
        }
        return Feature(name: "userns", available: false, detail: "unshare --user: \(run.detail) (max_user_namespaces \(limit))",
                       remedy: Rootless.userNamespaceBlocker.map { "\($0.setting) = \($0.value) disables them. Fix: \($0.fix); only use without root needs them" }
                           ?? "Set user.max_user_namespaces above 0; only use of Faultline without root needs them", hasFallback: true)
    }

    static func probeTshark() -> Feature {
        let version = runQuietly(["tshark", "--version"], in: nil, captureOutput: true)
        if version.ok {
            // tshark also warns about running as root on stderr; keep its version line.
            let first = version.detail.split(separator: "\n").first { $0.hasPrefix("TShark") }.map(String.init) ?? "tshark"
            return Feature(name: "tshark", available: true, detail: first, hasFallback: true)
        }
        return Feature(name: "tshark", available: false, detail: version.detail,
                       remedy: "apt-get install tshark (needed only for `--detector tshark` and the agreement checks)", hasFallback: true)
    }

    // MARK: helpers

    /// Runs a command (in `namespace`, or here), returns whether it exited 0 and its output or why not.
    static func runQuietly(_ argv: [String], in namespace: NetworkNamespace?, captureOutput: Bool = false) -> (ok: Bool, detail: String) {
        let output: ChildProcess.Output
        do {
            output = try ChildProcess.run(argv, in: namespace, timeoutNanoseconds: 20_000_000_000)
        } catch {
            return (false, "\(argv[0]) is not installed")
        }
        let text = (output.standardOutput + output.standardError).trimmingSpaces()
        if output.status == .exited(0) { return (true, captureOutput ? text : "") }
        return (false, text.isEmpty ? "\(argv[0]) \(output.statusDescription)" : text)
    }

    static func readSmallFile(_ path: String) -> String? {
        guard let bytes = try? FileIO.read(path: path, limit: 256), !bytes.isEmpty else { return nil }
        return String(decoding: bytes, as: UTF8.self).trimmingSpaces()
    }
}

extension String {
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
