// Short names for use inside this module. The public types are nested in `Scenario`
// (`Scenario.Topology`, `Scenario.Step`, …) because other modules a runner imports next to this
// one have types of the same names (Netlink's Topology, IPAddress, Offloads, RouteMetrics;
// Foundation's Process), and a module named like its main type cannot be used to qualify them.
typealias Topology = Scenario.Topology
typealias TopologyNode = Scenario.Topology.Node
typealias TopologyLink = Scenario.Topology.Link
typealias LinkEnd = Scenario.Topology.LinkEnd
typealias Offloads = Scenario.Topology.Offloads
typealias RouteMetrics = Scenario.Topology.RouteMetrics
typealias Sysctl = Scenario.Topology.Sysctl
typealias DefaultAddressing = Scenario.Topology.DefaultAddressing
typealias Step = Scenario.Step
typealias Process = Scenario.Process
typealias Signal = Scenario.Signal
typealias FirewallRule = Scenario.FirewallRule
typealias CapturePoint = Scenario.CapturePoint
typealias Expectation = Scenario.Expectation
typealias DiagnosisPattern = Scenario.DiagnosisPattern
typealias PeerField = Scenario.PeerField
typealias Comparison = Scenario.Comparison
typealias PeerValue = Scenario.PeerValue
typealias Flow = Scenario.Flow
typealias Endpoint = Scenario.Endpoint
typealias ImpairmentPlacement = Scenario.ImpairmentPlacement
typealias ScenarioWarning = Scenario.Warning
typealias SourceLocation = Scenario.SourceLocation
typealias DiagnosisVocabulary = Scenario.DiagnosisVocabulary
typealias CountBound = Scenario.CountBound
typealias EvidenceCondition = Scenario.EvidenceCondition
typealias TextMatch = Scenario.TextMatch
typealias OutputStream = Scenario.OutputStream
typealias EventTrigger = Scenario.EventTrigger
