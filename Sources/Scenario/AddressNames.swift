import Values
/// Names for addresses wherever a scenario writes one: `{server}` (its first address, IPv4 when it
/// has one), `{server.ipv4}`, `{server.ipv6}`, `{server.eth1}` (that interface's first address),
/// `{server.eth1.ipv6}`; and `[server]:9000` for the node's IPv6 address and a port. Resolved at
/// load time against the topology, so an unknown name is an error at its line, with a "did you
/// mean", before anything is built. Braces that hold no node name nor anything close to one
/// (`{1..3}`, `{"a": 1}`, curl's `%{http_code}`, a shell's `${HOME}`) are the program's own and
/// stay as written; `{{` writes a literal `{`.
extension ScenarioDecoder {
    static let addressNameForms = "{NODE}, {NODE.ipv4}, {NODE.ipv6}, {NODE.INTERFACE} or {NODE.INTERFACE.ipv6}"

    /// `text` with every `{…}` address name replaced, and `[NODE]:PORT` / `[NODE]` rewritten to
    /// the node's IPv6 address. `{{` writes a literal `{`.
    func resolvingAddressNames(_ text: String, in e: Element) throws(ScenarioError) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest[rest.index(after: open)...]
            if after.first == "{" {           // `{{` → `{`
                out += "{"
                rest = after.dropFirst()
                continue
            }
            guard let close = after.firstIndex(of: "}") else {
                throw e.error("'{' in '\(Element.shortened(text))' is not closed", expected: "an address name such as \(Self.addressNameForms), or {{ for a literal {")
            }
            let inner = String(after[..<close])
            let node = String(inner.prefix { $0 != "." })
            // `%{http_code}` (curl), `${HOME}` (shells) and braces holding something else than a
            // name — `{1..3}`, `{"a": 1}`, a word unlike any node — belong to the program. A word
            // close to a node's name is taken for a misspelt one: that is an error, not a pass-through.
            let prefixed = out.last == "%" || out.last == "$"
            let aName = Self.looksLikeAddressName(inner)
                && (topology.node(named: node) != nil || Suggestion.closest(to: node, in: nodeNames) != nil)
            guard !prefixed, aName else {
                // Not a name's shape (`{1..3}`, `{"a": 1}`): the program's own braces.
                out += "{" + inner + "}"
                rest = after[after.index(after: close)...]
                continue
            }
            out += try address(named: inner, in: e, text: text)
            rest = after[after.index(after: close)...]
        }
        out += rest
        return try resolvingBracketedNodes(out, in: e)
    }

    /// `node`, `node.word`, `node.word.word`: lowercase letters, digits, '_' and '-', starting
    /// with a letter. Anything else in braces belongs to the program.
    static func looksLikeAddressName(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { return false }
        return parts.allSatisfy { part in
            guard let first = part.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
            return part.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
        }
    }

    /// The address a name stands for.
    func address(named name: String, in e: Element, text: String) throws(ScenarioError) -> String {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let node = parts[0]
        guard topology.node(named: node) != nil else {
            throw e.error("no node '\(node)' for the address name {\(name)} in '\(Element.shortened(text))'\(Suggestion.didYouMean(node, in: nodeNames))",
                          expected: "a node of the topology (\(nodeNames.commaList)) in \(Self.addressNameForms)")
        }
        var candidates = topology.addresses(of: node)
        var family: IPAddress.Family?
        var rest = Array(parts.dropFirst())
        if let last = rest.last, last == "ipv4" || last == "ipv6" {
            family = last == "ipv4" ? .ipv4 : .ipv6
            rest.removeLast()
        }
        if let interface = rest.first, rest.count == 1 {
            let names = topology.interfaces(of: node).map(\.interface)
            guard let end = topology.interfaces(of: node).first(where: { $0.interface == interface }) else {
                throw e.error("\(node) has no interface '\(interface)' (in {\(name)})\(Suggestion.didYouMean(interface, in: names + ["ipv4", "ipv6"]))",
                              expected: "one of \(node)'s interfaces (\(names.commaList)), or ipv4 / ipv6")
            }
            candidates = end.addresses
        } else if !rest.isEmpty {
            throw e.error("'{\(name)}' is not an address name", expected: Self.addressNameForms)
        }
        let chosen: IPPrefix?
        if let family {
            chosen = candidates.first { $0.address.family == family }
        } else {
            chosen = candidates.first { $0.address.family == .ipv4 } ?? candidates.first
        }
        guard let chosen else {
            throw e.error("\(node) has no \(family.map { $0 == .ipv4 ? "IPv4" : "IPv6" } ?? "") address for {\(name)}",
                          expected: "an address the topology gives \(node)")
        }
        return chosen.address.description
    }

    /// `[server]:9000` → `[fd00:fa17:2::2]:9000`: brackets hold an IPv6 address, so a node name
    /// in them means the node's IPv6 address. Brackets holding anything else are left alone.
    func resolvingBracketedNodes(_ text: String, in e: Element) throws(ScenarioError) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "[") {
            out += rest[...open]
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "]") else { rest = after; continue }
            let inside = String(after[..<close])
            if topology.node(named: inside) != nil {
                out += try address(named: inside + ".ipv6", in: e, text: text)
            } else {
                out += inside
            }
            out += "]"
            rest = after[after.index(after: close)...]
        }
        out += rest
        return out
    }
}
