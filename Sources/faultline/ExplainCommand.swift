import ArgumentParser
import Foundation
import Runner

/// `faultline explain KIND/CAUSE`: what a diagnosis means and how to fix it.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain a diagnosis (KIND/CAUSE): what it means, what the wire shows, how to fix it, myths corrected.",
        discussion: HelpText.reflow("""
        The diagnoses are the words of scenario expectations and of the analyzer's findings \
        (every cause it can emit, undetermined included). A catalog code (R2, T1, ZW2) names \
        its diagnosis; letter case does not matter. Without an argument: the list. With a kind \
        alone: its causes. --json prints the same as JSON.

        Examples:
          faultline explain rst/injected-by-middlebox
          faultline explain R2
          faultline explain retransmission/spurious-delayed-ack
          faultline explain rst
          faultline explain --json T1
          faultline explain
        """))

    @Argument(help: ArgumentHelp("A diagnosis such as rst/refused-by-host, or a kind such as rst.", valueName: "kind/cause"))
    var diagnosis: String?

    @Flag(help: "Print the explanation (or the list) as JSON.")
    var json = false

    private func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        StandardStream(fd: 1).write(String(decoding: try encoder.encode(value), as: UTF8.self) + "\n")
    }

    func run() throws {
        let out = StandardStream(fd: 1)
        if json {
            guard let diagnosis else { return try printJSON(Explanations.all) }
            let written = diagnosis.replacingOccurrences(of: " ", with: "")
            if let e = Explanations.find(written) { return try printJSON(e) }
            let kindOnly = Explanations.causes(of: written)
            if !kindOnly.isEmpty { return try printJSON(kindOnly) }
        }
        guard let diagnosis else {
            out.line("Diagnoses (faultline explain KIND/CAUSE):")
            for e in Explanations.all {
                out.line("  \(e.diagnosis.padding(toLength: 48, withPad: " ", startingAt: 0)) \(e.rows.isEmpty ? "   " : e.rows.padding(toLength: 3, withPad: " ", startingAt: 0)) \(e.title)")
            }
            return
        }
        let written = diagnosis.replacingOccurrences(of: " ", with: "")
        if let e = Explanations.find(written) {
            out.write(e.text)
            return
        }
        let kindOnly = Explanations.causes(of: written)
        if !kindOnly.isEmpty {
            out.line("\(written.lowercased()) has these causes (faultline explain \(written.lowercased())/CAUSE):")
            for e in kindOnly { out.line("  \(e.diagnosis.padding(toLength: 48, withPad: " ", startingAt: 0)) \(e.title)") }
            return
        }
        let all = Explanations.all.map(\.diagnosis)
        let near = all.min { distance($0, written.lowercased()) < distance($1, written.lowercased()) }
        StandardStream(fd: 2).line("error: unknown diagnosis '\(diagnosis)'\(near.map { " (did you mean \($0)?)" } ?? ""); `faultline explain` lists them")
        throw ExitCode(2)
    }

    private func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let saved = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = saved
            }
        }
        return row[b.count]
    }
}
