import Foundation

/// Something that happened on the scenario's timeline (a step, an impairment change, a process
/// start or exit, a peer's event, an expectation's result), at a wall-clock time.
public struct TimelineEvent: Sendable, Equatable {
    /// ns since the epoch (CLOCK_REALTIME, the clock the captures use).
    public var time: Int64
    /// `step`, `impairment`, `rule`, `process`, `peer`, `expectation`, `run`.
    public var category: String
    public var text: String

    public init(time: Int64, category: String, text: String) {
        self.time = time
        self.category = category
        self.text = text
    }
}

/// One TCP_INFO sample of one socket (a line of tcpinfo.jsonl, see docs/tcpinfo.md).
public struct KernelSample: Sendable {
    public var time: Int64
    /// The node (namespace) the socket lives in.
    public var node: String
    public var local: String
    public var remote: String
    public var state: String
    /// Numeric fields by their tcpinfo.jsonl name (`cwnd`, `srtt_us`, ...).
    public var values: [String: Double]

    public init(time: Int64, node: String, local: String, remote: String, state: String, values: [String: Double]) {
        self.time = time
        self.node = node
        self.local = local
        self.remote = remote
        self.state = state
        self.values = values
    }
}

/// A scenario's `lab:` notes: what to try while the network is held, questions, hints.
public struct LabNotes: Sendable, Equatable {
    public var tryThis: [String]
    public var questions: [String]
    public var hints: [String]

    public init(tryThis: [String] = [], questions: [String] = [], hints: [String] = []) {
        self.tryThis = tryThis
        self.questions = questions
        self.hints = hints
    }

    public var isEmpty: Bool { tryThis.isEmpty && questions.isEmpty && hints.isEmpty }
}

/// One expectation's result, as the report lists it.
public struct ReportExpectation: Sendable {
    /// `ok`, `FAIL` or `skip`.
    public var status: String
    public var expected: String
    public var found: String
    public var source: String

    public init(status: String, expected: String, found: String, source: String) {
        self.status = status
        self.expected = expected
        self.found = found
        self.source = source
    }
}

/// Everything around the captures that the report shows: the run's facts, timeline, kernel
/// samples, lab notes, and the `explain` text per diagnosis.
public struct ReportContext: Sendable {
    public var title: String
    /// (label, value) pairs shown under the title: status, seed, diagnosis, ...
    public var facts: [(String, String)]
    public var expectations: [ReportExpectation]
    public var timeline: [TimelineEvent]
    public var kernel: [KernelSample]
    public var lab: LabNotes?
    /// `kind/cause` → the `faultline explain` text.
    public var explanations: [String: String]
    public var notes: [String]
    /// Draw every flow, not only those with a finding.
    public var allFlows: Bool

    public init(title: String, facts: [(String, String)] = [], expectations: [ReportExpectation] = [],
                timeline: [TimelineEvent] = [], kernel: [KernelSample] = [], lab: LabNotes? = nil,
                explanations: [String: String] = [:], notes: [String] = [], allFlows: Bool = false) {
        self.title = title
        self.facts = facts
        self.expectations = expectations
        self.timeline = timeline
        self.kernel = kernel
        self.lab = lab
        self.explanations = explanations
        self.notes = notes
        self.allFlows = allFlows
    }
}

/// Readers of the artifacts a run leaves for the report.
public enum ArtifactReaders {
    /// tcpinfo.jsonl: one sample a line. Lines that are not a sample are skipped (a run cut short
    /// may end in half a line).
    public static func kernelSamples(path: String) -> [KernelSample] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var samples: [KernelSample] = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
                  let time = (object["t_ns"] as? NSNumber)?.int64Value,
                  let local = object["local"] as? String, let remote = object["remote"] as? String else { continue }
            var values: [String: Double] = [:]
            for (key, value) in object {
                if let number = value as? NSNumber, !(value is Bool) { values[key] = number.doubleValue }
            }
            samples.append(KernelSample(time: time, node: object["node"] as? String ?? "", local: local, remote: remote,
                                        state: object["state"] as? String ?? "", values: values))
        }
        return samples
    }

    /// timeline.jsonl (`{"epoch_ns":...,"mono_ns":...,"text":...}` a line) → events, and the offset
    /// that turns a monotonic time (peer event logs) into wall-clock time.
    public static func timeline(jsonlPath: String) -> (events: [TimelineEvent], monotonicToEpoch: Int64?) {
        guard let data = FileManager.default.contents(atPath: jsonlPath) else { return ([], nil) }
        var events: [TimelineEvent] = []
        var offset: Int64?
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
                  let epoch = (object["epoch_ns"] as? NSNumber)?.int64Value, let text = object["text"] as? String else { continue }
            if offset == nil, let mono = (object["mono_ns"] as? NSNumber)?.int64Value { offset = epoch - mono }
            events.append(TimelineEvent(time: epoch, category: category(ofLogLine: text), text: text))
        }
        return (events, offset)
    }

    /// The category of a timeline.log line, by the verb ScenarioRun starts it with.
    public static func category(ofLogLine text: String) -> String {
        if text.hasPrefix("impair") { return "impairment" }
        if text.hasPrefix("add-rule") || text.hasPrefix("remove-rule") { return "rule" }
        if text.hasPrefix("start ") || text.contains(" ready ") || text.contains("NOT ready") || text.hasPrefix("stop ")
            || text.hasPrefix("signal ") || text.contains("exited") || text.hasPrefix("processes") { return "process" }
        return "run"
    }

    /// A peer's event log (`NAME.events.jsonl`, monotonic `ts_ns`) → events on the wall clock.
    /// Routine per-write events are left out: the timeline shows what a person looks for.
    public static func peerEvents(path: String, peer: String, monotonicToEpoch: Int64) -> [TimelineEvent] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var events: [TimelineEvent] = []
        let routine: Set<String> = ["sent", "received", "progress", "wrote", "read", "tcp_info", "tcpinfo"]
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
                  let ts = (object["ts_ns"] as? NSNumber)?.int64Value, let event = object["event"] as? String,
                  !routine.contains(event) else { continue }
            var details: [String] = []
            for key in ["errno", "error", "bytes", "exit", "code", "reason", "state"] {
                if let value = object[key], !(value is NSNull) { details.append("\(key) \(value)") }
            }
            let text = "\(peer): \(event)" + (details.isEmpty ? "" : " (" + details.joined(separator: ", ") + ")")
            events.append(TimelineEvent(time: ts + monotonicToEpoch, category: "peer", text: text))
            if events.count >= 300 { break }
        }
        return events
    }
}
