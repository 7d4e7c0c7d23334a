import Values
/// One placement's live state inside a `DecisionCore`: its parameters in force, random streams,
/// loss-model state, reorder counter, rate clock, slot, schedule and held packets.
struct SpecState {
    struct ActionState {
        var match: CompiledMatch
        var nth: [UInt64]          // sorted, unique
        var every: UInt64?
        var action: TargetedAction.Action
        var counter: UInt64 = 0
        var cursor = 0

        /// Counts one matching packet; returns its number if it is one of `nth` or a multiple of `every`.
        mutating func count() -> UInt64? {
            counter &+= 1
            if let every, every > 0, counter % every == 0 { return counter }
            while cursor < nth.count && nth[cursor] < counter { cursor += 1 }
            if cursor < nth.count && nth[cursor] == counter {
                cursor += 1
                return counter
            }
            return nil
        }
    }

    /// Parameters converted to netem's fixed-point thresholds and nanoseconds.
    struct Tuned {
        var latency: Int64 = 0
        var jitter: Int64 = 0
        var table: [Int16]?
        var lossKind: UInt8 = 0           // 0 none, 1 random, 2 gemodel, 3 state
        var lossP: UInt32 = 0
        // Gilbert–Elliott: p, r, h (transmission in bad, netem's a3), 1-k (loss in good, a4)
        var geP: UInt32 = 0, geR: UInt32 = 0, geH: UInt32 = 0, geLossGood: UInt32 = 0
        // 4-state
        var p13: UInt32 = 0, p31: UInt32 = 0, p32: UInt32 = 0, p23: UInt32 = 0, p14: UInt32 = 0
        var duplicateP: UInt32 = 0
        var corruptP: UInt32 = 0
        var reorderP: UInt32 = 0
        var gap: UInt32 = 0               // 0: reorder off
        var rate: RateLimit?
        var packetLimit = 1000
        var byteLimit: Int?
        var ecn = false

        init() {}

        init(_ p: ImpairmentParameters) {
            if let d = p.delay {
                latency = max(d.delay.nanoseconds, 0)
                jitter = min(max(d.jitter.nanoseconds, 0), Int64(Int32.max))
                if let dist = d.distribution, dist != .uniform, jitter > 0 { table = DelayTables.table(dist) }
            }
            switch p.loss {
            case .random(let probability, _)?:
                lossKind = 1
                lossP = probability.netemScaled
            case .gilbertElliott(let ge)?:
                lossKind = 2
                geP = ge.p.netemScaled
                geR = ge.r.netemScaled
                geH = UInt32.max - ge.lossInBad.netemScaled
                geLossGood = ge.lossInGood.netemScaled
            case .fourState(let s)?:
                lossKind = 3
                p13 = s.p13.netemScaled; p31 = s.p31.netemScaled; p32 = s.p32.netemScaled
                p23 = s.p23.netemScaled; p14 = s.p14.netemScaled
            case nil:
                break
            }
            duplicateP = p.duplicate?.probability.netemScaled ?? 0
            corruptP = p.corrupt?.probability.netemScaled ?? 0
            if let r = p.reorder {
                reorderP = r.probability.netemScaled
                gap = r.gap ?? 1
            }
            rate = p.rate
            packetLimit = Int(p.limit ?? 1000)
            if let r = p.rate {
                switch r.queueLimit {
                case .packets(let n)?: packetLimit = min(packetLimit, Int(n))
                case .bytes(let b)?: byteLimit = Int(clamping: b.bytes)
                case nil: break
                }
            }
            ecn = p.ecn ?? false
        }
    }

    struct SlotState {
        var config: Slot
        var next: UInt64
        var packetsLeft: Int64
        var bytesLeft: Int64
    }

    let index: Int
    let match: CompiledMatch?
    var actions: [ActionState]
    private(set) var parameters: ImpairmentParameters
    private(set) var tuned: Tuned
    private var changes: [(time: UInt64, index: Int, change: ScheduledChange)]
    private var nextChange = 0
    let needsWholePackets: Bool
    let maximumHeld: Int
    /// The least time any packet taken by this spec can be held, over every configuration of
    /// its schedule (0 when some packet may leave at once: no delay, reorder, an unmatched
    /// packet, a corrupted or duplicated original).
    private(set) var guaranteedDelay: Int64
    private let scheduledMinimum: Int64

