import Values
/// One finding of model validation.
///
/// `keyPath` names the offending value the way a scenario file spells it, so the scenario layer
/// can map it to file:line:column: `impairments[0].loss.probability`, `impairments[1].delay.jitter`,
/// `impairments[0].schedule[2].reorder.gap`, `impairments[0].actions[1].nth`. The spec's
/// top-level `parameters` sit directly under the impairment (no `parameters.` segment);
/// the prefix (`impairments[0]`) is what the caller passes to `validate(at:)`.
///
/// `message` is a complete sentence that starts with the setting, e.g.
/// `loss: 150% is out of range, expected 0%–100%`.
public struct ModelIssue: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Codable {
        /// The spec cannot run as written.
        case error
        /// It runs, but probably not as the author expects (the message says what happens).
        case warning
    }

    public var severity: Severity
    public var keyPath: String
    public var message: String

    public init(_ severity: Severity, _ keyPath: String, _ message: String) {
        self.severity = severity
        self.keyPath = keyPath
        self.message = message
    }

    /// "impairments[0].loss.probability: loss: 150% is out of range, expected 0%–100%"
    /// (warnings prefixed with "warning: ").
    public var description: String {
        (severity == .warning ? "warning: " : "") + (keyPath.isEmpty ? message : "\(keyPath): \(message)")
    }
}

/// Validation failed: the errors (warnings are not included), in the order found.
public struct ImpairmentValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var issues: [ModelIssue]
    public init(issues: [ModelIssue]) { self.issues = issues }
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

