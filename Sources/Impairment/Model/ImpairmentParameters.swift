/// The netem-like parameters of one link direction at one moment. Every field is optional:
/// nil means "not impaired this way" — or, in a schedule's `.merge` change, "unchanged".
///
/// Mapping to tc (`tc qdisc add dev X root netem …`):
/// | field | tc |
/// |---|---|
/// | `delay` | `delay D [J [C]] [distribution X]` |
/// | `loss` | `loss random P [C]` / `loss gemodel p r 1-h 1-k` / `loss state p13 p31 p32 p23 p14` |
/// | `duplicate` | `duplicate P [C]` |
/// | `corrupt` | `corrupt P [C]` |
/// | `reorder` | `reorder P [C] [gap G]` |
/// | `rate` | `rate R [PKTOVERHEAD [CELLSIZE [CELLOVERHEAD]]]`, or a tbf |
/// | `slot` | `slot MIN [MAX] [packets N] [bytes B]` / `slot distribution X D J …` |
/// | `ecn` | `ecn` (mark ECT packets CE instead of dropping them; needs a loss model) |
/// | `limit` | `limit N` (netem queue, packets; default 1000) |
public struct ImpairmentParameters: Sendable, Hashable, Codable {
    public var delay: DelaySpec?
    public var loss: LossModel?
    public var duplicate: Duplicate?
    public var corrupt: Corrupt?
    public var reorder: Reorder?
    public var rate: RateLimit?
    public var slot: Slot?
    /// true: packets netem would drop are CE-marked instead when ECN-capable.
    public var ecn: Bool?
    /// netem's queue length in packets (nil: 1000, netem's default).
    public var limit: UInt32?

    public init(delay: DelaySpec? = nil, loss: LossModel? = nil, duplicate: Duplicate? = nil,
                corrupt: Corrupt? = nil, reorder: Reorder? = nil, rate: RateLimit? = nil,
                slot: Slot? = nil, ecn: Bool? = nil, limit: UInt32? = nil) {
        self.delay = delay
        self.loss = loss
        self.duplicate = duplicate
        self.corrupt = corrupt
        self.reorder = reorder
        self.rate = rate
        self.slot = slot
        self.ecn = ecn
        self.limit = limit
    }

    /// No impairment at all.
    public static let none = ImpairmentParameters()

    public var isEmpty: Bool { self == .none }

    /// `self` with every non-nil field of `patch` taking its place (a schedule's `.merge`).
    public func merging(_ patch: ImpairmentParameters) -> ImpairmentParameters {
        var m = self
        if let v = patch.delay { m.delay = v }
        if let v = patch.loss { m.loss = v }
        if let v = patch.duplicate { m.duplicate = v }
        if let v = patch.corrupt { m.corrupt = v }
        if let v = patch.reorder { m.reorder = v }
        if let v = patch.rate { m.rate = v }
        if let v = patch.slot { m.slot = v }
        if let v = patch.ecn { m.ecn = v }
        if let v = patch.limit { m.limit = v }
        return m
    }
}

extension ImpairmentParameters: CustomStringConvertible {
    /// tc-like words for logs: "delay 100ms ±10ms, loss 1%, rate 10mbit" ("nothing" when empty).
    public var description: String {
        var parts: [String] = []
        if let d = delay {
            var text = "delay \(d.delay)"
            if d.jitter != .zero { text += " ±\(d.jitter)" }
            if let dist = d.distribution { text += " \(dist)" }
            parts.append(text)
        }
        if let loss {
            switch loss {
            case .random(let p, _): parts.append("loss \(p)")
            default: parts.append("loss \(loss.name)")
            }
        }
        if let duplicate { parts.append("duplicate \(duplicate.probability)") }
        if let corrupt { parts.append("corrupt \(corrupt.probability)") }
        if let reorder { parts.append("reorder \(reorder.probability)") }
        if let rate { parts.append("rate \(rate.rate)") }
        if slot != nil { parts.append("slot") }
        if ecn == true { parts.append("ecn") }
        if let limit { parts.append("limit \(limit)") }
        return parts.isEmpty ? "nothing" : parts.joined(separator: ", ")
    }
}