    // Random streams, one per decision kind.
    private var lossGenerator: Xoshiro256StarStar
    private var duplicateGenerator: Xoshiro256StarStar
    var corruptGenerator: Xoshiro256StarStar
    private var reorderGenerator: Xoshiro256StarStar
    private var delayGenerator: Xoshiro256StarStar
    private var slotGenerator: Xoshiro256StarStar
    private var lossCorrelation: CorrelatedRandom
    private var duplicateCorrelation: CorrelatedRandom
    private var corruptCorrelation: CorrelatedRandom
    private var reorderCorrelation: CorrelatedRandom
    private var delayCorrelation: CorrelatedRandom

    private var badState = false          // Gilbert–Elliott
    private var fourState: UInt8 = 1      // 4-state model: 1 gap-tx, 2 burst-tx, 3 burst-loss, 4 gap-loss
    private var reorderCounter: UInt32 = 0
    private var lastSendTime: UInt64 = 0  // rate: the latest send time given to a held packet
    var slot: SlotState?
    var queue = HoldQueue()

    init(index: Int, spec: ImpairmentSpec, path: String, seed: UInt64, nodes: [String: [IPPrefix]], start: UInt64)
        throws(UserspaceEngineError) {
        self.index = index
        let errors = spec.validate(at: "").filter { $0.severity == .error }
        if !errors.isEmpty { throw UserspaceEngineError.invalidSpec(placement: index, issues: errors) }
        match = try spec.match.map { m throws(UserspaceEngineError) in try CompiledMatch(m, nodes: nodes, keyPath: "match") }
        var actions: [ActionState] = []
        for (i, a) in spec.actions.enumerated() {
            actions.append(ActionState(match: try CompiledMatch(a.match, nodes: nodes, keyPath: "actions[\(i)].match"),
                                       nth: Array(Set(a.nth)).sorted(), every: a.every, action: a.action))
        }
        self.actions = actions
        parameters = spec.parameters
        tuned = Tuned(spec.parameters)
        changes = spec.schedule.enumerated().filter { $0.element.trigger == nil }
            .map { (time: start &+ UInt64(max($0.element.at.nanoseconds, 0)), index: $0.offset, change: $0.element) }
            .sorted { $0.time < $1.time || ($0.time == $1.time && $0.index < $1.index) }

        var all = [spec.parameters]
        var current = spec.parameters
        for c in changes { current = c.change.apply(to: current); all.append(current) }
        needsWholePackets = all.contains { $0.corrupt != nil || $0.duplicate != nil || $0.ecn == true }
            || spec.actions.contains {
                switch $0.action {
                case .corrupt, .duplicate, .stripWindowScale: return true
                case .drop, .delay: return false
                }
            }
        maximumHeld = all.map { Tuned($0).packetLimit }.max() ?? 1000
        let actionsAreImmediate = spec.actions.contains {
            switch $0.action {
            case .corrupt, .duplicate, .stripWindowScale: return true
            case .drop: return false
            case .delay(let d): return d.nanoseconds <= 0
            }
        }
        scheduledMinimum = (spec.match != nil || actionsAreImmediate) ? 0 : all.map(Self.minimumDelay).min() ?? 0
        guaranteedDelay = scheduledMinimum

        func stream(_ kind: UInt64) -> Xoshiro256StarStar {
            Xoshiro256StarStar(seed: StreamSeed.derive(seed: seed, path: path, specIndex: index, kind: kind))
        }
        lossGenerator = stream(1); duplicateGenerator = stream(2); corruptGenerator = stream(3)
        reorderGenerator = stream(4); delayGenerator = stream(5); slotGenerator = stream(6)
        lossCorrelation = CorrelatedRandom(correlation: Self.lossCorrelation(spec.parameters))
        duplicateCorrelation = CorrelatedRandom(correlation: spec.parameters.duplicate?.correlation ?? .zero)
        corruptCorrelation = CorrelatedRandom(correlation: spec.parameters.corrupt?.correlation ?? .zero)
        reorderCorrelation = CorrelatedRandom(correlation: spec.parameters.reorder?.correlation ?? .zero)
        delayCorrelation = CorrelatedRandom(correlation: spec.parameters.delay?.correlation ?? .zero)
        configureSlot(now: start)
    }

    /// Moves time 0 of the schedule (and of the first slot) to `start`; before any packet.
    mutating func rebase(start: UInt64) {
        changes = changes.map { (time: start &+ UInt64(max($0.change.at.nanoseconds, 0)), index: $0.index, change: $0.change) }
        configureSlot(now: start)
    }

    private static func lossCorrelation(_ p: ImpairmentParameters) -> Percentage {
        if case .random(_, let c)? = p.loss { return c }
        return .zero
    }

    /// See `guaranteedDelay`.
    static func minimumDelay(_ p: ImpairmentParameters) -> Int64 {
        guard p.reorder == nil, p.slot == nil, let d = p.delay else { return 0 }
        return max(d.minimumDrawnDelay.nanoseconds, 0)
    }

