/// Help text is written as paragraphs wrapped in the source; argument-parser wraps every line
/// again to the terminal, so a paragraph wrapped twice comes out ragged. `reflow` joins each
/// paragraph's lines into one (the parser then wraps it to the width at hand) and keeps what is
/// laid out by hand: blank lines, and indented lines (examples, tables, lists).
enum HelpText {
    static func reflow(_ text: String) -> String {
        var out: [String] = []
        var joinable = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let indented = line.first == " " || line.first == "\t"
            if line.isEmpty {
                out.append("")
                joinable = false
            } else if !indented && joinable, let last = out.popLast() {
                out.append(last + " " + line)
            } else {
                out.append(String(line))
                // A heading in capitals (DETECTORS) or a line ending in ':' introduces what follows.
                joinable = !indented
            }
            if !indented, line.hasSuffix(":") || (line.uppercased() == line && line.contains(where: \.isLetter)) {
                joinable = false
            }
        }
        return out.joined(separator: "\n")
    }
}
