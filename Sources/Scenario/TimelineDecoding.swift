import Foundation
import Impairment

extension ScenarioDecoder {
    // MARK: capture

    func decodeCaptures(_ e: Element?) throws(ScenarioError) -> [CapturePoint] {
        guard let e else {
            // Default: the client's and the server's interfaces, where they exist.
            return ["client", "server"].filter { topology.node(named: $0) != nil }.map { CapturePoint(node: $0) }
        }
        let expected = "a list of nodes (or { node, interface } mappings) to capture at, such as [client, server]"
        var points: [CapturePoint] = []
        for item in try e.sequence(expected) {
            var point: CapturePoint
            var interfaceElement: Element?
            if case .mapping = item.node {
                let f = try item.mapping("a capture point: { node: NAME, interface: ethN }", allowed: ["node", "interface"])
                point = CapturePoint(node: try nodeReference(try f.required("node", "the node to capture at")))
                interfaceElement = f["interface"]
            } else {
                point = CapturePoint(node: try nodeReference(item))
            }
            if let ie = interfaceElement {
                let names = topology.interfaces(of: point.node).map(\.interface)
                let name = try ie.text("an interface of \(point.node): one of \(names.commaList)")
                guard names.contains(name) else {
                    throw ie.error("\(point.node) has no interface '\(name)'",
                                   expected: "one of: \(names.commaList) (eth0 on a node with one link, to-NEIGHBOUR on a node with several)")
                }
                point.interface = name
            }
            let overlaps = points.contains { $0.node == point.node && ($0.interface == nil || point.interface == nil || $0.interface == point.interface) }
            if overlaps {
                throw item.error("\(point.node)\(point.interface.map { " " + $0 } ?? "") is already captured",
                                 expected: "each interface captured once")
            }
            points.append(point)
        }
        return points
    }

    // MARK: firewall

