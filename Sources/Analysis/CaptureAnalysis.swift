import Values

/// Receives each frame as the analysis goes (the hook for diagnosis layers and writers).
///
/// Methods are generic requirements, so a concrete observer is specialised into the read loop:
/// an observer that does nothing costs nothing.
public protocol CaptureAnalysisObserver {
    /// A TCP frame was analysed; `analyzer` already holds the state updated by it (look up
    /// `analyzer.conversations[frame.conversationID]`).
    mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer)
    /// A frame was not analysed (not TCP, fragment, unsupported link type, ...).
    mutating func didSkip(_ packet: PacketRecord, outcome: DecodeOutcome)
    /// The analyzer retires the conversation held at `slot` (`analyzer.conversations[slot]`)
    /// now: it is finished (see `RetirementPolicy`), and its state is about to be freed. Called
    /// only when the run retires.
    mutating func willRetire(slot: Int, analyzer: TCPAnalyzer)
}

extension CaptureAnalysisObserver {
    public mutating func didSkip(_ packet: PacketRecord, outcome: DecodeOutcome) {}
    public mutating func willRetire(slot: Int, analyzer: TCPAnalyzer) {}
}

/// An observer that ignores everything.
public struct NoObserver: CaptureAnalysisObserver {
    public init() {}
    public mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {}
}

/// The result of reading and analysing one capture file in a single pass.
public struct CaptureAnalysis: Sendable {
    public var path: String
    public var format: CaptureReader.Format
    /// Conversations and their final state.
    public var analyzer: TCPAnalyzer
    /// Frames in the file (TCP or not).
    public var frames: UInt64 = 0
    /// How many frames ended in each decode outcome, indexed by `DecodeOutcome.rawValue`.
    public var outcomeCounts = [UInt64](repeating: 0, count: DecodeOutcome.allCases.count)
    /// Set when the file stops in the middle of a record: analysed up to there.
    public var truncation: CaptureTruncation?
    public var firstTime: Int64?
    public var lastTime: Int64?
    public var interfaces: [CaptureInterface] = []
    public var comments: [String] = []
    /// The capturing tool's counters (pcapng statistics blocks): drops here are the capture's own.
    public var captureStatistics: [CaptureInterfaceStatistics] = []
    /// Packets the capture itself lost (0 when the file says nothing about it).
    public var captureDropped: UInt64 { captureStatistics.reduce(0) { $0 &+ $1.dropped } }
    /// When the capture was listening, as the file records it, with its packets' first and last times.
    public var window: CaptureWindow {
        CaptureWindow(statistics: captureStatistics, firstPacket: firstTime, lastPacket: lastTime)
    }

    /// Frames that ended with `outcome`.
    public func count(_ outcome: DecodeOutcome) -> UInt64 { outcomeCounts[Int(outcome.rawValue)] }

    /// Summaries of the conversations retired during the run (kept when the run was asked to),
    /// in retirement order; the analyzer holds the others.
    public var retiredSummaries: [CaptureSummary.Conversation] = []

    /// How far (ns) retirement's capture time may move forward with one packet.
    static let maxCaptureTimeStep: Int64 = 60_000_000_000

    /// Reads `path` and analyses every TCP frame, handing each to `observer`.
    public static func run<Observer: CaptureAnalysisObserver>(path: String, observer: inout Observer) throws(CaptureError) -> CaptureAnalysis {
        let reader = try CaptureReader(path: path)
        return try run(reader: reader, path: path, observer: &observer)
    }

    /// Reads `path` ("-" for standard input) retiring finished conversations (see
    /// `RetirementPolicy`), handing each to `observer.willRetire` first; with
    /// `keepSummaries`, their summaries stay in `retiredSummaries`.
    public static func run<Observer: CaptureAnalysisObserver>(path: String, observer: inout Observer,
                                                              retirement: RetirementPolicy?,
                                                              keepSummaries: Bool = false) throws(CaptureError) -> CaptureAnalysis {
        let reader = path == "-" ? try CaptureReader(fileDescriptor: 0) : try CaptureReader(path: path)
        return try run(reader: reader, path: path, observer: &observer, retirement: retirement, keepSummaries: keepSummaries)
    }

    /// Reads and analyses `path` without an observer.
    public static func run(path: String) throws(CaptureError) -> CaptureAnalysis {
        var observer = NoObserver()
        return try run(path: path, observer: &observer)
    }

    /// Analyses everything `reader` still has.
    public static func run<Observer: CaptureAnalysisObserver>(reader: CaptureReader, path: String,
                                                              observer: inout Observer,
                                                              retirement: RetirementPolicy? = nil,
                                                              keepSummaries: Bool = false,
                                                              pinned: Set<Int> = []) throws(CaptureError) -> CaptureAnalysis {
        var result = CaptureAnalysis(path: path, format: reader.format, analyzer: TCPAnalyzer(retirement: retirement))
        result.analyzer.pinned = pinned
        let retiring = retirement != nil
        var now = Int64.min
        var segment = TCPSegment()
        var counts = (tcp: UInt64(0), other: [UInt64](repeating: 0, count: DecodeOutcome.allCases.count))
        var firstTime: Int64?
        var lastTime: Int64 = 0
        while let packet = try reader.next() {
            if firstTime == nil { firstTime = packet.timestamp }
            lastTime = packet.timestamp
            if retiring {
                // Capture time as far as it went (a clock stepping back retires nothing early),
                // at most `maxCaptureTimeStep` further per packet: one packet with a wild timestamp
                // (a clock step, a damaged record) cannot retire every connection and expire every
                // tombstone at once; after a real pause capture time catches up packet by packet.
                if packet.timestamp > now {
                    now = now == .min ? packet.timestamp : min(packet.timestamp, (CaptureTime(nanosecondsSinceEpoch: now) + .nanoseconds(Self.maxCaptureTimeStep)).nanosecondsSinceEpoch)
                }
                while let slot = result.analyzer.dueForRetirement(at: now) {
                    if !result.analyzer.isPinned(slot: slot) {
                        observer.willRetire(slot: slot, analyzer: result.analyzer)
                        if keepSummaries {
                            result.retiredSummaries.append(CaptureSummary.Conversation(result.analyzer.conversations[slot]))
                        }
                    }
                    result.analyzer.retire(slot: slot, at: now)
                }
            }
            let outcome = PacketDecoder.decode(packet, into: &segment)
            if outcome == .tcp {
                counts.tcp &+= 1
                let frame = result.analyzer.analyze(segment, frame: packet.frameNumber, time: packet.timestamp,
                                                    interfaceID: packet.interfaceID)
                observer.didAnalyze(frame, analyzer: result.analyzer)
            } else {
                counts.other[Int(outcome.rawValue)] &+= 1
                observer.didSkip(packet, outcome: outcome)
            }
        }
        result.outcomeCounts = counts.other
        result.outcomeCounts[Int(DecodeOutcome.tcp.rawValue)] = counts.tcp
        result.frames = reader.framesRead
        result.truncation = reader.truncation
        result.firstTime = firstTime
        result.lastTime = firstTime == nil ? nil : lastTime
        result.interfaces = reader.interfaces
        result.comments = reader.comments
        result.captureStatistics = reader.statistics
        return result
    }
}
