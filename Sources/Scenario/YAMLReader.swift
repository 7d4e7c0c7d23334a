import Values
import Foundation
import Impairment
import Yams

/// One node of the composed YAML document, with the key path that led to it and its place in the
/// file. Every check that reads a value goes through an `Element`, so every error knows its line,
/// column and key path.
struct Element {
    let node: Node
    /// Key path from the document root, e.g. `steps[1].on`; empty for the root.
    let path: String
    let location: SourceLocation

    init(node: Node, path: String, fallback: SourceLocation) {
        self.node = node
        self.path = path
        if let mark = node.mark {
            self.location = SourceLocation(file: fallback.file, line: mark.line, column: mark.column)
        } else {
            self.location = fallback
        }
    }

    // MARK: errors

    /// `path: problem; expected expectation` at this element.
    func error(_ problem: String, expected: String? = nil) -> ScenarioError {
        ScenarioError(location, Element.message(path: path, problem, expected: expected))
    }

    static func message(path: String, _ problem: String, expected: String?) -> String {
        var text = path.isEmpty ? problem : "\(path): \(problem)"
        if let expected { text += "; expected \(expected)" }
        return text
    }

    /// "a mapping", "a list", "the number 5", "the text 'x'", "nothing": what a wrong value is.
    var found: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s):
            if isNull { return s.string.isEmpty ? "nothing" : "YAML's null ('\(s.string)'; quote it to mean the text)" }
            if s.style == .plain {
                switch s.tag.rawValue {
                case Tag.Name.int.rawValue, Tag.Name.float.rawValue: return "the number \(s.string)"
                case Tag.Name.bool.rawValue: return "the boolean \(s.string)"
                default: break
                }
            }
            return "the text '\(Self.shortened(s.string))'"
        }
    }

    static func shortened(_ text: String) -> String {
        let oneLine = text.replacingOccurrences(of: "\n", with: "\\n")
        return oneLine.count > 40 ? String(oneLine.prefix(37)) + "..." : oneLine
    }

    /// An empty plain scalar or `~`/`null`: a key written with no value.
    var isNull: Bool {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any else { return false }
        return s.tag.rawValue == Tag.Name.null.rawValue || s.string.isEmpty
    }

    func wrongType(expected: String) -> ScenarioError {
        error("found \(found)", expected: expected)
    }

    // MARK: children

    func child(_ node: Node, key: String) -> Element {
        Element(node: node, path: path.isEmpty ? key : "\(path).\(key)", fallback: location)
    }

    func item(_ node: Node, index: Int) -> Element {
        Element(node: node, path: "\(path)[\(index)]", fallback: location)
    }

    // MARK: shapes

    /// The elements of a list. `expected` describes the list, e.g. "a list of steps".
    func sequence(_ expected: String) throws(ScenarioError) -> [Element] {
        guard case .sequence(let seq) = node else { throw wrongType(expected: expected) }
        return seq.enumerated().map { item($0.element, index: $0.offset) }
    }

    /// The keys of a mapping, checked against `allowed` (in the order to list them in errors).
    /// `hints` explain keys people are likely to write that this mapping does not take.
    func mapping(_ expected: String, allowed: [String], hints: [String: String] = [:]) throws(ScenarioError) -> Fields {
        guard case .mapping(let map) = node else { throw wrongType(expected: expected) }
        var entries: [Fields.Entry] = []
        for (keyNode, valueNode) in map {
            let keyElement = Element(node: keyNode, path: path, fallback: location)
            guard case .scalar(let keyScalar) = keyNode, !keyElement.isNull else {
                throw keyElement.error("a key must be a plain word, found \(keyElement.found)",
                                       expected: "one of: \(allowed.commaList)")
            }
            let key = keyScalar.string
            guard allowed.contains(key) else {
                if key == "<<" {
                    throw keyElement.error("a YAML merge key ('<<') is not supported in scenario files",
                                           expected: "the keys written out, or an alias (*name) for a whole value")
                }
                if let hint = hints[key] {
                    throw keyElement.error("unknown key '\(key)': \(hint)", expected: "one of: \(allowed.commaList)")
                }
                throw keyElement.error("unknown key '\(key)'\(Suggestion.didYouMean(key, in: allowed))",
                                       expected: "one of: \(allowed.commaList)")
            }
            entries.append(Fields.Entry(key: key, keyElement: keyElement,
                                        value: child(valueNode, key: key)))
        }
        return Fields(element: self, entries: entries)
    }

    /// Pairs of a mapping whose keys are names chosen by the author (nodes, sysctls, links).
    func namedMapping(_ expected: String) throws(ScenarioError) -> [(name: String, key: Element, value: Element)] {
        guard case .mapping(let map) = node else { throw wrongType(expected: expected) }
        var out: [(name: String, key: Element, value: Element)] = []
        for (keyNode, valueNode) in map {
            let keyElement = Element(node: keyNode, path: path, fallback: location)
            guard case .scalar(let keyScalar) = keyNode, !keyElement.isNull else {
                throw keyElement.error("a key must be a name, found \(keyElement.found)", expected: expected)
            }
            out.append((keyScalar.string, keyElement, child(valueNode, key: keyScalar.string)))
        }
        return out
    }

    // MARK: scalars

    /// Any non-empty scalar's text (plain or quoted; numbers are taken as written).
    func text(_ expected: String) throws(ScenarioError) -> String {
        guard case .scalar(let s) = node, !isNull else { throw wrongType(expected: expected) }
        return s.string
    }

    /// A scalar that must not be quoted as a string: a plain number or word as written.
    private func plainScalar(_ expected: String) throws(ScenarioError) -> String {
        guard case .scalar(let s) = node, !isNull else { throw wrongType(expected: expected) }
        guard s.style == .plain || s.style == .any else {
            throw error("found the quoted text '\(Self.shortened(s.string))'", expected: "\(expected) (unquoted)")
        }
        return s.string
    }

    func bool(_ expected: String = "true or false") throws(ScenarioError) -> Bool {
        let text = try plainScalar(expected)
        switch text {
        case "true": return true
        case "false": return false
        default: throw wrongType(expected: expected)
        }
    }

    /// A whole number written in decimal, within `range`.
    func integer<T: FixedWidthInteger>(_ type: T.Type, _ expected: String, in range: ClosedRange<T>) throws(ScenarioError) -> T {
        let text = try plainScalar(expected)
        let digits = text.hasPrefix("+") ? String(text.dropFirst()) : text
        guard let value = T(digits, radix: 10) else {
            let magnitude = digits.hasPrefix("-") ? digits.dropFirst() : Substring(digits)
            if !magnitude.isEmpty, magnitude.allSatisfy({ $0.isASCII && $0.isNumber }) {
                throw error("\(text) is out of range", expected: expected)
            }
            throw wrongType(expected: expected)
        }
        guard range.contains(value) else { throw error("\(text) is out of range", expected: expected) }
        return value
    }

    /// A value read by one of the impairment model's parsers (durations, sizes, rates,
    /// percentages), with its error (already "what is wrong; expected what") located here.
    func parsed<T>(_ expected: String, _ parse: (String) throws(ValueParseError) -> T) throws(ScenarioError) -> T {
        let text = try self.text(expected)
        do {
            return try parse(text)
        } catch {
            throw self.error(error.description)
        }
    }
}

