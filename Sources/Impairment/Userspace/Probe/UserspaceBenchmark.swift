import CLinux
import Glibc
import Netlink

/// The userspace engine's benchmark (`scripts/bench-impairment`, `faultline impair --bench`):
/// on a fresh `Topology.line()`, in one run,
/// 1. throughput: UDP probes blasted client → server (sendmmsg batches over several flows,
///    received with recvmmsg), delivered packets/s without the engine (the baseline, which
///    also shows the generator's own ceiling), with the engine at 0 delay, and at 20 ms delay;
/// 2. delay error: paced single probes, one-way delay without the engine (baseline) and with
///    20 ms; error = measured − 20 ms − the baseline's median, as percentiles.
public enum UserspaceBenchmark {
    public struct Configuration: Sendable {
        /// Seconds of blasting per throughput phase.
        public var seconds: Double = 2
        /// Rounds of the three throughput phases, interleaved (baseline, 0 ms, 20 ms, baseline,
        /// ...); each figure is the median round. This machine's speed drifts by ±15 % over
        /// minutes, so one round of each can compare a fast baseline with a slow engine.
        public var rounds: Int = 3
        public var flows: Int = 4
        /// UDP payload bytes of the throughput probes.
        public var payload: Int = 64
        public var batch: Int = 8
        /// Datagrams per UDP GSO buffer (1: plain sendmmsg of single datagrams). The client's
        /// veth is told not to carry UDP GSO (`ethtool -K eth0 tx-udp-segmentation off`), so the
        /// buffers are cut into ordinary datagrams before they leave the client: the router
        /// forwards single packets, with or without the engine, while the generator saves its
        /// per-datagram socket work.
        public var segments: Int = 16
        /// Probes (and their rate) for the delay measurements.
        public var latencyProbes: Int = 5000
        public var latencyRate: Double = 5000
        public var realtimePriority: Int32? = 20
        /// Count the throughput phases' datagrams at the server's interface (`UDPProbeRingSink`:
        /// a packet ring, then dropped before the server's IP layer) instead of in a UDP socket
        /// (`UDPProbeReceiver`), so the sink takes little of the CPU the router's path needs.
        /// The delay phases always use the socket.
        public var ringSink = true
        /// Pin the engine to the last CPU and the sender to the first (on 2 cores: one each),
        /// so the engine's wakeups do not preempt the generator.
        public var pin = false
        public init() {}
    }

    public struct Phase: Sendable, CustomStringConvertible {
        public var name: String
        public var sent: Int
        public var delivered: Int
        public var sendSeconds: Double
        /// Delivered packets per second (first to last arrival).
        public var deliveredPerSecond: Double
        public var offeredPerSecond: Double { Double(sent) / max(sendSeconds, 1e-9) }
        public var engine: UserspacePathStats?
        /// CPU seconds (user + system) during the phase: the engine's threads, the sending
        /// thread, and the whole process (which includes the receiver's thread).
        public var engineCPU: Double = 0
        public var senderCPU: Double = 0
        public var processCPU: Double = 0
        /// Datagrams the sink itself lost (not the path's doing).
        public var sinkDropped = 0

        public var description: String {
            var text = "\(name): offered \(Int(offeredPerSecond)) pps, delivered \(delivered)/\(sent) = \(Int(deliveredPerSecond)) pps"
            if sinkDropped > 0 { text += " (the sink lost \(sinkDropped))" }
            if let e = engine {
                let calls = max(e.receiveCalls, 1)
                text += "; engine: \(e.decisions.packets) decided, \(String(format2(Double(e.messagesReceived) / Double(calls)))) per recvmmsg"
                text += ", verdicts \(e.batchVerdicts) batch + \(e.singleVerdicts) single in \(e.verdictSends) sends, \(e.wakeups) wakeups"
                if let k = e.kernelQueue { text += ", kernel queue drops \(k.queueDropped) (full) + \(k.userDropped) (socket)" }
                text += ", max held \(e.decisions.maxHeld), realtime \(e.realtime.map { $0 ? "yes" : "refused" } ?? "no")"
            }
            let perPacket = { (cpu: Double) in format2(cpu / Double(max(sent, 1)) * 1e6) }
            text += "; CPU: sender \(format2(senderCPU)) s (\(perPacket(senderCPU)) µs/pkt), engine \(format2(engineCPU)) s (\(perPacket(engineCPU)) µs/pkt), process \(format2(processCPU)) s"
            return text
        }
    }

