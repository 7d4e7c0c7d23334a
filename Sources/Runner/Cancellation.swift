import Netlink
import CLinux
import Foundation
import Glibc

/// A one-way "stop now" shared by a catalog and its scenario runs: a flag plus an eventfd that
/// waits can poll, so a run sleeping until its next step wakes at once.
public final class Cancellation: @unchecked Sendable {
    /// The signal that asked for it (SIGINT, SIGTERM), or 0 for a plain cancel.
    public private(set) var signal: Int32 = 0
    private let state = LockedBox(false)
    let fd: Int32

    public init() {
        fd = fl_eventfd(0)
    }

    deinit { if fd >= 0 { close(fd) } }

    public var isCancelled: Bool { state.withLock { $0 } }

    public func cancel(signal: Int32 = 0) {
        let first = state.withLock { s -> Bool in
            if s { return false }
            s = true
            return true
        }
        if first {
            self.signal = signal
            var one: UInt64 = 1
            _ = write(fd, &one, 8)
        }
    }

    /// Sleeps until the monotonic time `deadline` (ns) or cancellation; true if cancelled.
    @discardableResult
    func sleep(until deadline: UInt64) -> Bool {
        while true {
            if isCancelled { return true }
            let now = fl_monotonic_ns()
            if now >= deadline { return false }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = fl_ppoll_ns(&p, 1, Int64(deadline - now))
        }
    }

    /// Blocks until cancelled; returns the signal that cancelled (0 for none).
    public func waitForever() -> Int32 {
        while !sleep(until: UInt64.max / 2) {}
        return signal
    }

    /// Waits until any of `fds` is readable, the deadline, or cancellation.
    func wait(fds: [Int32], until deadline: UInt64) {
        if isCancelled { return }
        let now = fl_monotonic_ns()
        if now >= deadline { return }
        var polls = ([fd] + fds).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = fl_ppoll_ns(&polls, UInt32(polls.count), Int64(deadline - now))
    }
}

/// Every terminating signal a user or a system sends (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
/// SIGUSR2, SIGALRM) to a cancellation, through a self-pipe the handler writes one byte to (the
/// handler does nothing else); a thread of our own reads it. A second signal while the teardown
/// runs is noted and ignored: the teardown always finishes. SIGPIPE is ignored: a closed stdout
/// (`faultline run ... | head -1`) makes writes fail with EPIPE, which only stops the printing.
/// The command exits with `RunExitCode.stopped(by:)`: 128 + the signal's number.
public final class SignalWatcher: @unchecked Sendable {
    /// The signals that cancel (SIGKILL and SIGSTOP cannot be caught; SIGPIPE is ignored).
    public static let terminating: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM]

    /// "SIGINT", "SIGTERM", ...; a cancellation without a signal is reported as SIGINT.
    public static func name(of signal: Int32) -> String {
        switch signal {
        case 0, SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        case SIGQUIT: return "SIGQUIT"
        case SIGUSR1: return "SIGUSR1"
        case SIGUSR2: return "SIGUSR2"
        case SIGALRM: return "SIGALRM"
        case SIGPIPE: return "SIGPIPE"
        default: return "signal \(signal)"
        }
    }

    private let pipe: Int32
    private let thread: Thread?
    public let cancellation: Cancellation

    public init(cancellation: Cancellation, onSignal: @escaping @Sendable (Int32) -> Void = { _ in }) {
        self.cancellation = cancellation
        let signals = Self.terminating
        _ = fl_ignore_signal(SIGPIPE)
        pipe = signals.withUnsafeBufferPointer { fl_signal_pipe($0.baseAddress, Int32($0.count)) }
        guard pipe >= 0 else { thread = nil; return }
        let fd = pipe
        let t = Thread {
            var byte: UInt8 = 0
            while true {
                let n = read(fd, &byte, 1)
                if n == 1 {
                    let sig = Int32(byte)
                    onSignal(sig)
                    cancellation.cancel(signal: sig)
                    continue
                }
                if n < 0 && (errno == EINTR) { continue }
                if n < 0 && errno == EAGAIN {
                    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    _ = fl_ppoll_ns(&p, 1, -1)
                    continue
                }
                return
            }
        }
        t.name = "fl-signals"
        thread = t
        t.start()
    }
}