/// The checked keys of one mapping, in file order.
struct Fields {
    struct Entry {
        let key: String
        let keyElement: Element
        let value: Element
    }

    let element: Element
    let entries: [Entry]

    subscript(_ key: String) -> Element? { entries.first { $0.key == key }?.value }

    func has(_ key: String) -> Bool { entries.contains { $0.key == key } }

    func keyElement(_ key: String) -> Element? { entries.first { $0.key == key }?.keyElement }

    /// The value of a key that must be present; missing → error at the mapping itself.
    func required(_ key: String, _ expected: String) throws(ScenarioError) -> Element {
        guard let value = self[key] else {
            throw element.error("missing key '\(key)'", expected: expected)
        }
        return value
    }

    /// Exactly one of `keys` must be present; returns it.
    func exactlyOne(of keys: [String], what: String) throws(ScenarioError) -> Entry {
        let present = entries.filter { keys.contains($0.key) }
        if present.isEmpty {
            throw element.error("missing \(what)", expected: "one of: \(keys.commaList)")
        }
        if present.count > 1 {
            throw present[1].keyElement.error(
                "'\(present[1].key)' and '\(present[0].key)' in the same mapping",
                expected: "only one \(what)")
        }
        return present[0]
    }

    /// `key` may only appear when `condition` holds; `reason` explains when it is allowed.
    func forbid(_ key: String, unless condition: Bool, _ reason: String) throws(ScenarioError) {
        if !condition, let k = keyElement(key) {
            throw k.error("'\(key)' is not allowed here", expected: reason)
        }
    }
}

