import ArgumentParser
import Glibc
import Netlink
import Runner

/// `faultline cleanup`: remove what killed runs and labs left behind.
struct CleanupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Remove namespaces left by SIGKILLed runs and labs (every faultline run does this at start).",
        discussion: HelpText.reflow("""
        Faultline's named namespaces are /run/netns/faultline-<owner-pid>-...; everything a run \
        creates (links, addresses, routes, qdiscs, firewall rules, processes) lives inside them. \
        A namespace whose owner is gone (no live process with that pid holds it open: a pid the \
        kernel reused does not count) is emptied of every process still running in it (daemons, \
        grandchildren, `faultline exec` sessions), then unmounted and removed. Namespaces of live \
        runs and labs are listed and left alone. Nothing else on the machine is touched. Without root, \
        the same for the user's own labs and runs, published in $XDG_RUNTIME_DIR/faultline (or \
        /tmp/faultline-<uid>): nothing of another user's is ever touched.

        Examples:
          sudo faultline cleanup      root's labs and runs
          faultline cleanup           your own (rootless)
        """))

    @Flag(help: .hidden) var quiet = false

    func run() throws {
        let out = StandardStream(fd: quiet ? -1 : 1)
        // Rootless (and unprivileged), what is cleaned is this user's: the entries of dead labs
        // and runs in the user's registry, and processes of this user still in their namespaces.
        let swept = NamespaceSweeper.sweep()
        for entry in swept { out.line("removed \(entry.name) (owner pid \(entry.ownerPID) is gone)") }
        let live = Lab.instances()
        for instance in live {
            out.line("left alone: \(instance.isLab ? "lab" : "run") \(instance.scenarioName) of live pid \(instance.owner) (\(instance.nodes.count) namespaces)")
        }
        if swept.isEmpty && live.isEmpty { out.line("nothing to clean up") }
    }
}
