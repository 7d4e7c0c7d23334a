import Values
import Foundation
import Impairment

/// Turns the composed YAML document into a checked `Scenario`, stopping at the first problem.
///
/// Sections are read in dependency order — name, limits, topology (nodes are needed by every
/// reference), capture, firewall, impairments, steps, expectations — so a problem is reported
/// at the first place it can be seen with all the facts it depends on.
final class ScenarioDecoder {
    let file: String

    static let topLevelKeys = ["name", "summary", "seed", "time-limit", "topology", "capture",
                               "impairments", "firewall", "steps", "expect", "lab"]

    // Facts gathered while decoding, used by later sections.
    var topology = Topology(origin: .line, nodes: [], links: [])
    var timeLimit = Scenario.defaultTimeLimit
    var timeLimitText = "30s"
    var captures: [CapturePoint] = []
    var firewall: [FirewallRule] = []
    var firewallElements: [String: Element] = [:]
    var impairments: [ImpairmentDraft] = []
    var processes: [String: (process: Process, element: Element)] = [:]
    var warnings: [ScenarioWarning] = []
    /// `faultline peer`'s own check of a peer step's arguments, when the caller has one.
    var peerArgumentCheck: Scenario.PeerArgumentCheck?

    init(file: String) {
        self.file = file
    }

    func decode(_ root: Element) throws(ScenarioError) -> Scenario {
        let top = try root.mapping("a mapping of scenario keys (name, topology, impairments, steps, expect, ...)",
                                   allowed: Self.topLevelKeys)
        let name = try scenarioName(top.required("name", "the scenario's name, such as 'name: zero-window-app-not-reading'"))
        let summary = try top["summary"].map { e throws(ScenarioError) in
            try e.text("a short summary of the scenario").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let seed = try top["seed"].map { e throws(ScenarioError) in
            try e.integer(UInt64.self, "a seed: a whole number from 0 to \(UInt64.max)", in: 0...UInt64.max)
        }
        if let e = top["time-limit"] {
            let limit = try duration(e, "a time limit such as 30s")
            if limit <= .zero {
                throw e.error("\(limit) is not a usable time limit", expected: "a duration above 0, such as 30s")
            }
            timeLimit = limit.duration
            timeLimitText = limit.description
        }
        topology = try decodeTopology(top["topology"])
        captures = try decodeCaptures(top["capture"])
        firewall = try decodeFirewall(top["firewall"])
        impairments = try decodeImpairments(top["impairments"])
        let steps = try decodeSteps(top["steps"])
        let expectations = try decodeExpectations(top["expect"])
        let placements = try finishImpairments()
        let lab = try decodeLab(top["lab"])
        var scenario = Scenario(name: name, summary: summary, topology: topology, impairments: placements,
                        firewall: firewall, captures: captures, steps: steps, expectations: expectations,
                        seed: seed, timeLimit: timeLimit, warnings: warnings, file: file)
        scenario.lab = lab
        return scenario
    }

    // MARK: shared value readers

    /// A duration in the impairment model's syntax ("100ms", "1.5s", "0").
    func duration(_ e: Element, _ expected: String) throws(ScenarioError) -> Interval {
        try e.parsed(expected) { text throws(ValueParseError) in try Interval(parsing: text) }
    }

    /// A duration that must not be negative.
    func nonNegativeDuration(_ e: Element, _ expected: String) throws(ScenarioError) -> Interval {
        let d = try duration(e, expected)
        if d < .zero { throw e.error("\(d) is negative", expected: expected) }
        return d
    }

    func size(_ e: Element, _ expected: String) throws(ScenarioError) -> ByteCount {
        try e.parsed(expected) { text throws(ValueParseError) in try ByteCount(parsing: text) }
    }

    func percentage(_ e: Element, _ expected: String) throws(ScenarioError) -> Percentage {
        try e.parsed(expected) { text throws(ValueParseError) in try Percentage(parsing: text) }
    }

    static let nodeNameRule = "a node name: a lowercase letter, then up to 11 lowercase letters, digits or '_'"
    static let processNameRule = "a name: a lowercase letter, then up to 31 lowercase letters, digits, '-' or '_'"

    static func isNodeName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, ("a"..."z").contains(first), s.unicodeScalars.count <= 12 else { return false }
        return s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    static func isProcessName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, ("a"..."z").contains(first), s.unicodeScalars.count <= 32 else { return false }
        return s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }

