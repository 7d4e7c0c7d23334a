import Values
import Foundation
import Impairment

extension ScenarioDecoder {
    static let expectationForms = ["kind", "not", "peer", "tshark"]

    func decodeExpectations(_ e: Element?) throws(ScenarioError) -> [Expectation] {
        guard let e else { return [] }
        var out: [Expectation] = []
        let formsText = "kind (a diagnosis that must be found), not (one that must not), peer (a process's outcome) or tshark (a tshark analysis flag)"
        for item in try e.sequence("a list of expectations, such as '- { kind: rst, cause: refused-by-host }'") {
            guard case .mapping(let map) = item.node else { throw item.wrongType(expected: "an expectation: a mapping with \(formsText)") }
            let keys = map.compactMap { $0.key.scalar?.string }
            let forms = keys.filter { Self.expectationForms.contains($0) }
            guard let form = forms.first else {
                for key in keys {
                    if let near = Suggestion.closest(to: key, in: Self.expectationForms), let k = item.peekKey(key) {
                        throw k.error("unknown key '\(key)' (did you mean '\(near)'?)", expected: formsText)
                    }
                }
                throw item.error("missing what to expect", expected: formsText)
            }
            if forms.count > 1, let second = item.peekKey(forms[1]) {
                throw second.error("'\(forms[1])' and '\(form)' in one expectation", expected: "one of \(Self.expectationForms.commaList) per expectation")
            }
            switch form {
            case "kind":
                let f = try item.mapping("a diagnosis expectation: kind, cause, flow, vantage, evidence, and count, min-count or max-count",
                                         allowed: ["kind", "cause", "flow", "vantage", "evidence", "count", "min-count", "max-count"])
                let pattern = try diagnosisPattern(f, causeRequired: true, item: item)
                out.append(Expectation(check: .present(pattern, count: try countBound(f)), source: item.location))
            case "not":
                let f = try item.mapping("an absence expectation: 'not:' and nothing else", allowed: ["not"])
                let inner = try f.required("not", "the diagnosis that must not be found")
                let g = try inner.mapping("a diagnosis that must not be found: kind, and optionally cause, flow, vantage, evidence",
                                          allowed: ["kind", "cause", "flow", "vantage", "evidence"])
                let pattern = try diagnosisPattern(g, causeRequired: false, item: item)
                out.append(Expectation(check: .absent(pattern), source: item.location))
            case "peer":
                let streamNames = OutputStream.allCases.map(\.rawValue)
                let fieldNames = PeerField.allCases.map(\.rawValue) + streamNames
                let f = try item.mapping("a process expectation: peer and one or more of \(fieldNames.commaList)",
                                         allowed: ["peer"] + fieldNames)
                let process = try processReference(try f.required("peer", "the process"))
                let fields = f.entries.filter { $0.key != "peer" }
                if fields.isEmpty {
                    throw item.error("nothing to check about process '\(process)'", expected: "one or more of: \(fieldNames.commaList)")
                }
                let isPeer: Bool
                if case .peer = processes[process]?.process.command { isPeer = true } else { isPeer = false }
                for entry in fields {
                    if let stream = OutputStream(rawValue: entry.key) {
                        out.append(Expectation(check: .output(process: process, stream: stream, match: try textMatch(entry.value)),
                                               source: entry.keyElement.location))
                        continue
                    }
                    guard let field = PeerField(rawValue: entry.key) else { continue }
                    if !isPeer, field != .exitStatus {
                        throw ScenarioError(entry.keyElement.location, Element.message(
                            path: entry.value.path,
                            "process '\(process)' is a program of its own (started with run:), which keeps no event log, so its \(field.rawValue) is unknown",
                            expected: "exit-status for it, or start it with peer: to check \(field.rawValue)"))
                    }
                    let (comparison, value) = try peerComparison(entry.value, field: field)
                    out.append(Expectation(check: .peer(process: process, field: field, comparison: comparison, value: value),
                                           source: entry.keyElement.location))
                }
            default: // tshark
                let f = try item.mapping("a tshark expectation: tshark, min-count, flow, vantage",
                                         allowed: ["tshark", "min-count", "flow", "vantage"])
                try requireCaptures(item)
                let flagElement = try f.required("tshark", "a tcp.analysis flag")
                let written = try flagElement.text("a tcp.analysis flag such as zero_window")
                let bare = written.hasPrefix(DiagnosisVocabulary.tsharkFlagPrefix)
                    ? String(written.dropFirst(DiagnosisVocabulary.tsharkFlagPrefix.count)) : written
                guard DiagnosisVocabulary.tsharkFlags.contains(bare) else {
                    throw flagElement.error("'\(written)' is not a tshark TCP analysis flag\(Suggestion.didYouMean(bare, in: DiagnosisVocabulary.tsharkFlags))",
                                            expected: "one of: \(DiagnosisVocabulary.tsharkFlags.commaList) (with or without 'tcp.analysis.')")
                }
                let minCount = try f["min-count"].map { m throws(ScenarioError) in
                    try m.integer(Int.self, "a count of 1 or more", in: 1...Int.max)
                } ?? 1
                let flow = try f["flow"].map { v throws(ScenarioError) in try self.flow(v) }
                let vantage = try f["vantage"].map { v throws(ScenarioError) in try self.vantage(v) }
                out.append(Expectation(check: .tsharkFlag(flag: DiagnosisVocabulary.tsharkFlagPrefix + bare, minCount: minCount,
                                                          flow: flow, vantage: vantage),
                                       source: item.location))
            }
        }
        return out
    }

