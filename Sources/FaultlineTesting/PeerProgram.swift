import Foundation
import Glibc
import Scenario

/// The `faultline` executable a scenario's `peer:` steps run (`faultline peer ROLE …`). Inside a
/// user's test runner, the running executable is the test runner, not Faultline — so it is looked
/// for as a built product:
/// 1. `FAULTLINE_BINARY`, when set;
/// 2. `faultline` beside the test bundle or executable (`swift build` puts a dependency's
///    executable products in the same folder), or one folder up;
/// 3. `faultline` on `PATH`.
public enum PeerProgram {
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment,
                              arguments: [String] = CommandLine.arguments) throws -> String {
        if let given = environment["FAULTLINE_BINARY"], !given.isEmpty {
            guard access(given, X_OK) == 0 else {
                throw FaultlineTestingError("FAULTLINE_BINARY=\(given) is not an executable file")
            }
            return given
        }
        var candidates: [String] = []
        if let first = arguments.first {
            var folder = (first as NSString).deletingLastPathComponent
            // A test bundle: .build/debug/PackageTests.xctest (a file on Linux, a folder elsewhere).
            if let bundle = first.range(of: ".xctest") {
                folder = (String(first[..<bundle.lowerBound]) as NSString).deletingLastPathComponent
            }
            candidates.append(folder + "/faultline")
            candidates.append((folder as NSString).deletingLastPathComponent + "/faultline")
        }
        for directory in (environment["PATH"] ?? "").split(separator: ":") { candidates.append("\(directory)/faultline") }
        if let found = candidates.first(where: { access($0, X_OK) == 0 }) { return found }
        throw FaultlineTestingError("""
            the faultline executable was not found (looked in \(candidates.prefix(2).joined(separator: ", ")) and PATH). \
            Build it (`swift build --product faultline` in your package, which depends on Faultline) or set FAULTLINE_BINARY to its path
            """)
    }

    /// `faultline peer`'s own check of a peer step's arguments, run through the executable
    /// (`faultline peer --check ROLE ARGS…`), so that a scenario built or loaded in a test is
    /// checked exactly as `faultline run` checks it. nil when no executable is found: the run
    /// then reports a refused argument as a program that failed to start.
    static func argumentCheck() -> Scenario.PeerArgumentCheck? {
        guard let binary = try? locate() else { return nil }
        return { arguments in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["_check-peer-arguments"] + arguments
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            do { try process.run() } catch { return nil }
            let data = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            if process.terminationStatus == 0 { return nil }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? "refused (exit \(process.terminationStatus))" : text
        }
    }
}
