import Netlink
import Values
import CLinux
import Foundation
import Glibc

/// The terminal view of a catalog run. On a terminal: a status line (N of M done, what is
/// running, elapsed) redrawn in place, with each finished scenario printed above it. Otherwise:
/// plain lines, one per finished run.
public final class LiveView: CatalogObserver, @unchecked Sendable {
    private let fd: Int32
    private let isTerminal: Bool
    private let repeatCount: Int
    private let verbose: Bool
    private let began = fl_monotonic_ns()
    private let state = LockedBox((running: [String](), done: 0, total: 0, closed: false, said: Set<String>()))
    private var ticker: Thread?

    public init(fd: Int32 = 1, repeatCount: Int = 1, verbose: Bool = false) {
        self.fd = fd
        self.isTerminal = isatty(fd) == 1
        self.repeatCount = repeatCount
        self.verbose = verbose
        if isTerminal {
            let t = Thread { [weak self] in
                while let self, !self.state.withLock({ $0.closed }) {
                    self.redraw()
                    usleep(200_000)
                }
            }
            t.name = "fl-live"
            ticker = t
            t.start()
        }
    }

    private func label(_ name: String, _ repetition: Int) -> String {
        repeatCount > 1 ? "\(name)#\(repetition)" : name
    }

    public func started(_ name: String, repetition: Int, total: Int) {
        state.withLock {
            $0.running.append(label(name, repetition))
            $0.total = total
        }
        redraw()
    }

    public func finished(_ result: ScenarioResult, done: Int, total: Int) {
        let text = TextReport.scenario(result, verbose: verbose, repeatCount: repeatCount)
        let prefix = "[\(done)/\(total)] "
        state.withLock { s in
            s.running.removeAll { $0 == label(result.name, result.repetition) }
            s.done = done
            s.total = total
        }
        emit(prefix + text)
    }

    public func say(_ text: String) {
        let first = state.withLock { $0.said.insert(text).inserted }
        if first { emit("note: \(text)\n") }
    }

    /// Prints above the status line (or as a plain line).
    public func emit(_ text: String) {
        if isTerminal {
            write("\r\u{1B}[K" + text)
            redraw()
        } else {
            write(text)
        }
    }

    private func statusLine() -> String {
        let s = state.withLock { ($0.running, $0.done, $0.total) }
        let elapsed = Double(fl_monotonic_ns() - began) / 1e9
        var running = s.0.joined(separator: ", ")
        if running.count > 70 { running = String(running.prefix(67)) + "..." }
        return String(format: "[%d/%d done] %.1fs", s.1, s.2, elapsed) + (running.isEmpty ? "" : "  running: \(running)")
    }

    private func redraw() {
        guard isTerminal, !state.withLock({ $0.closed }) else { return }
        write("\r\u{1B}[K" + statusLine())
    }

    /// Clears the status line and stops the ticker.
    public func close() {
        let wasOpen = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        if wasOpen && isTerminal { write("\r\u{1B}[K") }
    }

    private let writeLock = Lock()
    private func write(_ text: String) {
        writeLock.withLock {
            try? FileIO.writeAll(fd: fd, text)
        }
    }
}
