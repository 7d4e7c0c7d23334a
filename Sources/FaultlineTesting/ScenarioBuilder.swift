import Values
import Analysis
import Foundation
import Impairment
import Scenario

/// Scenarios written in Swift, with the power of the YAML format because they *are* the format:
/// the builder writes the scenario as YAML (in its JSON form) and loads it with the same checker
/// as a file, so every value is validated exactly as in a file and an error names the key
/// (`impairments[0].delay: …`).
///
/// ```swift
/// let scenario = try Scenario.build(name: "forged-reset-mid-stream") {
///     Firewall("cut", on: "router", rule: "tcp dport 9000 reject with tcp reset", installed: false)
///     Impairment("router→server", delay: "5ms", loss: 0.5%)
///     Step.at("0s", on: "server", peer: ["listen", "--port", "9000"])
///     Step.at("100ms", on: "client", peer: ["send", "--to", "server:9000", "--bytes", "4MiB"])
///     Step.after("client sent 1MiB", addRule: "cut")
///     Expect.finding(.rst, cause: .injectedByMiddlebox, flow: "client -> server:9000")
///     Expect.none(.retransmission, cause: .packetLoss)
///     Expect.process("client", "write-errno", "ECONNRESET")
/// }
/// let run = try await scenario.run()
/// ```
extension Scenario {
    public static func build(name: String, summary: String? = nil, timeLimit: ScenarioValue? = nil, seed: UInt64? = nil,
                             @ScenarioContentBuilder _ content: () -> [ScenarioPart]) throws -> Scenario {
        var top: [(String, ScenarioValue)] = [("name", .text(name))]
        if let summary { top.append(("summary", .text(summary))) }
        if let timeLimit { top.append(("time-limit", timeLimit)) }
        if let seed { top.append(("seed", .text(String(seed)))) }
        var sections: [String: [ScenarioValue]] = [:]
        var order: [String] = []
        var singles: [(String, ScenarioValue)] = []
        for part in content() {
            switch part.placement {
            case .listItem(let section):
                if sections[section] == nil { order.append(section) }
                sections[section, default: []].append(part.value)
            case .single(let key):
                singles.append((key, part.value))
            }
        }
        top += singles
        // The loader reads sections in dependency order whatever their order in the text.
        for section in order { top.append((section, .list(sections[section] ?? []))) }
        let text = ScenarioValue.map(top).json
        let scenario = try Scenario.parse(text: text, file: "<Swift scenario \(name)>", peerArguments: PeerProgram.argumentCheck())
        ScenarioTexts.remember(scenario, text: text, path: nil)
        return scenario
    }
}

