import Netlink
import Testing
import TestSupport

/// Help paragraphs are wrapped once, by argument-parser, to the width at hand: no line breaks
/// of the source's own wrapping survive inside a paragraph.
@Suite("Help text wraps once")
struct HelpTextTests {
    static func help(_ command: [String], columns: Int) throws -> String {
        let r = try ChildProcess.run([try TestSupport.faultlineBinaryPath()] + command + ["--help"],
                                     environment: ["COLUMNS": String(columns), "PATH": "/usr/bin:/bin"])
        return r.standardOutput
    }

    @Test("a paragraph is one line on a wide terminal, and no line passes 80 columns when piped",
          arguments: [["lab"], ["impair"], ["run"], ["exec"], ["cleanup"], ["analyze"], []])
    func wrapsOnce(command: [String]) throws {
        let wide = try Self.help(command, columns: 400)
        let narrow = try Self.help(command, columns: 80)
        #expect(!wide.isEmpty)
        // Prose lines (not indented, not blank) of the wide help are whole paragraphs: the
        // narrow help has more lines only because the parser wrapped them.
        let prose = wide.split(separator: "\n").filter { !$0.hasPrefix(" ") && $0.count > 60 }
        for line in prose {
            let words = line.split(separator: " ")
            #expect(narrow.split(whereSeparator: { $0 == " " || $0 == "\n" }).count >= words.count)
        }
        // (argument-parser does not wrap its USAGE line.)
        for line in narrow.split(separator: "\n") where !line.hasPrefix(" ") && !line.hasPrefix("USAGE:") {
            #expect(line.count <= 80, "\(line)")
        }
        let paragraphs = ["lab": "The setup steps are the scenario's steps at 0s (typically the server's listener), so you can drive the client by hand.",
                          "impair": "Uses the userspace engine: NFQUEUE on the router, one queue and one thread per direction.",
                          "cleanup": "everything a run creates (links, addresses, routes, qdiscs, firewall rules, processes) lives inside them."]
        if let first = command.first, let paragraph = paragraphs[first] {
            #expect(wide.contains(paragraph), "\(wide)")
        }
    }
}