// MARK: - Composing the document

/// A 1-based line and column (Yams' `Mark` cannot be made outside Yams).
struct Pos: Hashable {
    var line: Int
    var column: Int
    init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
    init(_ mark: Mark) {
        self.init(line: mark.line, column: mark.column)
    }
}

enum Document {
    /// Composes `text` into a single YAML node, turning every YAML-level problem (syntax, tabs,
    /// duplicate keys, several documents, an empty file) into a located `ScenarioError`.
    static func compose(text: String, file: String) throws(ScenarioError) -> Element {
        let start = SourceLocation(file: file, line: 1, column: 1)
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw mapYamlError(error, text: text, file: file)
        } catch {
            throw ScenarioError(start, "cannot read the file as YAML: \(error); expected a YAML mapping")
        }
        guard let node else {
            throw ScenarioError(start, "the file holds no YAML document (it is empty or only comments); "
                + "expected a mapping of scenario keys starting with 'name:'")
        }
        try checkExpandedSize(node, file: file)
        try rejectCustomTags(node, file: file)
        return Element(node: node, path: "", fallback: start)
    }

    /// The most values a scenario may hold once its aliases are expanded (the whole catalog's
    /// largest file holds a few hundred), and the deepest nesting.
    static let maxExpandedNodes = 20_000
    static let maxDepth = 64

    /// Aliases are expanded by sharing, so composing `a: &a [x,x,...]`, `b: &b [*a,*a,...]`, ...
    /// is cheap, but anything that walks the result walks every copy: ten levels of nine is
    /// 9^10 values (a "billion laughs" file of under 500 bytes). This counts the expanded
    /// values in linear time — each written node is measured once, by its position in the file —
    /// and refuses the file at the first value that expands past the bound.
    static func checkExpandedSize(_ root: Node, file: String) throws(ScenarioError) {
        var memo: [Pos: (count: Int, depth: Int)] = [:]
        func fail(_ node: Node, _ problem: String) -> ScenarioError {
            let mark = node.mark.map(Pos.init) ?? Pos(line: 1, column: 1)
            return ScenarioError(file: file, line: mark.line, column: mark.column, message: problem)
        }
        func measure(_ node: Node, level: Int) throws(ScenarioError) -> (count: Int, depth: Int) {
            let key = node.mark.map(Pos.init)
            if let key, let known = memo[key] {
                if level + known.depth > maxDepth {
                    throw fail(node, "values nested more than \(maxDepth) levels deep (through aliases); expected a scenario's few levels")
                }
                return known
            }
            if level > maxDepth {
                throw fail(node, "values nested more than \(maxDepth) levels deep; expected a scenario's few levels")
            }
            var children: [Node] = []
            switch node {
            case .mapping(let map): for (k, v) in map { children.append(k); children.append(v) }
            case .sequence(let seq): children = Array(seq)
            default: break
            }
            var count = 1
            var depth = 0
            for child in children {
                let sub = try measure(child, level: level + 1)
                count += sub.count
                depth = max(depth, sub.depth + 1)
                if count > maxExpandedNodes {
                    throw fail(node, "aliases expand this value to more than \(maxExpandedNodes) values (an alias bomb?); "
                        + "expected aliases that repeat a value a few times")
                }
            }
            if let key { memo[key] = (count, depth) }
            return (count, depth)
        }
        _ = try measure(root, level: 0)
    }

    /// The standard tags a scenario value may carry (`!!str 5`, `!!int "5"`); `!!python/object`,
    /// `!!binary`, `!!timestamp` and the like are not scenario values.
    static let standardTags: Set<String> = ["str", "int", "float", "bool", "null", "map", "seq", "merge"].reduce(into: []) {
        $0.insert("tag:yaml.org,2002:" + $1)
    }

    /// YAML reads `!word` as a tag, so `write-errno: != ECONNRESET` silently becomes the text
    /// `ECONNRESET` tagged `!=`. Scenario files use no tags of their own: any tag outside YAML's
    /// standard ones (`!!str`, …) is an error.
    static func rejectCustomTags(_ node: Node, file: String) throws(ScenarioError) {
        let tag = node.tag.rawValue
        if !tag.isEmpty, tag != "!", !standardTags.contains(tag) {
            let mark = node.mark.map(Pos.init) ?? Pos(line: 1, column: 1)
            var text = ""
            if case .scalar(let s) = node { text = s.string }
            let shown = tag.hasPrefix("tag:yaml.org,2002:") ? "!!" + tag.dropFirst("tag:yaml.org,2002:".count)
                : tag.hasPrefix("!") ? tag : "!<\(tag)>"
            throw ScenarioError(file: file, line: mark.line, column: mark.column,
                message: "'\(shown)\(text.isEmpty ? "" : " " + Element.shortened(text))' is read by YAML as the tag '\(shown)'; "
                    + "expected plain text: quote a value that starts with '!', such as \"\(shown) \(text)\"")
        }
        switch node {
        case .mapping(let map):
            for (k, v) in map {
                try rejectCustomTags(k, file: file)
                try rejectCustomTags(v, file: file)
            }
        case .sequence(let seq):
            for item in seq { try rejectCustomTags(item, file: file) }
        default:
            break
        }
    }

    static func mapYamlError(_ error: YamlError, text: String, file: String) -> ScenarioError {
        func at(_ mark: Pos, _ message: String) -> ScenarioError {
            ScenarioError(file: file, line: mark.line, column: mark.column, message: message)
        }
        switch error {
        case let .scanner(context, problem, yamsMark, _),
             let .parser(context, problem, yamsMark, _),
             let .composer(context, problem, yamsMark, _):
            let mark = Pos(yamsMark)
            if let tab = tabInIndentation(text: text, near: mark) {
                return at(tab, "a tab character in the indentation; expected spaces (YAML indents with spaces only)")
            }
            if problem == "but found another document" {
                return at(mark, "a second YAML document ('---'); expected one scenario per file")
            }
            if problem == "found undefined alias" {
                let name = aliasName(text: text, at: mark)
                return at(mark, "YAML syntax error: the alias '*\(name)' names no anchor defined before it; "
                    + "expected an anchor '&\(name)' earlier in the file")
            }
            if let context, context.text == "while scanning a block scalar",
               let indicator = blockIndicatorValue(text: text, at: Pos(context.mark)) {
                return at(Pos(context.mark), "'\(indicator)' starts with '\(indicator.prefix(1))', which YAML reads as the start of a block of text; "
                    + "expected the value in quotes, such as \"\(indicator)\"")
            }
            var message = "YAML syntax error: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return at(mark, message + "; expected well-formed YAML")
        case let .reader(problem, offset, _, _):
            let mark = offset.map { markOf(characterOffset: $0, in: text) } ?? Pos(line: 1, column: 1)
            return at(mark, "cannot read the file: \(problem); expected UTF-8 text")
        case let .duplicatedKeysInMapping(duplicates, context):
            let key = duplicates.first ?? "?"
            let (second, first) = duplicateLocation(key: key, firstMark: Pos(context.mark), text: text)
            return at(second, "duplicate key '\(key)' (first given at line \(first.line), column \(first.column)); "
                + "expected each key once in a mapping")
        case .dataCouldNotBeDecoded:
            return at(Pos(line: 1, column: 1), "cannot read the file: it is not valid UTF-8; expected UTF-8 text")
        default:
            return at(Pos(line: 1, column: 1), "cannot read the file as YAML: \(error); expected a YAML mapping")
        }
    }

    /// A tab in the leading whitespace of the line at `mark` or of the line before it (libyaml
    /// reports a misplaced tab at the start of the token that follows it, or on the line of the
    /// scalar it was scanning).
    static func tabInIndentation(text: String, near mark: Pos) -> Pos? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for lineNumber in [mark.line, mark.line - 1, mark.line + 1] where lineNumber >= 1 && lineNumber <= lines.count {
            var column = 1
            for ch in lines[lineNumber - 1].unicodeScalars {
                if ch == "\t" { return Pos(line: lineNumber, column: column) }
                if ch != " " { break }
                column += 1
            }
        }
        return nil
    }

    /// The rest of the line from a `>` or `|` that YAML took for a block scalar indicator but
    /// that has more on its line than indicators allow (`>= 1s`), or nil.
    static func blockIndicatorValue(text: String, at mark: Pos) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line >= 1, mark.line <= lines.count else { return nil }
        let scalars = Array(lines[mark.line - 1].unicodeScalars)
        let i = mark.column - 1
        guard i < scalars.count, scalars[i] == ">" || scalars[i] == "|" else { return nil }
        var rest = ""
        rest.unicodeScalars.append(contentsOf: scalars[i...])
        if let hash = rest.range(of: " #") { rest = String(rest[..<hash.lowerBound]) }
        rest = rest.trimmedSpaces()
        return rest.count > 1 ? rest : nil
    }

    static func aliasName(text: String, at mark: Pos) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line >= 1, mark.line <= lines.count else { return "?" }
        let scalars = Array(lines[mark.line - 1].unicodeScalars)
        var i = mark.column - 1
        if i < scalars.count, scalars[i] == "*" { i += 1 }
        var name = ""
        while i < scalars.count, !" ,]}\t\r".unicodeScalars.contains(scalars[i]) {
            name.unicodeScalars.append(scalars[i])
            i += 1
        }
        return name.isEmpty ? "?" : name
    }

    static func markOf(characterOffset: Int, in text: String) -> Pos {
        var line = 1, column = 1, count = 0
        for ch in text {
            if count == characterOffset { break }
            if ch == "\n" { line += 1; column = 1 } else { column += ch.unicodeScalars.count }
            count += 1
        }
        return Pos(line: line, column: column)
    }

    /// Yams reports a duplicate key at its first occurrence; the error belongs at the second.
    /// Looks for the same key, written the same way, after the first: further along the same line
    /// (flow style `{a: 1, a: 2}`) or at the same column on a later line (block style).
    /// Returns (second, first); if no second is found, both are the first.
    static func duplicateLocation(key: String, firstMark: Pos, text: String) -> (Pos, Pos) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        let keyScalars = Array(key.unicodeScalars)
        func keyAt(_ line: [Unicode.Scalar], _ index: Int) -> Bool {
            guard index >= 0, index + keyScalars.count <= line.count,
                  Array(line[index..<(index + keyScalars.count)]) == keyScalars else { return false }
            var j = index + keyScalars.count
            while j < line.count, line[j] == " " { j += 1 }
            guard j < line.count, line[j] == ":" else { return false }
            if index > 0, !" {,-\t".unicodeScalars.contains(line[index - 1]) { return false }
            return true
        }
        guard firstMark.line >= 1, firstMark.line <= lines.count else { return (firstMark, firstMark) }
        let firstLine = lines[firstMark.line - 1]
        var i = firstMark.column - 1 + keyScalars.count
        while i < firstLine.count {
            if keyAt(firstLine, i) { return (Pos(line: firstMark.line, column: i + 1), firstMark) }
            i += 1
        }
        let column = firstMark.column - 1
        for lineIndex in firstMark.line..<lines.count {
            let line = lines[lineIndex]
            // Stop at a line that is less indented than the key: the mapping has ended.
            if let firstNonSpace = line.firstIndex(where: { $0 != " " }), firstNonSpace < column,
               line[firstNonSpace] != "#" {
                break
            }
            if keyAt(line, column) { return (Pos(line: lineIndex + 1, column: column + 1), firstMark) }
        }
        return (firstMark, firstMark)
    }
}
