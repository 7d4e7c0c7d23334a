import ArgumentParser
import Foundation
import Runner
import Scenario

/// `faultline list`: the catalog, one scenario a line.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the scenarios of a folder (default: Scenarios): name, what it expects, summary.",
        discussion: HelpText.reflow("""
        Examples:
          faultline list
          faultline list Scenarios --json | jq '.[].name'
          faultline list --shard 1/2          what `faultline run --shard 1/2` would run
        """))

    @Argument(help: ArgumentHelp("A folder of scenarios, or files.", valueName: "path"))
    var paths: [String] = ["Scenarios"]

    @Option(help: ArgumentHelp("Only the scenarios of shard K of N (as `run --shard`).", valueName: "K/N"))
    var shard: String?

    @Flag(help: "Print a JSON array: name, file, summary, expects, rejects, time_limit, seed.")
    var json = false

    struct Entry: Codable {
        var name: String
        var file: String
        var summary: String
        var expects: [String]
        var rejects: [String]
        var time_limit: String
        var seed: UInt64?
    }

    func run() throws {
        var scenarios: [Scenario] = []
        for path in paths {
            do {
                scenarios += try Scenario.load(pathOrFolder: path, peerArguments: PeerCLI.check(arguments:))
            } catch {
                StandardStream(fd: 2).line("error: \(error)")
                throw ExitCode(2)
            }
        }
        if let shard {
            do { scenarios = try Shard(parsing: shard).select(scenarios) } catch {
                StandardStream(fd: 2).line("error: \(error)")
                throw ExitCode(2)
            }
        }
        let entries = scenarios.map { s -> Entry in
            var expects: [String] = [], rejects: [String] = []
            for e in s.expectations {
                switch e.check {
                case .present(let p, _): expects.append(p.diagnosis)
                case .absent(let p): rejects.append(p.diagnosis)
                default: break
                }
            }
            return Entry(name: s.name, file: s.file, summary: s.summary ?? "", expects: expects, rejects: rejects,
                         time_limit: "\(s.timeLimit)", seed: s.seed)
        }
        let out = StandardStream(fd: 1)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            out.line(String(decoding: try encoder.encode(entries), as: UTF8.self))
            return
        }
        let width = min(32, entries.map(\.name.count).max() ?? 10)
        for e in entries {
            let expects = e.expects.isEmpty ? "no failure" : e.expects.joined(separator: ", ")
            let rejects = e.rejects.isEmpty ? "" : "  (not: \(e.rejects.joined(separator: ", ")))"
            out.line("\(e.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(expects)\(rejects)")
            if !e.summary.isEmpty { out.line(String(repeating: " ", count: width + 2) + e.summary) }
        }
        out.line("\(entries.count) scenario\(entries.count == 1 ? "" : "s"); run them with `faultline run \(paths.joined(separator: " "))`")
    }
}
