import Foundation
import Scenario
import Testing

/// Every file in `Malformed/` is a scenario with exactly one problem; its `.expected` sidecar
/// holds the exact error line the loader must print (`name.yaml:line:column: message`).
@Suite("Malformed scenario files")
struct MalformedScenarioTests {
    static var folder: URL {
        if let url = Bundle.module.url(forResource: "Malformed", withExtension: nil) { return url }
        // Fallback when resources are not bundled: the folder next to this file.
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Malformed")
    }

    static func cases() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test("the corpus has at least 30 cases, each with its expected error")
    func corpusIsComplete() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path)
        let yaml = Set(names.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) })
        let expected = Set(names.filter { $0.hasSuffix(".expected") }.map { String($0.dropLast(9)) })
        #expect(yaml.count >= 30)
        #expect(yaml == expected, "every .yaml needs a .expected and the other way round")
    }

    @Test("each malformed file fails with exactly its expected error", arguments: cases())
    func malformedFileFails(name: String) throws {
        let path = Self.folder.appendingPathComponent(name).path
        let expectedPath = Self.folder.appendingPathComponent(String(name.dropLast(5)) + ".expected").path
        let expected = try String(contentsOfFile: expectedPath, encoding: .utf8)
            .trimmingCharacters(in: .newlines)
        do {
            let scenario = try Scenario.load(path: path)
            Issue.record("\(name) loaded as '\(scenario.name)' but should fail with: \(expected)")
        } catch {
            // The error names the file as it was given; the sidecar uses the bare file name.
            #expect(error.file == path)
            #expect(error.description == "\(path):\(error.line):\(error.column): \(error.message)")
            #expect("\(name):\(error.line):\(error.column): \(error.message)" == expected)
        }
    }

    @Test("parse(text:file:) reports the same error as load(path:) for text files")
    func parseMatchesLoad() throws {
        let path = Self.folder.appendingPathComponent("unknown-top-level-key.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(throws: ScenarioError(file: "x.yaml", line: 2, column: 1,
                                      message: "unknown key 'captures' (did you mean 'capture'?); expected one of: name, summary, seed, time-limit, topology, capture, impairments, firewall, steps, expect, lab")) {
            try Scenario.parse(text: text, file: "x.yaml")
        }
    }

    @Test("a file that does not exist is bad input, with the path and the reason")
    func missingFile() {
        do {
            _ = try Scenario.load(path: "/nonexistent/faultline/none.yaml")
            Issue.record("loading a missing file succeeded")
        } catch {
            #expect(error.description == "/nonexistent/faultline/none.yaml:1:1: cannot read the file (no such file); expected a readable scenario file")
            #expect(ScenarioError.exitCode == 2)
        }
    }
}
