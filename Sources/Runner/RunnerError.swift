import Glibc
/// Why a run could not happen or finish, sorted by the exit code it means.
public enum RunnerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Bad input: a scenario file, a flag, a detector that prints nonsense (exit 2).
    case badInput(String)
    /// The environment cannot run it: privileges, kernel features, missing tools (exit 3).
    case environment(String)
    /// Reading or analysing the captures failed.
    case analysis(String)
    /// Something failed while the scenario ran (a kernel refusal mid-run, a step that could not act).
    case execution(String)

    public var description: String {
        switch self {
        case .badInput(let s), .environment(let s), .analysis(let s), .execution(let s): return s
        }
    }

    /// 2 bad input, 3 environment, 1 otherwise (the run failed).
    public var exitCode: Int32 {
        switch self {
        case .badInput: return 2
        case .environment: return 3
        case .analysis, .execution: return 1
        }
    }

    /// The word the report uses.
    public var category: String {
        switch self {
        case .badInput: return "bad input"
        case .environment: return "environment"
        case .analysis: return "analysis"
        case .execution: return "execution"
        }
    }
}

/// Process exit codes of `faultline run` and friends.
public enum RunExitCode {
    public static let passed: Int32 = 0
    public static let expectationFailed: Int32 = 1
    public static let badInput: Int32 = 2
    public static let environment: Int32 = 3
    public static let interrupted: Int32 = 130   // SIGINT
    public static let terminated: Int32 = 143    // SIGTERM

    /// One rule for every command stopped by a signal (after tearing everything down): 128 + the
    /// signal's number — 130 for SIGINT (Ctrl-C), 143 for SIGTERM, 129 for SIGHUP, 131 for
    /// SIGQUIT. A cancellation without a signal counts as SIGINT.
    public static func stopped(by signal: Int32) -> Int32 { 128 + (signal > 0 ? signal : SIGINT) }
}
