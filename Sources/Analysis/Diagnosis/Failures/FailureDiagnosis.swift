import Values

/// The failure modes of issue #18 (docs/failure-modes.md, "Failures engineers chase"), diagnosed
/// after the main classifiers: each reads the timelines of `FailureTrace`, adds its findings and
/// takes over the findings of the main pass that are its own symptoms (the retransmissions of a
/// dead path are not "packet loss"; a SYN rejected by ICMP is not "unanswered").
///
/// The traces come with the digests (the observer builds them in the main pass); a digest made
/// without one has its file read once more.
///
/// Hooked into `Diagnoser.findings(from:)` at one marked line, so every way of diagnosing (the
/// runner, `faultline analyze`, report.html) gets the same findings.
enum FailureDiagnosis {
    static func refine(_ findings: [Finding], digests: [VantageDigest]) -> [Finding] {
        var traces: [FailureTrace] = []
        var kept: [VantageDigest] = []
        for digest in digests {
            guard let trace = digest.failureTrace ?? FailureTrace.read(vantage: digest.vantage, path: digest.path) else { continue }
            traces.append(trace)
            kept.append(digest)
        }
        guard !traces.isEmpty else { return findings }
        var context = FailureContext(traces: traces, digests: kept, findings: findings)
        context.icmpRejections()
        context.listenQueueOverflows()
        context.mtuBlackHoles()
        context.connectionsLost()
        context.bufferbloat()
        context.stalls()
        context.windowLimited()
        return context.findings
    }
}

/// A flow as one vantage saw it.
struct FlowSighting {
    var trace: Int
    var flow: Int
}

struct FailureContext {
    let traces: [FailureTrace]
    let digests: [VantageDigest]
    var findings: [Finding]
    /// Connections that waited behind another's standing queue (bufferbloat): their slow answers
    /// are the queue's, not the server's.
    var queuedBehind: Set<FlowRef> = []
    /// Per trace, its flows by their endpoints: `sightings(of:)` looks a flow up instead of
    /// scanning every flow (a scan per flow made the pass quadratic: 64 s on 200,000 connections).
    private let flowsByEndpoints: [[EndpointPair: [Int]]]
    /// Per trace, per address: whether its first flow with packets from that address saw them
    /// unrouted (see `isServerSide`).
    private let unroutedTTL: [[IPAddress: Bool]]

    init(traces: [FailureTrace], digests: [VantageDigest], findings: [Finding]) {
        self.traces = traces
        self.digests = digests
        self.findings = findings
        flowsByEndpoints = traces.map { trace in
            var index: [EndpointPair: [Int]] = [:]
            for (i, flow) in trace.flows.enumerated() { index[EndpointPair(flow.client, flow.server), default: []].append(i) }
            return index
        }
        unroutedTTL = traces.map { trace in
            // The first flow (in the order flows began, let-go ones included) with packets from the address.
            var first = trace.letGo.firstTTL
            for flow in trace.flows {
                for (address, fromClient) in [(flow.client.address, true), (flow.server.address, false)] {
                    if let existing = first[address], existing.ordinal <= flow.ordinal { continue }
                    if let ttl = flow.ttlMode(fromClient: fromClient) { first[address] = (flow.ordinal, ttl) }
                }
            }
            return first.mapValues { [64, 128, 255].contains($0.ttl) }
        }
    }

    func flow(_ s: FlowSighting) -> FlowTrace { traces[s.trace].flows[s.flow] }

    /// The same connection at every vantage (same endpoints, overlapping in time).
    func sightings(of flow: FlowTrace) -> [FlowSighting] {
        var found: [FlowSighting] = []
        let tolerance = TimeSpan.seconds(5)
        for t in traces.indices {
            for i in flowsByEndpoints[t][EndpointPair(flow.client, flow.server)] ?? [] {
                let other = traces[t].flows[i]
                if let a = flow.clientISN, let b = other.clientISN, a != b { continue }
                if other.firstTime > flow.lastTime + tolerance
                    || other.lastTime < flow.firstTime - tolerance { continue }
                found.append(FlowSighting(trace: t, flow: i))
                break
            }
        }
        return found
    }

    /// The first flow of trace `t` from `client` to `server` whose SYN carried `clientISN`.
    func flowIndex(_ t: Int, client: TCPEndpoint, server: TCPEndpoint, clientISN: UInt32) -> Int? {
        (flowsByEndpoints[t][EndpointPair(client, server)] ?? []).first { i in
            let flow = traces[t].flows[i]
            return flow.client == client && flow.server == server && flow.clientISN == clientISN
        }
    }

    /// Whether trace `t` was taken on the server's side of the path: the server's own packets are
    /// seen there with an unrouted TTL (64, 128, 255) or, when the server sent nothing, the
    /// capture was stated to be the server's (VantageDigest.role).
    func isServerSide(_ t: Int, server: IPAddress) -> Bool {
        unroutedTTL[t][server] ?? (digests[t].role == .server)
    }

    /// Whether trace `t` was listening from `from` to `to` (its recorded window, or its packets).
    func listened(_ t: Int, from: CaptureTime, to: CaptureTime) -> Bool {
        switch digests[t].window.coverage(from: from, to: to) {
        case .recorded, .packets: return true
        case .outside, .unknown: return false
        }
    }

    /// Removes the main pass's findings on `flow` that `keep` rejects.
    mutating func removeFindings(on flow: FlowRef, where drop: (Finding) -> Bool) -> [String] {
        var removed: [String] = []
        findings.removeAll { finding in
            guard finding.flow == flow, drop(finding) else { return false }
            removed.append(finding.name)
            return true
        }
        return removed
    }

    static func ms(_ span: TimeSpan) -> Double { Stats.ms(span) }
    static func text(_ value: Double) -> String { JSONText.number(value) }
}
