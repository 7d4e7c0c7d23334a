import Analysis

/// A mark as the table view lists it.
struct MarkRow {
    var vantage: String
    var frame: UInt64
    var time: Int64
    var kind: Int
    var position: Int64
    var count: Int
}

/// Draws one view (a time range) of one flow as one SVG: a Stevens/tcptrace time-sequence panel
/// per vantage point, the kernel's TCP_INFO of the flow's sockets, and the timeline, all on one
/// time axis.
///
/// Within a panel, up to `detailLimit` frames are drawn one by one (every segment, ACK and mark
/// with its frame number on hover); beyond that the frames are summed per pixel column (one bar
/// per column for the data, one point per column for the ACK and window lines, one mark per kind
/// and column carrying the count in `data-n`), so the marks always add up to the analyzer's flags.
struct FlowGraph {
    let flow: ReportFlow
    let analysis: ReportAnalysis
    let kernel: [KernelSample]
    let timeline: [TimelineEvent]
    /// The report's time zero (ns since the epoch): all times print relative to it.
    let zero: Int64
    let view: String
    let t0: Int64
    let t1: Int64

    static let width = 1000.0, left = 84.0, plotWidth = 890.0
    static let columns = 890
    static let detailLimit = 1500
    static let panelHeight = 250.0

    var rows: [MarkRow] = []

    init(flow: ReportFlow, analysis: ReportAnalysis, kernel: [KernelSample], timeline: [TimelineEvent], zero: Int64,
         view: String, t0: Int64, t1: Int64) {
        self.flow = flow
        self.analysis = analysis
        self.kernel = kernel
        self.timeline = timeline
        self.zero = zero
        self.view = view
        self.t0 = t0
        self.t1 = max(t1, t0 + 1_000)
    }

    func x(_ t: Int64) -> Double { Self.left + Double(t - t0) / Double(t1 - t0) * Self.plotWidth }

    func column(_ t: Int64) -> Int { min(Self.columns - 1, max(0, Int(Double(t - t0) / Double(t1 - t0) * Double(Self.columns)))) }

    func seconds(_ t: Int64) -> String { SVGText.seconds(Double(t - zero) / 1e9) }

    static let markIndex: [String: Int] = Dictionary(uniqueKeysWithValues: MarkKind.all.enumerated().map { ($1.key, $0) })
    static let flagKinds: [(flag: AnalysisFlags, index: Int)] =
        MarkKind.all.enumerated().compactMap { index, kind in kind.flag.map { ($0, index) } }

    // MARK: the whole SVG

    mutating func render() -> String {
        var body = ""
        var top = 8.0
        let id = "f\(flow.id)-\(view)"
        var descriptions: [String] = []
        for member in flow.members {
            let (panel, summary) = panel(member, top: top)
            body += panel
            descriptions.append(summary)
            top += Self.panelHeight
        }
        let sockets = matchedSockets()
        for socket in sockets {
            body += kernelCharts(socket.key, samples: socket.samples, top: top)
            top += 16 + 4 * 60 + 24
        }
        if sockets.isEmpty && !kernel.isEmpty {
            body += "<text class='note' x='\(Self.left)' y='\(top + 14)'>The kernel samples hold no socket of this flow.</text>"
            top += 22
        }
        let events = timeline.filter { $0.time >= t0 && $0.time <= t1 }
        if !events.isEmpty {
            body += timelineBand(events, top: top)
            top += 80
        }
        let axisTop = top
        var grid = ""
        let ticks = niceTicks(from: Double(t0 - zero) / 1e9, to: Double(t1 - zero) / 1e9, count: 8)
        let digits = digits(forStep: ticks.step)
        for value in ticks.values {
            let tx = SVGText.number(x(zero + Int64(value * 1e9)))
            grid += "<path class='grid' d='M\(tx) 8V\(SVGText.number(axisTop))'/>"
            grid += "<text class='tick' x='\(tx)' y='\(SVGText.number(axisTop + 14))' text-anchor='middle'>\(SVGText.seconds(value, digits: digits))</text>"
        }
        grid += "<text class='axis' x='\(Self.left + Self.plotWidth / 2)' y='\(SVGText.number(axisTop + 30))' text-anchor='middle'>time (s)</text>"
        let height = axisTop + 38
        let title = "Time-sequence graph of \(flow.title), \(view == "focus" ? "zoomed on the decisive frames" : "the whole flow")"
        var svg = "<svg class='graph' data-view='\(view)' data-flow='\(flow.id)' viewBox='0 0 \(Int(Self.width)) \(Int(height.rounded(.up)))' "
        svg += "role='img' aria-labelledby='\(id)-t \(id)-d' xmlns='http://www.w3.org/2000/svg'>"
        svg += "<title id='\(id)-t'>\(SVGText.escape(title))</title>"
        svg += "<desc id='\(id)-d'>\(SVGText.escape(descriptions.joined(separator: " ")))</desc>"
        svg += grid + body + "</svg>"
        return svg
    }

