import Values
import Analysis
import Foundation
import Impairment
import Peers
import Scenario

/// The outcome of one expectation: what was expected, what was found, and whether it held.
public struct ExpectationResult: Codable, Sendable, Hashable {
    /// `file:line:column` of the expectation.
    public var source: String
    /// What the scenario expects, in words (`rst/refused-by-host on client -> server:9001`).
    public var expected: String
    /// What the run showed.
    public var found: String
    public var passed: Bool
    /// false: the detector cannot express this expectation (tshark and firewall-vs-host RSTs);
    /// it is listed, not counted.
    public var checked: Bool
    /// Why it could not be checked, or only partly.
    public var note: String?

    public init(source: String, expected: String, found: String, passed: Bool, checked: Bool = true, note: String? = nil) {
        self.source = source
        self.expected = expected
        self.found = found
        self.passed = passed
        self.checked = checked
        self.note = note
    }
}

/// What a process did, read from its event log and its exit status.
/// A peer field's value, or why there is none.
enum FieldValue {
    case success(Scenario.PeerValue)
    case failure(String)
}

struct ProcessOutcome: Sendable {
    var name: String
    var node: String
    var exitStatus: Int64?
    var events: [PeerEvents.Event]?
    var eventsError: String?
    /// What the process wrote (read back from its artifacts), for `stdout:` / `stderr:`.
    var output: [Scenario.OutputStream: String] = [:]

    var summary: PeerEvents.Event? { events?.last { $0.name == "summary" } }

    init(name: String, node: String, exitStatus: Int64? = nil, events: [PeerEvents.Event]? = nil, eventsError: String? = nil) {
        self.name = name
        self.node = node
        self.exitStatus = exitStatus
        self.events = events
        self.eventsError = eventsError
    }

    /// From an event log's text (JSON lines).
    init(name: String, node: String, exitStatus: Int64?, eventLog: String) {
        self.init(name: name, node: node, exitStatus: exitStatus)
        do { events = try PeerEvents.parse(eventLog) } catch { eventsError = "\(error)" }
    }

    /// Why this process did not do what it was started for at all — it could not start, its
    /// arguments were refused, or its target could not be resolved — or nil. A run whose process
    /// failed this way tested nothing, so it must not pass (`ScenarioRun` makes it an error).
    var startFailure: String? {
        if let events, let resolve = events.first(where: { $0.name == "error" && $0.string("call") == "getaddrinfo" }) {
            return "\(name) could not resolve its target: \(resolve.string("detail") ?? resolve.string("errno") ?? "getaddrinfo failed")"
        }
        guard let exitStatus else { return nil }
        let said = (output[.stderr] ?? "").split(separator: "\n").first.map { ": \($0)" } ?? ""
        switch exitStatus {
        case 2: return "\(name) exited 2, a usage error\(said)"
        case 126: return "\(name) could not be executed (exit 126)\(said)"
        case 127: return "\(name) was not found (exit 127)\(said)"
        default: return nil
        }
    }

    func firstError(calls: Set<String>) -> String? {
        for event in events ?? [] where event.name == "error" {
            if let call = event.string("call"), calls.contains(call) { return event.string("errno") }
        }
        return nil
    }

    /// The value of a peer field, or why there is none.
    func value(of field: Scenario.PeerField) -> FieldValue {
        if field == .exitStatus {
            guard let exitStatus else { return .failure("the process had not exited") }
            return .success(.integer(exitStatus))
        }
        guard let events else {
            return .failure(eventsError ?? "no event log (only peer processes write one)")
        }
        let summary = self.summary
        switch field {
        case .connectErrno:
            if let result = summary?.string("connect_result") { return .success(.errno(result == "connected" ? nil : result)) }
            if let errno = firstError(calls: ["connect"]) { return .success(.errno(errno)) }
            if events.contains(where: { $0.name == "connected" }) { return .success(.errno(nil)) }
            return .failure("the log shows no connect")
        case .readErrno:
            if let errno = firstError(calls: ["recv", "read"]) { return .success(.errno(errno)) }
            if let reset = events.first(where: { $0.name == "peer_reset" }), let errno = reset.string("errno") { return .success(.errno(errno)) }
            return .success(.errno(nil))
        case .writeErrno:
            return .success(.errno(firstError(calls: ["send", "write"])))
        case .writeBlocked:
            guard let ns = summary?.int("max_write_block_ns") else { return .failure("no summary line (max_write_block_ns)") }
            return .success(.duration(.nanoseconds(ns)))
        case .connectTime:
            guard let ns = summary?.int("connect_ns") ?? events.first(where: { $0.name == "connected" })?.int("connect_ns") else {
                return .failure("no connect_ns in the log")
            }
            return .success(.duration(.nanoseconds(ns)))
        case .bytesSent:
            guard let n = summary?.int("bytes_written") else { return .failure("no summary line (bytes_written)") }
            return .success(.size(ByteCount(bytes: UInt64(max(0, n)))))
        case .bytesReceived:
            guard let n = summary?.int("bytes_read") else { return .failure("no summary line (bytes_read)") }
            return .success(.size(ByteCount(bytes: UInt64(max(0, n)))))
        case .exitStatus:
            return .failure("unreachable")
        }
    }
}

