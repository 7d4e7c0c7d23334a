import Values
import Foundation
import Impairment

/// An impairment being read: the model value so far, and where each of its values was written,
/// keyed by the model's key paths (`delay.jitter`, `loss.probability`, `schedule[1].delay.delay`,
/// `actions[0].nth`), so that the model's validation findings land on the right line and column.
struct ImpairmentDraft {
    var spec: ImpairmentSpec
    /// The element that created it: an `impairments` entry, or the first `impair` step that
    /// touched a link direction with no entry.
    var element: Element
    var locations: [String: Element] = [:]

    /// The element for a model key path: the exact one, else the nearest enclosing one.
    func element(for keyPath: String) -> Element {
        var path = keyPath
        while !path.isEmpty {
            if let e = locations[path] { return e }
            if let dot = path.lastIndex(where: { $0 == "." || $0 == "[" }) {
                path = String(path[..<dot])
            } else {
                break
            }
        }
        return element
    }
}

extension Element {
    /// The value of `key` in a mapping, before the mapping's keys are checked.
    func peek(_ key: String) -> Element? {
        guard case .mapping(let map) = node else { return nil }
        for (k, v) in map where k.scalar?.string == key { return child(v, key: key) }
        return nil
    }
}

extension ScenarioDecoder {
    static let parameterKeys = ["delay", "loss", "duplicate", "corrupt", "reorder", "rate", "slot", "ecn", "limit"]
    static let impairmentKeys = ["link", "engine", "seed", "match", "actions"] + parameterKeys

    // MARK: links with a direction

