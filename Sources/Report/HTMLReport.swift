import Analysis
import Foundation

/// The report a person opens in a browser: one self-contained HTML file (inline SVG and CSS, a
/// few lines of vanilla JavaScript, nothing fetched) with, per flow that has a finding, the
/// finding and its time-sequence graph at every vantage point, the kernel's TCP_INFO and the
/// timeline on the same time axis.
public enum HTMLReport {
    /// Renders the page. Flows with a finding are drawn (every flow with `context.allFlows`, or
    /// when no flow has one).
    public static func render(_ analysis: ReportAnalysis, context: ReportContext) -> String {
        let flows = ReportFlow.flows(analysis)
        let withFindings = flows.filter { !$0.findings.isEmpty }
        let drawn = context.allFlows || withFindings.isEmpty ? flows : withFindings
        let starts = analysis.result.analyses.compactMap(\.firstTime) + context.timeline.map(\.time).prefix(1)
        let zero = analysis.result.analyses.compactMap(\.firstTime).min() ?? starts.min() ?? 0

        var html = "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        html += "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        html += "<title>\(SVGText.escape(context.title))</title><style>\(css)</style></head><body>"
        html += "<svg class='defs' aria-hidden='true' width='0' height='0'><defs>"
        for kind in MarkKind.all { html += kind.definition }
        html += "</defs></svg>"
        html += "<header><h1>\(SVGText.escape(context.title))</h1><dl class='facts'>"
        for (label, value) in context.facts { html += "<dt>\(SVGText.escape(label))</dt><dd>\(SVGText.escape(value))</dd>" }
        html += "<dt>captures</dt><dd>"
        html += analysis.result.vantages.map { vantage in
            "\(SVGText.escape(vantage.name)): \(vantage.frames) frames\(vantage.truncation.map { " (truncated: \(SVGText.escape($0)))" } ?? "")"
        }.joined(separator: "; ")
        html += "</dd><dt>time zero</dt><dd>the first captured packet; all times are seconds after it</dd></dl>"
        for note in context.notes { html += "<p class='note'>\(SVGText.escape(note))</p>" }
        html += "</header><main>"
        html += findingsSummary(withFindings, flowsDrawn: drawn.count, flowsTotal: flows.count)
        html += labSection(context.lab)
        html += "<p class='note'>Marks and lines are explained <a href='#legend'>below the graphs</a>.</p>"
        for flow in drawn.prefix(64) {
            html += flowSection(flow, analysis: analysis, context: context, zero: zero)
        }
        if drawn.count > 64 { html += "<p class='note'>\(drawn.count - 64) more flows are not drawn.</p>" }
        html += legend
        html += expectationsSection(context.expectations)
        html += timelineSection(context.timeline, zero: zero)
        html += kernelSection(context.kernel)
        html += "</main><pre id='selfcheck' hidden></pre><script>\(script)</script></body></html>\n"
        return html
    }

