/// Packet loss models, exactly netem's three.
public enum LossModel: Sendable, Hashable, Codable {
    /// Independent loss with probability `probability`; with `correlation` c, netem's correlated
    /// random number `(1 − c)·random + c·last` is compared with the probability
    /// (tc `loss random P [CORR]`).
    case random(probability: Percentage, correlation: Percentage = .zero)
    /// Two-state Gilbert–Elliott (tc `loss gemodel p [r [1-h [1-k]]]`).
    case gilbertElliott(GilbertElliott)
    /// Four-state Markov model of Salsano et al. (tc `loss state p13 [p31 [p32 [p23 [p14]]]]`).
    case fourState(FourStateLoss)

    /// Short name for messages: "random", "gemodel", "state".
    public var name: String {
        switch self {
        case .random: return "random"
        case .gilbertElliott: return "gemodel"
        case .fourState: return "state"
        }
    }
}

/// Gilbert–Elliott loss: a Good and a Bad state.
///
/// Per packet: in Good, move to Bad with probability `p`; in Bad, move to Good with probability
/// `r`; then, in the state now current, lose the packet with probability `lossInBad` (Bad) or
/// `lossInGood` (Good). Parameter names follow tc's `loss gemodel p r 1-h 1-k`:
/// `lossInBad` is tc's "1-h", `lossInGood` is tc's "1-k". (The kernel stores h itself: the
/// kernel engine sends `h = UINT32_MAX − scaled(1-h)` as tc does.)
///
/// Defaults as tc: `r = 100% − p`, `lossInBad = 100%`, `lossInGood = 0%` — the simple Gilbert
/// model (every packet in Bad is lost, none in Good).
public struct GilbertElliott: Sendable, Hashable, Codable {
    /// Good → Bad transition probability.
    public var p: Percentage
    /// Bad → Good transition probability.
    public var r: Percentage
    /// Loss probability in Bad (tc's "1-h").
    public var lossInBad: Percentage
    /// Loss probability in Good (tc's "1-k").
    public var lossInGood: Percentage

    public init(p: Percentage, r: Percentage? = nil, lossInBad: Percentage = .hundred, lossInGood: Percentage = .zero) {
        self.p = p
        self.r = r ?? p.complement
        self.lossInBad = lossInBad
        self.lossInGood = lossInGood
    }
}

/// Four-state Markov loss (netem "GI", Salsano et al.): states 1 = good reception, 2 = good
/// reception within a burst, 3 = burst loss, 4 = isolated loss. Packets are lost in states 3 and 4.
///
/// Transition probabilities named as in tc (`loss state p13 p31 p32 p23 p14`). Defaults as tc:
/// `p31 = 100% − p13`, `p32 = 0%`, `p23 = 100%`, `p14 = 0%`.
public struct FourStateLoss: Sendable, Hashable, Codable {
    public var p13: Percentage
    public var p31: Percentage
    public var p32: Percentage
    public var p23: Percentage
    public var p14: Percentage

    public init(p13: Percentage, p31: Percentage? = nil, p32: Percentage = .zero,
                p23: Percentage = .hundred, p14: Percentage = .zero) {
        self.p13 = p13
        self.p31 = p31 ?? p13.complement
        self.p32 = p32
        self.p23 = p23
        self.p14 = p14
    }
}