    func decodeFirewall(_ e: Element?) throws(ScenarioError) -> [FirewallRule] {
        guard let e else { return [] }
        var rules: [FirewallRule] = []
        for item in try e.sequence("a list of firewall rules, such as '- { name: reject-9000, node: router, rule: \"tcp dport 9000 reject with tcp reset\" }'") {
            let f = try item.mapping("a firewall rule: a mapping with name, node, and rule or ruleset",
                                     allowed: ["name", "node", "rule", "ruleset", "family", "table", "chain", "installed"])
            let nameElement = try f.required("name", "a name for the rule, which steps use to add or remove it")
            let name = try nameElement.text(Self.processNameRule)
            guard Self.isProcessName(name) else {
                throw nameElement.error("'\(Element.shortened(name))' is not a usable rule name", expected: Self.processNameRule)
            }
            if let other = firewallElements[name] {
                throw nameElement.error("a rule named '\(name)' already exists (line \(other.location.line))", expected: "unique rule names")
            }
            let node = try nodeReference(try f.required("node", "the node whose namespace holds the rule, such as 'node: router'"))
            let body = try f.exactlyOne(of: ["rule", "ruleset"], what: "rule text")
            let bodyValue: FirewallRule.Body
            if body.key == "ruleset" {
                for key in ["family", "table", "chain"] {
                    try f.forbid(key, unless: false, "no '\(key)' with a ruleset (the ruleset names its own tables and chains)")
                }
                let text = try resolvingAddressNames(try body.value.text("nft ruleset text, such as 'table inet t { chain c { type filter hook input priority 0; } }'"), in: body.value)
                bodyValue = .ruleset(text)
            } else {
                let text = try resolvingAddressNames(try body.value.text("one nft rule, such as 'tcp dport 9000 reject with tcp reset'"), in: body.value)
                if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    throw body.value.error("the rule is empty", expected: "one nft rule, such as 'tcp dport 9000 reject with tcp reset'")
                }
                var family = FirewallRule.Family.inet
                if let fe = f["family"] {
                    let word = try fe.text("inet, ip or ip6")
                    guard let v = FirewallRule.Family(rawValue: word) else {
                        throw fe.error("unknown family '\(word)'", expected: "inet, ip or ip6")
                    }
                    family = v
                }
                var table = "faultline"
                if let te = f["table"] {
                    table = try te.text("a table name")
                    let ok = table.unicodeScalars.first.map { ("a"..."z").contains($0) || ("A"..."Z").contains($0) } == true
                        && table.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
                    guard ok, table.count <= 32 else {
                        throw te.error("'\(Element.shortened(table))' is not a usable table name", expected: "letters, digits and '_', starting with a letter")
                    }
                }
                let forwards = topology.node(named: node)?.forwarding ?? false
                var chain: FirewallRule.Chain = forwards ? .forward : .input
                if let ce = f["chain"] {
                    let word = try ce.text("a hook: prerouting, input, forward, output or postrouting")
                    let names = FirewallRule.Chain.allCases.map(\.rawValue)
                    guard let v = FirewallRule.Chain(rawValue: word) else {
                        throw ce.error("unknown chain '\(word)'\(Suggestion.didYouMean(word, in: names))", expected: "one of: \(names.commaList)")
                    }
                    chain = v
                }
                bodyValue = .rule(family: family, table: table, chain: chain, statement: text)
            }
            let installed = try f["installed"].map { v throws(ScenarioError) in try v.bool() } ?? true
            rules.append(FirewallRule(name: name, node: node, body: bodyValue, installed: installed, source: item.location))
            firewallElements[name] = nameElement
        }
        return rules
    }

    // MARK: steps

    static let actionKeys = ["run", "peer", "impair", "add-rule", "remove-rule", "signal", "stop"]
    static let stepKeys = ["at", "after", "delay", "timeout", "on", "name", "to"] + actionKeys

    func decodeSteps(_ e: Element?) throws(ScenarioError) -> [Step] {
        guard let e else { return [] }
        var steps: [Step] = []
        var previous: (at: Interval, element: Element)?
        var installed: [String: Bool] = Dictionary(uniqueKeysWithValues: firewall.map { ($0.name, $0.installed) })
        var stoppedAll: Element?
        var touchedRules: Set<String> = []
        for item in try e.sequence("a list of steps, such as '- { at: 0s, on: server, peer: [listen, --port, \"9000\"] }'") {
            let f = try item.mapping("a step: a mapping with at (or after) and one action (\(Self.actionKeys.commaList))", allowed: Self.stepKeys)
            if let afterElement = f["after"] {
                if let atElement = f["at"] {
                    throw atElement.error("'at' and 'after' in one step", expected: "at: a time, or after: an event (with an optional delay)")
                }
                if let stoppedAll {
                    throw item.error("a step after 'stop: all' (line \(stoppedAll.location.line))", expected: "'stop: all' as the last step")
                }
                let trigger = try eventTrigger(afterElement, f)
                let step = try eventStep(f, item: item, trigger: trigger, installed: &installed, touchedRules: &touchedRules)
                if case .stop(.all) = step.action { stoppedAll = item }
                steps.append(step)
                continue
            }
            try f.forbid("delay", unless: false, "delay only with after: (the wait after the event)")
            try f.forbid("timeout", unless: false, "timeout only with after: (how long the event may take)")
            let atElement = try f.required("at", "the step's time since the start, such as 'at: 100ms', or the event it waits for, such as 'after: client connected'")
            let at = try duration(atElement, "a time since the start, such as 100ms")
            if at < .zero {
                throw atElement.error("\(at) is negative", expected: "a time since the start, 0 or later")
            }
            if at.duration > timeLimit {
                throw atElement.error("\(at) is after the time limit (\(timeLimitText))",
                                      expected: "a time up to \(timeLimitText), or a longer 'time-limit'")
            }
            if let previous, at < previous.at {
                throw atElement.error("\(at) comes before the previous step's \(previous.at) (line \(previous.element.location.line))",
                                      expected: "steps listed in time order")
            }
            if let stoppedAll {
                throw item.error("a step after 'stop: all' (line \(stoppedAll.location.line))", expected: "'stop: all' as the last step")
            }
            previous = (at, atElement)
            guard let stepAction = try stepAction(f, item: item, time: .at(at), installed: &installed, touchedRules: &touchedRules) else {
                continue   // an impair step: folded into its entry's schedule
            }
            if case .stop(.all) = stepAction { stoppedAll = item }
            steps.append(Step(at: at.duration, action: stepAction, source: item.location))
        }
        return steps
    }

    static let eventForms = "PROCESS ready, PROCESS connected, PROCESS exited, PROCESS sent SIZE, PROCESS received SIZE, PROCESS write-blocked, zero-window, or zero-window at NODE"

    /// `after: client connected` with the step's optional `delay` and `timeout`.
    func eventTrigger(_ e: Element, _ f: Fields) throws(ScenarioError) -> EventTrigger {
        let text = try e.text("an event: \(Self.eventForms)").trimmedSpaces()
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let condition: EventTrigger.Condition
        if words.first == "zero-window" {
            if words.count == 1 {
                condition = .zeroWindow(at: nil)
            } else if words.count == 3, words[1] == "at" {
                let node = words[2]
                guard captures.contains(where: { $0.node == node }) else {
                    let captured = Array(Set(captures.map(\.node))).sorted()
                    throw e.error("nothing is captured at '\(node)'\(Suggestion.didYouMean(node, in: captured))",
                                  expected: "a captured node: \(captured.commaList)")
                }
                condition = .zeroWindow(at: node)
            } else {
                throw e.error("'\(Element.shortened(text))' is not an event", expected: Self.eventForms)
            }
            if captures.isEmpty { throw e.error("zero-window is seen by a capture, and 'capture' is empty", expected: "a capture point under 'capture'") }
        } else {
            guard words.count >= 2 else { throw e.error("'\(Element.shortened(text))' is not an event", expected: Self.eventForms) }
            let process = words[0]
            let names = Array(processes.keys).sorted()
            guard let started = processes[process] else {
                throw e.error("no process '\(process)' has been started by an earlier step\(Suggestion.didYouMean(process, in: names))",
                              expected: names.isEmpty ? "a process an earlier step starts" : "one of: \(names.commaList), then \(Self.eventForms)")
            }
            let isPeer: Bool
            if case .peer = started.process.command { isPeer = true } else { isPeer = false }
            let what = words[1]
            let needsPeer = ["connected", "sent", "received", "write-blocked"]
            if needsPeer.contains(what), !isPeer {
                throw e.error("'\(process) \(what)' needs a peer's event log, and \(process) is a program of its own (run:)",
                              expected: "\(process) ready or \(process) exited, or start it with peer:")
            }
            switch (what, words.count) {
            case ("ready", 2): condition = .ready(process)
            case ("connected", 2): condition = .connected(process)
            case ("exited", 2): condition = .exited(process)
            case ("write-blocked", 2): condition = .writeBlocked(process)
            case ("sent", 3), ("received", 3):
                let size: ByteCount
                do { size = try ByteCount(parsing: words[2]) } catch { throw e.error(error.description) }
                condition = what == "sent" ? .sent(process, size) : .received(process, size)
            default:
                let verbs = ["ready", "connected", "exited", "sent", "received", "write-blocked"]
                throw e.error("'\(Element.shortened(text))' is not an event\(Suggestion.didYouMean(what, in: verbs))", expected: Self.eventForms)
            }
        }
        let delay = try f["delay"].map { d throws(ScenarioError) in try nonNegativeDuration(d, "a wait after the event, such as 100ms") } ?? .zero
        var timeout: Duration?
        if let t = f["timeout"] {
            let value = try nonNegativeDuration(t, "how long the event may take, such as 5s")
            if value.duration > timeLimit {
                throw t.error("\(value) is longer than the time limit (\(timeLimitText))", expected: "a timeout up to \(timeLimitText)")
            }
            timeout = value.duration
        }
        return EventTrigger(condition: condition, delay: delay.duration, timeout: timeout)
    }

    /// When a step acts: at a time, or after an event.
    enum StepTime {
        case at(Interval)
        case after(EventTrigger)

        var words: String {
            switch self {
            case .at(let t): return "at \(t)"
            case .after(let trigger): return "\(trigger)"
            }
        }
    }

    /// A step that waits for an event: its action, as a timed step's.
    func eventStep(_ f: Fields, item: Element, trigger: EventTrigger, installed: inout [String: Bool],
                   touchedRules: inout Set<String>) throws(ScenarioError) -> Step {
        guard let action = try stepAction(f, item: item, time: .after(trigger), installed: &installed, touchedRules: &touchedRules) else {
            throw item.error("this step does nothing", expected: "one action")
        }
        return Step(at: .zero, after: trigger, action: action, source: item.location)
    }

    /// The one action of a step (`run`, `peer`, `impair`, `add-rule`, `remove-rule`, `signal`,
    /// `stop`), checked against what earlier steps did. A timed `impair:` is folded into its
    /// entry's schedule (nil); one after an event becomes a step, its change marked with the event
    /// in the schedule too (so the engine is chosen for that state).
    func stepAction(_ f: Fields, item: Element, time: StepTime, installed: inout [String: Bool],
                    touchedRules: inout Set<String>) throws(ScenarioError) -> Step.Action? {
        let action = try f.exactlyOne(of: Self.actionKeys, what: "action")
        let starts = action.key == "run" || action.key == "peer"
        try f.forbid("on", unless: starts, "'on' only with run or peer (the node to start the process in)")
        try f.forbid("name", unless: starts, "'name' only with run or peer (the name of the process started)")
        try f.forbid("to", unless: action.key == "signal", "'to' only with signal (the process to signal)")
        let stepAction: Step.Action
        switch action.key {
        case "run", "peer":
            let node = try nodeReference(try f.required("on", "the node to run in, such as 'on: client'"))
            let argv = try arguments(action.value, peer: action.key == "peer")
            let name = try processName(f["name"], node: node, step: item)
            let process = Process(name: name, node: node, command: action.key == "peer" ? .peer(argv) : .argv(argv))
            processes[name] = (process, f["name"] ?? item)
            stepAction = .run(process)
        case "impair":
            switch time {
            case .at(let at):
                try scheduleChange(action.value, at: at)
                return nil
            case .after(let trigger):
                let changes = try eventChange(action.value, trigger: trigger)
                guard changes.count == 1, let only = changes.first else {
                    throw action.value.error("an impair step after an event changes one link direction", expected: "link: NODE->NODE (not NODE-NODE)")
                }
                stepAction = .impair(link: only.link, match: only.match, change: only.change)
            }
        case "add-rule", "remove-rule":
            let name = try ruleReference(action.value)
            let adding = action.key == "add-rule"
            if installed[name] == adding {
                let why: String
                if !adding {
                    why = "it is not installed \(time.words)"
                } else if touchedRules.contains(name) {
                    why = "an earlier step installed it"
                } else {
                    let line = firewallElements[name]?.location.line ?? 0
                    why = "it is installed from the start; set 'installed: false' on it (line \(line)) to install it only with this step"
                }
                throw action.value.error("rule '\(name)' cannot be \(adding ? "added" : "removed"): \(why)",
                                         expected: adding ? "add-rule for a rule not yet installed" : "remove-rule for an installed rule")
            }
            touchedRules.insert(name)
            installed[name] = adding
            stepAction = adding ? .addRule(name: name) : .removeRule(name: name)
        case "signal":
            let signals = Signal.allNames
            let word = try action.value.text("a signal name such as SIGKILL or TERM")
            guard let signal = Signal(name: word) else {
                let asWritten = word.uppercased().hasPrefix("SIG") ? word.uppercased() : "SIG" + word.uppercased()
                throw action.value.error("unknown signal '\(word)'\(Suggestion.didYouMean(asWritten, in: signals))",
                                         expected: "one of: \(signals.commaList)")
            }
            let target = try processReference(try f.required("to", "the process to signal, such as 'to: server'"))
            stepAction = .signal(process: target, signal: signal)
        default: // stop
            let word = try action.value.text("all, or the name of a process")
            if word == "all" {
                stepAction = .stop(.all)
            } else {
                stepAction = .stop(.process(try processReference(action.value)))
            }
        }
        return stepAction
    }

    /// argv for `run`, or the role and its arguments for `peer`: a non-empty list of scalars.
    func arguments(_ e: Element, peer: Bool) throws(ScenarioError) -> [String] {
        let expected = peer
            ? "the peer role and its arguments as a list, such as [listen, --port, \"9000\", --never-read]"
            : "the command as a list of arguments, such as [ss, -tn]"
        guard case .sequence = e.node else { throw e.wrongType(expected: expected) }
        let items = try e.sequence(expected)
        if items.isEmpty { throw e.error("the list is empty", expected: expected) }
        var argv: [String] = []
        for item in items {
            guard case .scalar(let s) = item.node else { throw item.wrongType(expected: "one argument (a word, number or quoted text)") }
            if item.isNull, s.style == .plain || s.style == .any {
                throw item.wrongType(expected: "one argument (write \"\" for an empty one)")
            }
            argv.append(try resolvingAddressNames(s.string, in: item))
        }
        if argv[0].isEmpty { throw items[0].error("the program name is empty", expected: expected) }
        if peer, let check = peerArgumentCheck, let problem = check(argv) {
            throw e.error("faultline peer refuses these arguments: \(Self.peerProblems(problem))",
                          expected: "the arguments of `faultline peer \(argv[0])` (see `faultline peer \(argv[0]) --help`)")
        }
        return argv
    }

    /// Every problem `faultline peer` names, on one line: its message is "Error: " and one problem
    /// per line, then its usage lines (a step with three mistakes gets all three, not the first).
    static func peerProblems(_ message: String) -> String {
        var problems: [String] = []
        for line in message.split(separator: "\n", omittingEmptySubsequences: true) {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("Usage:") || text.hasPrefix("See '") { break }
            problems.append(text.hasPrefix("Error: ") ? String(text.dropFirst(7)) : text)
        }
        return problems.isEmpty ? message : problems.joined(separator: "; ")
    }

    /// A process's name: given, or the node's name when not given. Must be unique.
    func processName(_ e: Element?, node: String, step: Element) throws(ScenarioError) -> String {
        let name: String
        if let e {
            name = try e.text(Self.processNameRule)
            guard Self.isProcessName(name) else {
                throw e.error("'\(Element.shortened(name))' is not a usable process name", expected: Self.processNameRule)
            }
            if name == "all" { throw e.error("'all' is reserved for 'stop: all'", expected: "another name") }
        } else {
            name = node
        }
        if let existing = processes[name] {
            let at = e ?? step
            let hint = e == nil ? "; add 'name:' to tell the processes on \(node) apart" : ""
            throw at.error("a process named '\(name)' already exists (line \(existing.element.location.line))\(hint)",
                           expected: "unique process names")
        }
        return name
    }

    /// A process started by an earlier step.
    func processReference(_ e: Element) throws(ScenarioError) -> String {
        let names = Array(processes.keys).sorted()
        let name = try e.text("the name of a process an earlier step started")
        guard processes[name] != nil else {
            let known = names.isEmpty ? "the name of a process a step starts (no step starts one)" : "one of: \(names.commaList)"
            throw e.error("no process '\(name)' has been started by an earlier step\(Suggestion.didYouMean(name, in: names))",
                          expected: known)
        }
        return name
    }

    func ruleReference(_ e: Element) throws(ScenarioError) -> String {
        let names = firewall.map(\.name)
        let name = try e.text("the name of a rule in 'firewall'")
        guard names.contains(name) else {
            throw e.error("no firewall rule '\(name)'\(Suggestion.didYouMean(name, in: names))",
                          expected: names.isEmpty ? "a rule defined under 'firewall'" : "one of: \(names.commaList)")
        }
        return name
    }
}
