/// "Did you mean …?" for near misses: a misspelt key, node, diagnosis kind or cause.
enum Suggestion {
    /// The candidate closest to `text`, if it is close enough to be a likely typo.
    ///
    /// Close enough means one of: equal ignoring case, `-`, `_` and spaces (`timeLimit` →
    /// `time-limit`); or within an edit distance (insert, delete, substitute, swap two neighbours)
    /// of 1 for words up to 4 characters, 2 up to 8 and 3 beyond; or `text` being a prefix of
    /// exactly one candidate (at least 3 characters long).
    static func closest(to text: String, in candidates: [String]) -> String? {
        guard !text.isEmpty, !candidates.isEmpty else { return nil }
        let folded = fold(text)
        if let same = candidates.first(where: { fold($0) == folded }) { return same }
        let limit = text.count <= 4 ? 1 : (text.count <= 8 ? 2 : 3)
        var best: (String, Int)?
        for candidate in candidates {
            let d = distance(Array(text.lowercased()), Array(candidate.lowercased()))
            if d <= limit, best.map({ d < $0.1 }) ?? true { best = (candidate, d) }
        }
        if let best { return best.0 }
        if text.count >= 3 {
            let prefixed = candidates.filter { $0.lowercased().hasPrefix(text.lowercased()) }
            if prefixed.count == 1 { return prefixed[0] }
        }
        return nil
    }

    /// " (did you mean 'x'?)" or "".
    static func didYouMean(_ text: String, in candidates: [String]) -> String {
        closest(to: text, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    private static func fold(_ s: String) -> String {
        String(s.lowercased().filter { $0 != "-" && $0 != "_" && $0 != " " })
    }

    /// Optimal string alignment distance (Damerau–Levenshtein without repeated edits of a substring).
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}

extension Array where Element == String {
    /// "a, b, c" with each name quoted as written in a scenario: `'a', 'b', 'c'`… kept plain here
    /// because the lists are key names and vocabulary words.
    var commaList: String { joined(separator: ", ") }
}