func joinKey(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

extension ImpairmentSpec {
    /// Every problem found, errors and warnings; `path` is this spec's key path ("impairments[0]").
    public func validate(at path: String = "") -> [ModelIssue] {
        var issues = parameters.validate(at: path)
        if let match {
            issues += match.validate(at: joinKey(path, "match"))
        }
        for (i, a) in actions.enumerated() {
            issues += a.validate(at: joinKey(path, "actions[\(i)]"))
        }
        // Schedule: field checks on each change, combination checks on the configuration in force
        // after it (reported only when the change introduces them).
        var current = parameters
        var currentCross = Set(current.crossFieldIssues(at: "").map(\.message))
        var seenTimes: [Interval: Int] = [:]
        let ordered = schedule.enumerated().sorted { $0.element.at < $1.element.at }
        for (i, change) in ordered {
            let p = joinKey(path, "schedule[\(i)]")
            if change.at < .zero {
                issues.append(.init(.error, joinKey(p, "at"), "at: \(change.at) is negative, expected 0 or more (time since the impairment was installed)"))
            }
            if change.trigger != nil {
                // Made when an event happens: its `at` is no time of its own.
            } else if let first = seenTimes[change.at] {
                issues.append(.init(.error, joinKey(p, "at"), "at: \(change.at) is also the time of schedule[\(first)]; merge the two changes into one"))
            } else {
                seenTimes[change.at] = i
            }
            issues += change.parameters.fieldIssues(at: p)
            current = change.apply(to: current)
            let cross = current.crossFieldIssues(at: p)
            issues += cross.filter { !currentCross.contains($0.message) }
            currentCross = Set(cross.map(\.message))
        }
        if engine == .kernel {
            for reason in kernelEngineLimitations {
                issues.append(.init(.error, joinKey(path, "engine"), "engine: netem cannot do \(reason); remove `engine: netem` to let Faultline use the userspace engine"))
            }
        }
        return issues
    }

    /// `self` if it has no errors (warnings allowed), else throws them all.
    public func validated(at path: String = "") throws(ImpairmentValidationError) -> ImpairmentSpec {
        let errors = validate(at: path).filter { $0.severity == .error }
        if !errors.isEmpty { throw ImpairmentValidationError(issues: errors) }
        return self
    }
}

extension ImpairmentParameters {
    /// Field checks and combination checks.
    public func validate(at path: String = "") -> [ModelIssue] {
        fieldIssues(at: path) + crossFieldIssues(at: path)
    }

    /// Checks of each value on its own (ranges, signs).
    func fieldIssues(at path: String) -> [ModelIssue] {
        var issues: [ModelIssue] = []
        func percent(_ value: Percentage, _ key: String, _ label: String) {
            if !value.isInRange || value.percent.isNaN {
                issues.append(.init(.error, joinKey(path, key), "\(label): \(value) is out of range, expected 0%–100%"))
            }
        }
        func nonNegative(_ value: Interval, _ key: String, _ label: String) {
            if value < .zero {
                issues.append(.init(.error, joinKey(path, key), "\(label): \(value) is negative, expected 0 or more"))
            }
        }
        if let d = delay {
            nonNegative(d.delay, "delay.delay", "delay")
            nonNegative(d.jitter, "delay.jitter", "jitter")
            percent(d.correlation, "delay.correlation", "delay correlation")
            if let dist = d.distribution, d.jitter <= .zero {
                issues.append(.init(.error, joinKey(path, "delay.distribution"),
                    "distribution: \(dist) needs a jitter above 0 (the distribution shapes the jitter around the delay; tc refuses it too)"))
            }
            if d.jitter.nanoseconds > Int64(Int32.max) {
                issues.append(.init(.error, joinKey(path, "delay.jitter"),
                    "jitter: \(d.jitter) is above 2.147483647s, the most netem's random draw handles (it takes jitter as 32 bits)"))
            }
            if d.jitter == .zero, d.correlation.percent > 0 {
                issues.append(.init(.warning, joinKey(path, "delay.correlation"),
                    "delay correlation: \(d.correlation) has no effect without jitter (it correlates successive jitter draws)"))
            }
            if d.delay >= .zero, d.jitter > .zero, d.minimumDrawnDelay < .zero {
                let dist = d.distribution ?? .uniform
                issues.append(.init(.warning, joinKey(path, "delay.jitter"),
                    "jitter: delay \(d.delay) with jitter \(d.jitter) (\(dist)) can draw delays down to \(d.minimumDrawnDelay); netem sends such packets at once (as if the delay were 0), ahead of packets still waiting, so they arrive reordered and the mean delay is higher than \(d.delay) would suggest"))
            }
        }
        switch loss {
        case .random(let p, let c)?:
            percent(p, "loss.probability", "loss")
            percent(c, "loss.correlation", "loss correlation")
        case .gilbertElliott(let ge)?:
            percent(ge.p, "loss.p", "loss gemodel p")
            percent(ge.r, "loss.r", "loss gemodel r")
            percent(ge.lossInBad, "loss.lossInBad", "loss gemodel 1-h (loss in bad state)")
            percent(ge.lossInGood, "loss.lossInGood", "loss gemodel 1-k (loss in good state)")
        case .fourState(let s)?:
            percent(s.p13, "loss.p13", "loss state p13")
            percent(s.p31, "loss.p31", "loss state p31")
            percent(s.p32, "loss.p32", "loss state p32")
            percent(s.p23, "loss.p23", "loss state p23")
            percent(s.p14, "loss.p14", "loss state p14")
            if s.p13.percent + s.p14.percent > 100 {
                issues.append(.init(.error, joinKey(path, "loss.p14"),
                    "loss state: p13 \(s.p13) + p14 \(s.p14) exceed 100%; from state 1 the chances of leaving must add up to at most 100%"))
            }
            if s.p31.percent + s.p32.percent > 100 {
                issues.append(.init(.error, joinKey(path, "loss.p32"),
                    "loss state: p31 \(s.p31) + p32 \(s.p32) exceed 100%; from state 3 the chances of leaving must add up to at most 100%"))
            }
        case nil:
            break
        }
        if let d = duplicate {
            percent(d.probability, "duplicate.probability", "duplicate")
            percent(d.correlation, "duplicate.correlation", "duplicate correlation")
        }
        if let c = corrupt {
            percent(c.probability, "corrupt.probability", "corrupt")
            percent(c.correlation, "corrupt.correlation", "corrupt correlation")
        }
        if let r = reorder {
            percent(r.probability, "reorder.probability", "reorder")
            percent(r.correlation, "reorder.correlation", "reorder correlation")
            if r.gap == 0 {
                issues.append(.init(.error, joinKey(path, "reorder.gap"),
                    "gap: 0 is not a gap; expected 1 or more (1: every packet may be reordered, N: N−1 packets are delayed after each reordered one), or leave it out"))
            }
        }
        if let r = rate {
            if r.rate.bytesPerSecond == 0 {
                issues.append(.init(.error, joinKey(path, "rate.rate"),
                    "rate: \(r.rate) is below 8bit (1 byte/s), the smallest rate the kernel takes"))
            }
            switch r.queueLimit {
            case .packets(0)?:
                issues.append(.init(.error, joinKey(path, "rate.queueLimit"), "queue limit: 0 packets would drop every packet; expected 1 or more"))
            case .bytes(let b)? where b.bytes == 0 || b.bytes > UInt64(UInt32.max):
                issues.append(.init(.error, joinKey(path, "rate.queueLimit"), "queue limit: \(b) bytes is out of range, expected 1 byte to 4GiB"))
            default: break
            }
            if let b = r.burst, b.bytes == 0 || b.bytes > UInt64(UInt32.max) {
                issues.append(.init(.error, joinKey(path, "rate.burst"), "burst: \(b) bytes is out of range, expected 1 byte to 4GiB"))
            }
        }
        if let s = slot {
            switch s.timing {
            case .range(let lo, let hi):
                nonNegative(lo, "slot.min", "slot min")
                nonNegative(hi, "slot.max", "slot max")
                if hi < lo {
                    issues.append(.init(.error, joinKey(path, "slot.max"), "slot max: \(hi) is below slot min \(lo)"))
                }
            case .distribution(_, let d, let j):
                nonNegative(d, "slot.delay", "slot delay")
                if j <= .zero {
                    issues.append(.init(.error, joinKey(path, "slot.jitter"), "slot jitter: \(j) must be above 0 with a slot distribution (tc refuses it too)"))
                } else if j.nanoseconds > Int64(Int32.max) {
                    issues.append(.init(.error, joinKey(path, "slot.jitter"), "slot jitter: \(j) is above 2.147483647s, the most netem takes (it keeps slot jitter in 32 bits)"))
                }
            }
            if let p = s.maxPackets, p > UInt32(Int32.max) {
                issues.append(.init(.error, joinKey(path, "slot.packets"), "slot packets: \(p) is out of range, expected at most \(Int32.max)"))
            }
            if let b = s.maxBytes, b.bytes > UInt64(Int32.max) {
                issues.append(.init(.error, joinKey(path, "slot.bytes"), "slot bytes: \(b) is out of range, expected at most 2GiB"))
            }
        }
        if limit == 0 {
            issues.append(.init(.error, joinKey(path, "limit"), "limit: 0 packets would drop every packet; expected 1 or more (netem's default is 1000)"))
        }
        return issues
    }

    /// Checks of combinations (a setting that needs another).
    func crossFieldIssues(at path: String) -> [ModelIssue] {
        var issues: [ModelIssue] = []
        let hasDelay = (delay?.delay ?? .zero) > .zero
        if let r = reorder {
            if r.probability.percent > 0, !hasDelay {
                issues.append(.init(.error, joinKey(path, "reorder.probability"),
                    "reorder: \(r.probability) needs a delay: netem reorders by sending the chosen packets at once while the others wait for the delay; with no delay nothing waits, so nothing can be overtaken (add e.g. delay: 10ms)"))
            }
            if let gap = r.gap, gap > 0, r.probability.percent == 0 {
                issues.append(.init(.error, joinKey(path, "reorder.gap"),
                    "gap: \(gap) needs a reorder probability above 0 (gap only spaces out reordered packets; tc refuses it too)"))
            }
        }
        if ecn == true {
            let hasLoss: Bool
            switch loss {
            case .random(let p, _)?: hasLoss = p.percent > 0
            case .gilbertElliott?, .fourState?: hasLoss = true
            case nil: hasLoss = false
            }
            if !hasLoss {
                issues.append(.init(.error, joinKey(path, "ecn"),
                    "ecn: needs a loss model (ecn marks ECN-capable packets that netem would drop; with no loss there is nothing to mark)"))
            }
        }
        return issues
    }
}

extension PacketMatch {
    public func validate(at path: String) -> [ModelIssue] {
        var issues: [ModelIssue] = []
        let portCapable = transport == nil || transport == .tcp || transport == .udp
        if !portCapable, sourcePort != nil || destinationPort != nil {
            issues.append(.init(.error, joinKey(path, sourcePort != nil ? "sourcePort" : "destinationPort"),
                "port: ports exist only for tcp and udp, but transport is \(transport.map(\.description) ?? "any")"))
        }
        for (key, r) in [("sourcePort", sourcePort), ("destinationPort", destinationPort)] {
            if let r, r.upper < r.lower {
                issues.append(.init(.error, joinKey(path, key), "port range: \(r.lower)-\(r.upper) is empty (upper below lower)"))
            }
        }
        if tcpFlags != nil, let t = transport, t != .tcp {
            issues.append(.init(.error, joinKey(path, "tcpFlags"), "tcp flags: need transport tcp, but transport is \(t)"))
        }
        if let f = tcpFlags, !f.set.isDisjoint(with: f.clear) {
            issues.append(.init(.error, joinKey(path, "tcpFlags"), "tcp flags: \(f.set.intersection(f.clear)) must be both set and clear; no packet matches"))
        }
        if payload != nil, let t = transport, t != .tcp, t != .udp {
            issues.append(.init(.error, joinKey(path, "payload"), "payload: payload matching needs transport tcp or udp, but transport is \(t)"))
        }
        for (key, a) in [("source", source), ("destination", destination)] {
            if case .prefix(let p)? = a, let v = ipVersion, IPVersion(p.family) != v {
                issues.append(.init(.error, joinKey(path, key), "\(key): \(AddressMatch.prefix(p)) is \(p.family.name) but ipVersion is \(v.rawValue)"))
            }
        }
        if case .prefix(let s)? = source, case .prefix(let d)? = destination, s.family != d.family {
            issues.append(.init(.error, joinKey(path, "destination"), "destination: \(AddressMatch.prefix(d)) and source \(AddressMatch.prefix(s)) are different IP versions; no packet matches"))
        }
        return issues
    }
}

extension TargetedAction {
    public func validate(at path: String) -> [ModelIssue] {
        var issues = match.validate(at: joinKey(path, "match"))
        if nth.isEmpty && every == nil {
            issues.append(.init(.error, joinKey(path, "nth"), "nth: no packet numbers; give the numbers of the matching packets to act on, e.g. [5, 6], a range such as 20-30, or every: 10"))
        }
        if every == 0 {
            issues.append(.init(.error, joinKey(path, "every"), "every: 0 is not a count; every: 10 acts on the 10th, 20th, 30th, … matching packet"))
        }
        if nth.count > TargetedAction.nthLimit {
            issues.append(.init(.error, joinKey(path, "nth"), "nth: \(nth.count) packet numbers is more than \(TargetedAction.nthLimit); use every: for a regular pattern"))
        }
        if nth.contains(0) {
            issues.append(.init(.error, joinKey(path, "nth"), "nth: 0 is not a packet number; counting starts at 1 (the first matching packet)"))
        }
        if Set(nth).count != nth.count {
            issues.append(.init(.error, joinKey(path, "nth"), "nth: \(nth) lists a packet twice"))
        }
        switch action {
        case .delay(let d) where d < .zero:
            issues.append(.init(.error, joinKey(path, "action"), "delay: \(d) is negative, expected 0 or more"))
        case .duplicate(let d) where d < .zero:
            issues.append(.init(.error, joinKey(path, "action"), "duplicate copy delay: \(d) is negative, expected 0 or more"))
        case .stripWindowScale:
            // Only SYNs carry the option: a match that can take none is a mistake.
            let notTCP = match.transport.map { $0.protocolNumber != 6 } ?? false
            let noSYN = match.tcpFlags?.clear.contains(.syn) ?? false
            let withPayload = match.payload == .nonEmpty
            if notTCP || noSYN || withPayload {
                issues.append(.init(.error, joinKey(path, "action"), "strip-window-scale acts on TCP SYN and SYN/ACK segments (the only ones that carry the option), and this match takes none; expected match: syn, or { tcp-flags: syn } for SYN and SYN/ACK"))
            }
        default: break
        }
        return issues
    }
}