    func requireCaptures(_ item: Element) throws(ScenarioError) {
        if captures.isEmpty {
            throw item.error("this needs a capture, but 'capture' is empty", expected: "at least one capture point under 'capture'")
        }
    }

    func diagnosisPattern(_ f: Fields, causeRequired: Bool, item: Element) throws(ScenarioError) -> DiagnosisPattern {
        try requireCaptures(item)
        let kinds = DiagnosisVocabulary.kinds
        let kindElement = try f.required("kind", "a diagnosis kind: one of \(kinds.commaList)")
        let kind = try kindElement.text("a diagnosis kind: one of \(kinds.commaList)")
        if kind.contains("/") {
            let parts = kind.split(separator: "/", maxSplits: 1).map(String.init)
            throw kindElement.error("'\(kind)' gives kind and cause together",
                                    expected: "'kind: \(parts.first ?? "")' and 'cause: \(parts.count > 1 ? parts[1] : "")' as two keys")
        }
        guard let causes = DiagnosisVocabulary.causes(of: kind) else {
            throw kindElement.error("unknown diagnosis kind '\(kind)'\(Suggestion.didYouMean(kind, in: kinds))", expected: "one of: \(kinds.commaList)")
        }
        var cause: String?
        if let c = f["cause"] {
            let text = try c.text("a cause of \(kind): one of \(causes.commaList), or any")
            if text == DiagnosisVocabulary.anyCause {
                cause = nil
            } else if !causes.contains(text) {
                if let owner = DiagnosisVocabulary.causesByKind.first(where: { $0.causes.contains(text) }) {
                    throw c.error("cause '\(text)' belongs to kind '\(owner.kind)', not '\(kind)'",
                                  expected: "'kind: \(owner.kind)', or a cause of \(kind): \(causes.commaList)")
                }
                throw c.error("unknown cause '\(text)' for kind '\(kind)'\(Suggestion.didYouMean(text, in: causes + [DiagnosisVocabulary.anyCause]))",
                              expected: "one of: \(causes.commaList), or any")
            } else {
                cause = text
            }
        } else if causeRequired {
            throw f.element.error("missing key 'cause'", expected: "a cause of \(kind): one of \(causes.commaList), or 'cause: any' for a finding of any cause")
        }
        let flow = try f["flow"].map { v throws(ScenarioError) in try self.flow(v) }
        let vantage = try f["vantage"].map { v throws(ScenarioError) in try self.vantage(v) }
        let evidence = try f["evidence"].map { v throws(ScenarioError) in try evidenceConditions(v) } ?? []
        return DiagnosisPattern(kind: kind, cause: cause, flow: flow, vantage: vantage, evidence: evidence)
    }

    /// `count` (exactly), or `min-count` and/or `max-count`.
    func countBound(_ f: Fields) throws(ScenarioError) -> CountBound {
        if let exact = f["count"] {
            for key in ["min-count", "max-count"] {
                try f.forbid(key, unless: false, "count alone (it is exact), or min-count and max-count for a range")
            }
            let n = try exact.integer(Int.self, "a count of 0 or more", in: 0...Int.max)
            return CountBound(min: n, max: n)
        }
        let minCount = try f["min-count"].map { m throws(ScenarioError) in
            try m.integer(Int.self, "a count of 0 or more", in: 0...Int.max)
        }
        let maxCount = try f["max-count"].map { m throws(ScenarioError) in
            try m.integer(Int.self, "a count of 0 or more", in: 0...Int.max)
        }
        let bound = CountBound(min: minCount ?? (maxCount == nil ? 1 : 0), max: maxCount)
        if let maxCount, bound.min > maxCount, let e = f["max-count"] {
            throw e.error("max-count \(maxCount) is below min-count \(bound.min)", expected: "a max-count of at least \(bound.min)")
        }
        return bound
    }

