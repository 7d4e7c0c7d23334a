import Analysis
import Foundation
import Glibc
import Netlink

/// A capture file a run produced, and where it was taken.
public struct CaptureFile: Codable, Sendable, Hashable {
    public var path: String
    public var node: String
    public var interface: String
    /// Where its node sits for the scenario's connections (`CaptureVantages.roles`), as the run
    /// stated it; nil when the run left it unstated (never `.other`). Kept in result.json, so a report rebuilt later
    /// (`faultline report`) places the capture as the run did, with or without the scenario's
    /// file (a scenario built in Swift has none); handed to `cmd:` detectors in
    /// `FAULTLINE_CAPTURES`.
    public var role: VantageRole?
    /// Packets the capture wrote and the kernel dropped (nil when unknown).
    public var packets: UInt64?
    public var drops: UInt64?

    public init(path: String, node: String, interface: String, role: VantageRole? = nil, packets: UInt64? = nil,
                drops: UInt64? = nil) {
        self.path = path
        self.node = node
        self.interface = interface
        self.role = role
        self.packets = packets
        self.drops = drops
    }

    private enum CodingKeys: String, CodingKey { case path, node, interface, role, packets, drops }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decode(String.self, forKey: .path)
        node = try container.decode(String.self, forKey: .node)
        interface = try container.decode(String.self, forKey: .interface)
        // A role this version does not know (a later one's, a hand edit) is no role: unstated.
        role = (try? container.decodeIfPresent(String.self, forKey: .role)).flatMap { $0.flatMap(VantageRole.init(rawValue:)) }
        packets = try container.decodeIfPresent(UInt64.self, forKey: .packets)
        drops = try container.decodeIfPresent(UInt64.self, forKey: .drops)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(node, forKey: .node)
        try container.encode(interface, forKey: .interface)
        try container.encodeIfPresent(role?.rawValue, forKey: .role)
        try container.encodeIfPresent(packets, forKey: .packets)
        try container.encodeIfPresent(drops, forKey: .drops)
    }

    /// `client eth0`
    public var label: String { "\(node) \(interface)" }
}

/// Which detector turns captures into findings (`--detector`).
public enum DetectorChoice: Sendable, Hashable, CustomStringConvertible {
    /// Faultline's own analyzer and diagnoses.
    case builtin
    /// tshark's expert analysis: only what its flags can express is checked.
    case tshark
    /// Any program: `PROGRAM [ARGS...] CAPTURE...`, printing findings as JSON.
    case command([String])

    /// Reads `builtin`, `tshark` or `cmd:PROGRAM [ARGS...]`.
    public init(parsing text: String) throws(RunnerError) {
        switch text {
        case "builtin": self = .builtin
        case "tshark": self = .tshark
        default:
            guard text.hasPrefix("cmd:") else {
                throw .badInput("--detector \(text): expected builtin, tshark or cmd:PROGRAM (e.g. cmd:./my-detector or \"cmd:python3 det.py\")")
            }
            let words = text.dropFirst(4).split(separator: " ").map(String.init)
            guard !words.isEmpty else {
                throw .badInput("--detector cmd: needs a program after the colon, e.g. cmd:./my-detector")
            }
            self = .command(words)
        }
    }

    public var description: String {
        switch self {
        case .builtin: return "builtin"
        case .tshark: return "tshark"
        case .command(let argv): return "cmd:" + argv.joined(separator: " ")
        }
    }

    /// The detector this choice names.
    var detector: any Detector {
        switch self {
        case .builtin: return BuiltinDetector()
        case .tshark: return TsharkDetector()
        case .command(let argv): return CommandDetector(argv: argv)
        }
    }
}

/// What a detector gives the expectation checker: findings (what went wrong, and why) and the
/// tshark-style flags of each frame.
struct Detection {
    var findings: [Finding] = []
    var marks: [PacketMark] = []
}

/// Turns a run's captures into a `Detection` (`--detector`): Faultline's own diagnosis, tshark's
/// expert flags, or any program printing findings as JSON.
protocol Detector: Sendable {
    /// Whether it names causes. tshark does not: expectations are then checked against its
    /// flags, and what flags cannot express is not checked (said in the result).
    var namesCauses: Bool { get }
    /// Fails before anything is built when the detector cannot run here (a missing program).
    func preflight() throws(RunnerError)
    /// - Parameters:
    ///   - captures: each with its node and where that node sits (`CaptureFile.role`).
    ///   - nodes: node → its addresses (text), for detectors that want to know the topology.
    func detect(_ captures: [CaptureFile], nodes: [String: [String]], say: (String) -> Void) throws(RunnerError) -> Detection
}

