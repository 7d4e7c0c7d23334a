import CLinux
import Glibc
import Netlink

/// Helpers shared by the test targets: the built `faultline` binary, the repo and shared/ paths,
/// temporary folders, and snapshots of the root namespace for leak checks.
public enum TestSupport {
    /// The repository root, derived from this file's location.
    public static let repoRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) }
        return path
    }()

    /// `../shared` beside the repository (docs and captures recorded by others).
    public static var sharedRoot: String { repoRoot + "/../shared" }

    /// The `faultline` executable built next to the test bundle (`swift build` builds it first;
    /// `swift test` builds every product).
    public static func faultlineBinaryPath() throws -> String {
        let bundle = CommandLine.arguments.first ?? ""
        var candidates: [String] = []
        // The test bundle lives in the build products folder, e.g. .build/debug/FaultlinePackageTests.xctest
        let components = bundle.split(separator: "/", omittingEmptySubsequences: false)
        if let bundleIndex = components.lastIndex(where: { $0.hasSuffix(".xctest") }) {
            candidates.append(components[..<bundleIndex].joined(separator: "/") + "/faultline")
        }
        for config in ["debug", "release"] { candidates.append("\(repoRoot)/.build/\(config)/faultline") }
        if let found = candidates.first(where: { access($0, X_OK) == 0 }) { return found }
        throw TestSupportError("the faultline executable was not found (looked in \(candidates.joined(separator: ", "))); run `swift build` first")
    }

    /// A fresh temporary directory, removed by the caller with `removeTree`.
    public static func temporaryDirectory(_ label: String = "faultline-test") -> String {
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
            return String(cString: base)
        }
        return made ?? "/tmp/\(label)-\(getpid())-\(fl_monotonic_ns())"
    }

    public static func removeTree(_ path: String) {
        guard path.hasPrefix("/tmp/") else { return }
        _ = runCommand(["/bin/rm", "-rf", path])
    }

    public static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            data.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs a command in the current (root) namespace, for read-only inspection, and returns
    /// (exit status, stdout).
    @discardableResult
    public static func runCommand(_ argv: [String]) -> (status: Int32, output: String) {
        let environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        guard let result = try? ChildProcess.run(argv, environment: environment), case .exited(let code)? = result.status else {
            return (-1, "")
        }
        return (code, result.standardOutput)
    }

    /// Like `runCommand`, with stderr too (status -1 when it could not run or timed out).
    public static func runCommandCapturingErrors(_ argv: [String]) -> (status: Int32, output: String, error: String) {
        let environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        guard let result = try? ChildProcess.run(argv, environment: environment) else { return (-1, "", "could not run \(argv[0])") }
        guard case .exited(let code)? = result.status else { return (-1, result.standardOutput, result.standardError) }
        return (code, result.standardOutput, result.standardError)
    }

    /// What Faultline must never change or leave behind in the root namespace.
    public struct RootSnapshot: Equatable, CustomStringConvertible {
        public var links: String
        public var routes: String
        public var qdiscs: String
        public var netns: [String]
        public var nftRuleset: String

        public var description: String {
            "links:\n\(links)\nroutes:\n\(routes)\nqdiscs:\n\(qdiscs)\nnetns: \(netns)\nnft:\n\(nftRuleset)"
        }
    }

    public static func rootSnapshot() -> RootSnapshot {
        RootSnapshot(
            links: runCommand(["/usr/sbin/ip", "-o", "link", "show"]).output
                .split(separator: "\n").map { line in
                    // Counters and state flags of existing links may change; names and kinds may not.
                    String(line.split(separator: ":").prefix(2).joined(separator: ":"))
                }.joined(separator: "\n"),
            routes: runCommand(["/usr/sbin/ip", "route", "show", "table", "all"]).output,
            qdiscs: runCommand(["/usr/sbin/tc", "qdisc", "show"]).output,
            netns: NamespaceSweeper.mounted().map(\.name),
            nftRuleset: runCommand(["/usr/sbin/nft", "list", "ruleset"]).output)
    }

    /// Processes whose parent is this test process.
    public static func childProcesses() -> [Int32] {
        let me = getpid()
        var children: [Int32] = []
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), let stat = readFile("/proc/\(pid)/stat") else { continue }
            // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
            guard let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == me { children.append(pid) }
        }
        return children
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