    // MARK: a vantage point's time-sequence panel

    /// The panel and a sentence describing it (the SVG's `desc`).
    mutating func panel(_ member: ReportFlow.Member, top: Double) -> (String, String) {
        let table = analysis.tables[member.vantage]
        let vantageName = analysis.vantages[member.vantage].name
        let all = member.conversation < table.rowsByConversation.count ? table.rowsByConversation[member.conversation] : []
        var visible: [Int] = []
        visible.reserveCapacity(all.count)
        for row in all where table.times[row] >= t0 && table.times[row] <= t1 { visible.append(row) }
        let plotTop = top + 24, plotHeight = Self.panelHeight - 44
        let fromSenderBit = member.senderIsClient

        // The sequence range: data, ACKs, and the window line (which may at most double it).
        var dataLow = Int64.max, dataHigh = Int64.min, windowHigh = Int64.min
        for row in visible {
            let bits = table.bits[row]
            if bits.contains(.fromClient) == fromSenderBit {
                let start = flow.relative(table.seqs[row])
                dataLow = min(dataLow, start)
                dataHigh = max(dataHigh, start + Int64(max(table.lengths[row], 1)))
            } else if bits.contains(.ack) {
                let ack = flow.relative(table.acks[row])
                dataLow = min(dataLow, ack)
                dataHigh = max(dataHigh, ack)
                windowHigh = max(windowHigh, ack + Int64(table.windows[row]))
            }
        }
        if dataLow == Int64.max { dataLow = 0; dataHigh = 1 }
        let span = max(dataHigh - dataLow, 1)
        let yLow = dataLow - span / 20
        let yHigh = max(dataHigh + span / 20, min(windowHigh, dataHigh + span)) + 1
        func y(_ value: Int64) -> Double {
            plotTop + plotHeight - Double(value - yLow) / Double(yHigh - yLow) * plotHeight
        }

        // Frames the diagnosis names: forged RSTs, challenge ACKs.
        var forged = Set<UInt64>(), challenge = Set<UInt64>()
        for finding in flow.findings {
            guard let refs = finding.frames[vantageName] else { continue }
            if finding.kind == .rst && finding.cause == .injectedByMiddlebox {
                forged.insert(refs.first); forged.insert(refs.decisive); forged.formUnion(refs.related)
            }
            if finding.cause == .duplicateAnsweredWithChallengeAck { challenge.insert(refs.decisive) }
        }
        let rstForged = Self.markIndex["rst-forged"] ?? 0, rstHost = Self.markIndex["rst-host"] ?? 0
        let dsack = Self.markIndex["dsack"] ?? 0, challengeAck = Self.markIndex["challenge-ack"] ?? 0
        func kinds(_ row: Int, into list: inout [Int]) {
            list.removeAll(keepingCapacity: true)
            let flags = table.flags[row]
            if !flags.isEmpty {
                for entry in Self.flagKinds where flags.contains(entry.flag) { list.append(entry.index) }
            }
            let bits = table.bits[row]
            if bits.contains(.rst) { list.append(forged.contains(table.frameNumbers[row]) ? rstForged : rstHost) }
            if bits.contains(.dsack) { list.append(dsack) }
            if !challenge.isEmpty && challenge.contains(table.frameNumbers[row]) { list.append(challengeAck) }
        }

        var out = "<g class='panel' data-vantage='\(SVGText.escape(vantageName))' data-conversation='\(member.conversation)' data-rows='\(visible.count)'>"
        out += "<text class='panel-title' x='\(Self.left)' y='\(SVGText.number(top + 16))'>at \(SVGText.escape(vantageName)): "
        out += "\(SVGText.escape(flow.sender)) sends (bars), \(SVGText.escape(flow.receiver)) ACKs (line) and offers a window (dashed)</text>"
        out += "<rect class='frame' x='\(Self.left)' y='\(SVGText.number(plotTop))' width='\(Self.plotWidth)' height='\(SVGText.number(plotHeight))'/>"
        // y ticks: relative sequence numbers.
        let yTicks = niceTicks(from: Double(yLow), to: Double(yHigh), count: 5)
        for value in yTicks.values {
            let ty = SVGText.number(y(Int64(value)))
            out += "<path class='grid' d='M\(Self.left) \(ty)h\(Self.plotWidth)'/>"
            out += "<text class='tick' x='\(Self.left - 4)' y='\(ty)' dy='3' text-anchor='end'>\(SVGText.bytes(value))</text>"
        }
        out += "<text class='axis' transform='translate(12 \(SVGText.number(plotTop + plotHeight / 2))) rotate(-90)' text-anchor='middle'>sequence (relative)</text>"
        let clipID = "c\(flow.id)-\(view)-\(member.vantage)"
        out += "<clipPath id='\(clipID)'><rect x='\(Self.left)' y='\(SVGText.number(plotTop - 6))' width='\(Self.plotWidth)' height='\(SVGText.number(plotHeight + 12))'/></clipPath>"
        out += "<g clip-path='url(#\(clipID))'>"

        var counts = [Int](repeating: 0, count: MarkKind.all.count)
        var list: [Int] = []
        var ackPath = "", windowPath = "", sackPath = ""
        var marks = ""
        if visible.count <= Self.detailLimit {
            var segments = "", ackPoints = ""
            var lastAckY: Double?
            for row in visible {
                let bits = table.bits[row]
                let frame = table.frameNumbers[row]
                let tx = x(table.times[row]), sx = SVGText.number(tx)
                let fromSender = bits.contains(.fromClient) == fromSenderBit
                var markY: Double
                if fromSender {
                    let start = flow.relative(table.seqs[row])
                    let length = Int64(table.lengths[row])
                    markY = y(start)
                    if length > 0 || bits.contains(.syn) || bits.contains(.fin) {
                        let retransmitted = !table.flags[row].intersection([.retransmission, .fastRetransmission, .spuriousRetransmission]).isEmpty
                        segments += "<path class='seg\(retransmitted ? " rtx" : "")' d='M\(sx) \(SVGText.number(y(start)))V\(SVGText.number(y(start + max(length, 1)) - 0.01))'>"
                        segments += "<title>frame \(frame) · \(seconds(table.times[row])) s · seq \(start)–\(start + length) (\(length) B)</title></path>"
                    }
                } else if bits.contains(.ack) {
                    let ack = flow.relative(table.acks[row])
                    let ay = y(ack), wy = y(ack + Int64(table.windows[row]))
                    ackPath += ackPath.isEmpty ? "M\(sx) \(SVGText.number(ay))" : "H\(sx)V\(SVGText.number(ay))"
                    windowPath += windowPath.isEmpty ? "M\(sx) \(SVGText.number(wy))" : "H\(sx)V\(SVGText.number(wy))"
                    ackPoints += "<circle class='ackpt' cx='\(sx)' cy='\(SVGText.number(ay))' r='1.8'><title>frame \(frame) · \(seconds(table.times[row])) s · ACK \(ack), window \(table.windows[row]) B</title></circle>"
                    if let blocks = table.sackBlocks[row] {
                        for block in blocks {
                            sackPath += "M\(sx) \(SVGText.number(y(flow.relative(block.left))))V\(SVGText.number(y(flow.relative(block.right))))"
                        }
                    }
                    markY = ay
                    lastAckY = ay
                } else {
                    markY = lastAckY ?? (plotTop + plotHeight)
                }
                kinds(row, into: &list)
                for (offset, kind) in list.enumerated() {
                    counts[kind] += 1
                    let info = MarkKind.all[kind]
                    marks += "<use href='#mk-\(info.key)' x='\(sx)' y='\(SVGText.number(markY - Double(offset) * 10))' class='mk' data-k='\(info.key)' data-n='1' data-f='\(frame)'>"
                    marks += "<title>frame \(frame) · \(seconds(table.times[row])) s · \(info.label)</title></use>"
                    if info.flag == nil {
                        // RSTs, D-SACKs and challenge ACKs are rare and decisive: name them on the graph.
                        marks += "<text class='mk-label' x='\(SVGText.number(tx + 8))' y='\(SVGText.number(markY - Double(offset) * 10 + 4))'>\(info.label)</text>"
                    }
                    rows.append(MarkRow(vantage: vantageName, frame: frame, time: table.times[row], kind: kind,
                                        position: fromSender ? flow.relative(table.seqs[row]) : flow.relative(table.acks[row]), count: 1))
                }
            }
            out += segments
            out += "<path class='sack' d='\(sackPath)'/><path class='winline' d='\(windowPath)'/><path class='ackline' d='\(ackPath)'/>" + ackPoints
        } else {
            // Summed per pixel column.
            let n = Self.columns
            var segLow = [Int64](repeating: .max, count: n), segHigh = [Int64](repeating: .min, count: n)
            var sackLow = [Int64](repeating: .max, count: n), sackHigh = [Int64](repeating: .min, count: n)
            var ackLast = [Int64?](repeating: nil, count: n), windowLast = [Int64?](repeating: nil, count: n)
            let kindCount = MarkKind.all.count
            var markCount = [Int](repeating: 0, count: n * kindCount)
            var markFirst = [UInt64](repeating: 0, count: n * kindCount), markLast = [UInt64](repeating: 0, count: n * kindCount)
            var markY = [Int64](repeating: 0, count: n * kindCount)
            var markTime = [Int64](repeating: 0, count: n * kindCount)
            var lastAck: Int64 = yLow
            for row in visible {
                let bits = table.bits[row]
                let c = column(table.times[row])
                let fromSender = bits.contains(.fromClient) == fromSenderBit
                var position = lastAck
                if fromSender {
                    let start = flow.relative(table.seqs[row])
                    position = start
                    if table.lengths[row] > 0 || bits.contains(.syn) || bits.contains(.fin) {
                        segLow[c] = min(segLow[c], start)
                        segHigh[c] = max(segHigh[c], start + Int64(max(table.lengths[row], 1)))
                    }
                } else if bits.contains(.ack) {
                    let ack = flow.relative(table.acks[row])
                    position = ack
                    lastAck = ack
                    ackLast[c] = ack
                    windowLast[c] = ack + Int64(table.windows[row])
                    if let blocks = table.sackBlocks[row] {
                        for block in blocks {
                            sackLow[c] = min(sackLow[c], flow.relative(block.left))
                            sackHigh[c] = max(sackHigh[c], flow.relative(block.right))
                        }
                    }
                }
                if table.flags[row].isEmpty && !bits.contains(.rst) && !bits.contains(.dsack) && challenge.isEmpty { continue }
                kinds(row, into: &list)
                for kind in list {
                    let slot = c * kindCount + kind
                    if markCount[slot] == 0 {
                        markFirst[slot] = table.frameNumbers[row]
                        markY[slot] = position
                        markTime[slot] = table.times[row]
                    }
                    markCount[slot] += 1
                    markLast[slot] = table.frameNumbers[row]
                    counts[kind] += 1
                }
            }
            var segments = ""
            for c in 0..<n {
                let cx = SVGText.number(Self.left + (Double(c) + 0.5) * Self.plotWidth / Double(n))
                if segLow[c] != .max {
                    segments += "M\(cx) \(SVGText.number(y(segLow[c])))V\(SVGText.number(y(segHigh[c])))"
                }
                if let ack = ackLast[c] {
                    ackPath += ackPath.isEmpty ? "M\(cx) \(SVGText.number(y(ack)))" : "H\(cx)V\(SVGText.number(y(ack)))"
                }
                if let window = windowLast[c] {
                    windowPath += windowPath.isEmpty ? "M\(cx) \(SVGText.number(y(window)))" : "H\(cx)V\(SVGText.number(y(window)))"
                }
                if sackLow[c] != .max {
                    sackPath += "M\(cx) \(SVGText.number(y(sackLow[c])))V\(SVGText.number(y(sackHigh[c])))"
                }
                for kind in 0..<kindCount {
                    let slot = c * kindCount + kind
                    let count = markCount[slot]
                    guard count > 0 else { continue }
                    let info = MarkKind.all[kind]
                    marks += "<use href='#mk-\(info.key)' x='\(cx)' y='\(SVGText.number(y(markY[slot])))' class='mk' data-k='\(info.key)' data-n='\(count)' data-f='\(markFirst[slot])'>"
                    marks += count == 1 ? "<title>frame \(markFirst[slot]) · \(info.label)</title></use>"
                        : "<title>\(count) × \(info.label), frames \(markFirst[slot])–\(markLast[slot])</title></use>"
                    if rows.count < 2_000 {
                        rows.append(MarkRow(vantage: vantageName, frame: markFirst[slot], time: markTime[slot],
                                            kind: kind, position: markY[slot], count: count))
                    }
                }
            }
            out += "<path class='seg' d='\(segments)'/><path class='sack' d='\(sackPath)'/><path class='winline' d='\(windowPath)'/><path class='ackline' d='\(ackPath)'/>"
        }
        out += marks + "</g></g>"
        var parts: [String] = []
        for (kind, count) in counts.enumerated() where count > 0 { parts.append("\(count) \(MarkKind.all[kind].label)") }
        let summary = "At \(vantageName), \(visible.count) frames" + (parts.isEmpty ? ", no marks." : ": " + parts.joined(separator: ", ") + ".")
        return (out, summary)
    }