/// Faultline's diagnosis, and its own analyzer's flags.
struct BuiltinDetector: Detector {
    var namesCauses: Bool { true }
    func preflight() throws(RunnerError) {}
    func detect(_ captures: [CaptureFile], nodes: [String: [String]], say: (String) -> Void) throws(RunnerError) -> Detection {
        Detection(findings: try BuiltinDiagnosis.findings(captures: captures),
                  marks: try BuiltinFlags.marks(captures))
    }
}

/// tshark's expert flags only.
struct TsharkDetector: Detector {
    var namesCauses: Bool { false }
    func preflight() throws(RunnerError) {
        if ChildProcess.resolveInPath("tshark") == nil {
            throw .environment("--detector tshark: tshark is not installed (Debian: apt-get install tshark)")
        }
    }
    func detect(_ captures: [CaptureFile], nodes: [String: [String]], say: (String) -> Void) throws(RunnerError) -> Detection {
        Detection(marks: try TsharkFlags.marks(captures))
    }
}

/// One frame of a capture with its tshark-style analysis flags (and whether it is an RST or a
/// SYN): what `tshark:` expectations, and the tshark detector, are checked against.
public struct PacketMark: Sendable, Hashable {
    public var vantage: String
    public var frame: UInt64
    public var source: String
    public var sourcePort: UInt16
    public var destination: String
    public var destinationPort: UInt16
    /// tcp.analysis flag names without the prefix (`zero_window`, ...), plus `rst`, `syn`.
    public var flags: Set<String>

    public init(vantage: String, frame: UInt64, source: String, sourcePort: UInt16, destination: String,
                destinationPort: UInt16, flags: Set<String>) {
        self.vantage = vantage
        self.frame = frame
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
        self.flags = flags
    }
}

/// The tshark-compatible flags of Faultline's own analyzer, per frame (no tshark needed).
enum BuiltinFlags {
    struct Collector: CaptureAnalysisObserver {
        var vantage: String
        var marks: [PacketMark] = []
        mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
            var names = Set(frame.tsharkFlags.names)
            let s = frame.segment
            if s.flags.contains(.rst) { names.insert("rst") }
            if s.flags.contains(.syn) { names.insert("syn") }
            if names.isEmpty { return }
            marks.append(PacketMark(vantage: vantage, frame: frame.frameNumber, source: s.source.description, sourcePort: s.sourcePort,
                                    destination: s.destination.description, destinationPort: s.destinationPort, flags: names))
        }
    }

    static func marks(_ captures: [CaptureFile]) throws(RunnerError) -> [PacketMark] {
        var all: [PacketMark] = []
        for capture in captures {
            var collector = Collector(vantage: capture.node)
            do throws(CaptureError) {
                _ = try CaptureAnalysis.run(path: capture.path, observer: &collector)
            } catch {
                throw .analysis("\(capture.path): \(error)")
            }
            all += collector.marks
        }
        return all
    }
}

/// tshark's expert analysis of each capture, one `PacketMark` per flagged, RST or SYN frame.
enum TsharkFlags {
    /// tcp.analysis.* flags tshark 4.0 sets, without the prefix: the analyzer's own table.
    static let flagFields = AnalysisFlags.all.map(\.name)

    static func marks(_ captures: [CaptureFile]) throws(RunnerError) -> [PacketMark] {
        guard let tshark = ChildProcess.resolveInPath("tshark") else {
            throw .environment("--detector tshark needs tshark, which is not installed: apt-get install tshark (scripts/setup installs it)")
        }
        var all: [PacketMark] = []
        for capture in captures {
            var argv = [tshark, "-n", "-r", capture.path, "-Y", "tcp.analysis.flags || tcp.flags.reset == 1 || tcp.flags.syn == 1",
                        "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f",
                        "-e", "frame.number", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
                        "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport", "-e", "tcp.flags.reset", "-e", "tcp.flags.syn"]
            for flag in flagFields { argv += ["-e", "tcp.analysis." + flag] }
            let result: ChildProcess.Output
            do { result = try ChildProcess.run(argv, timeoutNanoseconds: 120_000_000_000) } catch {
                throw .environment("tshark could not be started: \(error)")
            }
            guard result.status == .exited(0) else {
                throw .analysis("tshark failed on \(capture.path) (\(result.statusDescription)): \(result.standardError.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            for line in result.standardOutput.split(separator: "\n") {
                let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                guard f.count >= 9 + flagFields.count, let frame = UInt64(f[0]) else { continue }
                var names = Set<String>()
                if f[7] == "1" || f[7] == "True" { names.insert("rst") }
                if f[8] == "1" || f[8] == "True" { names.insert("syn") }
                for (i, flag) in flagFields.enumerated() where !f[9 + i].isEmpty { names.insert(flag) }
                all.append(PacketMark(vantage: capture.node, frame: frame, source: f[1].isEmpty ? f[2] : f[1],
                                      sourcePort: UInt16(f[3]) ?? 0, destination: f[4].isEmpty ? f[5] : f[4],
                                      destinationPort: UInt16(f[6]) ?? 0, flags: names))
            }
        }
        return all
    }
}

/// An external detector: `PROGRAM ARGS... CAPTURE...`, findings as JSON on stdout.
///
/// Environment given to it: `FAULTLINE_CAPTURES` (JSON: [{path, node, interface, role}]),
/// `FAULTLINE_NODES` (JSON: {node: [addresses]}). Its stdout must be a JSON array of findings,
/// or an object with a `findings` array (the schema: Analysis' FindingDecoding.swift). Exit status 0 expected.
struct CommandDetector: Detector {
    var argv: [String]
    var namesCauses: Bool { true }

