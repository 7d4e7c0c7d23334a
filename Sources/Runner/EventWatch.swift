import Foundation
import Scenario

/// Watches what `after:` steps wait for: peers' event logs (read incrementally: only the lines
/// appended since the last look), processes' exits, and the captures' first zero window. Polled
/// by the timeline every millisecond while an event step is pending.
final class EventWatch {
    /// What one peer's log has said so far.
    struct PeerProgress {
        var offset: UInt64 = 0
        var partial: [UInt8] = []
        var ready = false
        var connected = false
        var writeBlocked = false
        var bytesWritten: Int64 = 0
        var bytesRead: Int64 = 0
        /// Every event name the log has said.
        var events: Set<String> = []
    }

    private var peers: [String: PeerProgress] = [:]

    /// Reads the lines appended to `path` since the last call and folds them into the process's progress.
    func refresh(process: String, eventsPath: String) -> PeerProgress {
        var progress = peers[process] ?? PeerProgress()
        guard let handle = FileHandle(forReadingAtPath: eventsPath) else { return progress }
        defer { try? handle.close() }
        do { try handle.seek(toOffset: progress.offset) } catch { return progress }
        let data = (try? handle.readToEnd()) ?? Data()
        progress.offset += UInt64(data.count)
        var bytes = progress.partial + [UInt8](data)
        // Only whole lines: a peer writes each line with one write(2), but a read may land mid-line.
        if let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) {
            progress.partial = Array(bytes[(lastNewline + 1)...])
            bytes = Array(bytes[...lastNewline])
        } else {
            progress.partial = bytes
            bytes = []
        }
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            Self.fold(Array(line), into: &progress)
        }
        peers[process] = progress
        return progress
    }

    static func fold(_ line: [UInt8], into p: inout PeerProgress) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
              let event = object["event"] as? String else { return }
        func int(_ key: String) -> Int64? { (object[key] as? NSNumber)?.int64Value }
        p.events.insert(event)
        switch event {
        case "start", "listening": p.ready = true
        case "connected", "accepted": p.ready = true; p.connected = true
        case "write_blocked": p.writeBlocked = true
        default: break
        }
        if let w = int("bytes_written") { p.bytesWritten = max(p.bytesWritten, w) }
        if let r = int("bytes_read") { p.bytesRead = max(p.bytesRead, r) }
    }

    /// Whether `condition` holds now.
    /// - Parameters:
    ///   - started: processes started so far: name → (events log path for peers, has exited).
    ///   - zeroWindowSeen: whether a capture (at `node`, or any) has seen a zero window.
    func holds(_ condition: Scenario.EventTrigger.Condition, started: [String: (eventsPath: String?, exited: Bool)],
               zeroWindowSeen: (String?) -> Bool) -> Bool {
        if case .zeroWindow(let node) = condition { return zeroWindowSeen(node) }
        guard let name = condition.process, let process = started[name] else { return false }
        if case .exited = condition { return process.exited }
        guard let path = process.eventsPath else {
            if case .ready = condition { return true }   // a program of its own is ready once started
            return false
        }
        let p = refresh(process: name, eventsPath: path)
        switch condition {
        case .ready: return p.ready
        case .connected: return p.connected
        case .writeBlocked: return p.writeBlocked
        case .sent(_, let size): return p.bytesWritten >= Int64(clamping: size.bytes)
        case .received(_, let size): return p.bytesRead >= Int64(clamping: size.bytes)
        case .exited, .zeroWindow: return false
        }
    }
}
