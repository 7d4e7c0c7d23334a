/// Runner: executes scenarios — topology, impairments, firewall, captures, peers, timeline,
/// teardown — and checks expectations against the findings.
///
/// ```
/// CatalogRun (-j workers, --repeat, --shard, --seed, live view, JSON, JUnit)
///   └─ ScenarioRun, one per scenario run, on a worker thread of its own:
///        NetworkPlan      Scenario.Topology → Netlink.Topology (+ routes to every subnet, metrics)
///        Network.keepFlowsInOrder  rps_cpus on every veth end: a flow's packets stay in order
///        Firewall         nftables rules through libnftables, on the node's namespace thread
///        Capture          pcapng per capture point (the Capture module)
///        ImpairmentEngines kernel netem/tbf, or the userspace NFQUEUE engine (netem missing,
///                         or matches/actions); schedule changes applied by the timeline
///        timeline         steps at their times (monotonic, interruptible sleeps); peers are
///                         `<faultline> peer ...` in the node's namespace, waited for until ready
///        teardown         always: captures, processes, engines, namespaces
///        detector         builtin (Diagnosis layer) | tshark | cmd:PROGRAM → [Finding]
///        ExpectationChecker  findings, tshark-style flags and peer event logs → results
/// ```
///
/// Namespaces are named `faultline-<pid>-r<N>-<node>` (runs) and `faultline-<pid>-lab.<name>-<node>`
/// (labs); what a SIGKILLed process leaves is swept at the next start (`CatalogRun.sweep`).
/// Terminating signals (INT, TERM, HUP, QUIT, USR1, USR2, ALRM) reach a `Cancellation` through a self-pipe and a thread of
/// our own (`SignalWatcher`); every wait of a run polls it, and every run tears down.
public enum RunnerModule {}
