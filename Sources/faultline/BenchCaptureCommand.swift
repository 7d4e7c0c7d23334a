import Values
import ArgumentParser
import Capture
import CLinux
import Foundation
import Glibc
import Netlink

/// `faultline _bench-capture`: the input of `scripts/bench analyze` (and of the real-traffic
/// agreement test). A real capture, not a synthetic one: the line topology (offloads off), a
/// random drop on the router's forward path, K bulk TCP flows made by `faultline peer send` /
/// `faultline peer listen` (this same binary), captured with the Capture module at a small snap
/// length until at least N packets are in the file. Prints what it made and one JSON line.
struct BenchCaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_bench-capture",
        abstract: "Benchmark input: capture bulk TCP flows through a lossy router.",
        discussion: HelpText.reflow("""
        Builds client — router — server (segmentation offloads off), adds

          iptables -A FORWARD -m statistic --mode random --probability P -j DROP

        in the router's namespace (the rule dies with it), captures on the
        server's (or client's) eth0 at --snaplen, and runs --flows parallel
        `faultline peer send` → `faultline peer listen` bulk transfers. Once
        the capture holds --packets packets the senders get SIGTERM (they close
        with FIN), the listeners read to the end, the capture stops, and the
        network is torn down. The statistics go to FILE.stats.json as for any
        capture; the last line printed is JSON:

          {"bench_capture":FILE,"packets":...,"router_dropped":...,
           "capture_dropped":...,"flows":...,"bytes":...,"retransmits":...,...}

        Exit status 1 if the traffic stopped (a peer failed) before the
        capture reached --packets, or --timeout passed; 3 if iptables or the
        capture cannot run here (needs root).

        Examples:
          faultline _bench-capture --out /tmp/a.pcapng
            500k+ packets, 8 flows, 0.5% loss, snap length 128, at the server
          faultline _bench-capture --out /tmp/b.pcapng --packets 20000 \\
              --flows 4 --loss 1% --at client
            a small capture seen from the sender's side
        """),
        shouldDisplay: false)

    @Option(help: ArgumentHelp("pcapng file to write (statistics beside it in FILE.stats.json).", valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp("Stop the traffic once the capture holds at least this many packets.", valueName: "n"))
    var packets: Int = 500_000

    @Option(help: ArgumentHelp("Parallel bulk TCP flows (ports --port, --port+1, ...).", valueName: "k"))
    var flows: Int = 8

    @Option(help: ArgumentHelp("Random drop on the router's forward path (both directions): 0.5% or 0.005; 0 for none.", valueName: "p"),
            transform: BenchCaptureCommand.parseLoss)
    var loss: Double = 0.005

    @Option(help: ArgumentHelp("Bytes kept of each frame (at least 128).", valueName: "bytes"))
    var snaplen: Int = 128

    @Option(help: ArgumentHelp("Where to capture: server (receiver side: losses show as gaps) or client (sender side).", valueName: "node"))
    var at: Side = .server

    @Option(help: ArgumentHelp("Total sending rate of all flows, in Mbit/s: each sender writes 16 KiB every (16 KiB / its share). 0 sends as fast as the path allows — more packets per second than the capture can write on a small machine, so the capture drops packets.", valueName: "Mbit/s"))
    var rateMbit: Double = 300

    @Option(help: ArgumentHelp("Kernel capture buffer, in MiB.", valueName: "MiB"))
    var bufferMib: Int = 64

    @Option(help: ArgumentHelp("First server port.", valueName: "port"))
    var port: Int = 9000

    @Option(help: ArgumentHelp("Give up after this many seconds of traffic.", valueName: "seconds"))
    var timeout: Int = 300

    enum Side: String, ExpressibleByArgument, CaseIterable {
        case server, client
    }

    /// "0.5%" → 0.005; "0.005" → 0.005 (a bare number is a fraction, 0...1).
    static func parseLoss(_ text: String) throws -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let isPercent = trimmed.hasSuffix("%")
        guard let number = Double(isPercent ? String(trimmed.dropLast()) : trimmed), number.isFinite, number >= 0 else {
            throw ValidationError("--loss \"\(text)\": expected a percentage like 0.5% or a fraction like 0.005")
        }
        let fraction = isPercent ? number / 100 : number
        guard fraction < 1 else {
            throw ValidationError("--loss \"\(text)\": \(fraction * 100)% would drop everything; expected less than 100% (e.g. 0.5%)")
        }
        return fraction
    }

    func validate() throws {
        if packets < 1 { throw ValidationError("--packets \(packets): expected at least 1") }
        if !(1...64).contains(flows) { throw ValidationError("--flows \(flows): expected 1...64") }
        if !(CaptureSession.minimumSnapLength...262_144).contains(snaplen) {
            throw ValidationError("--snaplen \(snaplen): expected \(CaptureSession.minimumSnapLength)...262144 (Ethernet, IP and TCP headers with options must fit)")
        }
        if !(1...1024).contains(bufferMib) { throw ValidationError("--buffer-mib \(bufferMib): expected 1...1024") }
        if !(1...(65_535 - 64)).contains(port) { throw ValidationError("--port \(port): expected 1...65471") }
        if !(rateMbit >= 0 && rateMbit <= 100_000) { throw ValidationError("--rate-mbit \(rateMbit): expected 0 (unpaced) ... 100000") }
        if timeout < 1 { throw ValidationError("--timeout \(timeout): expected at least 1 second") }
        if out.isEmpty { throw ValidationError("--out: expected a file path") }
    }

    func run() throws {
        do {
            try makeCapture()
        } catch let error as BenchCaptureError {
            FileHandleStderr.write("error: \(error)\n")
            throw ExitCode(3)
        }
    }

    private func makeCapture() throws {
        let started = fl_monotonic_ns()
        let workDirectory = try Self.makeTemporaryDirectory()
        var keepWorkDirectory = false  // the peers' event logs stay for a look when the traffic failed
        defer { if !keepWorkDirectory { _ = try? FileManager.default.removeItem(atPath: workDirectory) } }

        let network: Network
        do { network = try Topology.line().build() } catch {
            throw BenchCaptureError.environment("build the line topology: \(error)")
        }
        defer { network.teardown() }
        let router = try network.namespace("router")
        let serverNamespace = try network.namespace("server")
        let clientNamespace = try network.namespace("client")
        guard let serverAddress = network.address(of: "server") else {
            throw BenchCaptureError.environment("the line topology has no IPv4 address for the server")
        }

        // 1. The loss: a random drop in the router's FORWARD chain, data and ACKs alike.
        let probability = String(format: "%.6f", loss)
        if loss > 0 {
            let rule = ["iptables", "-w", "-A", "FORWARD", "-m", "statistic", "--mode", "random",
                        "--probability", probability, "-j", "DROP"]
            let (status, output) = try Self.runToCompletion(rule, in: router, directory: workDirectory)
            if status != .exited(0) {
                throw BenchCaptureError.environment(
                    "`\(rule.joined(separator: " "))` in the router's namespace \(status): \(output.trimmingCharacters(in: .whitespacesAndNewlines)) — iptables (with the xt_statistic match) is installed by scripts/setup")
            }
        }

        // 2. The capture.
        let captureNamespace = at == .server ? serverNamespace : clientNamespace
        let capture: RunningCapture
        do {
            capture = try CaptureSession.start(
                points: [CapturePoint(namespace: captureNamespace, interface: "eth0", file: out, label: at.rawValue)],
                snapLength: snaplen, bufferSize: bufferMib * 1024 * 1024)
        } catch {
            throw BenchCaptureError.environment(error.description)
        }

        // 3. The flows: listeners first (each serves one connection), then the senders.
        let executable = "/proc/self/exe"
        let quiet = ["--progress-interval", "0", "--block-threshold", "1h"]
        var listeners: [ChildProcess] = []
        var senders: [ChildProcess] = []
        var outcome: String?
        let stopAll = { (children: [ChildProcess]) in for child in children { child.kill() } }
        do {
            for flow in 0..<flows {
                listeners.append(try serverNamespace.spawn(
                    [executable, "peer", "listen", "--port", String(port + flow), "--connections", "1",
                     "--events", "\(workDirectory)/listen-\(flow).jsonl"] + quiet))
            }
            for flow in 0..<flows {
                try Self.waitForEvent("listening", in: "\(workDirectory)/listen-\(flow).jsonl", child: listeners[flow])
            }
            var pacing: [String] = []
            if rateMbit > 0 {
                let writeSize = 16_384.0
                let pace = UInt64((writeSize * 8 / (rateMbit * 1e6 / Double(flows)) * 1e9).rounded())
                pacing = ["--write-size", "16KiB", "--pace", "\(max(pace, 1))ns"]
            }
            for flow in 0..<flows {
                senders.append(try clientNamespace.spawn(
                    [executable, "peer", "send", "--to", "\(serverAddress):\(port + flow)", "--bytes", "1024GiB",
                     "--tcp-info-interval", "10s", "--events", "\(workDirectory)/send-\(flow).jsonl"] + pacing + quiet))
            }
        } catch {
            stopAll(senders + listeners)
            capture.stop()
            throw BenchCaptureError.environment("start the peers: \(error)")
        }

        // 4. Until the capture holds enough packets (or the traffic stops, or the time is up).
        let trafficStart = fl_monotonic_ns()
        let deadline = trafficStart + UInt64(timeout) * 1_000_000_000
        // The capture thread publishes its count after each batch it writes; a count that stands
        // still while the senders run means it is not keeping up (it has not finished reading
        // what the kernel holds): stop the traffic rather than let it fall further behind.
        var lastWritten: UInt64 = 0
        var lastChange = trafficStart
        while true {
            let written = capture.currentStats().first?.packetsWritten ?? 0
            if written >= UInt64(packets) { break }
            let now = fl_monotonic_ns()
            if written != lastWritten {
                lastWritten = written
                lastChange = now
            } else if now - lastChange > 3_000_000_000 {
                outcome = "the capture wrote nothing for 3 s with \(written) packets written (it cannot keep up: lower --rate-mbit)"
                break
            }
            if let ended = senders.firstIndex(where: { $0.hasExited }) {
                outcome = "sender \(ended) stopped (\(senders[ended].poll().map { "\($0)" } ?? "?")) after \(written) packets"
                break
            }
            if fl_monotonic_ns() >= deadline {
                outcome = "--timeout \(timeout)s passed with \(written) of \(packets) packets captured"
                break
            }
            usleep(10_000)
        }
        let trafficEnd = fl_monotonic_ns()

        // 5. Senders close with FIN after SIGTERM; listeners read to the end and exit.
        // One deadline for all of them: what is still running after it is killed.
        for sender in senders { sender.signal(SIGTERM) }
        let quitDeadline = fl_monotonic_ns() + 10_000_000_000
        for child in senders + listeners {
            let now = fl_monotonic_ns()
            if child.wait(timeoutNanoseconds: quitDeadline > now ? quitDeadline - now : 0) == nil {
                child.kill()
                _ = child.wait()
            }
        }
        usleep(100_000)  // the last ACKs and FINs
        let stats = capture.stop()

        // 6. What the router dropped, what the senders saw.
        var routerDropped: UInt64?
        if loss > 0 {
            let (status, text) = try Self.runToCompletion(["iptables", "-w", "-L", "FORWARD", "-v", "-x", "-n"],
                                                        in: router, directory: workDirectory)
            if status == .exited(0) { routerDropped = Self.dropCounter(in: text) }
        }
        var bytesSent: UInt64 = 0
        var retransmits: UInt64 = 0
        var sendOutcomes: [String: Int] = [:]
        for flow in 0..<flows {
            let summary = Self.summary(in: "\(workDirectory)/send-\(flow).jsonl")
            bytesSent += Self.unsigned(summary?["bytes_written"])
            retransmits += Self.unsigned(summary?["total_retrans"])
            sendOutcomes[(summary?["outcome"] as? String) ?? "no summary", default: 0] += 1
        }
        network.teardown()

        // 7. The report.
        let stat = stats.first
        let written = stat?.packetsWritten ?? 0
        let seconds = Double(trafficEnd - trafficStart) / 1e9
        print("capture \(out): \(written) packets (\(stat?.capturedBytes ?? 0) bytes captured of \(stat?.wireBytes ?? 0) on the wire), snap length \(snaplen), at \(at.rawValue):eth0")
        if let stat { print("  \(stat.summary)") }
        let pacingText = rateMbit > 0 ? String(format: "paced to %.0f Mbit/s in all", rateMbit) : "unpaced"
        print("  traffic: \(flows) flows, \(pacingText), "
              + String(format: "%.1f MB sent in %.2f s (%.0f packets/s captured)",
                       Double(bytesSent) / 1e6, seconds, Double(written) / max(seconds, 1e-9)))
        if loss > 0 {
            print("  router: random drop p=\(probability) on FORWARD, \(routerDropped.map(String.init) ?? "unknown") packets dropped; senders retransmitted \(retransmits) segments")
        }
        print("  senders: " + sendOutcomes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        if let stat, stat.lostPackets {
            print("  warning: the capture itself lost packets (kernel buffer full): raise --buffer-mib")
        }
        var json: [String] = [
            "\"bench_capture\":\(Self.jsonString(out))",
            "\"packets\":\(written)",
            "\"received\":\(stat?.received ?? 0)",
            "\"capture_dropped\":\(stat?.dropped ?? 0)",
            "\"router_dropped\":\(routerDropped.map(String.init) ?? "null")",
            "\"loss\":\(probability)",
            "\"flows\":\(flows)",
            String(format: "\"rate_mbit\":%.0f", rateMbit),
            "\"snaplen\":\(snaplen)",
            "\"at\":\"\(at.rawValue)\"",
            "\"bytes\":\(bytesSent)",
            "\"retransmits\":\(retransmits)",
            String(format: "\"traffic_seconds\":%.3f", seconds),
            String(format: "\"total_seconds\":%.3f", Double(fl_monotonic_ns() - started) / 1e9),
        ]
        if let outcome { json.append("\"stopped_early\":\(Self.jsonString(outcome))") }
        print("{" + json.joined(separator: ",") + "}")
        if let outcome, written < UInt64(packets) {
            keepWorkDirectory = true
            FileHandleStderr.write("error: the capture has \(written) of \(packets) packets: \(outcome) (peer event logs were in \(workDirectory))\n")
            throw ExitCode(1)
        }
    }

    // MARK: helpers

    enum BenchCaptureError: Error, CustomStringConvertible {
        case environment(String)
        var description: String {
            switch self {
            case .environment(let text): return "cannot make the capture: \(text)"
            }
        }
    }

    static func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/faultline-bench-capture-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
            return String(cString: base)
        }
        guard let made else { throw BenchCaptureError.environment("mkdtemp in /tmp: \(Errno.current)") }
        return made
    }

    /// Runs `argv` inside `namespace`, stdout and stderr to a file, and returns status and output.
    static func runToCompletion(_ argv: [String], in namespace: NetworkNamespace,
                                directory: String) throws -> (ChildProcess.ExitStatus, String) {
        let path = "\(directory)/cmd-\(fl_monotonic_ns()).out"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BenchCaptureError.environment("create \(path): \(Errno.current)") }
        let child: ChildProcess
        do {
            child = try namespace.spawn(argv, stdout: fd, stderr: fd)
        } catch {
            close(fd)
            throw BenchCaptureError.environment("start \(argv.joined(separator: " ")): \(error)")
        }
        close(fd)
        var status = child.wait(timeoutNanoseconds: 30_000_000_000)
        if status == nil {
            child.kill()
            status = child.wait()
        }
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return (status ?? .signaled(SIGKILL), text)
    }

    /// Waits (up to 10 s) until a peer's event log has `event`; fails early if the peer exits.
    static func waitForEvent(_ event: String, in path: String, child: ChildProcess) throws {
        let needle = "\"event\":\"\(event)\""
        let deadline = fl_monotonic_ns() + 10_000_000_000
        while fl_monotonic_ns() < deadline {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains(needle) { return }
            if let status = child.poll() {
                let log = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
                throw BenchCaptureError.environment("`\(child.argv.joined(separator: " "))` \(status) before \(event): \(log.suffix(400))")
            }
            usleep(2_000)
        }
        throw BenchCaptureError.environment("`\(child.argv.joined(separator: " "))` did not log \(event) within 10 s")
    }

    /// The packet counter of the DROP rule in `iptables -L FORWARD -v -x -n` output.
    static func dropCounter(in text: String) -> UInt64? {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count > 3, fields[2] == "DROP", line.contains("statistic") { return UInt64(fields[0]) }
        }
        return nil
    }

    /// The `summary` event (last line) of a peer's event log.
    static func summary(in path: String) -> [String: Any]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n").reversed() where line.contains("\"event\":\"summary\"") {
            return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
        return nil
    }

    static func unsigned(_ value: Any?) -> UInt64 {
        if let number = value as? NSNumber { return number.uint64Value }
        return 0
    }

    static func jsonString(_ text: String) -> String { JSONText.quoted(text) }
}