    // MARK: the kernel's view

    struct SocketKey: Hashable { var node: String; var local: String; var remote: String }

    func matchedSockets() -> [(key: SocketKey, samples: [KernelSample])] {
        var grouped: [SocketKey: [KernelSample]] = [:]
        for sample in kernel {
            let matches = (sample.local == flow.client && sample.remote == flow.server)
                || (sample.local == flow.server && sample.remote == flow.client)
            guard matches else { continue }
            grouped[SocketKey(node: sample.node, local: sample.local, remote: sample.remote), default: []].append(sample)
        }
        return grouped.map { ($0.key, $0.value.sorted { $0.time < $1.time }) }
            .sorted { ($0.key.local == flow.sender ? 0 : 1, $0.key.node) < ($1.key.local == flow.sender ? 0 : 1, $1.key.node) }
    }

    struct Series { var field: String; var label: String; var colour: String; var dash: String; var scale: Double }

    static let charts: [(unit: String, series: [Series])] = [
        ("segments", [Series(field: "cwnd", label: "cwnd", colour: "#000000", dash: "", scale: 1),
                      Series(field: "ssthresh", label: "ssthresh", colour: "#E69F00", dash: "6 3", scale: 1),
                      Series(field: "unacked", label: "unacked", colour: "#0072B2", dash: "2 2", scale: 1),
                      Series(field: "retrans", label: "retrans", colour: "#D55E00", dash: "8 2 2 2", scale: 1)]),
        ("ms", [Series(field: "srtt_us", label: "srtt", colour: "#000000", dash: "", scale: 0.001),
                Series(field: "rto_us", label: "rto", colour: "#CC79A7", dash: "6 3", scale: 0.001)]),
        ("bytes", [Series(field: "snd_wnd", label: "snd_wnd", colour: "#009E73", dash: "", scale: 1),
                   Series(field: "rcv_space", label: "rcv_space", colour: "#0072B2", dash: "6 3", scale: 1)]),
        ("Mbit/s", [Series(field: "delivery_rate", label: "delivery rate", colour: "#000000", dash: "", scale: 8e-6)]),
    ]

