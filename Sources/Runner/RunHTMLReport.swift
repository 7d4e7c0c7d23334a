import Values
import Analysis
import Foundation
import Report
import Scenario

/// Builds `report.html` for a run's artifacts folder from what the run left there: the captures
/// (named as the built-in detector names vantage points), result.json, timeline.jsonl (or
/// nothing), the peers' event logs and tcpinfo.jsonl. `faultline report DIR` and every
/// `faultline run` use it, so a report rebuilt later is the report the run wrote.
public enum RunHTMLReport {
    public static let fileName = "report.html"

    /// Writes DIR/report.html; returns its path. `captures`: the run's, each placed where the
    /// run placed it (`CaptureFile.role`); nil: those result.json lists, else every capture file in
    /// the folder. A capture without a role (a folder without result.json, a run older than the
    /// roles) is placed where the scenario copy the run kept (scenario.yaml) puts its node.
    @discardableResult
    public static func write(artifacts folder: String, captures given: [CaptureFile]? = nil, allFlows: Bool = false,
                             lab: LabNotes? = nil) throws(RunnerError) -> String {
        let result = readResult(folder)
        var captures: [CaptureFile] = (given ?? result?.captures ?? []).filter { FileManager.default.fileExists(atPath: $0.path) }
        if captures.isEmpty {
            // No result.json (or it names no file that is still there): every capture in the folder.
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for name in names.sorted() where name.hasSuffix(".pcapng") || name.hasSuffix(".pcap") {
                let base = name.split(separator: ".").first.map(String.init) ?? name
                let parts = base.split(separator: "-", maxSplits: 1).map(String.init)
                captures.append(CaptureFile(path: folder + "/" + name, node: parts.first ?? base, interface: parts.count > 1 ? parts[1] : ""))
            }
        }
        let kept = try? Scenario.load(path: folder + "/scenario.yaml")
        if let kept { captures = CaptureVantages.placed(captures, by: kept) }
        let vantages = CaptureVantages.vantages(captures)
        let analysis: ReportAnalysis
        do {
            analysis = try ReportAnalysis.run(vantages)
        } catch {
            throw .analysis("report: \(error)")
        }
        var context = self.context(folder: folder, result: result)
        context.allFlows = allFlows
        context.lab = lab ?? kept.flatMap(labNotes)
        let path = folder + "/" + fileName
        do {
            try HTMLReport.write(analysis, context: context, to: path)
        } catch {
            throw .environment("cannot write \(path): \(error.localizedDescription)")
        }
        return path
    }

    /// The `lab:` notes of the scenario copy the run keeps (scenario.yaml).
    static func labNotes(_ scenario: Scenario) -> LabNotes? {
        guard let guide = scenario.lab else { return nil }
        return LabNotes(tryThis: guide.tryThis, questions: guide.questions, hints: guide.hints)
    }

    static func readResult(_ folder: String) -> ScenarioResult? {
        guard let data = FileManager.default.contents(atPath: folder + "/result.json") else { return nil }
        return try? JSONDecoder().decode(ScenarioResult.self, from: data)
    }

    /// The run's facts, expectations, timeline, kernel samples and explanations.
    static func context(folder: String, result: ScenarioResult?) -> ReportContext {
        var context = ReportContext(title: result.map { "Faultline: \($0.name)" } ?? "Faultline report: \(folder)")
        if let result {
            context.facts = [("status", result.status.rawValue), ("diagnosis", result.diagnosis), ("scenario", result.file),
                             ("seed", String(result.seed)), ("detector", result.detector),
                             ("duration", String(format: "%.2f s", result.seconds))]
            for use in result.engines { context.facts.append(("impairment", "\(use)")) }
            context.expectations = result.expectations.map { e in
                ReportExpectation(status: !e.checked ? "skip" : e.passed ? "ok" : "FAIL", expected: e.expected,
                                  found: e.found + (e.note.map { " (\($0))" } ?? ""), source: e.source)
            }
            context.notes = result.notes
            if let error = result.error { context.notes.insert(error, at: 0) }
        }
        let timeline = ArtifactReaders.timeline(jsonlPath: folder + "/timeline.jsonl")
        context.timeline = timeline.events
        if let offset = timeline.monotonicToEpoch {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for name in names.sorted() where name.hasSuffix(".events.jsonl") {
                let peer = String(name.dropLast(".events.jsonl".count))
                context.timeline += ArtifactReaders.peerEvents(path: folder + "/" + name, peer: peer, monotonicToEpoch: offset)
            }
            if let result, let last = timeline.events.last?.time {
                for e in result.expectations where e.checked {
                    context.timeline.append(TimelineEvent(time: last, category: "expectation",
                                                          text: "\(e.passed ? "ok" : "FAIL") \(e.expected)"))
                }
            }
        }
        // Stable: events at the same nanosecond keep their order, so a rebuilt report is the same file.
        context.timeline = context.timeline.enumerated()
            .sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
        context.kernel = ArtifactReaders.kernelSamples(path: folder + "/" + TCPInfoSampler.fileName)
        for explanation in Explanations.all { context.explanations[explanation.diagnosis] = explanation.text }
        return context
    }
}

/// JSON string literals for the few lines the runner writes by hand.
enum JSONString {
    static func quote(_ text: String) -> String { JSONText.quoted(text) }
}