    /// Renders and writes `path` atomically (a half-written report never replaces a whole one).
    public static func write(_ analysis: ReportAnalysis, context: ReportContext, to path: String) throws {
        let html = render(analysis, context: context)
        try Data(html.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    // MARK: sections

    static func labSection(_ lab: LabNotes?) -> String {
        guard let lab, !lab.isEmpty else { return "" }
        var out = "<section class='lab'><h2>Lab</h2>"
        for (title, items) in [("Try this", lab.tryThis), ("Questions", lab.questions)] where !items.isEmpty {
            out += "<h3>\(title)</h3><ol>" + items.map { "<li>\(SVGText.escape($0))</li>" }.joined() + "</ol>"
        }
        if !lab.hints.isEmpty {
            out += "<details><summary>Hints</summary><ul>" + lab.hints.map { "<li>\(SVGText.escape($0))</li>" }.joined() + "</ul></details>"
        }
        return out + "</section>"
    }

    static func findingsSummary(_ flows: [ReportFlow], flowsDrawn: Int, flowsTotal: Int) -> String {
        var out = "<section class='summary'><h2>Findings</h2>"
        let findings = flows.flatMap { flow in flow.findings.map { (flow, $0) } }
        if findings.isEmpty {
            out += "<p>No finding: nothing went wrong that the analyzer can see. \(flowsDrawn) of \(flowsTotal) flows are drawn below.</p>"
        } else {
            out += "<ul>"
            for (flow, finding) in findings {
                out += "<li class='sev-\(finding.severityName)'><a href='#flow-\(flow.id)'><b>\(SVGText.escape(finding.name))</b></a> "
                out += "(\(finding.confidenceLevel)\(finding.confidence.map { ", " + SVGText.number($0) } ?? "")) on \(SVGText.escape(flow.title)): \(SVGText.escape(finding.sentence))</li>"
            }
            out += "</ul>"
        }
        return out + "</section>"
    }

    static func expectationsSection(_ expectations: [ReportExpectation]) -> String {
        guard !expectations.isEmpty else { return "" }
        var out = "<section class='expectations'><h2>Expectations</h2><table><thead><tr><th>result</th><th>expected</th><th>found</th><th>where</th></tr></thead><tbody>"
        for e in expectations {
            out += "<tr class='exp-\(e.status == "ok" ? "ok" : e.status == "FAIL" ? "fail" : "skip")'><td>\(SVGText.escape(e.status))</td><td>\(SVGText.escape(e.expected))</td>"
            out += "<td>\(SVGText.escape(e.found))</td><td>\(SVGText.escape(e.source))</td></tr>"
        }
        return out + "</tbody></table></section>"
    }

    static var legend: String {
        var out = "<section class='legend' id='legend'><h2>How to read the graphs</h2><p>Time runs to the right; the height is the sender's sequence number "
        out += "counted from its first byte. Each <b>vertical bar</b> is a data segment (from its first to its last byte; "
        out += "retransmitted ones are drawn dashed), the <b>solid line</b> is what the receiver acknowledged, the "
        out += "<b>dashed line above it</b> is the acknowledgment plus the window the receiver offers (the sender may send up to it), "
        out += "thin <b>light-blue bars</b> are SACK blocks. Point at anything to see its frame number, as Wireshark and tshark number frames.</p><ul class='marks-legend'>"
        for kind in MarkKind.all {
            out += "<li><svg width='18' height='18' viewBox='-9 -9 18 18' aria-hidden='true'><use href='#mk-\(kind.key)'/></svg> "
            out += "<b>\(SVGText.escape(kind.label))</b>: \(SVGText.escape(kind.meaning))</li>"
        }
        return out + "</ul></section>"
    }

    static func flowSection(_ flow: ReportFlow, analysis: ReportAnalysis, context: ReportContext, zero: Int64) -> String {
        var out = "<section class='flow' id='flow-\(flow.id)' data-flow='\(flow.id)'><h2>\(SVGText.escape(flow.title))</h2>"
        for finding in flow.findings {
            out += findingArticle(finding, analysis: analysis, context: context)
        }
        let seenAt = Set(flow.members.map(\.vantage))
        let unseen = analysis.vantages.indices.filter { !seenAt.contains($0) }.map { analysis.vantages[$0].name }
        if !unseen.isEmpty {
            out += "<p class='note unseen'>Not seen at \(SVGText.escape(unseen.joined(separator: ", "))): "
            out += "\(unseen.count == 1 ? "that capture holds" : "those captures hold") no packet of this flow.</p>"
        }
        let span = max(flow.lastTime - flow.firstTime, 1_000_000)
        let wholeStart = flow.firstTime - span / 50, wholeEnd = flow.lastTime + span / 50
        var whole = FlowGraph(flow: flow, analysis: analysis, kernel: context.kernel, timeline: context.timeline, zero: zero,
                              view: "whole", t0: wholeStart, t1: wholeEnd)
        let wholeSVG = whole.render()
        if let focusRange = focusRange(flow, analysis: analysis) {
            var focus = FlowGraph(flow: flow, analysis: analysis, kernel: context.kernel, timeline: context.timeline, zero: zero,
                                  view: "focus", t0: focusRange.lowerBound, t1: focusRange.upperBound)
            out += "<div class='views' role='group' aria-label='zoom'><button type='button' data-show='focus' aria-pressed='true'>Decisive frames</button>"
            out += "<button type='button' data-show='whole' aria-pressed='false'>Whole flow</button></div>"
            out += "<div class='view view-focus'>\(focus.render())</div><div class='view view-whole'>\(wholeSVG)</div>"
        } else {
            out += "<div class='view view-only'>\(wholeSVG)</div>"
        }
        out += marksTable(whole.rows, zero: zero)
        return out + "</section>"
    }

    /// Around the most serious finding's first and decisive frames, at most ~800 frames wide.
    static func focusRange(_ flow: ReportFlow, analysis: ReportAnalysis) -> ClosedRange<Int64>? {
        for finding in flow.findings {
            guard let vantage = finding.vantage.first, let refs = finding.frames[vantage],
                  let member = flow.members.first(where: { analysis.vantages[$0.vantage].name == vantage }) else { continue }
            let table = analysis.tables[member.vantage]
            guard member.conversation < table.rowsByConversation.count else { continue }
            let rows = table.rowsByConversation[member.conversation]
            guard let decisive = table.row(ofFrame: refs.decisive, in: rows) else { continue }
            let first = table.row(ofFrame: refs.first, in: rows) ?? decisive
            var low = max(0, min(first, decisive) - 30), high = min(rows.count - 1, max(first, decisive) + 30)
            if high - low > 800 {
                low = max(0, decisive - 400)
                high = min(rows.count - 1, decisive + 400)
            }
            let start = table.times[rows[low]], end = table.times[rows[high]]
            let pad = max((end - start) / 25, 500_000)
            return (start - pad)...(end + pad)
        }
        return nil
    }

    static func findingArticle(_ finding: Finding, analysis: ReportAnalysis, context: ReportContext) -> String {
        var out = "<article class='finding sev-\(finding.severityName)'><h3>\(SVGText.escape(finding.name)) "
        out += "<span class='badge'>\(finding.severityName)</span></h3><p class='sentence'>\(SVGText.escape(finding.sentence))</p>"
        out += "<p class='meta'>confidence <b>\(finding.confidenceLevel)</b>\(finding.confidence.map { " (" + SVGText.number($0) + ")" } ?? "") · seen at "
        out += finding.vantage.map { vantage in
            let refs = finding.frames[vantage]
            guard let refs, refs.first > 0 else { return "\(SVGText.escape(vantage)) (not in its capture)" }
            return "\(SVGText.escape(vantage)) (frames \(refs.first) → decisive \(refs.decisive))"
        }.joined(separator: ", ")
        out += "</p><table class='evidence'><caption>Evidence</caption><tbody>"
        // `caveat` and `missing` are not measurements: they are listed under Caveats.
        for key in finding.evidence.keys.sorted() where key != "caveat" && key != "missing" {
            out += "<tr><th scope='row'>\(SVGText.escape(key))</th><td>\(SVGText.escape(finding.evidence[key]?.description ?? ""))</td></tr>"
        }
        out += "</tbody></table>"
        var caveats: [String] = []
        switch finding.evidence["caveat"] {
        case .list(let items)?: caveats += items.map(\.description)
        case let value?: caveats.append(value.description)
        case nil: break
        }
        if let missing = finding.evidence["missing"] { caveats.append("Undetermined. What is missing: \(missing.description)") }
        if finding.vantage.count == 1 && analysis.vantages.count > 1 {
            caveats.append("Only the \(finding.vantage.first ?? "") capture supports it; the other vantage points do not show it.")
        }
        if analysis.vantages.count == 1 {
            caveats.append("One vantage point only: what happened between the hosts (drops, injected packets) is inferred, not seen twice.")
        }
        for (index, capture) in analysis.result.analyses.enumerated() where capture.captureDropped > 0 {
            caveats.append("The \(analysis.vantages[index].name) capture itself lost \(capture.captureDropped) packets: a gap there may be the capture's.")
        }
        if (finding.confidence ?? 0) < 0.8 { caveats.append("Confidence is \(finding.confidenceLevel): read the evidence before relying on the cause.") }
        if !caveats.isEmpty {
            out += "<div class='caveats'><h4>Caveats</h4><ul>" + caveats.map { "<li>\(SVGText.escape($0))</li>" }.joined() + "</ul></div>"
        }
        if let text = context.explanations[finding.name] ?? context.explanations[finding.kind.rawValue + "/undetermined"] {
            out += "<details class='explain'><summary>faultline explain \(SVGText.escape(finding.name))</summary><pre>\(SVGText.escape(text))</pre></details>"
        }
        return out + "</article>"
    }

    static func marksTable(_ rows: [MarkRow], zero: Int64) -> String {
        let limit = 500
        let total = rows.reduce(0) { $0 + $1.count }
        var out = "<details class='marks-table'><summary>The marks as a table (\(total))</summary>"
        guard !rows.isEmpty else { return out + "<p>No marks: the analyzer flagged no frame of this flow.</p></details>" }
        out += "<table><thead><tr><th>vantage</th><th>frame</th><th>time (s)</th><th>mark</th><th>count</th><th>sequence / ACK</th></tr></thead><tbody>"
        for row in rows.sorted(by: { ($0.vantage, $0.frame, $0.kind) < ($1.vantage, $1.frame, $1.kind) }).prefix(limit) {
            let kind = MarkKind.all[row.kind]
            out += "<tr><td>\(SVGText.escape(row.vantage))</td><td>\(row.frame)</td><td>\(SVGText.seconds(Double(row.time - zero) / 1e9))</td>"
            out += "<td>\(SVGText.escape(kind.label))</td><td>\(row.count)</td><td>\(row.position)</td></tr>"
        }
        out += "</tbody></table>"
        if rows.count > limit { out += "<p class='note'>\(rows.count - limit) more rows are left out; the graph holds them all.</p>" }
        return out + "</details>"
    }

    static func timelineSection(_ events: [TimelineEvent], zero: Int64) -> String {
        guard !events.isEmpty else { return "" }
        var out = "<section class='timeline-table'><h2>Timeline</h2><table><thead><tr><th>time (s)</th><th>what</th><th>event</th></tr></thead><tbody>"
        for event in events.enumerated().sorted(by: { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }).map(\.element) {
            out += "<tr class='ev-\(event.category)'><td>\(SVGText.seconds(Double(event.time - zero) / 1e9))</td><td>\(SVGText.escape(event.category))</td><td>\(SVGText.escape(event.text))</td></tr>"
        }
        return out + "</tbody></table></section>"
    }

    static func kernelSection(_ samples: [KernelSample]) -> String {
        guard !samples.isEmpty else { return "" }
        var sockets: [String: Int] = [:]
        for sample in samples { sockets["\(sample.node): \(sample.local) → \(sample.remote)", default: 0] += 1 }
        var out = "<section class='kernel-list'><h2>Sockets the kernel reported</h2><p>TCP_INFO sampled over sock_diag inside each namespace (tcpinfo.jsonl).</p><ul>"
        for (socket, count) in sockets.sorted(by: { $0.key < $1.key }) { out += "<li>\(SVGText.escape(socket)): \(count) samples</li>" }
        return out + "</ul></section>"
    }

    // MARK: style and script

    static let css = """
    :root{--fg:#111;--muted:#555;--bg:#fff;--line:#bbb}
    body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1100px;padding:0 16px 40px}
    h1{font-size:1.6em;margin:.6em 0 .2em}h2{font-size:1.25em;border-bottom:2px solid #ddd;padding-bottom:.15em;margin-top:1.6em}
    dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:.5em 0}dl.facts dt{font-weight:600;color:var(--muted)}dl.facts dd{margin:0}
    table{border-collapse:collapse;font-size:.92em;margin:.4em 0}th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
    thead th{background:#f1f1f1}.note{color:var(--muted)}
    .finding{border-left:6px solid #999;padding:.2em 0 .4em 12px;margin:1em 0}.finding h3{margin:.2em 0}
    .sev-critical{border-color:#D55E00}.sev-major{border-color:#E69F00}.sev-minor{border-color:#56B4E9}.sev-info{border-color:#999}
    .badge{font-size:.75em;font-weight:600;border:1px solid currentColor;border-radius:3px;padding:0 4px;color:var(--muted)}
    .sentence{font-size:1.08em}.meta{color:var(--muted)}.caveats h4{margin:.4em 0 .1em}
    .explain pre{white-space:pre-wrap;background:#f7f7f7;padding:8px;font-size:.9em}
    .views button{font:inherit;padding:4px 12px;margin:.6em .4em .3em 0;border:1px solid #444;background:#fff;border-radius:4px;cursor:pointer}
    .views button[aria-pressed=true]{background:#222;color:#fff}
    .flow .view-whole{display:none}.flow.show-whole .view-whole{display:block}.flow.show-whole .view-focus{display:none}
    svg.graph{width:100%;height:auto;display:block;background:#fff}
    svg.graph text{font:11px system-ui,sans-serif;fill:#222}svg.graph .panel-title{font-weight:600;font-size:12px}
    svg.graph .tick{fill:#555;font-size:10px}svg.graph .axis{fill:#333;font-size:11px}
    .frame{fill:none;stroke:#888;stroke-width:.8}.grid{stroke:#e3e3e3;stroke-width:.7}
    .seg{stroke:#000;stroke-width:1.6;fill:none}.seg.rtx{stroke:#D55E00;stroke-dasharray:2 1.2;stroke-width:2.2}
    .ackline{fill:none;stroke:#009E73;stroke-width:1.5}.winline{fill:none;stroke:#E69F00;stroke-width:1.3;stroke-dasharray:5 3}
    .sack{fill:none;stroke:#56B4E9;stroke-width:3;opacity:.85}.ackpt{fill:#009E73}
    .kline{fill:none;stroke-width:1.5}.state{fill:#eee;stroke:#999;stroke-width:.5}.state-text{font-size:10px}
    .ev path{stroke:#999;stroke-dasharray:2 2}.ev text{font-size:10px}.ev-impairment path{stroke:#D55E00}.ev-rule path{stroke:#CC79A7}.ev-peer path{stroke:#0072B2}
    .mk:hover{opacity:.6}svg.graph .mk-label{font-size:10px;font-weight:600}
    ul.marks-legend{columns:2;list-style:none;padding:0}ul.marks-legend li{break-inside:avoid;margin:2px 0}ul.marks-legend svg{vertical-align:middle}
    .lab{background:#f4f8fb;border:1px solid #cfe0ee;padding:2px 14px 8px;margin-top:1em}
    tr.exp-fail td:first-child{color:#D55E00;font-weight:700}
    @media (max-width:700px){ul.marks-legend{columns:1}}
    @media print{
      body{max-width:none;font-size:11pt}.views{display:none}.flow .view-whole,.flow .view-focus{display:block!important}
      details{display:block}details>*{display:block}
      .seg.rtx{stroke:#000}.ackline{stroke:#000}.winline{stroke:#000}.sack{stroke:#777}.ackpt{fill:#000}
      section.flow{break-inside:avoid-page}
    }
    """

    /// Zoom buttons, and a self-check the browser test reads back: the marks drawn per panel
    /// (summed `data-n`), resources fetched, script errors.
    static let script = """
    (function(){
    var errors=[];window.addEventListener('error',function(e){errors.push(String(e.message||e))});
    document.querySelectorAll('.views button').forEach(function(b){b.addEventListener('click',function(){
    var s=b.closest('.flow');s.classList.toggle('show-whole',b.getAttribute('data-show')==='whole');
    s.querySelectorAll('.views button').forEach(function(o){o.setAttribute('aria-pressed',String(o===b))});});});
    function check(){var panels=[];var shown=0;
    document.querySelectorAll('svg.graph').forEach(function(svg){if(svg.getBoundingClientRect().width>0)shown++;
    svg.querySelectorAll('g.panel').forEach(function(p){var c={};
    p.querySelectorAll('use.mk').forEach(function(m){var k=m.getAttribute('data-k');c[k]=(c[k]||0)+Number(m.getAttribute('data-n'));});
    panels.push({flow:svg.getAttribute('data-flow'),view:svg.getAttribute('data-view'),vantage:p.getAttribute('data-vantage'),
    conversation:Number(p.getAttribute('data-conversation')),rows:Number(p.getAttribute('data-rows')),counts:c});});});
    var r=(window.performance&&performance.getEntriesByType)?performance.getEntriesByType('resource').length:0;
    var out=document.getElementById('selfcheck');
    out.textContent=JSON.stringify({graphs:document.querySelectorAll('svg.graph').length,shown:shown,panels:panels,resources:r,errors:errors});}
    if(document.readyState==='loading'){document.addEventListener('DOMContentLoaded',check);}else{check();}
    })();
    """
}