    /// A link direction, or both directions of a link: `a->b`, `a→b` (one way), `a-b` (both).
    func linkDirections(_ e: Element) throws(ScenarioError) -> [LinkDirection] {
        let expected = "NODE->NODE (or NODE→NODE) for one direction, or NODE-NODE for both, such as router->server"
        let text = try e.text(expected)
        var pair: (String, String)
        var both = false
        if text.contains("->") || text.contains("→") {
            let direction: LinkDirection
            do {
                direction = try LinkDirection(parsing: text)
            } catch {
                throw e.error("'\(Element.shortened(text))' does not name a link direction", expected: expected)
            }
            pair = (direction.from, direction.to)
        } else {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw e.error("'\(Element.shortened(text))' does not name a link", expected: expected)
            }
            pair = (parts[0], parts[1])
            both = true
        }
        for name in [pair.0, pair.1] where topology.node(named: name) == nil {
            throw e.error("no node '\(name)' in the topology\(Suggestion.didYouMean(name, in: nodeNames))",
                          expected: "a link between two of: \(nodeNames.commaList)")
        }
        guard topology.link(between: pair.0, and: pair.1) != nil else {
            let links = topology.links.map(\.name)
            throw e.error("there is no link between \(pair.0) and \(pair.1)",
                          expected: "one of the topology's links: \(links.commaList) (with -> for one direction)")
        }
        let forward = LinkDirection(from: pair.0, to: pair.1)
        return both ? [forward, LinkDirection(from: pair.1, to: pair.0)] : [forward]
    }

    // MARK: the impairments section

    func decodeImpairments(_ e: Element?) throws(ScenarioError) -> [ImpairmentDraft] {
        guard let e else { return [] }
        var drafts: [ImpairmentDraft] = []
        for item in try e.sequence("a list of impairments, each with a link, such as '- { link: router->server, delay: 20ms }'") {
            let f = try item.mapping("an impairment: a mapping with link and what to do (delay, loss, ...)",
                                     allowed: Self.impairmentKeys,
                                     hints: ["schedule": "changes over time are timeline steps, such as '- { at: 2s, impair: { link: router->server, delay: 400ms } }'",
                                             "at": "name the link with 'link: router->server' (an impairment is in place from the start; to change it later, add a step with 'impair:')"])
            let linkElement = try f.required("link", "the link direction, such as 'link: router->server'")
            let directions = try linkDirections(linkElement)
            var locations: [String: Element] = ["link": linkElement]
            let parameters = try decodeParameters(f, prefix: "", into: &locations)
            var engine = ImpairmentSpec.Engine.automatic
            if let en = f["engine"] {
                locations["engine"] = en
                let word = try en.text("auto, netem or userspace")
                switch word {
                case "auto": engine = .automatic
                case "netem": engine = .kernel
                case "userspace": engine = .userspace
                default:
                    throw en.error("unknown engine '\(word)'\(Suggestion.didYouMean(word, in: ["auto", "netem", "userspace"]))",
                                   expected: "auto, netem or userspace")
                }
            }
            let seed = try f["seed"].map { s throws(ScenarioError) in
                try s.integer(UInt64.self, "a seed: a whole number from 0 to \(UInt64.max)", in: 0...UInt64.max)
            }
            var match: PacketMatch?
            if let m = f["match"] {
                locations["match"] = m
                match = try decodeMatch(m, prefix: "match", into: &locations)
            }
            var actions: [TargetedAction] = []
            if let a = f["actions"] {
                locations["actions"] = a
                for (i, entry) in try a.sequence("a list of targeted actions, such as '- { match: data, nth: [5, 6], action: drop }'").enumerated() {
                    actions.append(try decodeAction(entry, prefix: "actions[\(i)]", into: &locations))
                }
            }
            if parameters.isEmpty && actions.isEmpty {
                throw item.error("the impairment does nothing",
                                 expected: "at least one of: \((Self.parameterKeys + ["actions"]).commaList)")
            }
            for direction in directions {
                // Several entries may share a direction: each packet takes the first whose match
                // takes it. Two entries for the same packets, or one after an entry that takes
                // every packet, would never apply.
                if let other = drafts.first(where: { $0.spec.link == direction && $0.spec.match ?? .any == match ?? .any }) {
                    throw linkElement.error("\(direction) already has an impairment for \(Self.packetsText(match)) (line \(other.element.location.line))",
                                            expected: "one entry per direction and match; put everything for those packets in one entry, or give each entry its own match")
                }
                if let other = drafts.first(where: { $0.spec.link == direction && ($0.spec.match ?? .any).isAny }) {
                    throw linkElement.error("the entry at line \(other.element.location.line) takes every packet of \(direction) first, so this one would never apply",
                                            expected: "the entries with a match before the one without (each packet takes the first entry whose match takes it)")
                }
                let spec = ImpairmentSpec(link: direction, match: match, parameters: parameters, actions: actions,
                                          schedule: [], seed: seed, engine: engine)
                drafts.append(ImpairmentDraft(spec: spec, element: item, locations: locations))
            }
        }
        return drafts
    }

    /// An `impair` step that waits for an event: the change, recorded in its entry's schedule
    /// marked with the event.
    func eventChange(_ e: Element, trigger: EventTrigger) throws(ScenarioError) -> [(link: LinkDirection, match: PacketMatch?, change: ScheduledChange)] {
        try scheduleChange(e, at: .zero, trigger: trigger.description)
    }

    /// Applies an `impair` step: a change of parameters at `at` (or when `trigger` happens) on one
    /// or both directions of a link.
    @discardableResult
    func scheduleChange(_ e: Element, at: Interval, trigger: String? = nil) throws(ScenarioError)
        -> [(link: LinkDirection, match: PacketMatch?, change: ScheduledChange)] {
        var made: [(link: LinkDirection, match: PacketMatch?, change: ScheduledChange)] = []
        let f = try e.mapping("an impairment change: a mapping with link, the new values (delay, loss, ...), and optionally match and replace",
                              allowed: ["link", "match", "replace"] + Self.parameterKeys)
        let linkElement = try f.required("link", "the link direction to change, such as 'link: router->server'")
        let directions = try linkDirections(linkElement)
        let replace = try f["replace"].map { r throws(ScenarioError) in try r.bool() } ?? false
        var local: [String: Element] = [:]
        let parameters = try decodeParameters(f, prefix: "", into: &local)
        // The entry changed is the one for the same packets (the same match, or none); a new
        // match makes a new entry, placed before the direction's entry for every packet.
        var match: PacketMatch?
        if let m = f["match"] {
            var matchLocations: [String: Element] = [:]
            match = try decodeMatch(m, prefix: "match", into: &matchLocations)
            if match?.isAny == true { match = nil }
        }
        if parameters.isEmpty && !replace {
            throw e.error("the change changes nothing",
                          expected: "new values for some of: \(Self.parameterKeys.commaList); or 'replace: true' to remove every impairment of the link")
        }
        for direction in directions {
            var index = impairments.firstIndex { $0.spec.link == direction && ($0.spec.match ?? .any) == (match ?? .any) }
            if index == nil {
                let draft = ImpairmentDraft(spec: ImpairmentSpec(link: direction, match: match), element: e)
                let catchAll = impairments.firstIndex { $0.spec.link == direction && ($0.spec.match ?? .any).isAny }
                if match != nil, let catchAll {
                    impairments.insert(draft, at: catchAll)
                    index = catchAll
                } else {
                    impairments.append(draft)
                    index = impairments.count - 1
                }
            }
            guard let index else { continue }
            if trigger == nil, impairments[index].spec.schedule.contains(where: { $0.at == at && $0.trigger == nil }) {
                throw linkElement.error("\(direction) is already changed at \(at) by an earlier step",
                                        expected: "one change per link direction at a time; merge the two steps")
            }
            let k = impairments[index].spec.schedule.count
            let change = ScheduledChange(at: at, mode: replace ? .replace : .merge, parameters: parameters, trigger: trigger)
            impairments[index].spec.schedule.append(change)
            made.append((direction, match, change))
            impairments[index].locations["schedule[\(k)]"] = e
            for (path, element) in local {
                impairments[index].locations["schedule[\(k)]" + (path.isEmpty ? "" : ".\(path)")] = element
            }
        }
        return made
    }

    /// "every packet", or the match in words, for messages.
    static func packetsText(_ match: PacketMatch?) -> String {
        guard let match, !match.isAny else { return "every packet" }
        if match == .tcpPureACK { return "pure ACKs" }
        if match == .tcpData { return "data segments" }
        if match == .tcpSYN { return "SYNs" }
        return "the same match"
    }

    /// Runs the impairment model's validation on every spec (errors stop the load, warnings are
    /// kept) and places each on its interface.
    func finishImpairments() throws(ScenarioError) -> [ImpairmentPlacement] {
        var placements: [ImpairmentPlacement] = []
        for draft in impairments {
            for issue in draft.spec.validate(at: "") {
                let e = draft.element(for: issue.keyPath)
                let message = Self.modelMessage(issue.message, at: e.path)
                if issue.severity == .error {
                    throw ScenarioError(e.location, e.path.isEmpty ? message : "\(e.path): \(message)")
                }
                let warning = ScenarioWarning(e.location, e.path.isEmpty ? message : "\(e.path): \(message)")
                if !warnings.contains(warning) { warnings.append(warning) }
            }
            let link = draft.spec.link
            let interface = topology.link(between: link.from, and: link.to)?.end(at: link.from)?.interface ?? "?"
            placements.append(ImpairmentPlacement(spec: draft.spec, node: link.from, interface: interface,
                                                  source: draft.element.location))
        }
        return placements
    }

    /// The model's messages start with the setting ("loss: 150% is out of range, …"); when that
    /// is the key the path already ends with, drop it so the path says it once.
    static func modelMessage(_ message: String, at path: String) -> String {
        let last = path.split(whereSeparator: { $0 == "." }).last.map(String.init) ?? ""
        let stripped = last.replacingOccurrences(of: #"\[\d+\]$"#, with: "", options: .regularExpression)
        if !stripped.isEmpty, message.hasPrefix(stripped + ": ") {
            return String(message.dropFirst(stripped.count + 2))
        }
        return message
    }

    // MARK: parameters

    /// The netem-like keys of a mapping (delay, loss, …); `prefix` is the model key path of the
    /// parameters ("" for an impairment's own, since they sit directly under it).
    func decodeParameters(_ f: Fields, prefix: String, into locations: inout [String: Element]) throws(ScenarioError) -> ImpairmentParameters {
        func path(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }
        var p = ImpairmentParameters()
        if let e = f["delay"] {
            locations[path("delay")] = e
            p.delay = try decodeDelay(e, path: path("delay"), into: &locations)
        }
        if let e = f["loss"] {
            locations[path("loss")] = e
            p.loss = try decodeLoss(e, path: path("loss"), into: &locations)
        }
        if let e = f["duplicate"] {
            locations[path("duplicate")] = e
            let (prob, corr) = try probabilityAndCorrelation(e, what: "duplicate", path: path("duplicate"), into: &locations)
            p.duplicate = Duplicate(probability: prob, correlation: corr)
        }
        if let e = f["corrupt"] {
            locations[path("corrupt")] = e
            let (prob, corr) = try probabilityAndCorrelation(e, what: "corrupt", path: path("corrupt"), into: &locations)
            p.corrupt = Corrupt(probability: prob, correlation: corr)
        }
        if let e = f["reorder"] {
            locations[path("reorder")] = e
            let (prob, corr) = try probabilityAndCorrelation(e, what: "reorder", extra: ["gap"], path: path("reorder"), into: &locations)
            var reorder = Reorder(probability: prob, correlation: corr)
            if let g = e.peek("gap") {
                locations[path("reorder.gap")] = g
                reorder.gap = try g.integer(UInt32.self, "a gap: a whole number of packets, 1 or more", in: 0...UInt32.max)
            }
            p.reorder = reorder
        }
        if let e = f["rate"] {
            locations[path("rate")] = e
            p.rate = try decodeRate(e, path: path("rate"), into: &locations)
        }
        if let e = f["slot"] {
            locations[path("slot")] = e
            p.slot = try decodeSlot(e, path: path("slot"), into: &locations)
        }
        if let e = f["ecn"] {
            locations[path("ecn")] = e
            p.ecn = try e.bool()
        }
        if let e = f["limit"] {
            locations[path("limit")] = e
            p.limit = try e.integer(UInt32.self, "netem's queue length in packets, such as 1000", in: 0...UInt32.max)
        }
        return p
    }

    func decodeDelay(_ e: Element, path: String, into locations: inout [String: Element]) throws(ScenarioError) -> DelaySpec {
        let expected = "a delay such as 20ms, or a mapping with time, jitter, correlation, distribution"
        if case .scalar = e.node {
            locations[path + ".delay"] = e
            return DelaySpec(delay: try duration(e, expected))
        }
        let f = try e.mapping(expected, allowed: ["time", "jitter", "correlation", "distribution"])
        let t = try f.required("time", "the delay itself, such as 'time: 20ms'")
        locations[path + ".delay"] = t
        var spec = DelaySpec(delay: try duration(t, "a delay such as 20ms"))
        if let j = f["jitter"] {
            locations[path + ".jitter"] = j
            spec.jitter = try duration(j, "a jitter such as 5ms")
        }
        if let c = f["correlation"] {
            locations[path + ".correlation"] = c
            spec.correlation = try percentage(c, "a correlation such as 25%")
        }
        if let d = f["distribution"] {
            locations[path + ".distribution"] = d
            spec.distribution = try d.parsed("uniform, normal, pareto or paretonormal") { text throws(ValueParseError) in
                try DelayDistribution(parsing: text)
            }
        }
        return spec
    }

    func probabilityAndCorrelation(_ e: Element, what: String, extra: [String] = [], path: String,
                                   into locations: inout [String: Element]) throws(ScenarioError) -> (Percentage, Percentage) {
        let expected = "a percentage such as 1%, or a mapping with probability and correlation\(extra.isEmpty ? "" : " and " + extra.commaList)"
        if case .scalar = e.node {
            locations[path + ".probability"] = e
            return (try percentage(e, expected), .zero)
        }
        let f = try e.mapping(expected, allowed: ["probability", "correlation"] + extra)
        let p = try f.required("probability", "the chance per packet, such as 'probability: 1%'")
        locations[path + ".probability"] = p
        let probability = try percentage(p, "a percentage such as 1%")
        var correlation = Percentage.zero
        if let c = f["correlation"] {
            locations[path + ".correlation"] = c
            correlation = try percentage(c, "a correlation such as 25%")
        }
        return (probability, correlation)
    }

    func decodeLoss(_ e: Element, path: String, into locations: inout [String: Element]) throws(ScenarioError) -> LossModel {
        let models = ["random", "gilbert-elliott", "four-state"]
        if case .scalar = e.node {
            locations[path + ".probability"] = e
            return .random(probability: try percentage(e, "a loss percentage such as 1%, or a mapping with model and its parameters"))
        }
        var model = "random"
        if let m = e.peek("model") {
            model = try m.text("one of: \(models.commaList)")
            guard models.contains(model) else {
                throw m.error("unknown loss model '\(model)'\(Suggestion.didYouMean(model, in: models))", expected: "one of: \(models.commaList)")
            }
        }
        func pct(_ f: Fields, _ key: String, _ modelPath: String, required: Bool = false) throws(ScenarioError) -> Percentage? {
            let element: Element?
            if required {
                element = try f.required(key, "the \(model) loss model's '\(key)', such as '\(key): 1%'")
            } else {
                element = f[key]
            }
            guard let element else { return nil }
            locations[path + "." + modelPath] = element
            return try percentage(element, "a percentage such as 1%")
        }
        switch model {
        case "gilbert-elliott":
            let f = try e.mapping("a Gilbert-Elliott loss model: p, r, loss-in-bad, loss-in-good",
                                  allowed: ["model", "p", "r", "loss-in-bad", "loss-in-good"])
            let p = try pct(f, "p", "p", required: true) ?? .zero
            return .gilbertElliott(GilbertElliott(p: p, r: try pct(f, "r", "r"),
                                                  lossInBad: try pct(f, "loss-in-bad", "lossInBad") ?? .hundred,
                                                  lossInGood: try pct(f, "loss-in-good", "lossInGood") ?? .zero))
        case "four-state":
            let f = try e.mapping("a four-state loss model: p13, p31, p32, p23, p14",
                                  allowed: ["model", "p13", "p31", "p32", "p23", "p14"])
            let p13 = try pct(f, "p13", "p13", required: true) ?? .zero
            return .fourState(FourStateLoss(p13: p13, p31: try pct(f, "p31", "p31"),
                                            p32: try pct(f, "p32", "p32") ?? .zero,
                                            p23: try pct(f, "p23", "p23") ?? .hundred,
                                            p14: try pct(f, "p14", "p14") ?? .zero))
        default:
            let f = try e.mapping("random loss: probability and correlation", allowed: ["model", "probability", "correlation"])
            let p = try pct(f, "probability", "probability", required: true) ?? .zero
            return .random(probability: p, correlation: try pct(f, "correlation", "correlation") ?? .zero)
        }
    }

    func decodeRate(_ e: Element, path: String, into locations: inout [String: Element]) throws(ScenarioError) -> RateLimit {
        let expected = "a rate such as 10mbit, or a mapping with rate, queue, burst, packet-overhead, cell-size, cell-overhead"
        func rate(_ e: Element) throws(ScenarioError) -> Rate {
            try e.parsed("a rate such as 10mbit") { text throws(ValueParseError) in try Rate(parsing: text) }
        }
        if case .scalar = e.node {
            locations[path + ".rate"] = e
            return RateLimit(rate: try rate(e))
        }
        let f = try e.mapping(expected, allowed: ["rate", "queue", "burst", "packet-overhead", "cell-size", "cell-overhead"])
        let r = try f.required("rate", "the link rate, such as 'rate: 10mbit'")
        locations[path + ".rate"] = r
        var limit = RateLimit(rate: try rate(r))
        if let q = f["queue"] {
            locations[path + ".queueLimit"] = q
            let text = try q.text("a queue bound: a size such as 15KiB, or a packet count such as '100 packets'")
            let words = text.split(separator: " ")
            if words.count == 2, words[1] == "packets" || words[1] == "packet" {
                guard let n = UInt32(words[0]) else {
                    throw q.error("'\(text)' is not a packet count", expected: "a whole number of packets, such as '100 packets'")
                }
                limit.queueLimit = .packets(n)
            } else {
                limit.queueLimit = .bytes(try size(q, "a queue bound: a size such as 15KiB, or a packet count such as '100 packets'"))
            }
        }
        if let b = f["burst"] {
            locations[path + ".burst"] = b
            limit.burst = try size(b, "a burst size such as 16KiB")
        }
        if let o = f["packet-overhead"] {
            locations[path + ".packetOverhead"] = o
            limit.packetOverhead = try o.integer(Int32.self, "bytes added per packet, from -1500 to 1500", in: -1500...1500)
        }
        if let c = f["cell-size"] {
            locations[path + ".cellSize"] = c
            limit.cellSize = try c.integer(UInt32.self, "a cell size in bytes, such as 48", in: 0...65535)
        }
        if let c = f["cell-overhead"] {
            locations[path + ".cellOverhead"] = c
            limit.cellOverhead = try c.integer(Int32.self, "bytes added per cell, from -1500 to 1500", in: -1500...1500)
        }
        return limit
    }

    func decodeSlot(_ e: Element, path: String, into locations: inout [String: Element]) throws(ScenarioError) -> Slot {
        let expected = "a slot length such as 2ms, or a mapping with min/max (or distribution, delay, jitter), packets, bytes"
        if case .scalar = e.node {
            locations[path + ".min"] = e
            let d = try duration(e, expected)
            return Slot(timing: .range(min: d, max: d))
        }
        let f = try e.mapping(expected, allowed: ["min", "max", "distribution", "delay", "jitter", "packets", "bytes"])
        var slot: Slot
        if let dist = f["distribution"] {
            for key in ["min", "max"] {
                try f.forbid(key, unless: false, "delay and jitter with a distribution (min/max are for uniform slots)")
            }
            locations[path + ".distribution"] = dist
            let d = try dist.parsed("uniform, normal, pareto or paretonormal") { text throws(ValueParseError) in try DelayDistribution(parsing: text) }
            let delay = try f.required("delay", "the mean slot spacing, such as 'delay: 5ms'")
            let jitter = try f.required("jitter", "the slot spacing's spread, such as 'jitter: 1ms'")
            locations[path + ".delay"] = delay
            locations[path + ".jitter"] = jitter
            slot = Slot(timing: .distribution(d, delay: try duration(delay, "a duration such as 5ms"),
                                              jitter: try duration(jitter, "a duration such as 1ms")))
        } else {
            for key in ["delay", "jitter"] {
                try f.forbid(key, unless: false, "min and max (delay and jitter only go with a distribution)")
            }
            let minElement = try f.required("min", "the shortest slot spacing, such as 'min: 1ms'")
            locations[path + ".min"] = minElement
            let lo = try duration(minElement, "a duration such as 1ms")
            var hi = lo
            if let m = f["max"] {
                locations[path + ".max"] = m
                hi = try duration(m, "a duration such as 5ms")
            }
            slot = Slot(timing: .range(min: lo, max: hi))
        }
        if let p = f["packets"] {
            locations[path + ".packets"] = p
            slot.maxPackets = try p.integer(UInt32.self, "packets per slot, 1 or more", in: 1...UInt32.max)
        }
        if let b = f["bytes"] {
            locations[path + ".bytes"] = b
            slot.maxBytes = try size(b, "bytes per slot, such as 64KiB")
        }
        return slot
    }

    // MARK: packet match and targeted actions

    static let matchShorthands: [String: PacketMatch] = Dictionary(PacketMatch.shorthands.map { ($0.name, $0.match) }, uniquingKeysWith: { a, _ in a })

    func decodeMatch(_ e: Element, prefix: String, into locations: inout [String: Element]) throws(ScenarioError) -> PacketMatch {
        let shorthands = PacketMatch.shorthands.map(\.name)
        let expected = "any, syn, data, pure-ack, or a mapping with ip, protocol, source, destination, source-port, destination-port, tcp-flags, payload"
        if case .scalar = e.node {
            let word = try e.text(expected)
            guard let m = Self.matchShorthands[word] else {
                throw e.error("unknown packet class '\(Element.shortened(word))'\(Suggestion.didYouMean(word, in: shorthands))", expected: expected)
            }
            return m
        }
        let f = try e.mapping(expected, allowed: ["ip", "protocol", "source", "destination", "source-port", "destination-port", "tcp-flags", "payload"])
        var m = PacketMatch()
        if let v = f["ip"] {
            locations[prefix + ".ipVersion"] = v
            let version = try v.integer(Int.self, "4 or 6", in: 4...6)
            if version == 5 { throw v.error("5 is not an IP version", expected: "4 or 6") }
            m.ipVersion = version == 4 ? .v4 : .v6
        }
        if let v = f["protocol"] {
            locations[prefix + ".transport"] = v
            m.transport = try v.parsed("tcp, udp, icmp, icmpv6 or a protocol number") { text throws(ValueParseError) in
                try TransportProtocol(parsing: text)
            }
        }
        for (key, modelKey) in [("source", "source"), ("destination", "destination")] {
            guard let v = f[key] else { continue }
            locations[prefix + "." + modelKey] = v
            let written = try resolvingAddressNames(try v.text("a node name, an address or a prefix"), in: v)
            let address: AddressMatch
            do { address = try AddressMatch(parsing: written) } catch { throw v.error(error.description) }
            if case .node(let name) = address, topology.node(named: name) == nil {
                throw v.error("no node '\(name)' in the topology\(Suggestion.didYouMean(name, in: nodeNames))",
                              expected: "a node (\(nodeNames.commaList)), an address such as 198.18.1.2, or a prefix such as 198.18.1.0/24")
            }
            if key == "source" { m.source = address } else { m.destination = address }
        }
        for (key, modelKey) in [("source-port", "sourcePort"), ("destination-port", "destinationPort")] {
            guard let v = f[key] else { continue }
            locations[prefix + "." + modelKey] = v
            let range = try v.parsed("a port or a range such as 1024-65535") { text throws(ValueParseError) in try PortRange(parsing: text) }
            if key == "source-port" { m.sourcePort = range } else { m.destinationPort = range }
        }
        if let v = f["tcp-flags"] {
            locations[prefix + ".tcpFlags"] = v
            let expectedFlags = "flag names that must be set, and !names that must be clear, such as 'syn !ack' (names: fin syn rst psh ack urg ece cwr)"
            let text = try v.text(expectedFlags)
            var match = TCPFlagMatch()
            let tokens = text.split(whereSeparator: { $0 == " " || $0 == "," })
            if tokens.isEmpty { throw v.error("no flags", expected: expectedFlags) }
            for token in tokens {
                let clear = token.hasPrefix("!")
                let name = clear ? String(token.dropFirst()) : String(token)
                let flags: TCPFlags
                do {
                    flags = try TCPFlags(parsing: name)
                } catch {
                    throw v.error("unknown TCP flag '\(name)'\(Suggestion.didYouMean(name, in: ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"]))",
                                  expected: expectedFlags)
                }
                if clear { match.clear.formUnion(flags) } else { match.set.formUnion(flags) }
            }
            m.tcpFlags = match
        }
        if let v = f["payload"] {
            locations[prefix + ".payload"] = v
            switch try v.text("empty or data") {
            case "empty": m.payload = .empty
            case "data": m.payload = .nonEmpty
            default: throw v.wrongType(expected: "empty (no payload) or data (at least one byte)")
            }
        }
        return m
    }

    func decodeAction(_ e: Element, prefix: String, into locations: inout [String: Element]) throws(ScenarioError) -> TargetedAction {
        let f = try e.mapping("a targeted action: a mapping with match, nth or every, action (and hold or copy-delay)",
                              allowed: ["match", "nth", "every", "action", "hold", "copy-delay"])
        locations[prefix] = e
        var match = PacketMatch.any
        if let m = f["match"] {
            locations[prefix + ".match"] = m
            match = try decodeMatch(m, prefix: prefix + ".match", into: &locations)
        }
        var every: UInt64?
        if let ev = f["every"] {
            locations[prefix + ".every"] = ev
            every = try ev.integer(UInt64.self, "a count: every: 10 acts on the 10th, 20th, … matching packet", in: 1...UInt64.max)
        }
        var nth: [UInt64] = []
        if let nthElement = every == nil ? try f.required("nth", "which matching packets, counted from 1, such as 'nth: [5, 6]', 'nth: 20-30', or 'every: 10'") : f["nth"] {
            locations[prefix + ".nth"] = nthElement
            nth = try packetNumbers(nthElement)
        }
        let actionElement = try f.required("action", "what to do: drop, corrupt, delay (with hold), duplicate (with copy-delay) or strip-window-scale")
        locations[prefix + ".action"] = actionElement
        let word = try actionElement.text("drop, corrupt, delay, duplicate or strip-window-scale")
        let actions = ["drop", "corrupt", "delay", "duplicate", "strip-window-scale"]
        let action: TargetedAction.Action
        switch word {
        case "drop", "corrupt", "strip-window-scale":
            try f.forbid("hold", unless: false, "hold only with 'action: delay'")
            try f.forbid("copy-delay", unless: false, "copy-delay only with 'action: duplicate'")
            action = word == "drop" ? .drop : word == "corrupt" ? .corrupt : .stripWindowScale
        case "delay":
            try f.forbid("copy-delay", unless: false, "copy-delay only with 'action: duplicate'")
            let h = try f.required("hold", "how long to hold the packet, such as 'hold: 200ms'")
            locations[prefix + ".action"] = h
            action = .delay(try duration(h, "a duration such as 200ms"))
        case "duplicate":
            try f.forbid("hold", unless: false, "hold only with 'action: delay'")
            let c = try f.required("copy-delay", "when the copy follows the packet, such as 'copy-delay: 300ms'")
            locations[prefix + ".action"] = c
            action = .duplicate(copyDelay: try duration(c, "a duration such as 300ms"))
        default:
            throw actionElement.error("unknown action '\(Element.shortened(word))'\(Suggestion.didYouMean(word, in: actions))",
                                      expected: "one of: \(actions.commaList)")
        }
        return TargetedAction(match: match, nth: nth, every: every, action: action)
    }

    /// `5`, `[5, 6]`, `20-30`, `[1, 20-30]`: packet numbers counted from 1, ranges inclusive.
    func packetNumbers(_ e: Element) throws(ScenarioError) -> [UInt64] {
        let expected = "a packet number (1 for the first matching packet) or a range such as 20-30"
        let items: [Element] = try { () throws(ScenarioError) -> [Element] in
            if case .sequence = e.node { return try e.sequence("packet numbers and ranges, such as [5, 20-30]") }
            return [e]
        }()
        var numbers: [UInt64] = []
        for item in items {
            let text = try item.text(expected)
            let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 {
                guard let low = UInt64(parts[0]), let high = UInt64(parts[1]) else {
                    throw item.error("'\(Element.shortened(text))' is not a range of packet numbers", expected: "a range such as 20-30")
                }
                guard low <= high else {
                    throw item.error("range \(text) runs backwards", expected: "the lower number first, such as \(high)-\(low)")
                }
                guard high - low < UInt64(TargetedAction.nthLimit) else {
                    throw item.error("range \(text) holds \(high - low + 1) packets", expected: "at most \(TargetedAction.nthLimit) (for a regular pattern, every: N)")
                }
                numbers += Array(low...high)
            } else {
                numbers.append(try item.integer(UInt64.self, expected, in: 0...UInt64.max))
            }
        }
        return numbers
    }
}
