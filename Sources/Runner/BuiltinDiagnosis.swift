import Analysis

/// The built-in detector: Faultline's Diagnosis layer (Sources/Analysis/Diagnosis) over every
/// capture of a run at once (so it can compare vantage points), its findings converted to the
/// runner's `Finding`.
enum BuiltinDiagnosis {
    static func findings(captures: [CaptureFile], roles: [String: VantageRole]) throws(RunnerError) -> [Finding] {
        guard !captures.isEmpty else { return [] }
        let inputs = CaptureVantages.vantages(captures, roles: roles)
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

    static func convert(_ f: Analysis.Finding, nodes: [String: String]) -> Finding {
        var vantage: [String] = []
        for name in f.vantage {
            let node = nodes[name] ?? name
            if !vantage.contains(node) { vantage.append(node) }
        }
        var evidence: [String: FindingValue] = [:]
        for (key, value) in f.evidence { evidence[key] = convert(value) }
        evidence["severity"] = .string(f.severityName)
        return Finding(kind: f.kind, cause: f.cause, flow: FindingFlow(client: f.flow.client, server: f.flow.server), vantage: vantage,
                       frames: FindingFrames(first: f.firstFrame, decisive: f.decisiveFrame), evidence: evidence,
                       confidence: f.confidence, sentence: f.sentence)
    }

    static func convert(_ value: EvidenceValue) -> FindingValue {
        switch value {
        case .int(let v): return .int(v)
        case .double(let v): return .double(v)
        case .string(let v): return .string(v)
        case .bool(let v): return .bool(v)
        case .list(let values): return .array(values.map(convert))
        }
    }
}
