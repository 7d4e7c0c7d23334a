extension Scenario {
    /// A scenario's `lab:` notes: what to try while `faultline lab` holds the network, questions
    /// to answer, and hints. `faultline lab` prints them; report.html shows them.
    public struct LabGuide: Sendable, Hashable {
        public var tryThis: [String]
        public var questions: [String]
        public var hints: [String]

        public init(tryThis: [String] = [], questions: [String] = [], hints: [String] = []) {
            self.tryThis = tryThis
            self.questions = questions
            self.hints = hints
        }

        /// The notes as `faultline lab` prints them.
        public var text: String {
            var out = ""
            for (title, items) in [("Try this", tryThis), ("Questions", questions), ("Hints", hints)] where !items.isEmpty {
                out += "\(title):\n"
                for (index, item) in items.enumerated() { out += "  \(index + 1). \(item)\n" }
            }
            return out
        }
    }
}

extension ScenarioDecoder {
    static let labKeys = ["try", "questions", "hints"]

    /// `lab:` — a mapping of `try`, `questions` and `hints`, each a list of non-empty texts.
    func decodeLab(_ element: Element?) throws(ScenarioError) -> Scenario.LabGuide? {
        guard let element else { return nil }
        let fields = try element.mapping("a mapping of lab notes: try, questions, hints (each a list of texts)",
                                         allowed: Self.labKeys)
        var guide = Scenario.LabGuide()
        for key in Self.labKeys {
            guard let list = fields[key] else { continue }
            var texts: [String] = []
            for item in try list.sequence("a list of texts, one per line starting with '- '") {
                let text = try item.text("a text (what to try, a question or a hint)").trimmingCharacters(in: .whitespacesAndNewlines)
                if text.isEmpty { throw item.error("an empty \(key) item", expected: "a text (what to try, a question or a hint)") }
                texts.append(text)
            }
            switch key {
            case "try": guide.tryThis = texts
            case "questions": guide.questions = texts
            default: guide.hints = texts
            }
        }
        if guide.tryThis.isEmpty && guide.questions.isEmpty && guide.hints.isEmpty {
            throw element.error("lab notes without any note", expected: "at least one of try, questions, hints with an item")
        }
        return guide
    }
}