    public struct Report: Sendable {
        /// The median rounds.
        public var baseline: Phase
        public var zeroDelay: Phase
        public var twentyMilliseconds: Phase
        /// Delivered packets/s of every round, in order.
        public var baselineRounds: [Double]
        public var zeroDelayRounds: [Double]
        public var twentyMillisecondsRounds: [Double]
        /// One-way delay without the engine, µs.
        public var baselineLatency: (p50: Double, p99: Double, p999: Double)
        /// With the engine at 0 delay, µs (what the engine itself adds).
        public var engineLatency: (p50: Double, p99: Double, p999: Double)
        /// (measured − 20 ms − baseline median), µs.
        public var delayError: (p50: Double, p99: Double, p999: Double, max: Double)
        public var delayProbesLost: Int
        /// The same, with each direction's thread waiting alone (`ReleaseTiming.singleWaiter`, no
        /// helpers), interleaved with the phases above: the baseline of the helpers' gain. As
        /// root (SCHED_FIFO) there are no helpers in either.
        public var delayErrorSingleWaiter: (p50: Double, p99: Double, p999: Double, max: Double)
        /// The engine's threads' CPU (helpers included) per second of the 20 ms delay phases,
        /// with helpers and without.
        public var delayPhaseEngineCPU: (helpers: Double, singleWaiter: Double)
        /// Release passes the helpers ran in the 20 ms delay phases (nil: no helpers).
        public var helperPasses: UInt64?

        public var json: String {
            func n(_ v: Double) -> String { v.isFinite ? String(format2(v)) : "null" }
            return "{\"bench\":\"impairment\",\"pps_0ms\":\(Int(zeroDelay.deliveredPerSecond)),\"pps_20ms\":\(Int(twentyMilliseconds.deliveredPerSecond))"
                + ",\"delay_err_p50_us\":\(n(delayError.p50)),\"delay_err_p99_us\":\(n(delayError.p99)),\"delay_err_p999_us\":\(n(delayError.p999))"
                + ",\"delay_err_max_us\":\(n(delayError.max)),\"baseline_pps\":\(Int(baseline.deliveredPerSecond))"
                + ",\"delay_err_p50_us_single_waiter\":\(n(delayErrorSingleWaiter.p50)),\"delay_err_p99_us_single_waiter\":\(n(delayErrorSingleWaiter.p99))"
                + ",\"delay_err_p999_us_single_waiter\":\(n(delayErrorSingleWaiter.p999))"
                + ",\"delay_engine_cpu_share\":\(n(delayPhaseEngineCPU.helpers)),\"delay_engine_cpu_share_single_waiter\":\(n(delayPhaseEngineCPU.singleWaiter))"
                + ",\"helper_passes\":\(helperPasses.map { String($0) } ?? "null")"
                + ",\"baseline_latency_p50_us\":\(n(baselineLatency.p50)),\"baseline_latency_p99_us\":\(n(baselineLatency.p99))"
                + ",\"engine_latency_p50_us\":\(n(engineLatency.p50)),\"engine_latency_p99_us\":\(n(engineLatency.p99))"
                + ",\"offered_pps_0ms\":\(Int(zeroDelay.offeredPerSecond)),\"offered_pps_20ms\":\(Int(twentyMilliseconds.offeredPerSecond))"
                + ",\"engine_cpu_us_per_pkt_0ms\":\(n(zeroDelay.engineCPU / Double(max(zeroDelay.sent, 1)) * 1e6))"
                + ",\"sender_cpu_us_per_pkt_0ms\":\(n(zeroDelay.senderCPU / Double(max(zeroDelay.sent, 1)) * 1e6))"
                + ",\"process_cpu_share_0ms\":\(n(zeroDelay.processCPU / max(zeroDelay.sendSeconds, 1e-9)))"
                + ",\"rounds\":\(zeroDelayRounds.count),\"baseline_pps_rounds\":\(list(baselineRounds))"
                + ",\"pps_0ms_rounds\":\(list(zeroDelayRounds)),\"pps_20ms_rounds\":\(list(twentyMillisecondsRounds))}"
        }

        private func list(_ values: [Double]) -> String {
            "[" + values.map { String(Int($0)) }.joined(separator: ",") + "]"
        }
    }

