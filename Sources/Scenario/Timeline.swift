import Impairment

extension Scenario {
    /// One step of the timeline: at `at` after the start — or `after` an event — do `action`.
    public struct Step: Sendable, Hashable {
        /// Time after the timeline starts (≥ 0, at most the scenario's time limit); zero for a
        /// step that waits for an event.
        public var at: Duration
        /// The event the step waits for (`after: client connected`), or nil: at `at`.
        public var after: EventTrigger?
        public var action: Action
        /// Where the step is written, for reports ("the step at zw.yaml:12:5").
        public var source: SourceLocation

        public init(at: Duration, after: EventTrigger? = nil, action: Action, source: SourceLocation) {
            self.at = at
            self.after = after
            self.action = action
            self.source = source
        }

        public enum Action: Sendable, Hashable {
            /// Start a process in a node: any argv, resolved through PATH inside the node.
            case run(Process)
            /// An `impair:` step that waits for an event: the change of the entries for `link`
            /// and `match`. (A timed `impair:` step becomes a `ScheduledChange` in the entry's
            /// schedule instead; this one is there too, marked `trigger`, so that the engine is
            /// chosen for every state the entry passes through.)
            case impair(link: LinkDirection, match: PacketMatch?, change: ScheduledChange)
            /// Install a firewall rule defined in the scenario's `firewall` list.
            case addRule(name: String)
            /// Remove an installed firewall rule.
            case removeRule(name: String)
            /// Send a signal to a process started by an earlier step.
            case signal(process: String, signal: Signal)
            /// Stop: every process and the run itself (`all`), or one process (SIGTERM, then
            /// SIGKILL after a grace period — the runner's choice).
            case stop(StopTarget)
        }

        public enum StopTarget: Sendable, Hashable {
            case all
            case process(String)
        }
    }

    /// What an `after:` step waits for, then how long after it the step acts (`delay`), and how
    /// long the event may take before the run fails (`timeout`; nil: the time limit).
    public struct EventTrigger: Sendable, Hashable, CustomStringConvertible {
        public enum Condition: Sendable, Hashable, CustomStringConvertible {
            /// A peer reported `start` (or `listening`, for `listen`); a program is running.
            case ready(String)
            /// A peer connected (`connected`) or accepted (`accepted`) a connection.
            case connected(String)
            /// The process exited.
            case exited(String)
            /// A peer's bytes written / read reached a size.
            case sent(String, ByteCount)
            case received(String, ByteCount)
            /// A peer's send() found the send buffer full (`write_blocked`).
            case writeBlocked(String)
            /// A capture saw a TCP segment advertising a zero window (at one node, or any).
            case zeroWindow(at: String?)

            public var description: String {
                switch self {
                case .ready(let p): return "\(p) ready"
                case .connected(let p): return "\(p) connected"
                case .exited(let p): return "\(p) exited"
                case .sent(let p, let n): return "\(p) sent \(n)"
                case .received(let p, let n): return "\(p) received \(n)"
                case .writeBlocked(let p): return "\(p) write-blocked"
                case .zeroWindow(let node): return "zero-window" + (node.map { " at \($0)" } ?? "")
                }
            }

            /// The process the condition watches, if any.
            public var process: String? {
                switch self {
                case .ready(let p), .connected(let p), .exited(let p), .sent(let p, _), .received(let p, _), .writeBlocked(let p): return p
                case .zeroWindow: return nil
                }
            }
        }

        public var condition: Condition
        public var delay: Duration
        public var timeout: Duration?

        public init(condition: Condition, delay: Duration = .zero, timeout: Duration? = nil) {
            self.condition = condition
            self.delay = delay
            self.timeout = timeout
        }

        public var description: String {
            var s = "after \(condition)"
            if delay != .zero { s += " + \(Interval(delay))" }
            return s
        }
    }

    /// A process a step starts.
    public struct Process: Sendable, Hashable {
        /// Unique among the scenario's processes; expectations and later steps refer to it.
        public var name: String
        public var node: String
        public var command: Command

        public init(name: String, node: String, command: Command) {
            self.name = name
            self.node = node
            self.command = command
        }

        public enum Command: Sendable, Hashable {
            /// One of Faultline's peer roles: the arguments after `faultline peer`, e.g.
            /// `["listen", "--port", "9000", "--never-read"]`. The runner runs its own peer program.
            case peer([String])
            /// Any program: argv[0] is looked up in PATH inside the node.
            case argv([String])
        }
    }

    /// Signals a step may send, by their Linux numbers.
    public enum Signal: Int32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case hup = 1, int = 2, quit = 3, kill = 9, usr1 = 10, usr2 = 12, pipe = 13, alrm = 14, term = 15,
             cont = 18, stop = 19, tstp = 20

        /// `SIGKILL`
        public var description: String { "SIG" + Self.names[self, default: "?"] }

        static let names: [Signal: String] = [
            .hup: "HUP", .int: "INT", .quit: "QUIT", .kill: "KILL", .usr1: "USR1", .usr2: "USR2",
            .pipe: "PIPE", .alrm: "ALRM", .term: "TERM", .cont: "CONT", .stop: "STOP", .tstp: "TSTP",
        ]

        /// Reads `SIGKILL`, `KILL` or `kill`.
        init?(name: String) {
            var upper = name.uppercased()
            if upper.hasPrefix("SIG") { upper.removeFirst(3) }
            guard let match = Self.names.first(where: { $0.value == upper }) else { return nil }
            self = match.key
        }

        static var allNames: [String] { allCases.map(\.description) }
    }

    /// A firewall rule or ruleset, installed in one node's namespace through libnftables.
    ///
    /// A `rule` is one nft rule statement placed in `family`/`table`/`chain` (the runner creates the
    /// table and a base chain for the hook, priority 0, policy accept). A `ruleset` is nft script text
    /// passed to libnftables as written (it creates its own tables and chains).
    public struct FirewallRule: Sendable, Hashable {
        /// Referred to by `add-rule:` / `remove-rule:` steps.
        public var name: String
        public var node: String
        public var body: Body
        /// In place when the timeline starts (true), or only once an `add-rule` step installs it.
        public var installed: Bool
        public var source: SourceLocation

        public init(name: String, node: String, body: Body, installed: Bool, source: SourceLocation) {
            self.name = name
            self.node = node
            self.body = body
            self.installed = installed
            self.source = source
        }

        public enum Body: Sendable, Hashable {
            case rule(family: Family, table: String, chain: Chain, statement: String)
            case ruleset(String)
        }

        public enum Family: String, Sendable, Hashable, CaseIterable {
            case inet, ip, ip6
        }

        /// Base chains by hook: the runner names the chain after its hook.
        public enum Chain: String, Sendable, Hashable, CaseIterable {
            case prerouting, input, forward, output, postrouting
        }
    }

    /// Where to capture: a node's interface, or every interface of a node.
    public struct CapturePoint: Sendable, Hashable {
        public var node: String
        /// nil: every interface of the node (one capture file each).
        public var interface: String?

        public init(node: String, interface: String? = nil) {
            self.node = node
            self.interface = interface
        }
    }
}
