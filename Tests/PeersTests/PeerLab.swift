import CLinux
import Glibc
import Netlink
import Peers
import Testing
import TestSupport

/// A line topology (client — router — server) with a temporary folder for event logs, where
/// tests start the real `faultline peer` binary inside the namespaces. `close()` kills every peer,
/// tears the namespaces down and removes the folder; call it in a `defer`.
final class PeerLab {
    let network: Network
    let directory: String
    let binary: String

    init(_ topology: Topology = Topology.line()) throws {
        binary = try TestSupport.faultlineBinaryPath()
        network = try topology.build()
        directory = TestSupport.temporaryDirectory("faultline-peers")
    }

    func close() {
        network.teardown()
        TestSupport.removeTree(directory)
    }

    func address(_ node: String, ipv6: Bool = false) throws -> String {
        let address = try #require(network.address(of: node, ipv6: ipv6))
        return address.isIPv6 ? "[\(address)]" : "\(address)"
    }

    /// Starts `faultline peer <arguments> --events <dir>/<name>.jsonl` in `node`; stderr goes to
    /// <dir>/<name>.err.
    func start(_ node: String, _ name: String, _ arguments: [String]) throws -> RunningPeer {
        let events = "\(directory)/\(name).jsonl"
        let errors = "\(directory)/\(name).err"
        let errFD = open(errors, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { if errFD >= 0 { Glibc.close(errFD) } }
        let child = try network.namespace(node).spawn([binary, "peer"] + arguments + ["--events", events], stderr: errFD)
        return RunningPeer(name: name, child: child, eventsPath: events, errorsPath: errors)
    }

    /// Runs a command in `node` and waits for it (e.g. iptables on the router).
    func run(_ node: String, _ argv: [String]) throws -> ChildProcess.ExitStatus {
        let child = try network.namespace(node).spawn(argv)
        return child.wait(timeoutNanoseconds: 5_000_000_000) ?? {
            child.kill()
            return child.wait()
        }()
    }
}

final class RunningPeer {
    let name: String
    let child: ChildProcess
    let eventsPath: String
    let errorsPath: String

    init(name: String, child: ChildProcess, eventsPath: String, errorsPath: String) {
        self.name = name
        self.child = child
        self.eventsPath = eventsPath
        self.errorsPath = errorsPath
    }

    /// The events so far (a line still being written is left out).
    func events() -> [PeerEvents.Event] {
        guard let text = TestSupport.readFile(eventsPath) else { return [] }
        let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex)])
        return (try? PeerEvents.parse(complete, path: eventsPath)) ?? []
    }

    /// Waits up to `seconds` for an event named `name`.
    @discardableResult
    func waitFor(_ name: String, seconds: Double = 5, where condition: (PeerEvents.Event) -> Bool = { _ in true }) -> PeerEvents.Event? {
        let deadline = fl_monotonic_ns() + UInt64(seconds * 1e9)
        while fl_monotonic_ns() < deadline {
            if let found = events().first(where: { $0.name == name && condition($0) }) { return found }
            if child.hasExited, let found = events().first(where: { $0.name == name && condition($0) }) { return found }
            if child.hasExited { return nil }
            usleep(5_000)
        }
        return nil
    }

    /// Waits for the process to exit (killing it after `seconds`) and returns its exit code, or
    /// nil if it was killed by a signal.
    func exitCode(seconds: Double = 10) -> Int32? {
        let status = child.wait(timeoutNanoseconds: UInt64(seconds * 1e9)) ?? {
            child.kill()
            return child.wait()
        }()
        if case .exited(let code) = status { return code }
        return nil
    }

    func terminate() { child.signal(SIGTERM) }

    var summary: PeerEvents.Event? { events().last(where: { $0.name == "summary" }) }

    /// Everything a failed expectation needs to be understood.
    var diagnostics: String {
        "\(name): events:\n\(TestSupport.readFile(eventsPath) ?? "(none)")\nstderr:\n\(TestSupport.readFile(errorsPath) ?? "(none)")"
    }
}

extension PeerEvents.Event {
    func uint(_ key: String) -> UInt64 { UInt64(clamping: int(key) ?? -1) }
}