    func kernelCharts(_ key: SocketKey, samples all: [KernelSample], top: Double) -> String {
        let samples = all.filter { $0.time >= t0 && $0.time <= t1 }
        var out = "<g class='kernel' data-node='\(SVGText.escape(key.node))' data-samples='\(samples.count)'>"
        out += "<text class='panel-title' x='\(Self.left)' y='\(SVGText.number(top + 12))'>kernel's view (TCP_INFO over sock_diag) of the socket \(SVGText.escape(key.local)) on \(SVGText.escape(key.node)), \(samples.count) samples</text>"
        var chartTop = top + 16
        for chart in Self.charts {
            let height = 52.0
            var maximum = 0.0
            for sample in samples {
                for series in chart.series {
                    if let value = sample.values[series.field], value < 2_147_483_647 { maximum = max(maximum, value * series.scale) }
                }
            }
            if maximum <= 0 { maximum = 1 }
            out += "<rect class='frame' x='\(Self.left)' y='\(SVGText.number(chartTop))' width='\(Self.plotWidth)' height='\(height)'/>"
            out += "<text class='tick' x='\(Self.left - 4)' y='\(SVGText.number(chartTop + 8))' text-anchor='end'>\(SVGText.number(maximum))</text>"
            out += "<text class='tick' x='\(Self.left - 4)' y='\(SVGText.number(chartTop + height))' text-anchor='end'>0 \(chart.unit)</text>"
            var legendX = Self.left + 6
            for series in chart.series {
                var path = ""
                var lastColumn = -1
                for sample in samples {
                    guard let raw = sample.values[series.field], raw < 2_147_483_647 else { continue }
                    let c = column(sample.time)
                    // One point per pixel column is enough for a line.
                    if c == lastColumn && sample.time != samples.last?.time { continue }
                    lastColumn = c
                    let py = SVGText.number(chartTop + height - raw * series.scale / maximum * height)
                    let px = SVGText.number(x(sample.time))
                    path += path.isEmpty ? "M\(px) \(py)" : "H\(px)V\(py)"
                }
                out += "<path class='kline' d='\(path)' stroke='\(series.colour)'\(series.dash.isEmpty ? "" : " stroke-dasharray='\(series.dash)'")><title>\(series.label) (\(chart.unit))</title></path>"
                out += "<path d='M\(SVGText.number(legendX)) \(SVGText.number(chartTop + 9))h16' stroke='\(series.colour)' stroke-width='2'\(series.dash.isEmpty ? "" : " stroke-dasharray='\(series.dash)'")/>"
                out += "<text class='legend-text' x='\(SVGText.number(legendX + 19))' y='\(SVGText.number(chartTop + 12))'>\(series.label)</text>"
                legendX += 30 + Double(series.label.count) * 6
            }
            chartTop += height + 8
        }
        // The TCP state, as a band of labelled spans.
        var band = ""
        var spanStart: (time: Int64, state: String)?
        for sample in samples + [KernelSample(time: t1, node: "", local: "", remote: "", state: "", values: [:])] {
            if let current = spanStart, current.state == sample.state, sample.time != t1 { continue }
            if let current = spanStart {
                let x0 = x(current.time), x1 = x(sample.time)
                band += "<rect class='state' x='\(SVGText.number(x0))' y='\(SVGText.number(chartTop))' width='\(SVGText.number(max(x1 - x0, 0.5)))' height='14'><title>\(SVGText.escape(current.state)) from \(seconds(current.time)) s</title></rect>"
                if x1 - x0 > 60 {
                    band += "<text class='state-text' x='\(SVGText.number(x0 + 3))' y='\(SVGText.number(chartTop + 11))'>\(SVGText.escape(current.state))</text>"
                }
            }
            spanStart = (sample.time, sample.state)
        }
        out += band + "<text class='tick' x='\(Self.left - 4)' y='\(SVGText.number(chartTop + 11))' text-anchor='end'>state</text>"
        return out + "</g>"
    }

