import ArgumentParser
import Foundation
import Glibc
import Runner
import Scenario

/// `faultline lab SCENARIO`: build a scenario's network and hold it for exploration.
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Build a scenario's network, impairments and rules, run its setup steps, and hold it until Ctrl-C.",
        discussion: HelpText.reflow("""
        The setup steps are the scenario's steps at 0s (typically the server's listener), so you
        can drive the client by hand. The namespaces are named faultline-<pid>-lab.<scenario>-<node>
        and mounted under /run/netns: step in with `faultline exec NODE -- CMD` (or
        `ip netns exec NAME CMD`). Without root, the lab lives in a user namespace of its own and
        its nodes are published in $XDG_RUNTIME_DIR/faultline (or /tmp/faultline-<uid>): step in
        with `faultline exec NODE -- CMD`, as the same user. Ctrl-C (or any terminating signal) tears everything down, the
        processes started with `faultline exec` included, and exits 128 + the signal (130 for
        Ctrl-C); a SIGKILLed lab is swept by the next faultline run, lab or cleanup.

        Examples:
          faultline lab Scenarios/zw2-never-read.yaml
          faultline exec client -- faultline peer send --to 198.18.2.2:9000 --bytes 1MiB
          faultline exec server -- ss -tni
          faultline exec router -- nft list ruleset
        """))

    @Argument(help: ArgumentHelp("A scenario file.", valueName: "scenario"))
    var path: String

    @Option(help: ArgumentHelp("Seed for the impairments' random decisions (default: the scenario's, else random).", valueName: "s"))
    var seed: UInt64?

    @Flag(help: "Capture at the scenario's capture points while the lab runs; when it ends, analyse the captures as `faultline run` does (findings printed and written to findings.json in the lab's folder).")
    var capture = false

    func run() throws {
        let err = StandardStream(fd: 2)
        let out = StandardStream(fd: 1)
        let scenario: Scenario
        do {
            scenario = try Scenario.load(path: path, peerArguments: PeerCLI.check(arguments:))
        } catch {
            err.line("error: \(error)")
            throw ExitCode(ScenarioError.exitCode)
        }
        for warning in scenario.warnings { err.line("\(warning)") }
        if let refusal = RootlessNote.refusal(command: "lab") {
            err.line(refusal)
            throw ExitCode(3)
        }
        if let note = RootlessNote.line { err.line("note: \(note)") }
        let cancellation = Cancellation()
        let watcher = SignalWatcher(cancellation: cancellation)
        _ = watcher
        CatalogRun.sweep(say: { err.line("note: \($0)") })
        if let other = Lab.instances().first(where: { $0.isLab && $0.scenarioName == scenario.name }) {
            err.line("note: a lab of \(scenario.name) already runs (pid \(other.owner)); `faultline exec` will ask which one with --lab")
        }
        let seedValue = seed ?? scenario.seed ?? UInt64.random(in: 0..<1_000_000_000)
        let folder = "artifacts/lab-\(scenario.name)-\(getpid())"
        let settings = RunSettings(artifactsRoot: folder, seed: seedValue, say: { err.line("note: \($0)") })
        let lab = Lab(scenario: scenario, folder: folder, settings: settings)
        var finished = false
        defer { if !finished { lab.teardown() } }
        do {
            let lines = try lab.start(seed: seedValue, capture: capture)
            out.line("lab \(scenario.name) is up (pid \(getpid()), lab id \(lab.labID), seed \(seedValue))")
            for line in lines { out.line(line) }
            if let guide = scenario.lab {
                out.line("")
                out.write(guide.text)
                out.line("")
            }
            out.line("Ctrl-C tears it down.")
        } catch {
            err.line("error: \(error)")
            throw ExitCode(error.exitCode)
        }
        let signal = cancellation.waitForever()
        out.line("\ntearing the lab down...")
        finished = true
        for line in lab.finish() { out.line(line) }
        throw ExitCode(RunExitCode.stopped(by: signal))
    }
}
