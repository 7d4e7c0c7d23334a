import Analysis

extension Scenario {
    /// The words scenario expectations use: diagnosis kinds and causes (the analyzer's findings are
    /// matched by the exact strings `kind/cause`) and tshark's TCP analysis flags. Errno names are
    /// Values' `Errno.names`.
    ///
    /// The diagnoses are the analyzer's own (`DiagnosisName.all`), so a scenario can name every
    /// cause the analyzer can emit — `undetermined` included — and no list is kept in step by hand.
    public enum DiagnosisVocabulary {
        /// Kind → its causes, in the analyzer's order.
        public static let causesByKind: [(kind: String, causes: [String])] = {
            var out: [(kind: String, causes: [String])] = []
            for diagnosis in DiagnosisName.all {
                let parts = diagnosis.split(separator: "/", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                if let i = out.firstIndex(where: { $0.kind == parts[0] }) { out[i].causes.append(parts[1]) } else { out.append((parts[0], [parts[1]])) }
            }
            return out
        }()

        /// `cause: any` in an expectation: a finding of the kind, whatever its cause.
        public static let anyCause = "any"

        public static var kinds: [String] { causesByKind.map(\.kind) }

        public static func causes(of kind: String) -> [String]? {
            causesByKind.first { $0.kind == kind }?.causes
        }

        /// Every diagnosis as `kind/cause`.
        public static var all: [String] {
            causesByKind.flatMap { kind, causes in causes.map { "\(kind)/\($0)" } }
        }

        /// tshark's `tcp.analysis.*` flags (Wireshark 4.0), without the prefix: the analyzer's own table.
        public static let tsharkFlags: [String] = AnalysisFlags.all.map(\.name)

        public static let tsharkFlagPrefix = "tcp.analysis."
    }
}
