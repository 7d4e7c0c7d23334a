import CNftables
import Foundation
import Netlink
import Scenario

/// A scenario's firewall rules, installed with libnftables on the rule node's namespace thread
/// (the nftables netlink socket belongs to the thread that opens it). Everything lives in the
/// scenario's namespaces and goes with them.
final class Firewall: @unchecked Sendable {
    private let network: Network
    private let rules: [String: Scenario.FirewallRule]
    /// Installed rules: name → how to delete them.
    private var installed: [String: [String]] = [:]
    private let lock = Lock()

    init(network: Network, rules: [Scenario.FirewallRule]) {
        self.network = network
        self.rules = Dictionary(rules.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Installs every rule marked `installed` (from the start).
    func installInitial() throws(RunnerError) {
        for rule in rules.values.sorted(by: { $0.source.line < $1.source.line }) where rule.installed {
            try add(rule.name)
        }
    }

    func add(_ name: String) throws(RunnerError) {
        guard let rule = rules[name] else { throw .execution("no firewall rule '\(name)'") }
        let namespace: NetworkNamespace
        do { namespace = try network.namespace(rule.node) } catch { throw .execution(error.description) }
        switch rule.body {
        case .rule(let family, let table, let chain, let statement):
            let hook = chain.rawValue
            let script = """
                add table \(family.rawValue) \(table)
                add chain \(family.rawValue) \(table) \(hook) { type filter hook \(hook) priority 0; policy accept; }
                """
            try Self.run(script, in: namespace, what: "create table \(family.rawValue) \(table) for rule '\(name)' (\(rule.source))")
            let output = try Self.run("add rule \(family.rawValue) \(table) \(hook) \(statement)", in: namespace,
                                      what: "add rule '\(name)' (\(rule.source)): \(statement)", echo: true)
            guard let handle = Self.handle(in: output) else {
                throw .execution("rule '\(name)' was added but nftables did not say its handle (output: \(output)); cannot remove it later")
            }
            lock.withLock { installed[name] = ["delete rule \(family.rawValue) \(table) \(hook) handle \(handle)"] }
        case .ruleset(let text):
            try Self.run(text, in: namespace, what: "load ruleset '\(name)' (\(rule.source))")
            lock.withLock { installed[name] = Self.tables(in: text).map { "delete table \($0)" } }
        }
    }

    func remove(_ name: String) throws(RunnerError) {
        guard let rule = rules[name] else { throw .execution("no firewall rule '\(name)'") }
        let commands: [String]? = lock.withLock { installed.removeValue(forKey: name) }
        guard let commands else { throw .execution("rule '\(name)' is not installed") }
        let namespace: NetworkNamespace
        do { namespace = try network.namespace(rule.node) } catch { throw .execution(error.description) }
        for command in commands {
            try Self.run(command, in: namespace, what: "remove rule '\(name)'")
        }
    }

    /// `# handle N` at the end of an echoed `add rule`.
    static func handle(in output: String) -> Int? {
        guard let range = output.range(of: "# handle ", options: .backwards) else { return nil }
        return Int(output[range.upperBound...].prefix { $0.isNumber })
    }

    /// `table inet t` declarations of a ruleset text, as "inet t".
    static func tables(in text: String) -> [String] {
        var out: [String] = []
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "{" || $0 == ";" }).map(String.init)
        var i = 0
        while i + 2 < words.count {
            if words[i] == "table", ["ip", "ip6", "inet", "arp", "bridge", "netdev"].contains(words[i + 1]) {
                let entry = "\(words[i + 1]) \(words[i + 2])"
                if !out.contains(entry) { out.append(entry) }
                i += 3
            } else {
                i += 1
            }
        }
        return out
    }

    /// Runs nft commands inside `namespace`; returns what nft printed.
    @discardableResult
    static func run(_ commands: String, in namespace: NetworkNamespace, what: String, echo: Bool = false) throws(RunnerError) -> String {
        let result: (rc: Int32, output: String, error: String) = namespace.run {
            guard let ctx = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else { return (-1, "", "nft_ctx_new failed (out of memory?)") }
            defer { nft_ctx_free(ctx) }
            _ = nft_ctx_buffer_output(ctx)
            _ = nft_ctx_buffer_error(ctx)
            if echo {
                nft_ctx_output_set_flags(ctx, UInt32(NFT_CTX_OUTPUT_ECHO | NFT_CTX_OUTPUT_HANDLE))
            }
            let rc = nft_run_cmd_from_buffer(ctx, commands)
            let output = nft_ctx_get_output_buffer(ctx).map { String(cString: $0) } ?? ""
            let error = nft_ctx_get_error_buffer(ctx).map { String(cString: $0) } ?? ""
            return (rc, output, error)
        }
        if result.rc != 0 {
            let message = result.error.trimmingCharacters(in: .whitespacesAndNewlines)
            if message.contains("Operation not permitted") {
                throw .environment("\(what): nftables says: Operation not permitted. Faultline needs root (CAP_NET_ADMIN): run it with sudo")
            }
            if message.contains("No such file or directory") && message.contains("reject") {
                throw .environment("\(what): the kernel lacks nft_reject (modprobe nft_reject_inet); nftables says: \(message)")
            }
            throw .badInput("\(what): nftables refused it: \(message.isEmpty ? "status \(result.rc)" : message)")
        }
        return result.output
    }
}

/// The runner's locks are the Netlink module's pthread mutex: usable from any thread, no async.
typealias Lock = PThreadMutex