    /// `evidence: { rst_ttl: 64, zero_window_stalls: ">= 3", forged: yes }`: conditions on a
    /// finding's evidence fields (the keys `faultline analyze --json` prints under "evidence").
    func evidenceConditions(_ e: Element) throws(ScenarioError) -> [EvidenceCondition] {
        let expected = "a mapping of evidence fields to values, such as { rst_ttl: 64, zero_window_stalls: \">= 3\" }"
        guard case .mapping = e.node else { throw e.wrongType(expected: expected) }
        var conditions: [EvidenceCondition] = []
        for entry in try e.namedMapping(expected) {
            let keyOK = !entry.name.isEmpty && entry.name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
            guard keyOK else {
                throw entry.key.error("'\(Element.shortened(entry.name))' is not an evidence field name",
                                             expected: "a field name of lowercase letters, digits and '_', as in `faultline analyze --json`")
            }
            guard case .scalar(let scalar) = entry.value.node else {
                throw entry.value.wrongType(expected: "a number, a comparison such as \">= 3\", a text, or yes/no")
            }
            let text = scalar.string.trimmedSpaces()
            var comparison = Comparison.equal
            var rest = text
            for (spelling, c) in Self.comparisonSpellings where text.hasPrefix(spelling) {
                comparison = c
                rest = String(text.dropFirst(spelling.count)).trimmedSpaces()
                break
            }
            let value: EvidenceCondition.Value
            if let number = Double(rest), scalar.style == .plain || scalar.style == .any || rest != text {
                value = .number(number)
            } else if rest == text, ["yes", "true"].contains(text) {
                value = .bool(true)
            } else if rest == text, ["no", "false"].contains(text) {
                value = .bool(false)
            } else {
                guard comparison == .equal || comparison == .notEqual else {
                    throw entry.value.error("'\(rest)' is not a number to compare with \(comparison.rawValue)", expected: "a number after \(comparison.rawValue)")
                }
                value = .text(rest)
            }
            conditions.append(EvidenceCondition(key: entry.name, comparison: comparison, value: value))
        }
        if conditions.isEmpty { throw e.error("no evidence condition", expected: expected) }
        return conditions
    }

    /// `stdout: "200 OK"` (contains), or `{ contains: … }`, `{ matches: REGEX }`, `{ lacks: … }`.
    func textMatch(_ e: Element) throws(ScenarioError) -> TextMatch {
        let expected = "a text the output contains, or { contains: TEXT }, { matches: REGEX } or { lacks: TEXT }"
        if case .scalar = e.node { return .contains(try e.text(expected)) }
        let f = try e.mapping(expected, allowed: ["contains", "matches", "lacks"])
        let one = try f.exactlyOne(of: ["contains", "matches", "lacks"], what: "text match")
        let text = try one.value.text(expected)
        switch one.key {
        case "contains": return .contains(text)
        case "lacks": return .lacks(text)
        default:
            do {
                _ = try NSRegularExpression(pattern: text)
            } catch {
                throw one.value.error("'\(Element.shortened(text))' is not a regular expression", expected: "a regular expression (ICU syntax), such as 'HTTP/1\\.[01] 200'")
            }
            return .matches(text)
        }
    }

    /// A captured node.
    func vantage(_ e: Element) throws(ScenarioError) -> String {
        let node = try nodeReference(e)
        guard captures.contains(where: { $0.node == node }) else {
            let captured = Array(Set(captures.map(\.node))).sorted()
            throw e.error("nothing is captured at \(node)", expected: "a captured node: \(captured.commaList) (or add \(node) to 'capture')")
        }
        return node
    }

    // MARK: flows

    func flow(_ e: Element) throws(ScenarioError) -> Flow {
        let expected = "a flow such as \"client -> server:9000\" (node names, address names such as {server.ipv6}, or addresses; optional ports; [addr]:port for IPv6)"
        let text = try resolvingAddressNames(try e.text(expected), in: e)
        var parts: [String] = []
        for arrow in ["->", "→"] where text.contains(arrow) {
            parts = text.splitting(on: arrow)
            break
        }
        guard parts.count == 2 else {
            throw e.error("'\(Element.shortened(text))' is not a flow", expected: expected)
        }
        let from = try endpoint(parts[0].trimmedSpaces(), in: e, flow: text)
        let to = try endpoint(parts[1].trimmedSpaces(), in: e, flow: text)
        return Flow(from: from, to: to)
    }