/// A value of the scenario format: text (durations, sizes, percentages, words — validated by the
/// loader), a list or a mapping. Literals work directly: `"20ms"`, `5`, `0.5%`, `["a", "b"]`.
public indirect enum ScenarioValue: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
                                    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral {
    case text(String)
    case number(String)
    case bool(Bool)
    case list([ScenarioValue])
    case map([(String, ScenarioValue)])

    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(floatLiteral value: Double) { self = .number(String(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: ScenarioValue...) { self = .list(elements) }
    public init(_ interval: Interval) { self = .text(interval.description) }
    public init(_ percentage: Percentage) { self = .text(percentage.description) }
    public init(_ rate: Rate) { self = .text(rate.description) }
    public init(_ size: ByteCount) { self = .text(size.description) }

    /// The JSON text (YAML reads JSON as written).
    var json: String {
        switch self {
        case .text(let s): return Self.quote(s)
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .list(let items): return "[" + items.map(\.json).joined(separator: ", ") + "]"
        case .map(let pairs): return "{" + pairs.map { Self.quote($0.0) + ": " + $0.1.json }.joined(separator: ", ") + "}"
        }
    }

    static func quote(_ s: String) -> String { JSONText.quoted(s) }

    public static func == (a: ScenarioValue, b: ScenarioValue) -> Bool { a.json == b.json }
    public func hash(into hasher: inout Hasher) { hasher.combine(json) }
}

/// `0.5%` as a scenario value.
postfix operator %
public postfix func % (value: Double) -> ScenarioValue { .text("\(value)%") }
public postfix func % (value: Int) -> ScenarioValue { .text("\(value)%") }

/// One piece of a scenario: an item of a list section (impairments, firewall, steps, expect) or
/// a whole top-level key (topology, capture).
public struct ScenarioPart: Sendable {
    enum Placement: Sendable { case listItem(String), single(String) }
    let placement: Placement
    let value: ScenarioValue

    /// Any key of the format, written out: `.item("impairments", [...])` or `.key("topology", ...)`.
    public static func item(_ section: String, _ fields: [(String, ScenarioValue)]) -> ScenarioPart {
        ScenarioPart(placement: .listItem(section), value: .map(fields))
    }

    public static func key(_ key: String, _ value: ScenarioValue) -> ScenarioPart {
        ScenarioPart(placement: .single(key), value: value)
    }
}

@resultBuilder
public enum ScenarioContentBuilder {
    public static func buildExpression(_ part: ScenarioPart) -> [ScenarioPart] { [part] }
    public static func buildExpression(_ parts: [ScenarioPart]) -> [ScenarioPart] { parts }
    public static func buildBlock(_ parts: [ScenarioPart]...) -> [ScenarioPart] { parts.flatMap { $0 } }
    public static func buildOptional(_ parts: [ScenarioPart]?) -> [ScenarioPart] { parts ?? [] }
    public static func buildEither(first parts: [ScenarioPart]) -> [ScenarioPart] { parts }
    public static func buildEither(second parts: [ScenarioPart]) -> [ScenarioPart] { parts }
    public static func buildArray(_ parts: [[ScenarioPart]]) -> [ScenarioPart] { parts.flatMap { $0 } }
}

/// An entry of `impairments`. Every key of the format is available through `more`
/// (`["reorder": ["probability": "10%"]]`, `["actions": [...]]`).
public func Impairment(_ link: String, match: ScenarioValue? = nil, delay: ScenarioValue? = nil, jitter: ScenarioValue? = nil,
                       loss: ScenarioValue? = nil, rate: ScenarioValue? = nil, engine: String? = nil,
                       more: [(String, ScenarioValue)] = []) -> ScenarioPart {
    var fields: [(String, ScenarioValue)] = [("link", .text(link))]
    if let match { fields.append(("match", match)) }
    if let delay {
        if let jitter { fields.append(("delay", .map([("delay", delay), ("jitter", jitter)]))) } else { fields.append(("delay", delay)) }
    }
    if let loss { fields.append(("loss", loss)) }
    if let rate { fields.append(("rate", rate)) }
    if let engine { fields.append(("engine", .text(engine))) }
    return .item("impairments", fields + more)
}

/// A rule of `firewall`.
public func Firewall(_ name: String, on node: String, rule: String, installed: Bool = true) -> ScenarioPart {
    .item("firewall", [("name", .text(name)), ("node", .text(node)), ("rule", .text(rule)), ("installed", .bool(installed))])
}

/// `capture`: the nodes to capture at.
public func Capture(_ nodes: String...) -> ScenarioPart { .key("capture", .list(nodes.map { .text($0) })) }

/// Steps of the timeline.
public enum Step {
    public static func at(_ time: ScenarioValue, on node: String, name: String? = nil, peer arguments: [String]) -> ScenarioPart {
        process(("at", time), node, name, "peer", arguments)
    }
    public static func at(_ time: ScenarioValue, on node: String, name: String? = nil, run argv: [String]) -> ScenarioPart {
        process(("at", time), node, name, "run", argv)
    }
    public static func after(_ event: String, delay: ScenarioValue? = nil, on node: String, name: String? = nil, peer arguments: [String]) -> ScenarioPart {
        process(("after", .text(event)), node, name, "peer", arguments, delay: delay)
    }
    public static func after(_ event: String, delay: ScenarioValue? = nil, on node: String, name: String? = nil, run argv: [String]) -> ScenarioPart {
        process(("after", .text(event)), node, name, "run", argv, delay: delay)
    }
    public static func at(_ time: ScenarioValue, addRule rule: String) -> ScenarioPart { .item("steps", [("at", time), ("add-rule", .text(rule))]) }
    public static func at(_ time: ScenarioValue, removeRule rule: String) -> ScenarioPart { .item("steps", [("at", time), ("remove-rule", .text(rule))]) }
    public static func after(_ event: String, delay: ScenarioValue? = nil, addRule rule: String) -> ScenarioPart {
        .item("steps", [("after", .text(event))] + (delay.map { [("delay", $0)] } ?? []) + [("add-rule", .text(rule))])
    }
    public static func at(_ time: ScenarioValue, impair fields: [(String, ScenarioValue)]) -> ScenarioPart {
        .item("steps", [("at", time), ("impair", .map(fields))])
    }
    public static func after(_ event: String, delay: ScenarioValue? = nil, impair fields: [(String, ScenarioValue)]) -> ScenarioPart {
        .item("steps", [("after", .text(event))] + (delay.map { [("delay", $0)] } ?? []) + [("impair", .map(fields))])
    }
    public static func at(_ time: ScenarioValue, signal: String, to process: String) -> ScenarioPart {
        .item("steps", [("at", time), ("signal", .text(signal)), ("to", .text(process))])
    }
    public static func at(_ time: ScenarioValue, stop target: String = "all") -> ScenarioPart {
        .item("steps", [("at", time), ("stop", .text(target))])
    }
    public static func after(_ event: String, delay: ScenarioValue? = nil, stop target: String = "all") -> ScenarioPart {
        .item("steps", [("after", .text(event))] + (delay.map { [("delay", $0)] } ?? []) + [("stop", .text(target))])
    }

    static func process(_ when: (String, ScenarioValue), _ node: String, _ name: String?, _ key: String, _ argv: [String],
                        delay: ScenarioValue? = nil) -> ScenarioPart {
        var fields: [(String, ScenarioValue)] = [when]
        if let delay { fields.append(("delay", delay)) }
        fields.append(("on", .text(node)))
        if let name { fields.append(("name", .text(name))) }
        fields.append((key, .list(argv.map { .text($0) })))
        return .item("steps", fields)
    }
}

/// Expectations.
public enum Expect {
    /// A finding that must be there (`cause: .any` is written `cause: nil`).
    public static func finding(_ kind: DiagnosisKind, cause: DiagnosisCause?, flow: String? = nil, vantage: String? = nil,
                               count: Int? = nil, minCount: Int? = nil, maxCount: Int? = nil,
                               evidence: [(String, ScenarioValue)] = []) -> ScenarioPart {
        var fields: [(String, ScenarioValue)] = [("kind", .text(kind.rawValue)), ("cause", .text(cause?.rawValue ?? "any"))]
        if let flow { fields.append(("flow", .text(flow))) }
        if let vantage { fields.append(("vantage", .text(vantage))) }
        if let count { fields.append(("count", .number(String(count)))) }
        if let minCount { fields.append(("min-count", .number(String(minCount)))) }
        if let maxCount { fields.append(("max-count", .number(String(maxCount)))) }
        if !evidence.isEmpty { fields.append(("evidence", .map(evidence))) }
        return .item("expect", fields)
    }

    /// A finding that must not be there (any cause when `cause` is nil).
    public static func none(_ kind: DiagnosisKind, cause: DiagnosisCause? = nil, flow: String? = nil) -> ScenarioPart {
        var inner: [(String, ScenarioValue)] = [("kind", .text(kind.rawValue))]
        if let cause { inner.append(("cause", .text(cause.rawValue))) }
        if let flow { inner.append(("flow", .text(flow))) }
        return .item("expect", [("not", .map(inner))])
    }

    /// A fact about a process: `Expect.process("client", "connect-errno", "ECONNREFUSED")`,
    /// `Expect.process("curl", "stdout", "200 OK")`.
    public static func process(_ name: String, _ field: String, _ value: ScenarioValue) -> ScenarioPart {
        .item("expect", [("peer", .text(name)), (field, value)])
    }
}