    /// Runs the whole benchmark; `progress` receives a line per phase.
    public static func run(_ configuration: Configuration = Configuration(),
                           progress: (String) -> Void = { _ in }) throws -> Report {
        let net = try Topology.line().build()
        defer { net.teardown() }
        let client = try net.namespace("client"), server = try net.namespace("server")
        guard let serverAddress = net.address(of: "server") else {
            throw UserspaceEngineError.notRunning("the line topology has no server address")
        }
        var configuration = configuration
        if configuration.segments > 1 {
            // Without this the GSO buffers would cross the veth whole and the router would
            // forward 16-datagram super-packets in the baseline: not a per-packet comparison.
            let status = try? FirewallRule.run(["ethtool", "-K", "eth0", "tx-udp-segmentation", "off"], in: client)
            if status == nil {
                progress("ethtool -K eth0 tx-udp-segmentation off failed (is ethtool installed?): sending single datagrams")
                configuration.segments = 1
            }
        }
        var port: UInt16 = 9100
        func nextPort() -> UInt16 { port += 1; return port }
        let link = LinkDirection(from: "router", to: "server")

        func blast(_ name: String, spec: ImpairmentSpec?) throws -> Phase {
            let engine = try spec.map {
                try UserspaceEngine.start(network: net, specs: [$0], seed: 1,
                                          options: .init(realtimePriority: configuration.realtimePriority,
                                                         cpu: configuration.pin ? Int32(max(sysconf(Int32(_SC_NPROCESSORS_ONLN)) - 1, 0)) : nil,
                                                         keepCPUsAwake: configuration.realtimePriority != nil))
            }
            defer { engine?.stop() }
            if configuration.pin { _ = fl_set_thread_cpu(0) }
            defer { if configuration.pin { _ = fl_set_thread_cpu(-1) } }
            let p = nextPort()
            let receiver: ProbeSink
            if configuration.ringSink {
                let ring = try UDPProbeRingSink(in: server, interface: "eth0", port: p, expected: 1 << 21)
                ring.realtimePriority = configuration.realtimePriority.map { max($0 - 10, 1) }
                receiver = ring
            } else {
                // 256 MB (the kernel doubles it): the receiver thread shares the CPUs with the
                // sender and the engine and can fall behind by ~100k datagrams; with 32 MB it
                // overflowed (UDP RcvbufErrors) and the phase counted the sink's losses as the path's.
                let socket = try UDPProbeReceiver(in: server, port: p, expected: 1 << 21, receiveBuffer: 256 << 20)
                socket.lazyMicroseconds = 500
                receiver = socket
            }
            defer { receiver.tearDown() }
            receiver.start()
            let sender = try UDPProbeSender(in: client, to: serverAddress, port: p, flows: configuration.flows, sourcePort: 42000)
            let engineBefore = CPUTime.threads(named: "fl-impair"), senderBefore = CPUTime.currentThread()
            let processBefore = CPUTime.process()
            let deadline = fl_monotonic_ns() + UInt64(configuration.seconds * 1e9)
            let report = sender.send(count: Int.max / 2, size: configuration.payload, batch: configuration.batch, deadline: deadline,
                                     segments: configuration.segments)
            let senderCPU = CPUTime.currentThread() - senderBefore
            receiver.waitUntilQuiet(quiet: 100_000_000, limit: 3_000_000_000)
            let engineCPU = CPUTime.threads(named: "fl-impair") - engineBefore
            let processCPU = CPUTime.process() - processBefore
            let arrivals = receiver.stop()
            let times = arrivals.map(\.receivedRealtime)
            let span = Double((times.max() ?? 0) &- (times.min() ?? 0)) / 1e9
            let phase = Phase(name: name, sent: report.sent, delivered: arrivals.count, sendSeconds: report.seconds,
                              deliveredPerSecond: span > 0 ? Double(arrivals.count) / span : 0, engine: engine?.stats.first,
                              engineCPU: engineCPU, senderCPU: senderCPU, processCPU: processCPU, sinkDropped: receiver.dropped)
            progress(phase.description)
            return phase
        }

        func latencies(_ spec: ImpairmentSpec?, timing: ReleaseTiming = .fromEnvironment)
            throws -> (delays: [Double], lost: Int, engineCPUShare: Double, helperPasses: UInt64?) {
            let engine = try spec.map {
                try UserspaceEngine.start(network: net, specs: [$0], seed: 1,
                                          options: .init(realtimePriority: configuration.realtimePriority, keepCPUsAwake: configuration.realtimePriority != nil,
                                                         releaseTiming: timing))
            }
            defer { engine?.stop() }
            let cpuBefore = CPUTime.threads(named: "fl-impair"), started = fl_monotonic_ns()
            let p = nextPort()
            let receiver = try UDPProbeReceiver(in: server, port: p)
            receiver.start()
            let sender = try UDPProbeSender(in: client, to: serverAddress, port: p, sourcePort: 43000)
            sender.send(count: configuration.latencyProbes, size: 64, batch: 1, packetsPerSecond: configuration.latencyRate,
                        sleepingPace: true)
            receiver.waitUntilQuiet()
            let cpu = (CPUTime.threads(named: "fl-impair") - cpuBefore) / max(Double(fl_monotonic_ns() - started) / 1e9, 1e-9)
            let passes = engine?.stats.first?.helperPasses
            let arrivals = receiver.stop()
            return (arrivals.map { Double($0.delay) / 1000 }.sorted(), configuration.latencyProbes - arrivals.count, cpu, passes)
        }

        let zero = ImpairmentSpec(link: link)
        var twenty = ImpairmentSpec(link: link, parameters: .init(delay: .init(delay: .ms(20))))
        twenty.parameters.limit = 2_000_000   // netem's default of 1000 would cap 20 ms at 50k pps

        var baselines: [Phase] = [], zeros: [Phase] = [], twenties: [Phase] = []
        let rounds = max(1, configuration.rounds)
        for round in 1...rounds {
            let tag = rounds > 1 ? " [round \(round)/\(rounds)]" : ""
            baselines.append(try blast("baseline (no engine)" + tag, spec: nil))
            zeros.append(try blast("engine, 0 delay" + tag, spec: zero))
            twenties.append(try blast("engine, 20 ms delay" + tag, spec: twenty))
        }
        func median(_ phases: [Phase]) -> Phase {
            phases.sorted { $0.deliveredPerSecond < $1.deliveredPerSecond }[phases.count / 2]
        }
        let baseline = median(baselines), zeroPhase = median(zeros), twentyPhase = median(twenties)

        // The delay phases last: first, they met the kernel still tearing down the namespaces of
        // whatever ran just before (cleanup_net holds RTNL and waits for RCU) and saw stalls of
        // 3–12 ms.
        let base = try latencies(nil)
        let engine0 = try latencies(zero)
        // 20 ms: with the release helpers and without, interleaved (the load drifts).
        var delayedDelays: [Double] = [], singleDelays: [Double] = [], delayedLost = 0
        var cpuHelpers: [Double] = [], cpuSingle: [Double] = [], passes: UInt64?
        for _ in 1...rounds {
            let single = try latencies(twenty, timing: .singleWaiter)
            let delayed = try latencies(twenty)
            singleDelays += single.delays
            delayedDelays += delayed.delays
            delayedLost += delayed.lost
            cpuSingle.append(single.engineCPUShare)
            cpuHelpers.append(delayed.engineCPUShare)
            if let p = delayed.helperPasses { passes = (passes ?? 0) + p }
        }
        let baseMedian = quantile(base.delays, 0.5)
        let errors = delayedDelays.sorted().map { $0 - 20_000 - baseMedian }
        let singleErrors = singleDelays.sorted().map { $0 - 20_000 - baseMedian }
        let mean = { (values: [Double]) in values.reduce(0, +) / Double(max(values.count, 1)) }
        let report = Report(
            baseline: baseline, zeroDelay: zeroPhase, twentyMilliseconds: twentyPhase,
            baselineRounds: baselines.map(\.deliveredPerSecond), zeroDelayRounds: zeros.map(\.deliveredPerSecond),
            twentyMillisecondsRounds: twenties.map(\.deliveredPerSecond),
            baselineLatency: (baseMedian, quantile(base.delays, 0.99), quantile(base.delays, 0.999)),
            engineLatency: (quantile(engine0.delays, 0.5), quantile(engine0.delays, 0.99), quantile(engine0.delays, 0.999)),
            delayError: (quantile(errors, 0.5), quantile(errors, 0.99), quantile(errors, 0.999), errors.last ?? .nan),
            delayProbesLost: delayedLost + base.lost,
            delayErrorSingleWaiter: (quantile(singleErrors, 0.5), quantile(singleErrors, 0.99), quantile(singleErrors, 0.999), singleErrors.last ?? .nan),
            delayPhaseEngineCPU: (mean(cpuHelpers), mean(cpuSingle)), helperPasses: passes)
        progress("latency µs: baseline p50 \(format2(report.baselineLatency.p50)) p99 \(format2(report.baselineLatency.p99)); engine 0 ms p50 \(format2(report.engineLatency.p50)) p99 \(format2(report.engineLatency.p99)); 20 ms error p50 \(format2(report.delayError.p50)) p99 \(format2(report.delayError.p99)) p99.9 \(format2(report.delayError.p999)) max \(format2(report.delayError.max)); probes lost \(report.delayProbesLost)")
        // FAULTLINE_BENCH_RELEASE_TIMINGS="HELPERS:GRACE_US,..." (e.g. "0:0,1:0,2:0,2:100"): those
        // release timings too, interleaved round by round, one line each (for choosing the standard).
        if let list = getenv("FAULTLINE_BENCH_RELEASE_TIMINGS").map({ String(cString: $0) }) {
            let timings = list.split(separator: ",").compactMap { item -> ReleaseTiming? in
                let parts = item.split(separator: ":").compactMap { UInt64($0) }
                return parts.count == 2 ? ReleaseTiming(helpers: Int(parts[0]), grace: parts[1] * 1000) : nil
            }
            var delays = [[Double]](repeating: [], count: timings.count), cpu = [[Double]](repeating: [], count: timings.count)
            var passes = [UInt64](repeating: 0, count: timings.count)
            for _ in 1...rounds {
                for (i, timing) in timings.enumerated() {
                    let r = try latencies(twenty, timing: timing)
                    delays[i] += r.delays
                    cpu[i].append(r.engineCPUShare)
                    passes[i] += r.helperPasses ?? 0
                }
            }
            for (i, timing) in timings.enumerated() {
                let e = delays[i].sorted().map { $0 - 20_000 - baseMedian }
                progress("release timing \(timing.helpers) helpers, grace \(timing.grace / 1000) µs: 20 ms error p50 \(format2(quantile(e, 0.5))) p99 \(format2(quantile(e, 0.99))) p99.9 \(format2(quantile(e, 0.999))) max \(format2(e.last ?? .nan)); engine CPU \(format2(mean(cpu[i]) * 100)) % of a CPU, \(passes[i]) helper passes")
            }
        }
        progress("20 ms error without release helpers (one waiting thread, same run, interleaved): p50 \(format2(report.delayErrorSingleWaiter.p50)) p99 \(format2(report.delayErrorSingleWaiter.p99)) p99.9 \(format2(report.delayErrorSingleWaiter.p999)) max \(format2(report.delayErrorSingleWaiter.max)); engine CPU \(format2(report.delayPhaseEngineCPU.helpers * 100)) % of a CPU with helpers (\(report.helperPasses.map { "\($0) helper passes" } ?? "none started"))), \(format2(report.delayPhaseEngineCPU.singleWaiter * 100)) % without")
        return report
    }

    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }
}

