import ArgumentParser
import Foundation
import Runner

/// `faultline report DIR`: rebuild a run's report.html from its artifacts folder.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Rebuild report.html from a run's artifacts folder (captures, result.json, timeline, tcpinfo.jsonl).",
        discussion: """
        Every `faultline run` writes report.html into each run's artifacts folder;
        this command writes it again, e.g. after the captures were copied elsewhere
        or with --all-flows. The report is one self-contained HTML file (inline SVG,
        no network access): per flow with a finding, the finding with its evidence,
        caveats and `explain` text, a time-sequence graph at every vantage point,
        the kernel's TCP_INFO samples and the timeline on the same time axis.

        For any capture (one you bring): faultline analyze --html OUT.html FILES...
        """)

    @Argument(help: ArgumentHelp("A run's artifacts folder (as printed by `faultline run`).", valueName: "ARTIFACTS_DIR"))
    var folder: String

    @Flag(name: .customLong("all-flows"), help: "Draw every flow, not only those with a finding.")
    var allFlows = false

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            FileHandleStderr.write("error: \(folder) is not a folder\n")
            throw ExitCode(2)
        }
        do {
            let path = try RunHTMLReport.write(artifacts: folder, allFlows: allFlows, lab: nil)
            print(path)
        } catch {
            FileHandleStderr.write("error: \(error)\n")
            throw ExitCode(error.exitCode)
        }
    }
}