/// Checks a scenario's expectations against findings, packet marks and process outcomes.
struct ExpectationChecker {
    var scenario: Scenario
    var findings: [Finding]
    var marks: [PacketMark]
    var processes: [String: ProcessOutcome]
    /// false: the detector gives only flags (tshark): findings' expectations are checked against them.
    var namesCauses: Bool
    /// Node → its addresses (text).
    var addresses: [String: [String]]

    func check() -> [ExpectationResult] {
        scenario.expectations.map(check)
    }

    func check(_ expectation: Scenario.Expectation) -> ExpectationResult {
        let source = expectation.source.description
        switch expectation.check {
        case .present(let pattern, let count):
            if !namesCauses { return tsharkPresent(pattern, minCount: max(1, count.min), source: source) }
            let matching = findings.filter { matches($0, pattern) }
            let expected = "\(pattern)\(count)"
            if count.allows(matching.count) {
                return ExpectationResult(source: source, expected: expected, found: matching.isEmpty ? "none" : describe(matching), passed: true)
            }
            // What was found instead, on the expectation's own flow and vantage only: findings of
            // other connections say nothing about this one.
            let scoped = findings.filter { matchesScope($0, pattern) }
            let failures = scoped.filter(\.isFailure)
            let elsewhere = pattern.flow == nil ? "" : " on that flow"
            let found: String
            if !matching.isEmpty {
                found = (matching.count < count.min ? "only \(matching.count): " : "\(matching.count): ") + describe(matching)
            } else if !pattern.evidence.isEmpty,
                      let near = scoped.first(where: { $0.kind.rawValue == pattern.kind && (pattern.cause == nil || $0.cause.rawValue == pattern.cause) }) {
                found = "\(near.name) with evidence " + near.evidence.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            } else if !failures.isEmpty {
                found = describe(failures)
            } else {
                found = scoped.isEmpty ? "no finding\(elsewhere)" : "only " + describe(scoped)
            }
            return ExpectationResult(source: source, expected: expected, found: found, passed: false)
        case .absent(let pattern):
            if !namesCauses { return tsharkAbsent(pattern, source: source) }
            let matching = findings.filter { matches($0, pattern) }
            return ExpectationResult(source: source, expected: "no \(pattern)", found: matching.isEmpty ? "none" : describe(matching),
                                     passed: matching.isEmpty)
        case .peer(let process, let field, let comparison, let value):
            let expected = "\(process) \(field.rawValue) \(comparison.rawValue) \(value)"
            guard let outcome = processes[process] else {
                return ExpectationResult(source: source, expected: expected, found: "the process never started", passed: false)
            }
            switch outcome.value(of: field) {
            case .failure(let why):
                return ExpectationResult(source: source, expected: expected, found: why, passed: false)
            case .success(let actual):
                return ExpectationResult(source: source, expected: expected, found: "\(field.rawValue) \(actual.readable)",
                                         passed: Self.compare(actual, comparison, value))
            }
        case .output(let process, let stream, let match):
            let expected = "\(process) \(stream.rawValue) \(match)"
            guard let outcome = processes[process] else {
                return ExpectationResult(source: source, expected: expected, found: "the process never started", passed: false)
            }
            let text = outcome.output[stream] ?? ""
            let passed: Bool
            switch match {
            case .contains(let t): passed = text.contains(t)
            case .lacks(let t): passed = !text.contains(t)
            case .matches(let r):
                passed = (try? NSRegularExpression(pattern: r)).map { $0.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil } ?? false
            }
            let shown = text.count > 200 ? String(text.prefix(200)) + "…" : text
            return ExpectationResult(source: source, expected: expected,
                                     found: text.isEmpty ? "\(stream.rawValue) was empty" : "\(stream.rawValue): \(shown.debugDescription)", passed: passed)
        case .tsharkFlag(let flag, let minCount, let flow, let vantage):
            let bare = flag.hasPrefix("tcp.analysis.") ? String(flag.dropFirst("tcp.analysis.".count)) : flag
            let count = marks.filter { $0.flags.contains(bare) && markMatches($0, flow: flow, vantage: vantage) }.count
            var expected = "\(flag) on at least \(minCount) frame\(minCount == 1 ? "" : "s")"
            if let flow { expected += " of \(flow)" }
            if let vantage { expected += " at \(vantage)" }
            return ExpectationResult(source: source, expected: expected, found: "\(count) frame\(count == 1 ? "" : "s")",
                                     passed: count >= minCount)
        }
    }

