import Values

/// "Did this vantage see that segment, and which copy?": the question the cross-vantage pass
/// asks a downstream capture about each retransmitted segment seen upstream.
struct SegmentQuestion: Sendable {
    var source: TCPEndpoint
    var destination: TCPEndpoint
    var seq: UInt32
    var length: UInt32
    var originalIPID: UInt16?
    var retransmissionIPID: UInt16
    var timeFrom: CaptureTime
    var timeTo: CaptureTime
    // Where the answer goes.
    var answerVantage: Int
    var conversation: Int
    var senderIsConversationClient: Bool
    var eventIndex: Int
    var askedVantage: Int
}

/// The targeted second pass: decodes a capture (no TCP analysis) and records the copies of the
/// asked segments. Cost per packet: one decode and one hash lookup on the 4-tuple.
enum SegmentScanner {
    struct DirectionKey: Hashable {
        var source: TCPEndpoint
        var destination: TCPEndpoint
    }

    static func scan(path: String, questions: [SegmentQuestion]) throws(CaptureError) -> [CrossVantageSighting] {
        var answers = questions.map { _ in CrossVantageSighting(vantage: "", copies: 0, originalArrived: nil,
                                                                 retransmissionArrived: nil, frames: []) }
        var copyIPIDs: [[UInt16]] = questions.map { _ in [] }
        var index: [DirectionKey: [Int]] = [:]
        for (i, question) in questions.enumerated() {
            index[DirectionKey(source: question.source, destination: question.destination), default: []].append(i)
        }
        let reader = try CaptureReader(path: path)
        var segment = TCPSegment()
        while let packet = try reader.next() {
            guard PacketDecoder.decode(packet, into: &segment) == .tcp, segment.payloadLength > 0 else { continue }
            let key = DirectionKey(source: TCPEndpoint(address: segment.source, port: segment.sourcePort),
                                   destination: TCPEndpoint(address: segment.destination, port: segment.destinationPort))
            guard let asked = index[key] else { continue }
            for i in asked {
                let question = questions[i]
                guard packet.time >= question.timeFrom && packet.time <= question.timeTo else { continue }
                // Same first byte, or a copy covering it (resegmented retransmissions).
                let start = segment.sequenceNumber
                let covers = SeqNum.lessOrEqual(start, question.seq)
                    && SeqNum.lessThan(question.seq, start &+ segment.payloadLength)
                guard covers else { continue }
                answers[i].copies += 1
                if answers[i].frames.count < 16 { answers[i].frames.append(packet.frameNumber) }
                copyIPIDs[i].append(segment.ip.identification)
            }
        }
        for i in questions.indices {
            let question = questions[i]
            let ids = copyIPIDs[i]
            let distinct = question.originalIPID.map { $0 != question.retransmissionIPID && $0 != 0 } ?? false
                && question.retransmissionIPID != 0
            if distinct, let original = question.originalIPID {
                answers[i].originalArrived = ids.contains(original)
                answers[i].retransmissionArrived = ids.contains(question.retransmissionIPID)
            } else if ids.count >= 2 {
                answers[i].originalArrived = true
                answers[i].retransmissionArrived = true
            } else if ids.isEmpty {
                answers[i].originalArrived = false
                answers[i].retransmissionArrived = false
            }
            // One copy with indistinct IP IDs: which one arrived stays open (nil).
        }
        return answers
    }
}
