import Netlink
import Foundation
import Glibc

/// Runs a program in the caller's namespace (never a scenario's), collecting stdout and stderr,
/// with a timeout. For tools that read finished artifacts: tshark, external detectors.
enum Subprocess {
    struct Result {
        var status: Int32
        var signaled: Bool
        var timedOut: Bool
        var output: String
        var errorOutput: String

        var statusText: String {
            if timedOut { return "timed out" }
            return signaled ? "was killed by signal \(status)" : "exited with status \(status)"
        }
    }

    static func run(_ argv: [String], environment: [String: String]? = nil, timeoutSeconds: Int) -> Result {
        let environment = environment ?? ProcessInfo.processInfo.environment
        do {
            let output = try ChildProcess.run(argv, environment: environment, timeoutNanoseconds: UInt64(timeoutSeconds) * 1_000_000_000)
            let (status, signaled): (Int32, Bool)
            switch output.status {
            case .exited(let code)?: (status, signaled) = (code, false)
            case .signaled(let signal)?: (status, signaled) = (signal, true)
            case nil: (status, signaled) = (Int32(SIGKILL), true)
            }
            return Result(status: status, signaled: signaled, timedOut: output.timedOut,
                          output: output.standardOutput, errorOutput: output.standardError)
        } catch {
            return Result(status: 127, signaled: false, timedOut: false, output: "", errorOutput: "cannot start \(argv[0]): \(error.errno.message)")
        }
    }
}