    static func compare(_ actual: Scenario.PeerValue, _ comparison: Scenario.Comparison, _ expected: Scenario.PeerValue) -> Bool {
        switch (actual, expected) {
        case (.errno(let a), .errno(let b)):
            switch comparison {
            case .equal: return a == b
            case .notEqual: return a != b
            default: return false
            }
        case (.duration(let a), .duration(let b)): return comparison.holds(a, b)
        case (.size(let a), .size(let b)): return comparison.holds(a.bytes, b.bytes)
        case (.integer(let a), .integer(let b)): return comparison.holds(a, b)
        default: return false
        }
    }

    // MARK: matching

    func matches(_ finding: Finding, _ pattern: Scenario.DiagnosisPattern) -> Bool {
        guard finding.kind.rawValue == pattern.kind else { return false }
        if let cause = pattern.cause, finding.cause.rawValue != cause { return false }
        if !pattern.evidence.allSatisfy({ Self.holds($0, in: finding) }) { return false }
        return matchesScope(finding, pattern)
    }

    /// Whether an evidence condition holds for a finding (a missing field never holds).
    static func holds(_ condition: Scenario.EvidenceCondition, in finding: Finding) -> Bool {
        guard let value = finding.evidence[condition.key] else { return false }
        switch (condition.value, value) {
        case (.number(let wanted), .int(let actual)):
            return condition.comparison.holds(Double(actual), wanted)
        case (.number(let wanted), .double(let actual)):
            return condition.comparison.holds(actual, wanted)
        case (.number(let wanted), .list(let items)):
            // A list's count (e.g. the frames of every stall).
            return condition.comparison.holds(Double(items.count), wanted)
        case (.bool(let wanted), .bool(let actual)):
            return condition.comparison == .notEqual ? actual != wanted : actual == wanted
        case (.text, _), (.number, .string):
            let wantedText: String
            if case .text(let t) = condition.value { wantedText = t } else { wantedText = condition.value.description }
            return condition.comparison == .notEqual ? value.description != wantedText : value.description == wantedText
        default:
            return false
        }
    }

    /// The pattern's flow and vantage alone.
    func matchesScope(_ finding: Finding, _ pattern: Scenario.DiagnosisPattern) -> Bool {
        if let vantage = pattern.vantage, !finding.vantage.contains(vantage) { return false }
        if let flow = pattern.flow {
            guard let f = finding.flow else { return false }
            let client = FlowRef.split(f.client), server = FlowRef.split(f.server)
            let forward = endpointMatches(flow.from, client) && endpointMatches(flow.to, server)
            let backward = endpointMatches(flow.from, server) && endpointMatches(flow.to, client)
            if !forward && !backward { return false }
        }
        return true
    }

    func endpointMatches(_ e: Scenario.Endpoint, _ actual: (address: String, port: UInt16?)) -> Bool {
        if let port = e.port, actual.port != port { return false }
        return hostMatches(e.host, actual.address)
    }

    func hostMatches(_ host: Scenario.Endpoint.Host, _ address: String) -> Bool {
        let canonical = IPAddress(address)?.description ?? address
        switch host {
        case .node(let node):
            return (addresses[node] ?? []).contains { (IPAddress($0)?.description ?? $0) == canonical }
        case .address(let a):
            return a.description == canonical
        }
    }

    func markMatches(_ m: PacketMark, flow: Scenario.Flow?, vantage: String?) -> Bool {
        if let vantage, m.vantage != vantage { return false }
        if let flow {
            let src = (m.source, Optional(m.sourcePort)), dst = (m.destination, Optional(m.destinationPort))
            let forward = endpointMatches(flow.from, src) && endpointMatches(flow.to, dst)
            let backward = endpointMatches(flow.from, dst) && endpointMatches(flow.to, src)
            if !forward && !backward { return false }
        }
        return true
    }

    func describe(_ list: [Finding]) -> String {
        if list.isEmpty { return "none" }
        var counts: [(String, Int)] = []
        for f in list {
            let key = f.summary
            if let i = counts.firstIndex(where: { $0.0 == key }) { counts[i].1 += 1 } else { counts.append((key, 1)) }
        }
        return counts.map { $0.1 > 1 ? "\($0.1)× \($0.0)" : $0.0 }.joined(separator: "; ")
    }

