import Values
import CLinux
import Glibc
import Synchronization

/// Where probe datagrams are counted: a reading thread, the arrivals it records, and the eventfd
/// that tells it to finish. Subclasses supply `loop()`, which polls `wake` beside its own
/// descriptor and, once `wake` is readable, reads what is left and returns:
/// `UDPProbeReceiver` (a UDP socket) and `UDPProbeRingSink` (a packet ring on the interface).
public class ProbeSink: @unchecked Sendable {
    let wake: Int32
    private let arrivals = Mutex<[UDPProbe.Arrival]>([])
    private let received = Atomic<Int>(0)
    private var thread = pthread_t()
    private var running = false
    /// Run the reading thread SCHED_FIFO at this priority (nil: normal scheduling). A normal
    /// thread can wait behind a realtime engine and a busy sender long enough for its buffer to fill.
    public var realtimePriority: Int32?

    init(expected: Int) {
        wake = fl_eventfd(0)
        arrivals.withLock { $0.reserveCapacity(expected) }
    }

    deinit { close(wake) }

    /// Starts the reading thread (once).
    public func start() {
        guard !running else { return }
        running = true
        do {
            thread = try PosixThread.start {
                if let priority = self.realtimePriority { _ = fl_set_thread_fifo(priority) }
                self.loop()
            }.handle
        } catch {
            running = false
        }
    }

    /// The reading thread's body; every subclass has one.
    func loop() {
        preconditionFailure("\(type(of: self)) does not read")
    }

    func record(_ batch: [UDPProbe.Arrival]) {
        arrivals.withLock { $0.append(contentsOf: batch) }
        received.add(batch.count, ordering: .relaxed)
    }

    /// Datagrams received so far.
    public var count: Int { received.load(ordering: .relaxed) }

    /// Datagrams the sink itself lost (it fell behind), as far as it can tell.
    public var dropped: Int { 0 }

    /// Stops the thread (after it has read what is already waiting) and returns every arrival.
    @discardableResult
    public func stop() -> [UDPProbe.Arrival] {
        if running {
            var one: UInt64 = 1
            _ = write(wake, &one, 8)
            pthread_join(thread, nil)
            running = false
        }
        return arrivals.withLock { $0 }
    }

    /// Removes what the sink installed beyond its descriptors (rules); idempotent.
    public func tearDown() {}

    /// Waits until no datagram has arrived for `quiet` ns (or `limit` ns passed), polling every 10 ms.
    public func waitUntilQuiet(quiet: UInt64 = 100_000_000, limit: UInt64 = 5_000_000_000) {
        let deadline = fl_monotonic_ns() + limit
        var last = count
        var lastChange = fl_monotonic_ns()
        while fl_monotonic_ns() < deadline {
            usleep(10_000)
            let now = count
            if now != last { last = now; lastChange = fl_monotonic_ns() }
            else if fl_monotonic_ns() - lastChange >= quiet { return }
        }
    }
}