    // MARK: the timeline

    func timelineBand(_ events: [TimelineEvent], top: Double) -> String {
        var out = "<g class='timeline'><text class='panel-title' x='\(Self.left)' y='\(SVGText.number(top + 12))'>timeline</text>"
        // Labels go in the first of four lanes where they do not run into the previous label.
        var laneEnds = [Double](repeating: -Double.infinity, count: 4)
        for event in events {
            let ex = SVGText.number(x(event.time))
            let label = event.text.count > 34 ? String(event.text.prefix(33)) + "…" : event.text
            let start = x(event.time)
            let laneIndex = laneEnds.firstIndex { $0 < start } ?? laneEnds.indices.min { laneEnds[$0] < laneEnds[$1] } ?? 0
            laneEnds[laneIndex] = start + 6 + Double(label.count) * 5.6
            let lane = Double(laneIndex)
            out += "<g class='ev ev-\(event.category)'><path d='M\(ex) \(SVGText.number(top + 16))V\(SVGText.number(top + 78))'/>"
            out += "<text x='\(ex)' dx='3' y='\(SVGText.number(top + 28 + lane * 14))'>\(SVGText.escape(label))</text>"
            out += "<title>\(seconds(event.time)) s · \(SVGText.escape(event.category)): \(SVGText.escape(event.text))</title></g>"
        }
        return out + "</g>"
    }
}
