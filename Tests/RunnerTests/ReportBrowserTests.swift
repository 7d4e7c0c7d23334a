import Analysis
import Foundation
import Glibc
@testable import Runner
import Testing
import TestSupport

extension RunnerKernelTests {
    /// report.html in a real browser: Debian's headless Chromium renders each catalog scenario's
    /// report; the page's own self-check (written into the DOM) says what it drew, and the test
    /// compares that with the analyzer run here on the same captures.
    @Suite("report.html in headless Chromium")
    struct ReportBrowserTests {
        static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { (path: String) in access(path, X_OK) == 0 }

        /// What the page's script found, per drawn panel.
        struct SelfCheck: Decodable {
            struct Panel: Decodable {
                var flow: String
                var view: String
                var vantage: String
                var conversation: Int
                var rows: Int
                var counts: [String: Int]
            }
            var graphs: Int
            var shown: Int
            var panels: [Panel]
            var resources: Int
            var errors: [String]
        }

        /// The analyzer's own counts per (vantage, conversation): every flag, D-SACKs and RSTs.
        static func analyzerCounts(_ result: ScenarioResult) throws -> [String: [Int: [String: Int]]] {
            struct Counter: CaptureAnalysisObserver {
                var counts: [Int: [String: Int]] = [:]
                mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
                    for (flag, name) in AnalysisFlags.all where frame.flags.contains(flag) {
                        counts[frame.conversationID, default: [:]][name, default: 0] += 1
                    }
                    if frame.hasDSACK { counts[frame.conversationID, default: [:]]["dsack", default: 0] += 1 }
                    if frame.segment.flags.contains(.rst) { counts[frame.conversationID, default: [:]]["rst", default: 0] += 1 }
                }
            }
            var out: [String: [Int: [String: Int]]] = [:]
            for capture in result.captures {
                let several = result.captures.filter { $0.node == capture.node }.count > 1
                var counter = Counter()
                _ = try CaptureAnalysis.run(path: capture.path, observer: &counter)
                out[several ? "\(capture.node)-\(capture.interface)" : capture.node] = counter.counts
            }
            return out
        }

        static func runChromium(_ arguments: [String], profile: String) throws -> (status: Int32, output: String, error: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: chromium ?? "chromium")
            // Root needs --no-sandbox; the profile and no first-run keep each run independent.
            process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                                 "--user-data-dir=\(profile)", "--enable-logging=stderr", "--v=0"] + arguments
            let out = profile + "/out.txt", err = profile + "/err.txt"
            _ = FileManager.default.createFile(atPath: out, contents: nil)
            _ = FileManager.default.createFile(atPath: err, contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: out)
            process.standardError = FileHandle(forWritingAtPath: err)
            process.standardInput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            return (process.terminationStatus, TestSupport.readFile(out) ?? "", TestSupport.readFile(err) ?? "")
        }

        static func selfCheck(inDOM dom: String) throws -> SelfCheck {
            let open = "<pre id=\"selfcheck\" hidden=\"\">"
            let start = try #require(dom.range(of: open), "the self-check did not run (no <pre id=selfcheck> in the DOM)")
            let end = try #require(dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex))
            let text = String(dom[start.upperBound..<end.lowerBound])
                .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&amp;", with: "&")
            return try JSONDecoder().decode(SelfCheck.self, from: Data(text.utf8))
        }

        @Test("every catalog scenario's report renders: graphs drawn, marks equal to the analyzer's flags per flow and vantage, nothing loaded, no console error, a screenshot that is not blank",
              .enabled(if: chromium != nil, "chromium is not installed (scripts/setup installs it)"))
        func catalogReportsRender() throws {
            let dir = TestSupport.temporaryDirectory("fl-report-browser")
            defer { TestSupport.removeTree(dir) }
            let run = try Faultline.Running(["run", Faultline.catalog, "--json", "--artifacts", dir + "/artifacts"], directory: dir)
            let status = run.wait(seconds: 300)
            #expect(status == 0, "faultline run Scenarios exited \(String(describing: status)):\n\(run.errorOutput)")
            let report = try JSONDecoder().decode(RunReport.self, from: Data(run.output.utf8))
            #expect(report.results.count == CatalogTests.rows.count)
            for result in report.results {
                let html = result.artifacts + "/report.html"
                guard let page = TestSupport.readFile(html) else {
                    Issue.record("\(result.name): no report.html in \(result.artifacts)")
                    continue
                }
                // Self-contained: nothing that a browser would fetch.
                #expect(!page.contains("src="), "\(result.name): the report references an external resource")
                #expect(!page.contains("href='http") && !page.contains("href=\"http") && !page.contains("url(http"),
                        "\(result.name): the report links to the network")
                let profile = dir + "/profile-\(result.name)"
                try FileManager.default.createDirectory(atPath: profile, withIntermediateDirectories: true)
                let dumped = try Self.runChromium(["--virtual-time-budget=3000", "--dump-dom", "file://" + html], profile: profile)
                #expect(dumped.status == 0, "\(result.name): chromium --dump-dom exited \(dumped.status): \(dumped.error)")
                let consoleErrors = dumped.error.split(separator: "\n").filter {
                    $0.contains("CONSOLE") && ($0.contains("Uncaught") || $0.localizedCaseInsensitiveContains("error"))
                }
                #expect(consoleErrors.isEmpty, "\(result.name): console errors: \(consoleErrors)")
                let check = try Self.selfCheck(inDOM: dumped.output)
                #expect(check.errors.isEmpty, "\(result.name): script errors \(check.errors)")
                #expect(check.resources == 0, "\(result.name): the page loaded \(check.resources) resources")
                #expect(check.graphs >= 1 && check.shown >= 1, "\(result.name): \(check.graphs) graphs, \(check.shown) shown")
                // Marks agree with the analyzer's flags, panel by panel, on the whole-flow views.
                let expected = try Self.analyzerCounts(result)
                let whole = check.panels.filter { $0.view == "whole" }
                #expect(!whole.isEmpty, "\(result.name): no whole-flow panel")
                for panel in whole {
                    var want = expected[panel.vantage]?[panel.conversation] ?? [:]
                    var got = panel.counts
                    let rsts = (got.removeValue(forKey: "rst-forged") ?? 0) + (got.removeValue(forKey: "rst-host") ?? 0)
                    if rsts > 0 { got["rst"] = rsts }
                    got.removeValue(forKey: "challenge-ack")   // the diagnosis's, not a flag
                    want = want.filter { $0.value > 0 }
                    #expect(got == want, "\(result.name) at \(panel.vantage), conversation \(panel.conversation): marks \(got), analyzer \(want)")
                }
                let shot = dir + "/\(result.name).png"
                let screenshot = try Self.runChromium(["--window-size=1200,900", "--screenshot=\(shot)", "file://" + html], profile: profile)
                #expect(screenshot.status == 0 && FileManager.default.fileExists(atPath: shot), "\(result.name): no screenshot: \(screenshot.error)")
                let measure = Process()
                measure.executableURL = URL(fileURLWithPath: TestSupport.repoRoot + "/scripts/png-nonblank")
                measure.arguments = [shot]
                let pipe = Pipe()
                measure.standardOutput = pipe
                try measure.run()
                let share = Double(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
                measure.waitUntilExit()
                #expect(share > 0.02, "\(result.name): the screenshot is blank (\(share) of pixels differ from the background)")
            }
        }
    }
}