    mutating func setParameters(_ new: ImpairmentParameters) {
        let old = parameters
        guaranteedDelay = min(scheduledMinimum, Self.minimumDelay(new))
        parameters = new
        tuned = Tuned(new)
        // Correlation state restarts only where the correlation itself changed (as tc change would).
        if Self.lossCorrelation(old) != Self.lossCorrelation(new) { lossCorrelation = CorrelatedRandom(correlation: Self.lossCorrelation(new)) }
        if old.duplicate?.correlation != new.duplicate?.correlation { duplicateCorrelation = CorrelatedRandom(correlation: new.duplicate?.correlation ?? .zero) }
        if old.corrupt?.correlation != new.corrupt?.correlation { corruptCorrelation = CorrelatedRandom(correlation: new.corrupt?.correlation ?? .zero) }
        if old.reorder?.correlation != new.reorder?.correlation { reorderCorrelation = CorrelatedRandom(correlation: new.reorder?.correlation ?? .zero) }
        if old.delay?.correlation != new.delay?.correlation { delayCorrelation = CorrelatedRandom(correlation: new.delay?.correlation ?? .zero) }
        if old.loss?.name != new.loss?.name { badState = false; fourState = 1 }
        if old.slot != new.slot { configureSlot(now: slot?.next ?? 0) }
    }

    private mutating func configureSlot(now: UInt64) {
        guard let config = parameters.slot else { slot = nil; return }
        slot = SlotState(config: config, next: now, packetsLeft: Self.budget(config.maxPackets.map(UInt64.init)),
                         bytesLeft: Self.budget(config.maxBytes?.bytes))
    }

    private static func budget(_ value: UInt64?) -> Int64 {
        guard let value, value > 0 else { return Int64(Int32.max) }
        return Int64(clamping: value)
    }

    /// The next scheduled change due at `now`, applied.
    mutating func dueChange(now: UInt64) -> (time: UInt64, index: Int, change: ScheduledChange)? {
        guard nextChange < changes.count, changes[nextChange].time <= now else { return nil }
        let change = changes[nextChange]
        nextChange += 1
        setParameters(change.change.apply(to: parameters))
        return change
    }

    var nextWakeup: UInt64? {
        var best: UInt64?
        if nextChange < changes.count { best = changes[nextChange].time }
        if let top = queue.first {
            var t = top.time
            if let slot, slot.next > t { t = slot.next }
            if best.map({ t < $0 }) ?? true { best = t }
        }
        return best
    }

    // MARK: draws (netem's order and fixed-point comparisons)

    mutating func drawDuplicate() -> Bool {
        tuned.duplicateP != 0 && tuned.duplicateP >= duplicateCorrelation.next(&duplicateGenerator)
    }

    mutating func drawCorrupt() -> Bool {
        tuned.corruptP != 0 && tuned.corruptP >= corruptCorrelation.next(&corruptGenerator)
    }

    mutating func drawLoss() -> Bool {
        switch tuned.lossKind {
        case 1:
            return tuned.lossP != 0 && tuned.lossP >= lossCorrelation.next(&lossGenerator)
        case 2:
            // sch_netem loss_gilb_ell: transition, then loss by the state the packet arrived in.
            if badState {
                if lossGenerator.next32() < tuned.geR { badState = false }
                return lossGenerator.next32() > tuned.geH
            } else {
                if lossGenerator.next32() < tuned.geP { badState = true }
                return lossGenerator.next32() < tuned.geLossGood
            }
        case 3:
            return fourStateLoss(lossGenerator.next32())
        default:
            return false
        }
    }

    /// Salsano et al.'s 4-state model: the packet is lost when the state it moves to is 3 or 4.
    private mutating func fourStateLoss(_ rnd: UInt32) -> Bool {
        let r = UInt64(rnd)
        switch fourState {
        case 1:
            if r < UInt64(tuned.p14) { fourState = 4; return true }
            if r < UInt64(tuned.p14) + UInt64(tuned.p13) { fourState = 3; return true }
            return false
        case 2:
            if r < UInt64(tuned.p23) { fourState = 3; return true }
            return false
        case 3:
            if r < UInt64(tuned.p32) { fourState = 2; return false }
            if r < UInt64(tuned.p32) + UInt64(tuned.p31) { fourState = 1; return false }
            return true
        default:
            fourState = 1
            return false
        }
    }

    /// A held-queue limit that adding a packet of `length` would break.
    func overLimit(adding length: Int) -> DecisionRecord.DropReason? {
        if queue.count >= tuned.packetLimit { return .limit }
        if let byteLimit = tuned.byteLimit, queue.bytes + length > byteLimit { return .queue }
        return nil
    }

