import Values
import ArgumentParser
import Glibc

/// The `faultline` command. One subcommand per file in this folder.
@main
struct Faultline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faultline",
        abstract: "Reproduce TCP failures on demand, capture them, diagnose them from the wire.",
        discussion: HelpText.reflow("""
        Faultline builds a small network (client — router — server) out of network
        namespaces, impairs it (delay, loss, reordering, ...), runs socket programs
        that reproduce real application failures, captures the traffic and explains
        what went wrong.

        Start with:
          faultline doctor                 what this kernel supports
          faultline run Scenarios/         the failure-mode catalog
          faultline analyze FILE.pcapng    diagnose any capture

        Exit status: 0 success; 1 an expectation failed (or the network failed a
        peer); 2 bad input (files, options); 3 the environment cannot run it;
        128+N stopped by signal N after tearing everything down (130 Ctrl-C,
        143 SIGTERM). SIGPIPE is ignored: a closed stdout only stops the printing.
        """),
        version: "0.1.0",
        subcommands: Faultline.allSubcommands
    )

    /// As ArgumentParser's main, except that bad input exits 2 (not EX_USAGE 64), as every
    /// Faultline command documents.
    static func main() async {
        // Ctrl-\ (SIGQUIT) is a request to stop, not a crash: without this, Swift's crash handler
        // takes it (a backtrace screen that keeps the terminal). Commands that build something
        // replace it with their teardown (SignalWatcher); the rest exit 131 at once.
        _ = signal(SIGQUIT) { sig in _exit(128 + sig) }
        // The commands that build something ignore SIGPIPE (a closed stdout only stops the
        // printing) from their first instruction, not only once their teardown is armed: the soak
        // killed a run with SIGPIPE while it was still reading its scenarios. (Children get every
        // signal back at its default: fl_spawn.) `analyze` keeps the default, so
        // `faultline analyze big.pcapng | head` stops at once.
        if let subcommand = CommandLine.arguments.dropFirst().first, ["run", "lab", "impair"].contains(subcommand) {
            _ = signal(SIGPIPE, SIG_IGN)
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                let message = fullMessage(for: error)
                FileHandleStderr.write(message.hasSuffix("\n") ? message : message + "\n")
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Writes to standard error without touching the `stderr` global (an error in Swift 6 mode).
enum FileHandleStderr {
    static func write(_ text: String) {
        try? FileIO.writeAll(fd: 2, text)
    }
}
