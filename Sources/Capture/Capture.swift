import Values
import CLinux
import Glibc
import Netlink

/// Capture: live packet capture inside network namespaces, written as pcapng, with statistics.
///
/// ```swift
/// let network = try Topology.line().build()
/// let capture = try CaptureSession.start(points: [
///     CapturePoint(namespace: try network.namespace("client"), interface: "eth0", file: "\(dir)/client.pcapng"),
///     CapturePoint(namespace: try network.namespace("server"), interface: "eth0", file: "\(dir)/server.pcapng"),
/// ])
/// // ... traffic ...
/// let stats = capture.stop()   // drains what the kernel still holds, writes statistics, closes
/// if stats.contains(where: \.lostPackets) { print("the capture itself lost packets") }
/// ```
///
/// How it works, and why:
/// - Each handle is created and activated on the namespace's own thread (a packet socket belongs
///   to the namespace of the thread that creates it), then read from a capture thread of its own.
/// - Immediate mode, a large kernel buffer (16 MiB by default) and nanosecond timestamps.
///   Without immediate mode TPACKET_V3 holds packets in blocks until a timeout, and a stopped
///   capture loses its tail; with a small buffer bursts overflow it.
/// - Non-blocking handles polled together with an eventfd for stop: libpcap 1.10.3's blocking
///   read may never return once traffic stops.
/// - The pcapng file (section header, one interface description with if_name/if_description,
///   if_tsresol = 9, snap length, link type) is written with one write(2) per poll wakeup, no
///   stdio buffering: a run killed with SIGKILL leaves a readable file, at worst cut inside the
///   last packet block.
/// - At stop an Interface Statistics Block (isb_ifrecv, isb_ifdrop, isb_osdrop, isb_usrdeliv)
///   ends the file, and `<file>.stats.json` (`CaptureStats`) is written beside it; the sidecar is
///   also refreshed about once a second while the capture runs.
public enum CaptureSession {
    /// Full frames: 256 KiB, like tcpdump and dumpcap. The ring's frame size still follows the
    /// interface MTU (libpcap sizes TPACKET_V2 frames by MTU when offloads are off), so a large
    /// snap length does not shrink the number of frames the buffer holds.
    public static let defaultSnapLength = 262_144
    /// The smallest snap length accepted: Ethernet (14) + 2 VLAN tags (8) + IPv6 (40) + TCP with
    /// the longest options (60), rounded up.
    public static let minimumSnapLength = 128
    /// Kernel buffer per capture point.
    public static let defaultBufferSize = 16 * 1024 * 1024

    /// Opens every point (all or none), writes the file headers, and starts capturing.
    ///
    /// - Parameters:
    ///   - snapLength: bytes kept of each frame (`minimumSnapLength...262144`).
    ///   - filter: a BPF filter in tcpdump syntax (e.g. `"tcp port 9000"`), or nil for everything.
    ///   - bufferSize: the kernel ring buffer per point, in bytes.
    /// - Throws: `PacketCaptureError` naming the point and libpcap's text. On error nothing is
    ///   left open and the files this call created are removed.
    public static func start(points: [CapturePoint], snapLength: Int = defaultSnapLength, filter: String? = nil,
                             bufferSize: Int = defaultBufferSize) throws(PacketCaptureError) -> RunningCapture {
        try validate(points: points, snapLength: snapLength, bufferSize: bufferSize)
        let settings = PcapHandle.Settings(snapLength: Int32(snapLength), bufferSize: Int32(bufferSize), filter: filter)
        let stopFD = fl_eventfd(0)
        if stopFD < 0 {
            let point = points[0]
            throw PacketCaptureError(namespace: point.namespaceLabel, interface: point.interface, step: .stopDescriptor,
                                     errno: Errno.current, message: "eventfd")
        }
        var workers: [CaptureWorker] = []
        do throws(PacketCaptureError) {
            for point in points {
                // The window starts before the handle opens: the kernel queues (and timestamps)
                // packets from activation on, before the worker exists.
                let opened = Int64(bitPattern: fl_realtime_ns())
                let handle: PcapHandle
                if let namespace = point.namespace {
                    handle = try namespace.run { () throws(PacketCaptureError) -> PcapHandle in
                        try PcapHandle.open(interface: point.interface, namespaceLabel: point.namespaceLabel, settings: settings)
                    }
                } else {
                    handle = try PcapHandle.open(interface: point.interface, namespaceLabel: point.namespaceLabel, settings: settings)
                }
                let worker = try CaptureWorker(point: point, handle: handle, stopFD: stopFD, filter: filter,
                                               bufferSize: bufferSize, openedNanoseconds: opened)
                workers.append(worker)
            }
            for worker in workers { try worker.startThread() }
        } catch {
            // Stop threads already running, close everything, remove the files made here.
            var one: UInt64 = 1
            _ = write(stopFD, &one, 8)
            for worker in workers { worker.abandon() }
            close(stopFD)
            throw error
        }
        return RunningCapture(workers: workers, stopFD: stopFD)
    }

