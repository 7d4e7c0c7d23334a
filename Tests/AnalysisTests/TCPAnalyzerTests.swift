import Values
import Testing
@testable import Analysis

/// Builds segments for the engine directly (no capture file).
private func segment(_ seq: UInt32, _ ack: UInt32, _ flags: TCPControlFlags, length: UInt32 = 0,
                     window: UInt16 = 1000, fromClient: Bool = true) -> TCPSegment {
    var s = TCPSegment()
    let client = IPAddress(ipv4: 0xC612_0001), server = IPAddress(ipv4: 0xC612_0002)
    s.source = fromClient ? client : server
    s.destination = fromClient ? server : client
    s.sourcePort = fromClient ? 40000 : 80
    s.destinationPort = fromClient ? 80 : 40000
    s.sequenceNumber = seq
    s.acknowledgmentNumber = ack
    s.flags = flags
    s.payloadLength = length
    s.window = window
    return s
}

@Suite("TCP analyzer semantics")
struct TCPAnalyzerTests {
    /// Handshake at t=0/1/2 ms, client ISN 100, server ISN 5000. (Time 0 would read as "no SYN
    /// seen", as in tshark, so the SYN is at 1 ns.)
    private func handshake(_ analyzer: inout TCPAnalyzer) {
        _ = analyzer.analyze(segment(100, 0, [.syn]), frame: 1, time: 1)
        _ = analyzer.analyze(segment(5000, 101, [.syn, .ack], fromClient: false), frame: 2, time: 1_000_000)
        _ = analyzer.analyze(segment(101, 5001, [.ack]), frame: 3, time: 2_000_000)
    }

    @Test("initial RTT is SYN → first ACK, and is the out-of-order threshold")
    func initialRTT() {
        var analyzer = TCPAnalyzer()
        handshake(&analyzer)
        #expect(analyzer.conversations[0].initialRTT == 1_999_999)
        _ = analyzer.analyze(segment(101, 5001, [.ack], length: 100), frame: 4, time: 10_000_000)
        _ = analyzer.analyze(segment(201, 5001, [.ack], length: 100), frame: 5, time: 10_100_000)
        // 1 ms after the highest segment, below the 2 ms initial RTT: out of order.
        let early = analyzer.analyze(segment(101, 5001, [.ack], length: 50), frame: 6, time: 11_100_000)
        #expect(early.flags == [.outOfOrder])
        // Later than the initial RTT: a plain retransmission, RTO from the oldest unacked segment.
        let late = analyzer.analyze(segment(101, 5001, [.ack], length: 50), frame: 7, time: 13_000_000)
        #expect(late.flags == [.retransmission])
        #expect(late.rto == 3_000_000 && late.rtoFrame == 4)
    }

    @Test("duplicate ACKs count up; two of them make a resend within 20 ms a fast retransmission")
    func fastRetransmission() {
        var analyzer = TCPAnalyzer()
        handshake(&analyzer)
        _ = analyzer.analyze(segment(101, 5001, [.ack], length: 100), frame: 4, time: 3_000_000)
        _ = analyzer.analyze(segment(201, 5001, [.ack], length: 100), frame: 5, time: 3_000_000)
        _ = analyzer.analyze(segment(301, 5001, [.ack], length: 100), frame: 6, time: 3_000_000)
        let first = analyzer.analyze(segment(5001, 201, [.ack], fromClient: false), frame: 7, time: 40_000_000)
        #expect(first.flags.isEmpty && first.ackedFrame == 4 && first.ackRTT == 37_000_000)
        let dup1 = analyzer.analyze(segment(5001, 201, [.ack], fromClient: false), frame: 8, time: 41_000_000)
        let dup2 = analyzer.analyze(segment(5001, 201, [.ack], fromClient: false), frame: 9, time: 42_000_000)
        #expect(dup1.flags == [.duplicateAck] && dup1.duplicateAckNumber == 1 && dup1.duplicateAckFrame == 7)
        #expect(dup2.flags == [.duplicateAck] && dup2.duplicateAckNumber == 2)
        let resend = analyzer.analyze(segment(201, 5001, [.ack], length: 100), frame: 10, time: 43_000_000)
        #expect(resend.flags == [.fastRetransmission])
        #expect(resend.tsharkFlags == [.fastRetransmission, .retransmission])
    }

    @Test("a window change on a repeated ACK is a window update, not a duplicate ACK")
    func windowUpdate() {
        var analyzer = TCPAnalyzer()
        handshake(&analyzer)
        let update = analyzer.analyze(segment(101, 5001, [.ack], window: 2000), frame: 4, time: 3_000_000)
        #expect(update.flags == [.windowUpdate])
        let zero = analyzer.analyze(segment(101, 5001, [.ack], window: 0), frame: 5, time: 4_000_000)
        #expect(zero.flags == [.zeroWindow])
    }

