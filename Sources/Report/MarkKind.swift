import Analysis

/// One kind of mark on a time-sequence graph: an analyzer flag, or an event the diagnosis names
/// (a forged or host RST, a D-SACK, a challenge ACK).
///
/// Each kind has a colour from the Okabe–Ito palette (distinguishable with every common colour
/// vision deficiency) *and* its own shape, so the marks stay apart printed in black and white.
public struct MarkKind: Sendable, Hashable {
    /// The key used in the DOM (`data-k`) and the table: the analyzer's flag name
    /// (`tcp.analysis.<name>`) for flags, else `rst-forged`, `rst-host`, `dsack`, `challenge-ack`.
    public let key: String
    public let label: String
    /// What it means, one line (the legend's tooltip and the table's text alternative).
    public let meaning: String
    let colour: String
    /// SVG content of the symbol, centred on 0,0, about 8 units across.
    let shape: String
    /// The analyzer flag it draws, if it is one.
    public let flag: AnalysisFlags?

    static let vermillion = "#D55E00", blue = "#0072B2", orange = "#E69F00", sky = "#56B4E9",
               green = "#009E73", purple = "#CC79A7", black = "#000000", yellow = "#F0E442"

    /// Drawing order and legend order.
    public static let all: [MarkKind] = [
        MarkKind(key: "retransmission", label: "retransmission",
                 meaning: "data sent again after a timeout (or another cause the analyzer cannot tell)",
                 colour: vermillion, shape: "<circle r='4' fill='none' stroke-width='1.8'/>", flag: .retransmission),
        MarkKind(key: "fast_retransmission", label: "fast retransmission",
                 meaning: "data sent again after duplicate ACKs", colour: vermillion,
                 shape: "<circle r='4' stroke-width='1'/>", flag: .fastRetransmission),
        MarkKind(key: "spurious_retransmission", label: "spurious retransmission",
                 meaning: "data sent again although the receiver had already acknowledged it",
                 colour: purple, shape: "<path d='M0-5L5 0L0 5L-5 0Z' fill='none' stroke-width='1.8'/>", flag: .spuriousRetransmission),
        MarkKind(key: "out_of_order", label: "out-of-order", meaning: "a segment older than one already seen",
                 colour: orange, shape: "<path d='M-4.5-3.5H4.5L0 4.5Z' stroke-width='1'/>", flag: .outOfOrder),
        MarkKind(key: "lost_segment", label: "previous segment not captured",
                 meaning: "a gap in the sequence space: a segment before this one was not seen",
                 colour: black, shape: "<path d='M-4-4L4 4M-4 4L4-4' fill='none' stroke-width='2'/>", flag: .lostSegment),
        MarkKind(key: "ack_lost_segment", label: "ACKed unseen segment",
                 meaning: "this ACK covers data the capture never saw",
                 colour: black, shape: "<path d='M-4 0H4M0-4V4' fill='none' stroke-width='2'/>", flag: .ackLostSegment),
        MarkKind(key: "duplicate_ack", label: "duplicate ACK", meaning: "the same ACK again: the receiver saw a gap",
                 colour: blue, shape: "<path d='M-3.5 3H3.5L0-3.5Z' fill='none' stroke-width='1.5'/>", flag: .duplicateAck),
        MarkKind(key: "zero_window", label: "zero window", meaning: "the receiver advertises no room at all",
                 colour: vermillion, shape: "<rect x='-4' y='-4' width='8' height='8' stroke-width='1'/>", flag: .zeroWindow),
        MarkKind(key: "zero_window_probe", label: "persist (zero-window) probe",
                 meaning: "the sender's probe into a closed window", colour: blue,
                 shape: "<rect x='-4' y='-4' width='8' height='8' fill='none' stroke-width='1.8'/>", flag: .zeroWindowProbe),
        MarkKind(key: "zero_window_probe_ack", label: "persist probe ACK", meaning: "the receiver's answer to a probe",
                 colour: blue, shape: "<rect x='-2.5' y='-2.5' width='5' height='5' stroke-width='1'/>", flag: .zeroWindowProbeAck),
        MarkKind(key: "window_full", label: "window full", meaning: "the sender filled the receiver's whole window",
                 colour: orange, shape: "<path d='M-5-3H5M0-3V4' fill='none' stroke-width='2'/>", flag: .windowFull),
        MarkKind(key: "window_update", label: "window update", meaning: "the receiver opens its window again",
                 colour: green, shape: "<path d='M0-5L4 1H1.5V5H-1.5V1H-4Z' stroke-width='0.8'/>", flag: .windowUpdate),
        MarkKind(key: "keep_alive", label: "keep-alive", meaning: "an idle connection's probe",
                 colour: "#777777", shape: "<circle r='2.5' fill='none' stroke-width='1.5'/>", flag: .keepAlive),
        MarkKind(key: "keep_alive_ack", label: "keep-alive ACK", meaning: "the answer to a keep-alive",
                 colour: "#777777", shape: "<circle r='1.8' stroke-width='1'/>", flag: .keepAliveAck),
        MarkKind(key: "reused_ports", label: "ports reused", meaning: "a new connection on an old connection's ports",
                 colour: black, shape: "<path d='M-4-2.5L0-4.5L4-2.5V2.5L0 4.5L-4 2.5Z' fill='none' stroke-width='1.5'/>",
                 flag: .reusedPorts),
        MarkKind(key: "rst-forged", label: "RST (forged)", meaning: "a reset the diagnosis says a middlebox injected",
                 colour: purple, shape: "<path d='M0-6L1.6-2H6L2.4 1L3.8 5.5L0 2.8L-3.8 5.5L-2.4 1L-6-2H-1.6Z' stroke-width='0.8'/>",
                 flag: nil),
        MarkKind(key: "rst-host", label: "RST (from the host)", meaning: "a reset sent by the peer's own TCP stack",
                 colour: black, shape: "<path d='M0-6L1.6-2H6L2.4 1L3.8 5.5L0 2.8L-3.8 5.5L-2.4 1L-6-2H-1.6Z' fill='none' stroke-width='1.4'/>",
                 flag: nil),
        MarkKind(key: "dsack", label: "D-SACK", meaning: "the receiver reports data it got twice (RFC 2883)",
                 colour: sky, shape: "<path d='M-2-5H-4.5V5H-2M2-5H4.5V5H2' fill='none' stroke-width='1.8'/>", flag: nil),
        MarkKind(key: "challenge-ack", label: "challenge ACK",
                 meaning: "an ACK sent instead of obeying an unexpected SYN or RST (RFC 5961)",
                 colour: green, shape: "<path d='M0-5L5 0L0 5L-5 0Z' stroke-width='1'/><circle r='1.5' fill='#fff'/>", flag: nil),
    ]

    public static func named(_ key: String) -> MarkKind? { all.first { $0.key == key } }

    /// The definition every mark of this kind references (`<use href="#mk-KEY">`): one definition,
    /// many small references keep a report of a large capture small.
    var definition: String {
        "<g id='mk-\(key)' fill='\(colour)' stroke='\(colour)'>\(shape)</g>"
    }
}