/// Two decimals, without Foundation.
func format2(_ v: Double) -> String {
    guard v.isFinite else { return "nan" }
    let scaled = (abs(v) * 100).rounded()
    let whole = Int(scaled / 100), frac = Int(scaled.truncatingRemainder(dividingBy: 100))
    return (v < 0 && scaled > 0 ? "-" : "") + "\(whole)." + (frac < 10 ? "0" : "") + "\(frac)"
}

/// CPU time from /proc (clock ticks, 10 ms resolution: fine over seconds-long phases).
enum CPUTime {
    static let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// utime + stime of a /proc stat line, in seconds.
    static func parse(_ stat: String) -> Double {
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state(0) ppid(1) ... utime is field 14 overall → index 11 here.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / ticks
    }

    static func currentThread() -> Double { parse(DecisionLog.read("/proc/thread-self/stat") ?? "") }
    static func process() -> Double { parse(DecisionLog.read("/proc/self/stat") ?? "") }

    /// Summed over this process's threads whose name starts with `prefix`.
    static func threads(named prefix: String) -> Double {
        guard let dir = opendir("/proc/self/task") else { return 0 }
        defer { closedir(dir) }
        var total = 0.0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard Int(name) != nil, let comm = DecisionLog.read("/proc/self/task/\(name)/comm"),
                  comm.hasPrefix(prefix), !comm.hasPrefix(prefix + "-mon") else { continue }
            total += parse(DecisionLog.read("/proc/self/task/\(name)/stat") ?? "")
        }
        return total
    }
}
