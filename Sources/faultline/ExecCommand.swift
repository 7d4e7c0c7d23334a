import Values
import ArgumentParser
import Foundation
import CLinux
import Glibc
import Netlink
import Runner

/// `faultline exec NODE [--lab ID] -- CMD...`: a command inside a node of a running lab.
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command inside a node of a running lab (like `ip netns exec`).",
        discussion: HelpText.reflow("""
        Joins the node's network namespace (/run/netns/faultline-<pid>-lab.<scenario>-<node>; for a
        user's rootless lab, the lab's user namespace and then the node's, published in
        $XDG_RUNTIME_DIR/faultline or /tmp/faultline-<uid>) and
        replaces itself with the command, which keeps your terminal, stdin and exit status. With
        one lab running, --lab is not needed; otherwise give its scenario name or its pid.
        Without a command it lists the running labs (and scenario runs) and their nodes.
        `faultline` as the command is this faultline binary, in PATH or not (and its folder is
        added to the command's PATH). Everything started this way ends when the lab does.

        Examples:
          faultline exec server -- ss -tni
          faultline exec client -- faultline peer connect --to 198.18.2.2:9001
          faultline exec router --lab zw2-never-read -- nft list ruleset
          faultline exec client -- bash
          faultline exec                  list what is running
        """))

    @Argument(help: ArgumentHelp("The node: client, router, server, ...", valueName: "node"))
    var node: String?

    @Option(help: ArgumentHelp("Which lab: its scenario name, its id (lab.NAME), or the lab's pid.", valueName: "id"))
    var lab: String?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    func run() throws {
        let err = StandardStream(fd: 2)
        // Rootless, second pass: the entry code (before main) joined the lab's user namespace and
        // the node's network namespace; what is left is to become the command.
        switch Int(fl_userns_entry_state()) {
        case Int(FL_USERNS_JOINED):
            guard let node, !command.isEmpty else { throw ExitCode(2) }
            return try become(node: node)
        case Int(FL_USERNS_JOIN_FAILED):
            err.line("error: cannot enter the lab: \(String(cString: fl_userns_entry_step())): \(Errno(fl_userns_entry_errno()))")
            throw ExitCode(3)
        default:
            break
        }
        let all = Lab.instances()
        guard let node else {
            if all.isEmpty { StandardStream(fd: 1).line("no lab is running; start one with `faultline lab SCENARIO`") }
            for instance in all {
                StandardStream(fd: 1).line("\(instance.isLab ? "lab" : "run") \(instance.scenarioName) (pid \(instance.owner)): nodes \(instance.nodes.keys.sorted().joined(separator: ", "))")
            }
            return
        }
        guard !command.isEmpty else {
            throw ValidationError("give the command after --, e.g. `faultline exec \(node) -- ss -tn`")
        }
        var candidates = all
        if let lab {
            candidates = all.filter { $0.id == lab || $0.id == Lab.idPrefix + lab || $0.scenarioName == lab || String($0.owner) == lab }
            if candidates.isEmpty {
                err.line("error: no running lab \"\(lab)\". Running: \(describe(all))")
                throw ExitCode(2)
            }
        } else {
            let labs = all.filter(\.isLab)
            candidates = labs.isEmpty ? all : labs
        }
        guard !candidates.isEmpty else {
            err.line("error: no lab is running; start one with `faultline lab SCENARIO` (in another terminal)")
            throw ExitCode(2)
        }
        guard candidates.count == 1, let target = candidates.first else {
            err.line("error: several labs are running; choose one with --lab: \(describe(candidates))")
            throw ExitCode(2)
        }
        guard let mounted = target.nodes[node] else {
            err.line("error: lab \(target.scenarioName) has no node '\(node)'; its nodes: \(target.nodes.keys.sorted().joined(separator: ", "))")
            throw ExitCode(2)
        }
        if Rootless.usesRegistry {
            // A user namespace can only be entered by a process with one thread: this one has
            // several. So it runs itself again, and the new image's entry code joins the lab's
            // user namespace and the node's network namespace before main (FaultlineEntry).
            guard let join = Lab.rootlessTarget(target, node: node) else {
                err.line("error: lab \(target.scenarioName) ended")
                throw ExitCode(2)
            }
            setenv("FAULTLINE_JOIN_USERNS", join.userns, 1)
            setenv("FAULTLINE_JOIN_NETNS", join.netns, 1)
            setenv("FAULTLINE_JOIN_NETNS_INODE", String(join.inode), 1)
            setenv("FAULTLINE_JOIN_CPUS", join.cpus.map(String.init).joined(separator: ","), 1)
            var cArgs: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) } + [nil]
            execv("/proc/self/exe", &cArgs)
            err.line("error: cannot run faultline again to enter the lab: \(Errno.current.message)")
            throw ExitCode(3)
        }
        // This thread joins the namespace and execs: the new program runs there, alone.
        if let problem = Lab.joinNetworkNamespace(path: "/run/netns/\(mounted)") {
            err.line("error: \(problem)")
            throw ExitCode(3)
        }
        try become(node: node)
    }

    /// Replaces this process with the command (already in the node's namespace).
    private func become(node: String) throws {
        let err = StandardStream(fd: 2)
        setenv("FAULTLINE_NODE", node, 1)
        // `faultline` is this very program, wherever it is installed (and whether or not its
        // folder is in PATH, which sudo's secure_path usually resets).
        var program = command[0]
        if program == "faultline", let own = Self.ownExecutable() {
            program = own
            // Its children (`faultline exec client -- sh -c 'faultline ...'`) find it too.
            let folder = String(own[..<(own.lastIndex(of: "/") ?? own.endIndex)])
            let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
            if !path.split(separator: ":").contains(Substring(folder)) { setenv("PATH", "\(path):\(folder)", 1) }
        }
        var cArgs: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        execvp(program, &cArgs)
        let e = errno
        err.line("error: cannot run \(command[0]): \(Errno(e).message)")
        throw ExitCode(e == ENOENT ? 127 : 126)
    }

    /// The path of the running faultline binary (/proc/self/exe).
    static func ownExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func describe(_ instances: [Lab.Instance]) -> String {
        instances.isEmpty ? "none" : instances.map { "\($0.scenarioName) (pid \($0.owner)\($0.isLab ? "" : ", a scenario run"))" }.joined(separator: ", ")
    }
}
