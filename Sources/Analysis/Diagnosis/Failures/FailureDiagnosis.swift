/// The failure modes of issue #18 (docs/failure-modes.md, "Failures engineers chase"), diagnosed
/// after the main classifiers: each reads the timelines of `FailureTrace`, adds its findings and
/// takes over the findings of the main pass that are its own symptoms (the retransmissions of a
/// dead path are not "packet loss"; a SYN rejected by ICMP is not "unanswered").
///
/// Hooked into `Diagnoser.findings(from:)` at one marked line, so every way of diagnosing (the
/// runner, `faultline analyze`, report.html) gets the same findings.
enum FailureDiagnosis {
    static func refine(_ findings: [Finding], digests: [VantageDigest]) -> [Finding] {
        var traces: [FailureTrace] = []
        var kept: [VantageDigest] = []
        for digest in digests {
            guard let trace = FailureTrace.read(vantage: digest.vantage, path: digest.path) else { continue }
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

    func flow(_ s: FlowSighting) -> FlowTrace { traces[s.trace].flows[s.flow] }

    /// The same connection at every vantage (same endpoints, overlapping in time).
    func sightings(of flow: FlowTrace) -> [FlowSighting] {
        var found: [FlowSighting] = []
        for (t, trace) in traces.enumerated() {
            for (i, other) in trace.flows.enumerated() {
                let same = (other.client == flow.client && other.server == flow.server)
                    || (other.client == flow.server && other.server == flow.client)
                guard same else { continue }
                if let a = flow.clientISN, let b = other.clientISN, a != b { continue }
                let tolerance: Int64 = 5_000_000_000
                if other.firstTime > flow.lastTime.plusSaturating(tolerance)
                    || other.lastTime < flow.firstTime.minusSaturating(tolerance) { continue }
                found.append(FlowSighting(trace: t, flow: i))
                break
            }
        }
        return found
    }

    /// Whether trace `t` was taken on the server's side of the path: the server's own packets are
    /// seen there with an unrouted TTL (64, 128, 255) or, when the server sent nothing, the
    /// vantage is named after the server.
    func isServerSide(_ t: Int, server: IPAddress) -> Bool {
        for flow in traces[t].flows where flow.server.address == server || flow.client.address == server {
            let fromClient = flow.client.address == server
            if let ttl = flow.ttlMode(fromClient: fromClient) { return [64, 128, 255].contains(ttl) }
        }
        return digests[t].role == .server
    }

    /// Whether trace `t` was listening from `from` to `to` (its recorded window, or its packets).
    func listened(_ t: Int, from: Int64, to: Int64) -> Bool {
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

    static func ms(_ ns: Int64) -> Double { Stats.ms(ns) }
    static func text(_ value: Double) -> String { JSONText.number(value) }
}
