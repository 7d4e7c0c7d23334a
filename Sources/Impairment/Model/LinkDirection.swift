import Values
/// Where an impairment sits: one direction of one link, written `from→to` (or `from->to`).
///
/// `router→server` means the router's egress toward the server: the impairment is installed on
/// the router's interface facing the server and affects packets travelling router → server only.
/// Node names are the topology's (resolved to interfaces by the runner).
public struct LinkDirection: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The node whose egress interface carries the impairment.
    public var from: String
    /// The neighbour the interface faces.
    public var to: String

    public init(from: String, to: String) {
        self.from = from
        self.to = to
    }

    public var description: String { "\(from)→\(to)" }

    /// Reads "router→server", "router->server" or "router → server".
    public init(parsing text: String) throws(ValueParseError) {
        let separators = ["→", "->"]
        for sep in separators {
            let parts = text.components(separatedByString: sep)
            if parts.count == 2 {
                let a = parts[0].trimmingSpaces(), b = parts[1].trimmingSpaces()
                guard Self.isName(a), Self.isName(b) else { break }
                guard a != b else {
                    throw ValueParseError(kind: "link", text: text, reason: "both ends are \"\(a)\"; a link joins two different nodes")
                }
                self.init(from: a, to: b)
                return
            }
        }
        throw ValueParseError(kind: "link", text: text,
            reason: "expected NODE→NODE (or NODE->NODE), e.g. \"router→server\" for the router's egress toward the server")
    }

    private static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
    }
}

extension String {
    /// Split on a multi-character separator (no Foundation).
    func components(separatedByString sep: String) -> [String] {
        var result: [String] = []
        var rest = Substring(self)
        while let r = rest.firstRange(of: sep) {
            result.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        result.append(String(rest))
        return result
    }
}