    func preflight() throws(RunnerError) {
        guard let program = argv.first else { return }
        if ChildProcess.resolveInPath(program) == nil {
            let why = program.contains("/") ? "no executable file at \(program)" : "\(program) is not in PATH"
            throw .badInput("--detector cmd:\(argv.joined(separator: " ")): \(why); expected a program to run on each scenario's captures")
        }
    }

    /// Its findings, and Faultline's own flags (for `tshark:` expectations).
    func detect(_ captures: [CaptureFile], nodes: [String: [String]], say: (String) -> Void) throws(RunnerError) -> Detection {
        Detection(findings: try Self.findings(argv: argv, captures: captures, nodes: nodes), marks: try BuiltinFlags.marks(captures))
    }

    static func findings(argv: [String], captures: [CaptureFile], nodes: [String: [String]],
                         timeoutSeconds: Int = 120) throws(RunnerError) -> [Finding] {
        guard let program = argv.first else { throw .badInput("--detector cmd: has no program") }
        guard let path = ChildProcess.resolveInPath(program) else {
            throw .badInput("--detector cmd:\(program): no such program (not executable, or not in PATH)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let capturesJSON = (try? encoder.encode(captures)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        let nodesJSON = (try? encoder.encode(nodes)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        var environment = ProcessInfo.processInfo.environment
        environment["FAULTLINE_CAPTURES"] = capturesJSON
        environment["FAULTLINE_NODES"] = nodesJSON
        let full = [path] + argv.dropFirst() + captures.map(\.path)
        let shown = (argv + ["CAPTURES..."]).joined(separator: " ")
        let result: ChildProcess.Output
        do {
            result = try ChildProcess.run(full, environment: environment, timeoutNanoseconds: UInt64(timeoutSeconds) * 1_000_000_000)
        } catch {
            throw .badInput("detector `\(shown)` could not be started: \(error)")
        }
        guard result.status == .exited(0) else {
            let stderrText = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            throw .badInput("detector `\(shown)` \(result.statusDescription)\(stderrText.isEmpty ? "" : ": " + String(stderrText.prefix(2000)))")
        }
        return try parse(result.standardOutput, detector: shown, captures: captures)
    }

    /// Parses a detector's stdout: a JSON array of findings, or `{"findings": [...]}`
    /// (`DetectorOutput`, read as FindingDecoding.swift says).
    static func parse(_ text: String, detector: String, captures: [CaptureFile]) throws(RunnerError) -> [Finding] {
        var findings: [Finding]
        do {
            findings = try JSONDecoder().decode(DetectorOutput.self, from: Data(text.utf8)).findings
        } catch {
            throw .badInput("detector `\(detector)` printed no valid findings JSON (\(Self.describe(error))); "
                + "expected [{\"kind\": \"rst\", \"cause\": \"refused-by-host\", ...}] — see `faultline run --help`")
        }
        // A vantage may name a capture file: map it to its node.
        for index in findings.indices {
            findings[index].vantage = findings[index].vantage.map { v in
                captures.first { $0.path == v || ($0.path as NSString).lastPathComponent == v }?.node ?? v
            }
        }
        return findings
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing key '\(key.stringValue)' at \(path(context.codingPath))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "\(context.debugDescription) at \(path(context.codingPath))"
        case DecodingError.dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo["NSDebugDescription"] as? String
            return (underlying ?? context.debugDescription) + (context.codingPath.isEmpty ? "" : " at \(path(context.codingPath))")
        default:
            return "\(error)"
        }
    }

    static func path(_ keys: [CodingKey]) -> String {
        keys.isEmpty ? "top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
}

