import Analysis
import Scenario
import Values

/// A run's captures as the analyzer's vantage points: named after their node (`node-interface`
/// when a node is captured on several interfaces) and placed where each capture's `role` says
/// (the testbed sets it from `roles(_:)`). The built-in detector and report.html both read them
/// from here, so the two agree.
enum CaptureVantages {
    static func vantages(_ captures: [CaptureFile]) -> [VantageCapture] {
        captures.map { capture in
            let several = captures.filter { $0.node == capture.node }.count > 1
            return VantageCapture(name: several ? "\(capture.node)-\(capture.interface)" : capture.node, path: capture.path,
                                  role: capture.role ?? .other)
        }
    }

    /// `captures`, each without a role placed where `scenario` puts its node (`roles(_:)`;
    /// `.other` is no role).
    static func placed(_ captures: [CaptureFile], by scenario: Scenario) -> [CaptureFile] {
        guard captures.contains(where: { $0.role == nil }) else { return captures }
        let roles = roles(scenario)
        return captures.map { capture in
            var placed = capture
            if placed.role == nil { placed.role = roles[capture.node].flatMap { $0 == .other ? nil : $0 } }
            return placed
        }
    }

    /// Where each node sits, from what the scenario's peers do there — never from a node's
    /// name: a node whose peers listen, or that peers connect to (`--to NODE:PORT`), is the
    /// server's side; one whose peers open connections the client's; a forwarding node with
    /// neither a router. A node that is both, or runs only programs of the scenario's own (whose
    /// side the runner cannot know), is left unstated: the analyzer then goes by the packets.
    static func roles(_ scenario: Scenario) -> [String: VantageRole] {
        let topology = scenario.topology
        // Node → the sides its peers take: true for accepting connections, false for opening them.
        var sides: [String: Set<Bool>] = [:]
        for step in scenario.steps {
            guard case .run(let process) = step.action, let listens = process.command.peerListens,
                  case .peer(let arguments) = process.command else { continue }
            sides[process.node, default: []].insert(listens)
            guard !listens else { continue }
            for target in arguments.compactMap({ node(reachedBy: $0, in: topology) }) where target != process.node {
                sides[target, default: []].insert(true)
            }
        }
        var roles: [String: VantageRole] = [:]
        for node in topology.nodes {
            switch sides[node.name] ?? [] {
            case [true]: roles[node.name] = .server
            case [false]: roles[node.name] = .client
            case []: roles[node.name] = node.forwarding ? .router : .other
            default: roles[node.name] = .other
            }
        }
        return roles
    }

    /// The node a peer argument `HOST:PORT` points at: HOST a node's name (as the runner rewrites
    /// it, `ScenarioRun.rewrite`) or one of its addresses; nil for anything else.
    static func node(reachedBy argument: String, in topology: Scenario.Topology) -> String? {
        guard var host = ScenarioRun.hostAndPort(argument)?.host[...] else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        if topology.node(named: String(host)) != nil { return String(host) }
        guard let address = IPAddress(host) else { return nil }
        return topology.nodes.first { node in topology.addresses(of: node.name).contains { $0.address == address } }?.name
    }
}

extension Scenario.Process.Command {
    /// For a peer, whether it accepts connections (`listen`) rather than opening them; nil for a
    /// program of the scenario's own.
    var peerListens: Bool? {
        guard case .peer(let arguments) = self else { return nil }
        return arguments.first == "listen"
    }
}
