import Impairment
import Netlink
import Scenario

/// The Runner's name for a scenario's impairments in place (Impairment's `ImpairmentEngines`).
typealias ImpairmentSet = ImpairmentEngines

extension ImpairmentEngines {
    /// A scenario's impairment placements, each named by its place in the file.
    convenience init(scenario placements: [Scenario.ImpairmentPlacement], network: Network, seed: UInt64,
                     preference: EnginePreference, decisionLogDirectory: String?, tuning: EngineTuning,
                     say: @escaping @Sendable (String) -> Void) {
        self.init(placements: placements.map { Placement(spec: $0.spec, node: $0.node, interface: $0.interface, source: "\($0.source)") },
                  network: network, seed: seed, preference: preference, decisionLogDirectory: decisionLogDirectory,
                  tuning: tuning, say: say)
    }
}

extension RunnerError {
    init(_ failure: ImpairmentEngines.Failure) {
        switch failure {
        case .badInput(let text): self = .badInput(text)
        case .environment(let text): self = .environment(text)
        case .execution(let text): self = .execution(text)
        }
    }
}
