import Values
import Foundation
import Impairment

/// A scenario: a small network, the impairments and firewall rules on it, the processes that run
/// in it on a timeline, where to capture, and what the captures and processes must show.
///
/// Built only by `Scenario.parse(text:file:)` / `Scenario.load(path:)`, which check everything
/// (names, references, ranges, times) so that a `Scenario` value can be built and run as it is.
public struct Scenario: Sendable, Hashable {
    public var name: String
    public var summary: String?
    public var topology: Topology
    /// One entry per impaired link direction (a two-way `link: a-b` gives two), in file order.
    /// Impairment changes written as timeline steps are in each spec's `schedule`.
    public var impairments: [ImpairmentPlacement]
    public var firewall: [FirewallRule]
    public var captures: [CapturePoint]
    /// In time order (the file must list them so).
    public var steps: [Step]
    public var expectations: [Expectation]
    /// nil: the runner picks one and prints it.
    public var seed: UInt64?
    public var timeLimit: Duration
    /// Things that run, but probably not as the author expects (from impairment validation).
    public var warnings: [Warning]
    /// The file it came from, as named when loaded.
    public var file: String
    /// `lab:` notes (what to try, questions, hints), if the scenario has any.
    public var lab: LabGuide?

    public static let defaultTimeLimit: Duration = .seconds(30)

    public init(name: String, summary: String? = nil, topology: Topology, impairments: [ImpairmentPlacement] = [],
                firewall: [FirewallRule] = [], captures: [CapturePoint], steps: [Step] = [],
                expectations: [Expectation] = [], seed: UInt64? = nil,
                timeLimit: Duration = Scenario.defaultTimeLimit, warnings: [Warning] = [], file: String) {
        self.name = name
        self.summary = summary
        self.topology = topology
        self.impairments = impairments
        self.firewall = firewall
        self.captures = captures
        self.steps = steps
        self.expectations = expectations
        self.seed = seed
        self.timeLimit = timeLimit
        self.warnings = warnings
        self.file = file
    }

    /// Every process the steps start, in step order.
    public var processes: [Process] {
        steps.compactMap { step in
            if case .run(let p) = step.action { return p }
            return nil
        }
    }

    // MARK: loading

    /// Checks the arguments of a `peer:` step the way `faultline peer` parses them: nil when they
    /// are accepted, else the parser's message. The command line provides it (the peers' parser
    /// lives there), so a file's peer arguments are checked when it is loaded, not when it runs.
    public typealias PeerArgumentCheck = @Sendable ([String]) -> String?

    /// Reads and checks one scenario file.
    public static func load(path: String, peerArguments: PeerArgumentCheck? = nil) throws(ScenarioError) -> Scenario {
        let text = try readText(path: path)
        return try parse(text: text, file: path, peerArguments: peerArguments)
    }

    /// Checks a scenario given as text; `file` names it in errors.
    public static func parse(text: String, file: String = "<scenario>", peerArguments: PeerArgumentCheck? = nil) throws(ScenarioError) -> Scenario {
        let root = try Document.compose(text: text, file: file)
        let decoder = ScenarioDecoder(file: file)
        decoder.peerArgumentCheck = peerArguments
        return try decoder.decode(root)
    }

    /// Every `*.yaml` and `*.yml` file directly inside `folder`, sorted by file name, each checked;
    /// the first bad file stops the load. Two files may not use the same scenario `name`.
    public static func load(folder: String, peerArguments: PeerArgumentCheck? = nil) throws(ScenarioError) -> [Scenario] {
        let files = try scenarioFiles(in: folder)
        var scenarios: [Scenario] = []
        var names: [String: String] = [:]
        for file in files {
            let text = try readText(path: file)
            let scenario = try parse(text: text, file: file, peerArguments: peerArguments)
            if let other = names[scenario.name] {
                let root = try Document.compose(text: text, file: file)
                let at = (try? root.mapping("", allowed: ScenarioDecoder.topLevelKeys))?["name"]?.location
                    ?? SourceLocation(file: file, line: 1, column: 1)
                throw ScenarioError(at, "name: '\(scenario.name)' is also the name of \(other); "
                    + "expected scenario names to be unique in a folder")
            }
            names[scenario.name] = file
            scenarios.append(scenario)
        }
        return scenarios
    }

    /// A file or a folder: a folder loads every scenario in it (see `load(folder:)`).
    public static func load(pathOrFolder path: String, peerArguments: PeerArgumentCheck? = nil) throws(ScenarioError) -> [Scenario] {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return try load(folder: path, peerArguments: peerArguments)
        }
        return [try load(path: path, peerArguments: peerArguments)]
    }

    /// The scenario files of a folder, sorted by name (paths joined with the folder as given).
    public static func scenarioFiles(in folder: String) throws(ScenarioError) -> [String] {
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw ScenarioError(SourceLocation(file: folder, line: 1, column: 1),
                                "cannot list the folder (\(Self.reason(error))); expected a folder of *.yaml scenario files")
        }
        let names = entries.filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix(".") }.sorted()
        if names.isEmpty {
            throw ScenarioError(SourceLocation(file: folder, line: 1, column: 1),
                                "the folder holds no scenario; expected *.yaml or *.yml files")
        }
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        return names.map { prefix + $0 }
    }

    static func readText(path: String) throws(ScenarioError) -> String {
        let start = SourceLocation(file: path, line: 1, column: 1)
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ScenarioError(start, "cannot read the file (\(reason(error))); expected a readable scenario file")
        }
        if let text = String(data: data, encoding: .utf8) { return text }
        // Find the first byte that is not UTF-8, to say where.
        let bytes = [UInt8](data)
        var validEnd = 0
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var consumed = 0
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let s):
                consumed += UTF8.width(s)
                validEnd = consumed
            case .emptyInput: break loop
            case .error: break loop
            }
        }
        let prefix = String(decoding: bytes[..<validEnd], as: UTF8.self)
        let mark = Document.markOf(characterOffset: prefix.count, in: prefix + " ")
        throw ScenarioError(file: path, line: mark.line, column: mark.column,
                            message: "byte 0x\(String(bytes[validEnd], radix: 16)) is not UTF-8; expected UTF-8 text")
    }

    private static func reason(_ error: Error) -> String {
        if let e = error as? CocoaError, let underlying = e.userInfo[NSUnderlyingErrorKey] as? NSError,
           underlying.domain == NSPOSIXErrorDomain, let code = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return Errno(code.rawValue).message
        }
        if let e = error as? CocoaError {
            switch e.code {
            case .fileReadNoSuchFile: return "no such file"
            case .fileReadNoPermission: return "permission denied"
            default: break
            }
        }
        return error.localizedDescription
    }
}

extension Scenario {
    /// An impairment placed on one direction of one link.
    public struct ImpairmentPlacement: Sendable, Hashable {
        /// The model value: link direction, parameters, match, targeted actions, schedule, seed, engine.
        public var spec: ImpairmentSpec
        /// The node whose egress carries it (`spec.link.from`) and its interface on that link.
        public var node: String
        public var interface: String
        public var source: SourceLocation

        public init(spec: ImpairmentSpec, node: String, interface: String, source: SourceLocation) {
            self.spec = spec
            self.node = node
            self.interface = interface
            self.source = source
        }
    }

    /// A scenario that runs, but where something probably does not do what its author expects.
    public struct Warning: Sendable, Hashable, CustomStringConvertible {
        public var location: SourceLocation
        public var message: String

        public init(_ location: SourceLocation, _ message: String) {
            self.location = location
            self.message = message
        }

        /// `path:line:column: warning: message`
        public var description: String { "\(location): warning: \(message)" }
    }
}