    func endpoint(_ text: String, in e: Element, flow: String) throws(ScenarioError) -> Endpoint {
        let expected = "NODE, NODE:PORT, ADDRESS, ADDRESS:PORT or [IPv6]:PORT"
        var host = text
        var portText: String?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw e.error("'\(text)' in flow '\(flow)' has no closing ']'", expected: expected)
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw e.error("'\(text)' in flow '\(flow)' is not an endpoint", expected: expected) }
                portText = String(rest.dropFirst())
            }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        }
        if host.isEmpty { throw e.error("an endpoint of flow '\(flow)' is empty", expected: expected) }
        var port: UInt16?
        if let portText {
            guard let p = UInt16(portText), p > 0 else {
                throw e.error("port '\(portText)' in flow '\(flow)' is not a port", expected: "a port from 1 to 65535")
            }
            port = p
        }
        if let address = IPAddress(host) {
            return Endpoint(host: .address(address), port: port)
        }
        let looksLikeAddress = host.contains(":") || (host.contains(".") && host.allSatisfy { $0.isNumber || $0 == "." })
        if looksLikeAddress {
            throw e.error("'\(host)' in flow '\(flow)' is not an IPv4 or IPv6 address", expected: "an address such as 198.18.1.2 or [fd00:fa17:1::2]")
        }
        guard topology.node(named: host) != nil else {
            throw e.error("no node '\(host)' in the topology (in flow '\(flow)')\(Suggestion.didYouMean(host, in: nodeNames))",
                          expected: "a node (\(nodeNames.commaList)) or an address")
        }
        return Endpoint(host: .node(host), port: port)
    }

    // MARK: peer outcomes

    static let comparisonSpellings: [(String, Comparison)] = [
        ("==", .equal), ("!=", .notEqual), (">=", .greaterOrEqual), ("<=", .lessOrEqual),
        ("≥", .greaterOrEqual), ("≤", .lessOrEqual), ("≠", .notEqual), (">", .greater), ("<", .less),
    ]

    func peerComparison(_ e: Element, field: PeerField) throws(ScenarioError) -> (Comparison, PeerValue) {
        let example: String
        switch field.valueKind {
        case .errno: example = "an errno name such as ECONNREFUSED, or none (optionally after == or !=)"
        case .duration: example = "a duration after an optional comparison, such as \">= 1s\" (quote it: YAML reads a leading > as a folded block)"
        case .size: example = "a size after an optional comparison, such as \">= 4MiB\""
        case .integer: example = "a whole number after an optional comparison, such as \"== 0\""
        }
        let text = try e.text(example).trimmedSpaces()
        var comparison = Comparison.equal
        var rest = text
        for (spelling, c) in Self.comparisonSpellings where text.hasPrefix(spelling) {
            comparison = c
            rest = String(text.dropFirst(spelling.count)).trimmedSpaces()
            break
        }
        if rest.isEmpty { throw e.error("'\(text)' has no value to compare with", expected: example) }
        switch field.valueKind {
        case .errno:
            guard comparison == .equal || comparison == .notEqual else {
                throw e.error("errno values cannot be ordered with \(comparison.rawValue)", expected: "== or != (or none)")
            }
            if rest == "none" { return (comparison, .errno(nil)) }
            guard let known = Errno(name: rest) else {
                throw e.error("unknown errno '\(rest)'\(Suggestion.didYouMean(rest.uppercased(), in: Errno.names))",
                              expected: "an errno name such as ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, or none")
            }
            // The name peers report: an alias (EWOULDBLOCK) becomes its value's own name (EAGAIN).
            return (comparison, .errno(known.name))
        case .duration:
            let d: Interval
            do { d = try Interval(parsing: rest) } catch { throw e.error(error.description) }
            if d < .zero { throw e.error("\(d) is negative", expected: "a duration of 0 or more") }
            return (comparison, .duration(d.duration))
        case .size:
            let s: ByteCount
            do { s = try ByteCount(parsing: rest) } catch { throw e.error(error.description) }
            return (comparison, .size(s))
        case .integer:
            guard let v = Int64(rest) else { throw e.error("'\(rest)' is not a whole number", expected: example) }
            if field == .exitStatus, !(0...255).contains(v) {
                throw e.error("exit status \(v) is out of range", expected: "0 to 255")
            }
            return (comparison, .integer(v))
        }
    }
}

extension Element {
    /// The key node of `key` in a mapping (for errors about the key itself).
    func peekKey(_ key: String) -> Element? {
        guard case .mapping(let map) = node else { return nil }
        for (k, _) in map where k.scalar?.string == key { return Element(node: k, path: path, fallback: location) }
        return nil
    }
}

extension String {
    func trimmedSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }

    func splitting(on sep: String) -> [String] {
        var result: [String] = []
        var rest = Substring(self)
        while let r = rest.firstRange(of: sep) {
            result.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        result.append(String(rest))
        return result
    }
}
