import Analysis

/// Per-frame facts a graph needs beyond numbers.
public struct FrameBits: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Sent by the conversation's client (`TCPConversation.client`).
    public static let fromClient = FrameBits(rawValue: 1 << 0)
    public static let ack = FrameBits(rawValue: 1 << 1)
    public static let syn = FrameBits(rawValue: 1 << 2)
    public static let fin = FrameBits(rawValue: 1 << 3)
    public static let rst = FrameBits(rawValue: 1 << 4)
    /// The first SACK block reports already-acknowledged data (`FrameAnalysis.hasDSACK`).
    public static let dsack = FrameBits(rawValue: 1 << 5)
    public static let sack = FrameBits(rawValue: 1 << 6)
}

/// Every TCP frame of one capture, kept in columns (about 50 bytes a frame) so a 500k-packet
/// capture fits in a few tens of megabytes and is scanned quickly per flow.
public struct FrameTable: Sendable {
    public private(set) var frameNumbers: [UInt64] = []
    public private(set) var times: [Int64] = []
    public private(set) var seqs: [UInt32] = []
    public private(set) var acks: [UInt32] = []
    public private(set) var lengths: [UInt32] = []
    /// The window as tshark shows it (scaled).
    public private(set) var windows: [UInt32] = []
    public private(set) var flags: [AnalysisFlags] = []
    public private(set) var bits: [FrameBits] = []
    /// SACK blocks of the rows that carry any (at most 4 a frame).
    public private(set) var sackBlocks: [Int: [SACKBlock]] = [:]
    /// Row indices of each conversation (`TCPAnalyzer.conversations` order), ascending.
    public private(set) var rowsByConversation: [[Int]] = []

    public init() {}

    public var count: Int { frameNumbers.count }

    mutating func append(_ frame: FrameAnalysis) {
        let row = frameNumbers.count
        frameNumbers.append(frame.frameNumber)
        times.append(frame.timestamp)
        let segment = frame.segment
        seqs.append(segment.sequenceNumber)
        acks.append(segment.acknowledgmentNumber)
        lengths.append(segment.payloadLength)
        windows.append(frame.scaledWindow)
        flags.append(frame.flags)
        var b: FrameBits = []
        if frame.fromClient { b.insert(.fromClient) }
        if segment.flags.contains(.ack) { b.insert(.ack) }
        if segment.flags.contains(.syn) { b.insert(.syn) }
        if segment.flags.contains(.fin) { b.insert(.fin) }
        if segment.flags.contains(.rst) { b.insert(.rst) }
        if segment.options.sackCount > 0 {
            b.insert(.sack)
            if frame.hasDSACK { b.insert(.dsack) }
            sackBlocks[row] = segment.options.sackBlocks
        }
        bits.append(b)
        let conversation = frame.conversationID
        while rowsByConversation.count <= conversation { rowsByConversation.append([]) }
        rowsByConversation[conversation].append(row)
    }

    /// The row of `frameNumber` among `rows` (ascending frame numbers), by binary search.
    public func row(ofFrame frameNumber: UInt64, in rows: [Int]) -> Int? {
        var low = 0, high = rows.count - 1
        while low <= high {
            let mid = (low + high) / 2
            let value = frameNumbers[rows[mid]]
            if value == frameNumber { return mid }
            if value < frameNumber { low = mid + 1 } else { high = mid - 1 }
        }
        return nil
    }
}

/// Feeds the Diagnosis layer and keeps the frames for drawing, in the same single pass: the
/// graph's marks are the very flags the analyzer set while the diagnosis watched.
public struct ReportObserver: CaptureAnalysisObserver {
    public var diagnosis: DiagnosisObserver
    public var table = FrameTable()

    public init(vantage: String) { diagnosis = DiagnosisObserver(vantage: vantage) }

    public mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
        diagnosis.didAnalyze(frame, analyzer: analyzer)
        table.append(frame)
    }

    public mutating func didSkip(_ packet: PacketRecord, outcome: DecodeOutcome) {
        diagnosis.didSkip(packet, outcome: outcome)
    }
}

/// The captures of a run (or any captures), analysed and diagnosed, with their frames kept.
public struct ReportAnalysis: Sendable {
    public var result: DiagnosisResult
    /// One per capture, in the order given.
    public var tables: [FrameTable]
    public var vantages: [VantageCapture]

    /// Reads each capture once (analysis, diagnosis and the frame table together), then compares
    /// vantage points as `Diagnoser.diagnose` does.
    public static func run(_ captures: [VantageCapture]) throws(CaptureError) -> ReportAnalysis {
        var digests: [VantageDigest] = []
        var analyses: [CaptureAnalysis] = []
        var tables: [FrameTable] = []
        for capture in captures {
            var observer = ReportObserver(vantage: capture.name)
            let analysis = try CaptureAnalysis.run(path: capture.path, observer: &observer)
            digests.append(observer.diagnosis.digest(of: analysis, role: capture.role))
            analyses.append(analysis)
            tables.append(observer.table)
        }
        try Diagnoser.crossVantagePass(&digests)
        return ReportAnalysis(result: Diagnoser.result(from: digests, analyses: analyses), tables: tables, vantages: captures)
    }
}