    @Test("a gap is a lost segment; ACKing unseen data is ack_lost_segment")
    func gaps() {
        var analyzer = TCPAnalyzer()
        handshake(&analyzer)
        _ = analyzer.analyze(segment(101, 5001, [.ack], length: 100), frame: 4, time: 3_000_000)
        let gap = analyzer.analyze(segment(301, 5001, [.ack], length: 100), frame: 5, time: 3_100_000)
        #expect(gap.flags == [.lostSegment])
        #expect(gap.bytesInFlight == nil)  // suspended until the peer ACKs
        let ack = analyzer.analyze(segment(5001, 401, [.ack], fromClient: false), frame: 6, time: 4_000_000)
        #expect(ack.flags == [.ackLostSegment])
    }

    @Test("a SYN with a new ISN on the same ports starts a new conversation flagged reused_ports")
    func reusedPorts() {
        var analyzer = TCPAnalyzer()
        _ = analyzer.analyze(segment(100, 0, [.syn]), frame: 1, time: 0)
        _ = analyzer.analyze(segment(0, 101, [.rst, .ack], window: 0, fromClient: false), frame: 2, time: 1000)
        let again = analyzer.analyze(segment(100, 0, [.syn]), frame: 3, time: 2000)
        #expect(again.flags == [.retransmission])
        #expect(again.conversationID == 0)
        let reused = analyzer.analyze(segment(900, 0, [.syn]), frame: 4, time: 3000)
        #expect(reused.flags == [.reusedPorts])
        #expect(reused.conversationID == 1)
        #expect(analyzer.conversations.count == 2 && analyzer.conversations[1].reusedPorts)
    }

    @Test("unacked list: partial ACKs trim, the oldest exact match gives the RTT")
    func unackedList() {
        var list = UnackedSegments()
        list.append(UnackedSegment(seq: 100, nextSeq: 200, frame: 1, time: 10))
        list.append(UnackedSegment(seq: 200, nextSeq: 300, frame: 2, time: 20))
        list.append(UnackedSegment(seq: 300, nextSeq: 400, frame: 3, time: 30))
        list.append(UnackedSegment(seq: 200, nextSeq: 300, frame: 4, time: 40))  // retransmission
        #expect(list.count == 4)
        #expect(list.span(base: 99) == 300)
        let match = list.acknowledge(250)
        #expect(match == nil)
        #expect(list.entries.map(\.seq) == [250, 300, 250])
        let exact = list.acknowledge(300)
        #expect(exact?.frame == 2)
        #expect(list.entries.map(\.frame) == [3])
        #expect(list.oldest?.frame == 3)
    }

    @Test("ACKed-unseen boundary compares wrap-aware (checked against tshark 4.0.17)")
    func ackLostAcrossWrap() {
        var analyzer = TCPAnalyzer()
        _ = analyzer.analyze(segment(0xFFFF_FF00, 0, [.syn]), frame: 1, time: 1)
        _ = analyzer.analyze(segment(5000, 0xFFFF_FF01, [.syn, .ack], fromClient: false), frame: 2, time: 1_000)
        _ = analyzer.analyze(segment(0xFFFF_FF01, 5001, [.ack]), frame: 3, time: 2_000)
        _ = analyzer.analyze(segment(0xFFFF_FF01, 5001, [.ack], length: 100), frame: 4, time: 3_000)
        let gap = analyzer.analyze(segment(0xFFFF_FF01 &+ 300, 5001, [.ack], length: 100), frame: 5, time: 4_000)
        #expect(gap.flags == [.lostSegment])
        let first = analyzer.analyze(segment(5001, 0xFFFF_FF01 &+ 500, [.ack], fromClient: false), frame: 6, time: 5_000)
        #expect(first.flags == [.ackLostSegment])
        // The boundary moved to the (wrapped) highest byte seen, so the next ACK reports again.
        let second = analyzer.analyze(segment(5001, 0xFFFF_FF01 &+ 500, [.ack], fromClient: false), frame: 7, time: 6_000)
        #expect(second.flags == [.ackLostSegment, .duplicateAck])
    }

    @Test("options cut by the snap length: state updates, but tshark shows no flags for the frame")
    func cutOptionsHideFlags() {
        var analyzer = TCPAnalyzer()
        handshake(&analyzer)
        _ = analyzer.analyze(segment(101, 5001, [.ack], length: 100), frame: 4, time: 3_000_000)
        var resend = segment(101, 5001, [.ack], length: 100)
        resend.options.complete = false
        let frame = analyzer.analyze(resend, frame: 5, time: 20_000_000)
        #expect(frame.flags == [.retransmission])
        #expect(frame.tsharkFlags.isEmpty)
    }
}

