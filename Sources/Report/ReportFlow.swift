import Analysis

/// A TCP connection as the report draws it: the same flow at every vantage point that saw it,
/// the findings about it, and which end sends the data the graph plots.
struct ReportFlow {
    struct Member {
        var vantage: Int
        var conversation: Int
        /// The data sender is this conversation's client (`TCPConversation.client`).
        var senderIsClient: Bool
    }

    var id: Int
    var client: String
    var server: String
    var members: [Member]
    var findings: [Finding]
    /// The end whose data the sequence axis counts (the one that sent more payload).
    var sender: String
    var receiver: String
    /// The sender's initial sequence number (tshark's relative-sequence base), shared by every
    /// vantage: the same segment sits at the same height in every panel.
    var base: UInt32
    var firstTime: Int64
    var lastTime: Int64

    var title: String { "\(client) → \(server)" }

    /// Groups conversations of all captures by their endpoints (the k-th conversation on the same
    /// pair of endpoints in each capture is the same connection), then attaches the findings.
    static func flows(_ analysis: ReportAnalysis) -> [ReportFlow] {
        var flows: [ReportFlow] = []
        var byKey: [String: [Int]] = [:]
        for (vantage, capture) in analysis.result.analyses.enumerated() {
            var seen: [String: Int] = [:]
            for conversation in capture.analyzer.conversations {
                let a = conversation.client.description, b = conversation.server.description
                let key = a < b ? a + "|" + b : b + "|" + a
                let occurrence = seen[key, default: 0]
                seen[key] = occurrence + 1
                let member = Member(vantage: vantage, conversation: conversation.id, senderIsClient: true)
                if let existing = byKey[key], occurrence < existing.count {
                    let index = existing[occurrence]
                    flows[index].members.append(member)
                    flows[index].firstTime = min(flows[index].firstTime, conversation.firstTime)
                    flows[index].lastTime = max(flows[index].lastTime, conversation.lastTime)
                    if !conversation.clientFlow.sawSYN || flows[index].client == a { continue }
                    // The first vantage missed the handshake: this one knows who opened it.
                    flows[index].client = a
                    flows[index].server = b
                } else {
                    byKey[key, default: []].append(flows.count)
                    flows.append(ReportFlow(id: flows.count, client: a, server: b, members: [member], findings: [],
                                            sender: a, receiver: b, base: 0,
                                            firstTime: conversation.firstTime, lastTime: conversation.lastTime))
                }
            }
        }
        for index in flows.indices { flows[index].chooseSender(analysis) }
        for finding in analysis.result.findings {
            guard let flow = finding.flow else { continue }
            let a = flow.client, b = flow.server
            let key = a < b ? a + "|" + b : b + "|" + a
            let candidates = byKey[key] ?? []
            // Several connections on the same endpoints: the one holding the finding's frames.
            let chosen = candidates.first { index in
                flows[index].members.contains { member in
                    guard let refs = finding.frames[analysis.vantages[member.vantage].name] else { return false }
                    let conversation = analysis.result.analyses[member.vantage].analyzer.conversations[member.conversation]
                    return refs.first >= conversation.firstFrame && refs.first <= conversation.lastFrame
                }
            } ?? candidates.first
            if let chosen { flows[chosen].findings.append(finding) }
        }
        return flows
    }

    private mutating func chooseSender(_ analysis: ReportAnalysis) {
        guard let first = members.first else { return }
        let conversation = analysis.result.analyses[first.vantage].analyzer.conversations[first.conversation]
        let clientIsA = conversation.client.description == client
        let clientBytes = clientIsA ? conversation.clientFlow.payloadBytes : conversation.serverFlow.payloadBytes
        let serverBytes = clientIsA ? conversation.serverFlow.payloadBytes : conversation.clientFlow.payloadBytes
        sender = clientBytes >= serverBytes ? client : server
        receiver = sender == client ? server : client
        var baseKnown = false
        for index in members.indices {
            let member = members[index]
            let c = analysis.result.analyses[member.vantage].analyzer.conversations[member.conversation]
            members[index].senderIsClient = c.client.description == sender
            let flow = members[index].senderIsClient ? c.clientFlow : c.serverFlow
            if !baseKnown && flow.baseSeqKnown {
                base = flow.baseSeq
                baseKnown = true
            }
        }
        if !baseKnown {
            // No handshake anywhere: count from the first byte the sender was seen sending.
            let table = analysis.tables[first.vantage]
            if first.conversation < table.rowsByConversation.count {
                for row in table.rowsByConversation[first.conversation]
                where table.bits[row].contains(.fromClient) == members[0].senderIsClient {
                    base = table.seqs[row] &- 1
                    break
                }
            }
        }
    }

    /// Sequence number relative to the sender's ISN (tshark's relative numbers).
    func relative(_ seq: UInt32) -> Int64 { Int64(Int32(bitPattern: seq &- base)) }
}