    static func validate(points: [CapturePoint], snapLength: Int, bufferSize: Int) throws(PacketCaptureError) {
        func invalid(_ point: CapturePoint?, _ message: String) -> PacketCaptureError {
            PacketCaptureError(namespace: point?.namespaceLabel ?? "-", interface: point?.interface ?? "-",
                               step: .invalidArgument, message: message)
        }
        guard let first = points.first else { throw invalid(nil, "no capture points given") }
        if !(minimumSnapLength...262_144).contains(snapLength) {
            throw invalid(first, "snap length \(snapLength) is outside \(minimumSnapLength)...262144 (it must hold Ethernet, IP and TCP headers with options)")
        }
        if bufferSize < 65_536 || bufferSize > Int(Int32.max) {
            throw invalid(first, "buffer size \(bufferSize) is outside 65536...\(Int32.max) bytes")
        }
        var files = Set<String>()
        for point in points {
            if point.interface.isEmpty || point.interface.utf8.count > 15 || point.interface.contains("/") {
                throw invalid(point, "\"\(point.interface)\" is not a valid interface name (1 to 15 bytes, no '/')")
            }
            if point.file.isEmpty { throw invalid(point, "empty file path") }
            if !files.insert(point.file).inserted {
                throw invalid(point, "file \(point.file) is used by two capture points")
            }
        }
    }
}

/// Where to capture: an interface inside a namespace, and the pcapng file to write.
public struct CapturePoint: Sendable {
    /// The namespace the interface lives in; nil captures in the calling thread's namespace
    /// (for a process that was started inside one).
    public var namespace: NetworkNamespace?
    public var interface: String
    public var file: String
    /// How the point is named in errors, statistics and the file's if_description; defaults to
    /// the namespace's label.
    public var label: String?

    public init(namespace: NetworkNamespace?, interface: String, file: String, label: String? = nil) {
        self.namespace = namespace
        self.interface = interface
        self.file = file
        self.label = label
    }

    var namespaceLabel: String { label ?? namespace?.label ?? "(current)" }
}

/// Captures in progress. `stop()` ends them all; so does deinit.
public final class RunningCapture: @unchecked Sendable {
    private let workers: [CaptureWorker]
    private let stopFD: Int32
    private var mutex = pthread_mutex_t()
    private var finalStats: [CaptureStats]?

    init(workers: [CaptureWorker], stopFD: Int32) {
        self.workers = workers
        self.stopFD = stopFD
        pthread_mutex_init(&mutex, nil)
    }

    /// The files being written, in point order.
    public var files: [String] { workers.map(\.point.file) }

    /// Counters so far (updated after every batch written; libpcap's received/dropped counts
    /// are refreshed about once a second).
    public func currentStats() -> [CaptureStats] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if let finalStats { return finalStats }
        return workers.map { $0.snapshot() }
    }

    /// The capture time (ns since the epoch) of the first segment advertising a zero window
    /// seen at the points labelled `label` (a node), or at any point when nil; nil: none yet.
    public func firstZeroWindow(at label: String?) -> UInt64? {
        workers.filter { label == nil || $0.point.label == label }.compactMap(\.zeroWindow.firstSeen).min()
    }

    /// Stops every capture: reads what the kernel still holds, writes the statistics block and
    /// the sidecar, closes handles and files. Returns the final statistics, in point order.
    /// Idempotent: later calls return the same values.
    @discardableResult
    public func stop() -> [CaptureStats] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if let finalStats { return finalStats }
        var one: UInt64 = 1
        _ = write(stopFD, &one, 8)
        let stats = workers.map { $0.join() }
        close(stopFD)
        finalStats = stats
        return stats
    }

    /// Test hook: stop (or resume) reading the handles, so the kernel's buffer overflows and the
    /// drop accounting can be checked against a known loss.
    func pauseReading(_ paused: Bool) {
        for worker in workers { worker.setPaused(paused) }
    }

    deinit {
        stop()
        pthread_mutex_destroy(&mutex)
    }
}
