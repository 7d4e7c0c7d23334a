import Analysis

/// The built-in detector: Faultline's Diagnosis layer (Sources/Analysis/Diagnosis) over every
/// capture of a run at once (so it can compare vantage points), its findings placed at the run's
/// nodes.
enum BuiltinDiagnosis {
    static func findings(captures: [CaptureFile]) throws(RunnerError) -> [Finding] {
        guard !captures.isEmpty else { return [] }
        let inputs = CaptureVantages.vantages(captures)
        // Vantage name → its node.
        let names = Dictionary(zip(inputs.map(\.name), captures.map(\.node)), uniquingKeysWith: { first, _ in first })
        let result: DiagnosisResult
        do {
            result = try Diagnoser.diagnose(inputs)
        } catch {
            throw .analysis("diagnosis: \(error)")
        }
        return result.findings.map { convert($0, nodes: names) }
    }

    /// The finding as the runner reports it: seen at nodes (a vantage `router-eth1` is the node
    /// `router`), the first vantage's frames kept for each node.
    static func convert(_ f: Finding, nodes: [String: String]) -> Finding {
        var finding = f
        finding.vantage = []
        finding.frames = [:]
        for name in f.vantage {
            let node = nodes[name] ?? name
            if finding.vantage.contains(node) { continue }
            finding.vantage.append(node)
            finding.frames[node] = f.frames[name]
        }
        return finding
    }
}
