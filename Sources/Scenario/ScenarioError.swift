extension Scenario {
    /// Where something is in a scenario file: the file as it was named, and a 1-based line and column
    /// (columns count Unicode scalars, as libyaml does).
    public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var column: Int

        public init(file: String, line: Int, column: Int) {
            self.file = file
            self.line = line
            self.column = column
        }

        /// `path:line:column`
        public var description: String { "\(file):\(line):\(column)" }
    }
}

/// A scenario file that cannot be used, and exactly where and why.
///
/// `description` is `path:line:column: message`, where the message says what is wrong and what was
/// expected, for example
/// `zw.yaml:9:20: steps[1].on: no node 'srever' in the topology (did you mean 'server'?); expected one of: client, router, server`.
///
/// A scenario that fails to load is bad input: the CLI exits with `ScenarioError.exitCode` (2) and
/// builds nothing.
public struct ScenarioError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    /// The process exit code for a scenario that cannot be loaded: 2, "bad input".
    public static let exitCode: Int32 = 2

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public init(_ location: Scenario.SourceLocation, _ message: String) {
        self.init(file: location.file, line: location.line, column: location.column, message: message)
    }

    public var location: Scenario.SourceLocation { Scenario.SourceLocation(file: file, line: line, column: column) }

    /// `path:line:column: message`
    public var description: String { "\(file):\(line):\(column): \(message)" }
}
