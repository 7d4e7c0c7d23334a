import Foundation
import Glibc
import Netlink
import TestSupport

/// Running the real `faultline` binary as users do, and looking at what it left behind.
enum Faultline {
    /// The repository's catalog.
    static var catalog: String { TestSupport.repoRoot + "/Scenarios" }

    static func scenario(_ name: String) -> String { "\(catalog)/\(name).yaml" }

    /// A started `faultline` process with its output going to files.
    final class Running: @unchecked Sendable {
        let process: Process
        let outputPath: String
        let errorPath: String

        /// - Parameter executable: another program to start (`arguments` then start with its argv[0]).
        init(_ arguments: [String], directory: String, executable: String? = nil) throws {
            process = Process()
            process.executableURL = URL(fileURLWithPath: try executable ?? TestSupport.faultlineBinaryPath())
            process.arguments = executable == nil ? arguments : Array(arguments.dropFirst())
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            outputPath = directory + "/stdout-\(UUID().uuidString)"
            errorPath = directory + "/stderr-\(UUID().uuidString)"
            _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
            _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: outputPath)
            process.standardError = FileHandle(forWritingAtPath: errorPath)
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }

        var pid: Int32 { process.processIdentifier }
        var output: String { TestSupport.readFile(outputPath) ?? "" }
        var errorOutput: String { TestSupport.readFile(errorPath) ?? "" }

        /// Waits for exit (up to `seconds`); returns the exit status, or nil on timeout.
        func wait(seconds: Double) -> Int32? {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { return nil }
            return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        }

        /// Polls `condition` every 20 ms for up to `seconds`.
        func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if condition() { return true }
                usleep(20_000)
            }
            return condition()
        }

        func kill(_ signal: Int32) { Glibc.kill(pid, signal) }

        deinit {
            // Not waitUntilExit: Foundation can miss an exit, and a test must not hang on it.
            if process.isRunning { Glibc.kill(pid, SIGKILL); _ = wait(seconds: 5) }
        }
    }

    /// Runs to completion (up to `timeout` seconds).
    static func run(_ arguments: [String], directory: String, timeout: Double = 120,
                    executable: String? = nil) throws -> (status: Int32?, output: String, error: String) {
        let running = try Running(arguments, directory: directory, executable: executable)
        let status = running.wait(seconds: timeout)
        return (status, running.output, running.errorOutput)
    }

    /// Mounted Faultline namespaces owned by `pid`.
    static func namespaces(of pid: Int32) -> [String] {
        NamespaceSweeper.mounted().filter { $0.owner == pid }.map(\.name)
    }

    /// Processes whose command line mentions `text` (peers carry their artifacts path).
    static func processes(mentioning text: String) -> [Int32] {
        var found: [Int32] = []
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), pid != getpid() else { continue }
            guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let cmdline = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            if cmdline.contains(text) { found.append(pid) }
        }
        return found
    }
}