    // MARK: tshark

    /// What tshark's expert flags can say about a diagnosis kind: the marks that show the kind,
    /// and the causes tshark can tell apart (none, for most).
    static func tsharkKindFlag(_ kind: String) -> String? {
        let flag: AnalysisFlags
        switch DiagnosisKind(kind) {
        case .rst: return "rst"   // tcp.flags.reset: a header bit, not an analysis flag
        case .zeroWindow: flag = .zeroWindow
        case .retransmission: flag = .retransmission
        case .reordering: flag = .outOfOrder
        case .keepAlive: flag = .keepAlive
        default: return nil
        }
        return flag.names.first
    }

    static let tsharkCauseNotes: [DiagnosisKind: String] = [
        .rst: "tshark marks every RST alike (expert \"Connection reset\"); it cannot tell a firewall's RST from the host's (TTL, absence at the other vantage point) or an abort from a refusal",
        .zeroWindow: "tshark flags zero windows but cannot tell a slow reader from one that stopped reading",
        .retransmission: "tshark flags retransmissions but cannot tell loss from congestion, a spurious delayed-ACK retransmission (it never flags the D-SACK evidence) or an RTT jump",
        .syn: "tshark cannot tell an unanswered SYN from a duplicate SYN answered with a challenge ACK (it calls the challenge ACK a duplicate ACK), nor a SYN ignored by a full listen queue from one dropped on the path; it never ties an ICMP unreachable to the SYN it quotes",
        .connectionLost: "tshark flags each copy as a retransmission; it has no notion of a connection going silent, of backoff, or of the idle gap that points at a middlebox",
        .stall: "tshark flags nothing in a Nagle/delayed-ACK stall or a slow server: every packet is in order and acknowledged; only tcp.time_delta shows the 40 ms gaps, without saying who waited for whom",
        .latency: "tshark flags nothing under bufferbloat (no loss, no retransmission); tcp.analysis.ack_rtt and bytes_in_flight show the climb frame by frame, but nothing names a standing queue or ties another connection's wait to it",
        .throughput: "tshark flags a window-limited transfer only now and then as window_full; it shows the SYN's window-scale option (WS=) at each capture but never compares two captures, so a stripped option goes unnoticed",
        .reordering: "tshark's out_of_order is a timing heuristic, not proof of reordering",
        .keepAlive: "tshark flags Linux zero-window probes as keep-alives too",
        .captureArtifact: "tshark reports duplicated captures as retransmissions",
    ]

    func tsharkPresent(_ pattern: Scenario.DiagnosisPattern, minCount: Int, source: String) -> ExpectationResult {
        let expected = "\(pattern)"
        guard let flag = Self.tsharkKindFlag(pattern.kind) else {
            return ExpectationResult(source: source, expected: expected, found: "not checked", passed: true, checked: false,
                                     note: Self.tsharkCauseNotes[DiagnosisKind(pattern.kind)] ?? "tshark has no flag for \(pattern.kind)")
        }
        let count = marks.filter { $0.flags.contains(flag) && markMatches($0, flow: pattern.flow, vantage: pattern.vantage) }.count
        let note = pattern.cause.map { "checked as kind \(pattern.kind) (\(flag) frames) only; cause \($0): " + (Self.tsharkCauseNotes[DiagnosisKind(pattern.kind)] ?? "not expressible") }
        return ExpectationResult(source: source, expected: expected + " [tshark: \(flag)]", found: "\(count) \(flag) frame\(count == 1 ? "" : "s")",
                                 passed: count >= 1, checked: true, note: note)
    }

    func tsharkAbsent(_ pattern: Scenario.DiagnosisPattern, source: String) -> ExpectationResult {
        let expected = "no \(pattern)"
        guard pattern.cause == nil, let flag = Self.tsharkKindFlag(pattern.kind) else {
            return ExpectationResult(source: source, expected: expected, found: "not checked", passed: true, checked: false,
                                     note: pattern.cause == nil ? "tshark has no flag for \(pattern.kind)"
                                        : "tshark cannot express the absence of one cause: " + (Self.tsharkCauseNotes[DiagnosisKind(pattern.kind)] ?? "no such flag"))
        }
        let count = marks.filter { $0.flags.contains(flag) && markMatches($0, flow: pattern.flow, vantage: pattern.vantage) }.count
        return ExpectationResult(source: source, expected: expected + " [tshark: no \(flag)]", found: "\(count) \(flag) frame\(count == 1 ? "" : "s")",
                                 passed: count == 0)
    }
}
