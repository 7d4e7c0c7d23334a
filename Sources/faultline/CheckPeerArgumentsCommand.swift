import ArgumentParser

/// `faultline _check-peer-arguments ROLE ARGS…`: exits 0 when `faultline peer` accepts the
/// arguments, else prints its message and exits 2 — without running anything. FaultlineTesting
/// checks a scenario's `peer:` steps through it, as `faultline run` does when loading a file.
struct CheckPeerArgumentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_check-peer-arguments",
        abstract: "Check a peer step's arguments without running it (used by FaultlineTesting).",
        shouldDisplay: false)

    @Argument(parsing: .allUnrecognized) var arguments: [String] = []

    func run() throws {
        if let problem = PeerCLI.check(arguments: arguments) {
            PeerCLI.writeText(problem + "\n", to: 2)
            throw ExitCode(2)
        }
    }
}