    /// netem's time_to_send (and whether the packet took the reorder shortcut).
    mutating func sendTime(length: Int, now: UInt64) -> (UInt64, Bool) {
        let delayed = tuned.gap == 0 || reorderCounter < tuned.gap - 1
            || tuned.reorderP < reorderCorrelation.next(&reorderGenerator)
        guard delayed else {
            reorderCounter = 0
            return (now, true)
        }
        var delay = tabledist(mu: tuned.latency, sigma: tuned.jitter, table: tuned.table)
        var reference = now
        if let rate = tuned.rate {
            if !queue.isEmpty && lastSendTime > now {
                delay -= Int64(lastSendTime - now)
                delay = max(delay, 0)
                reference = lastSendTime
            }
            delay += rate.transmissionTime(of: length + 14).nanoseconds
        }
        reorderCounter &+= 1
        let time = delay >= 0 ? reference &+ UInt64(delay) : reference &- min(UInt64(-delay), reference)
        if tuned.rate != nil { lastSendTime = max(lastSendTime, time) }
        return (time, false)
    }

    /// sch_netem's tabledist: `mu + sigma·x`, x uniform in [−1, 1) or from the table.
    private mutating func tabledist(mu: Int64, sigma: Int64, table: [Int16]?) -> Int64 {
        if sigma == 0 { return mu }
        let rnd = delayCorrelation.next(&delayGenerator)
        guard let table, !table.isEmpty else {
            return Int64(UInt64(rnd) % UInt64(2 * sigma)) + mu - sigma
        }
        let scale: Int64 = 8192
        let t = Int64(table[Int(rnd % UInt32(table.count))])
        var x = (sigma % scale) * t
        if x >= 0 { x += scale / 2 } else { x -= scale / 2 }
        return x / scale + (sigma / scale) * t + mu
    }

    // MARK: release

    /// The head of the held queue if it may leave at `now` (netem_dequeue with slots).
    mutating func nextReleasable(now: UInt64) -> HeldPacket? {
        guard let top = queue.first else { return nil }
        if var s = slot {
            if s.next < top.time { nextSlot(&s, now: now) }
            guard top.time <= now, s.next <= now else { slot = s; return nil }
            s.packetsLeft -= 1
            s.bytesLeft -= Int64(top.length)
            if s.packetsLeft <= 0 || s.bytesLeft <= 0 { nextSlot(&s, now: now) }
            slot = s
            return queue.pop()
        }
        guard top.time <= now else { return nil }
        return queue.pop()
    }

    private mutating func nextSlot(_ s: inout SlotState, now: UInt64) {
        let gap: Int64
        switch s.config.timing {
        case .range(let lo, let hi):
            let span = UInt64(max(hi.nanoseconds - lo.nanoseconds, 0))
            gap = lo.nanoseconds + Int64((UInt64(slotGenerator.next32()) &* span) >> 32)
        case .distribution(let dist, let d, let j):
            let table = dist == .uniform ? nil : DelayTables.table(dist)
            let sigma = min(max(j.nanoseconds, 0), Int64(Int32.max))
            if sigma == 0 {
                gap = d.nanoseconds
            } else {
                let rnd = slotGenerator.next32()
                if let table, !table.isEmpty {
                    let t = Int64(table[Int(rnd % UInt32(table.count))])
                    var x = (sigma % 8192) * t
                    if x >= 0 { x += 4096 } else { x -= 4096 }
                    gap = x / 8192 + (sigma / 8192) * t + d.nanoseconds
                } else {
                    gap = Int64(UInt64(rnd) % UInt64(2 * sigma)) + d.nanoseconds - sigma
                }
            }
        }
        s.next = now &+ UInt64(max(gap, 0))
        s.packetsLeft = Self.budget(s.config.maxPackets.map(UInt64.init))
        s.bytesLeft = Self.budget(s.config.maxBytes?.bytes)
    }
}

/// netem's delay distribution tables, loaded once (see `DistributionTable`).
enum DelayTables {
    static let normal = load(.normal)
    static let pareto = load(.pareto)
    static let paretonormal = load(.paretonormal)

    static func table(_ d: DelayDistribution) -> [Int16]? {
        switch d {
        case .uniform: return nil
        case .normal: return normal
        case .pareto: return pareto
        case .paretonormal: return paretonormal
        }
    }

    private static func load(_ d: DelayDistribution) -> [Int16] {
        // The installed .dist file when there is one (what tc would send), else iproute2's generator.
        if let table = try? DistributionTable.load(d), !table.samples.isEmpty { return table.samples }
        return DistributionTable.generate(d)
    }
}