    func scenarioName(_ e: Element) throws(ScenarioError) -> String {
        let expected = "a name of lowercase letters, digits, '.', '-' or '_' (at most 64), such as zero-window-app-not-reading"
        let name = try e.text(expected)
        let ok = name.unicodeScalars.count <= 64 && name.unicodeScalars.first.map { ("a"..."z").contains($0) || ("0"..."9").contains($0) } == true
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0) }
        guard ok else { throw e.error("'\(Element.shortened(name))' is not a usable scenario name", expected: expected) }
        return name
    }

    var nodeNames: [String] { topology.nodes.map(\.name) }

    /// A reference to a node of the topology.
    func nodeReference(_ e: Element) throws(ScenarioError) -> String {
        let name = try e.text("a node of the topology: one of \(nodeNames.commaList)")
        guard topology.node(named: name) != nil else {
            throw e.error("no node '\(name)' in the topology\(Suggestion.didYouMean(name, in: nodeNames))",
                          expected: "one of: \(nodeNames.commaList)")
        }
        return name
    }

    // MARK: topology

    struct LinkDraft {
        var a: String
        var b: String
        var mtu: Int?
        var mtuElement: Element?
        var offloads = Offloads.off
        /// Per end (a, b): the addresses given and where, or nil for the defaults.
        var addresses: [(a: [(IPPrefix, Element)], b: [(IPPrefix, Element)])] = []
        var element: Element?
    }

    struct NodeDraft {
        var name: String
        var element: Element?
        var sysctls: [Sysctl] = []
        var forwarding: Bool?
        var routeMetrics = RouteMetrics()
    }

    func decodeTopology(_ e: Element?) throws(ScenarioError) -> Topology {
        let expected = "'line' (client — router — server) or a mapping with 'nodes' and 'links' (or 'line' to adjust the line)"
        guard let e else { return try buildLine(nodes: [], links: []) }
        if case .scalar = e.node {
            let word = try e.text(expected)
            guard word == "line" else {
                throw e.error("unknown topology '\(Element.shortened(word))'", expected: expected)
            }
            return try buildLine(nodes: [], links: [])
        }
        let fields = try e.mapping(expected, allowed: ["line", "nodes", "links"])
        if let line = fields["line"] {
            for key in ["nodes", "links"] {
                try fields.forbid(key, unless: false,
                    "'\(key)' under 'line' (topology.line.\(key)) to adjust the line, or no 'line' for a topology of your own")
            }
            if line.isNull { return try buildLine(nodes: [], links: []) }
            let lf = try line.mapping("the line's adjustments: a mapping with 'nodes' and/or 'links'", allowed: ["nodes", "links"])
            let nodes = try decodeNodeSettings(lf["nodes"], allowed: Topology.lineNodeNames)
            let links = try decodeLinkSettings(lf["links"], declared: Topology.lineNodeNames, line: true)
            return try buildLine(nodes: nodes, links: links)
        }
        let nodesElement = try fields.required("nodes", "the nodes of the topology, e.g. 'nodes: { a: {}, r: {}, b: {} }', or 'topology: line'")
        let linksElement = try fields.required("links", "the links of the topology, e.g. 'links: { a-r: {}, r-b: {} }'")
        let nodes = try decodeNodeSettings(nodesElement, allowed: nil)
        if nodes.isEmpty { throw nodesElement.error("no nodes", expected: "at least two nodes") }
        let links = try decodeLinkSettings(linksElement, declared: nodes.map(\.name), line: false)
        if links.isEmpty { throw linksElement.error("no links", expected: "at least one link, such as 'a-b: {}'") }
        return try build(origin: .explicit, nodes: nodes, links: links, nodesElement: nodesElement)
    }

    func buildLine(nodes adjusted: [NodeDraft], links adjustedLinks: [LinkDraft]) throws(ScenarioError) -> Topology {
        let nodes = Topology.lineNodeNames.map { name in adjusted.first { $0.name == name } ?? NodeDraft(name: name) }
        let links = [("client", "router"), ("router", "server")].map { pair in
            adjustedLinks.first { ($0.a, $0.b) == pair } ?? LinkDraft(a: pair.0, b: pair.1)
        }
        return try build(origin: .line, nodes: nodes, links: links, nodesElement: nil)
    }

    func decodeNodeSettings(_ e: Element?, allowed: [String]?) throws(ScenarioError) -> [NodeDraft] {
        guard let e else { return [] }
        var out: [NodeDraft] = []
        for (name, key, value) in try e.namedMapping("a mapping of node names to their settings") {
            if let allowed {
                guard allowed.contains(name) else {
                    throw key.error("no node '\(name)' in the line\(Suggestion.didYouMean(name, in: allowed))",
                                    expected: "one of: \(allowed.commaList)")
                }
            } else if !Self.isNodeName(name) {
                throw key.error("'\(Element.shortened(name))' is not a usable node name", expected: Self.nodeNameRule)
            }
            var node = NodeDraft(name: name)
            node.element = key
            if !value.isNull {
                let f = try value.mapping("the node's settings: a mapping with sysctls, forwarding, route-metrics",
                                          allowed: ["sysctls", "forwarding", "route-metrics"])
                if let s = f["sysctls"] { node.sysctls = try decodeSysctls(s) }
                if let fw = f["forwarding"] { node.forwarding = try fw.bool() }
                if let rm = f["route-metrics"] {
                    let m = try rm.mapping("route metrics: a mapping with rto-min and/or quickack", allowed: ["rto-min", "quickack"])
                    if let r = m["rto-min"] {
                        let d = try duration(r, "a minimum RTO such as 5ms")
                        guard d >= .ms(1), d <= .seconds(120) else {
                            throw r.error("rto-min \(d) is out of range", expected: "a duration from 1ms to 120s (the kernel counts it in milliseconds)")
                        }
                        node.routeMetrics.rtoMin = d.duration
                    }
                    if let q = m["quickack"] { node.routeMetrics.quickAck = try q.bool() }
                }
            }
            out.append(node)
        }
        return out
    }

    func decodeSysctls(_ e: Element) throws(ScenarioError) -> [Sysctl] {
        var out: [Sysctl] = []
        for (name, key, value) in try e.namedMapping("a mapping of sysctl names to values, such as 'net.ipv4.tcp_rmem: \"4096 16384 16384\"'") {
            let validChars = name.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)
            }
            guard validChars, !name.contains(".."), !name.hasSuffix(".") else {
                throw key.error("'\(Element.shortened(name))' is not a sysctl name", expected: "a dotted name such as net.ipv4.tcp_rmem")
            }
            guard name.hasPrefix("net.") else {
                throw key.error("'\(name)' is not a per-namespace sysctl: setting it would change the whole machine",
                                expected: "a net.* sysctl (only those belong to a network namespace)")
            }
            if case .scalar = value.node, !value.isNull {
                out.append(Sysctl(name: name, value: try value.text("a value")))
            } else {
                throw value.wrongType(expected: "the value to write, such as 4096 or \"4096 16384 16384\"")
            }
        }
        return out
    }

    /// Reads `NODE-NODE` (a link, no direction).
    func linkPair(_ text: String, at e: Element, declared: [String]) throws(ScenarioError) -> (String, String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw e.error("'\(Element.shortened(text))' does not name a link", expected: "two node names joined by '-', such as client-router")
        }
        for p in parts where !declared.contains(p) {
            throw e.error("link '\(text)': no node '\(p)'\(Suggestion.didYouMean(p, in: declared))",
                          expected: "nodes from: \(declared.commaList)")
        }
        guard parts[0] != parts[1] else {
            throw e.error("link '\(text)' joins '\(parts[0])' to itself", expected: "two different nodes")
        }
        return (parts[0], parts[1])
    }

    func decodeLinkSettings(_ e: Element?, declared: [String], line: Bool) throws(ScenarioError) -> [LinkDraft] {
        guard let e else { return [] }
        var out: [LinkDraft] = []
        var seen: [Set<String>: Element] = [:]
        for (name, key, value) in try e.namedMapping("a mapping of links (NODE-NODE) to their settings") {
            var (a, b) = try linkPair(name, at: key, declared: declared)
            if line {
                let lineLinks = [("client", "router"), ("router", "server")]
                guard let canonical = lineLinks.first(where: { Set([$0.0, $0.1]) == Set([a, b]) }) else {
                    throw key.error("the line has no link '\(name)'", expected: "client-router or router-server")
                }
                (a, b) = canonical
            }
            if let previous = seen[Set([a, b])] {
                throw key.error("link '\(name)' is given twice (also at line \(previous.location.line))",
                                expected: "one entry per pair of nodes")
            }
            seen[Set([a, b])] = key
            var link = LinkDraft(a: a, b: b)
            link.element = key
            if !value.isNull {
                let f = try value.mapping("the link's settings: a mapping with mtu, offloads, addresses",
                                          allowed: ["mtu", "offloads", "addresses"])
                if let m = f["mtu"] {
                    link.mtu = try m.integer(Int.self, "an MTU from 68 to 65535", in: 68...65535)
                    link.mtuElement = m
                }
                if let o = f["offloads"] { link.offloads = try decodeOffloads(o) }
                if let ad = f["addresses"] { link.addresses = [try decodeLinkAddresses(ad, a: a, b: b)] }
            }
            out.append(link)
        }
        return out
    }

    func decodeOffloads(_ e: Element) throws(ScenarioError) -> Offloads {
        let expected = "off (the default), on, or a mapping of tso, gso, gro to true/false"
        if case .scalar = e.node {
            switch try e.text(expected) {
            case "on", "true": return .on
            case "off", "false": return .off
            default: throw e.wrongType(expected: expected)
            }
        }
        let f = try e.mapping(expected, allowed: ["tso", "gso", "gro"])
        var o = Offloads.off
        if let v = f["tso"] { o.tso = try v.bool() }
        if let v = f["gso"] { o.gso = try v.bool() }
        if let v = f["gro"] { o.gro = try v.bool() }
        return o
    }

    func decodeLinkAddresses(_ e: Element, a: String, b: String) throws(ScenarioError)
        -> (a: [(IPPrefix, Element)], b: [(IPPrefix, Element)]) {
        var ends: [String: [(IPPrefix, Element)]] = [:]
        for (name, key, value) in try e.namedMapping("a mapping of the link's two nodes to their addresses") {
            guard name == a || name == b else {
                throw key.error("'\(name)' is not an end of link \(a)-\(b)", expected: "\(a) or \(b)")
            }
            var list: [Element] = [value]
            if case .sequence = value.node { list = try value.sequence("addresses") }
            if list.isEmpty { throw value.error("no addresses", expected: "at least one address with a prefix length, such as 198.18.9.1/24") }
            var addresses: [(IPPrefix, Element)] = []
            for item in list {
                let text = try item.text("an address with a prefix length, such as 198.18.9.1/24 or fd00:fa17:9::1/64")
                switch Scenario.parseInterfaceAddress(text) {
                case .success(let address): addresses.append((address, item))
                case .failure(let f): throw item.error(f.problem, expected: f.expected)
                }
            }
            ends[name] = addresses
        }
        for end in [a, b] where ends[end] == nil {
            throw e.error("no addresses for \(end)", expected: "addresses for both ends of the link (\(a) and \(b))")
        }
        return (ends[a] ?? [], ends[b] ?? [])
    }

    func build(origin: Topology.Origin, nodes drafts: [NodeDraft], links linkDrafts: [LinkDraft],
               nodesElement: Element?) throws(ScenarioError) -> Topology {
        if linkDrafts.count > DefaultAddressing.maximumLinks, let e = linkDrafts.last?.element {
            throw e.error("too many links (\(linkDrafts.count))", expected: "at most \(DefaultAddressing.maximumLinks)")
        }
        var degree: [String: Int] = [:]
        for draft in linkDrafts {
            degree[draft.a, default: 0] += 1
            degree[draft.b, default: 0] += 1
        }
        // A node with one link calls its interface eth0; a node with several names each after
        // the neighbour it faces (as Netlink's line does: to-client, to-server).
        func interfaceName(_ node: String, facing other: String) -> String {
            degree[node, default: 0] <= 1 ? "eth0" : "to-\(other)"
        }
        var links: [TopologyLink] = []
        // Every address, and the subnet of each link, to catch duplicates and overlaps.
        var usedAddresses: [IPAddress: (String, Element?)] = [:]
        var subnets: [(address: IPPrefix, link: String, element: Element?)] = []
        for (index, draft) in linkDrafts.enumerated() {
            let given = draft.addresses.first
            // Host 1 to the end with more links (the router), host 2 to the other.
            let aHost = degree[draft.a, default: 0] >= degree[draft.b, default: 0] ? 1 : 2
            let aAddresses = given?.a ?? DefaultAddressing.addresses(link: index + 1, host: aHost).map { ($0, nil as Element?) }
            let bAddresses = given?.b ?? DefaultAddressing.addresses(link: index + 1, host: 3 - aHost).map { ($0, nil as Element?) }
            let linkName = "\(draft.a)-\(draft.b)"
            // Same subnet on both ends, per address.
            for (mine, other, mineName, otherName) in [(aAddresses, bAddresses, draft.a, draft.b), (bAddresses, aAddresses, draft.b, draft.a)] {
                for (address, element) in mine {
                    let peer = other.first { $0.0.address.family == address.address.family }
                    let partner = other.first { $0.0.prefixLength == address.prefixLength && $0.0.contains(address.address) }
                    if partner == nil, let element {
                        let what = peer.map { "\($0.0) on \(otherName)" } ?? "no \(address.address.family.name) address on \(otherName)"
                        throw element.error("\(address) on \(mineName) and \(what) are not on one subnet",
                                            expected: "both ends of link \(linkName) in the same prefix, such as 198.18.9.1/24 and 198.18.9.2/24")
                    }
                }
            }
            for (address, element, node) in (aAddresses.map { ($0.0, $0.1, draft.a) } + bAddresses.map { ($0.0, $0.1, draft.b) }) {
                if let (otherNode, otherElement) = usedAddresses[address.address] {
                    // Report at a written address: this one, or else the one it collides with.
                    let problem: String
                    switch (element, otherElement) {
                    case (_?, let other?):
                        problem = "address \(address.address) is given to \(otherNode) (line \(other.location.line)) and again to \(node)"
                    case (_?, nil):
                        problem = "address \(address.address) of \(node) is also the default address of \(otherNode)"
                    case (nil, let other?):
                        problem = "address \(address.address) of \(otherNode) (line \(other.location.line)) is also the default address of \(node) on link \(linkName)"
                    case (nil, nil):
                        problem = "address \(address.address) is used twice"
                    }
                    if let e = element ?? otherElement ?? draft.element {
                        throw e.error(problem, expected: "each address on one interface only (the defaults of the N-th link are 198.18.N.1 and 198.18.N.2)")
                    }
                }
                usedAddresses[address.address] = (node, element)
                if let overlap = subnets.first(where: { $0.link != linkName && ($0.address.contains(address.address) || address.contains($0.address.address)) }),
                   let e = element ?? overlap.element ?? draft.element {
                    let (a, b) = element == nil ? (overlap.address, address) : (address, overlap.address)
                    let bLink = element == nil ? linkName : overlap.link
                    throw e.error("subnet \(a.network) overlaps \(b.network) of link \(bLink)",
                                  expected: "a separate subnet for each link")
                }
            }
            for (address, element) in aAddresses + bAddresses { subnets.append((address, linkName, element)) }
            if let mtu = draft.mtu, mtu < 1280, let e = draft.mtuElement,
               (aAddresses + bAddresses).contains(where: { $0.0.address.family == .ipv6 }) {
                throw e.error("MTU \(mtu) is below IPv6's minimum of 1280 and the link carries IPv6",
                              expected: "an MTU of at least 1280, or IPv4-only addresses on link \(linkName)")
            }
            links.append(TopologyLink(
                a: LinkEnd(node: draft.a, interface: interfaceName(draft.a, facing: draft.b), addresses: aAddresses.map(\.0)),
                b: LinkEnd(node: draft.b, interface: interfaceName(draft.b, facing: draft.a), addresses: bAddresses.map(\.0)),
                mtu: draft.mtu, offloads: draft.offloads))
        }
        var nodes: [TopologyNode] = []
        for draft in drafts {
            let d = degree[draft.name, default: 0]
            if d == 0, let e = draft.element ?? nodesElement {
                throw e.error("node '\(draft.name)' is on no link", expected: "every node on at least one link under 'links'")
            }
            nodes.append(TopologyNode(name: draft.name, sysctls: draft.sysctls, forwarding: draft.forwarding ?? (d >= 2),
                                      routeMetrics: draft.routeMetrics))
        }
        // Connected: every node reachable from the first.
        if let first = nodes.first, let nodesElement {
            var reached: Set<String> = [first.name]
            var changed = true
            while changed {
                changed = false
                for l in links where reached.contains(l.a.node) != reached.contains(l.b.node) {
                    reached.insert(l.a.node)
                    reached.insert(l.b.node)
                    changed = true
                }
            }
            if let lonely = drafts.first(where: { !reached.contains($0.name) }) {
                throw (lonely.element ?? nodesElement).error("node '\(lonely.name)' cannot reach '\(first.name)': the links make two separate networks",
                                         expected: "links that join every node into one network")
            }
        }
        return Topology(origin: origin, nodes: nodes, links: links)
    }
}
