import Analysis
import ArgumentParser
import Foundation
import Report
import Runner

extension AnalyzeCommand {
    /// `--html OUT.html`: the findings as `analyze` prints them, and the report written from the
    /// same single pass over each capture.
    func runHTML(_ output: String, _ captures: [VantageCapture]) throws {
        let analysis: ReportAnalysis
        do throws(CaptureError) {
            analysis = try ReportAnalysis.run(captures)
        } catch {
            Self.printError("error: \(error)")
            throw ExitCode(2)
        }
        for (capture, result) in zip(captures, analysis.result.analyses) {
            if let cut = result.truncation {
                Self.printError("warning: \(capture.path): \(cut); analysed the \(result.frames) frames before it")
            }
        }
        var context = ReportContext(title: "Faultline analysis: " + captures.map(\.path).joined(separator: ", "),
                                    facts: [("findings", String(analysis.result.findings.count))])
        context.allFlows = allFlows
        for explanation in Explanations.all { context.explanations[explanation.diagnosis] = explanation.text }
        do {
            try HTMLReport.write(analysis, context: context, to: output)
        } catch {
            Self.printError("error: cannot write \(output): \(error.localizedDescription)")
            throw ExitCode(2)
        }
        if json {
            print(FindingsJSON.render(analysis.result, extraMembers: [:]))
        } else {
            print(DiagnosisReport.text(analysis.result), terminator: "")
        }
        Self.printError("report: \(output)")
    }
}
