import CPcap
import Glibc
import Netlink

/// A thin owner of one activated libpcap handle. Created (and activated) on the thread of the
/// namespace the interface lives in: the packet socket belongs to that namespace for good, and
/// the handle can be used from the capture thread afterwards.
///
/// A pcap_t is not thread-safe: after `open`, only the capture thread touches it.
final class PcapHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    let linkType: Int32
    let snapLength: Int32
    /// True when libpcap delivers nanoseconds in `ts.tv_usec`.
    let nanosecondTimestamps: Bool
    /// The descriptor to poll for readability.
    let selectableFD: Int32
    /// Warnings pcap_activate returned (activation still succeeded).
    let warnings: [String]
    private var closed = false

    struct Settings {
        var snapLength: Int32
        var bufferSize: Int32
        var filter: String?
    }

    /// Creates and activates a handle on `interface`. Must run on a thread inside the namespace.
    static func open(interface: String, namespaceLabel: String, settings: Settings) throws(PacketCaptureError) -> PcapHandle {
        func failure(_ step: PacketCaptureError.Step, status: Int32? = nil, _ message: String) -> PacketCaptureError {
            PacketCaptureError(namespace: namespaceLabel, interface: interface, step: step, pcapStatus: status, message: message)
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_create(interface, &errorBuffer) else {
            throw failure(.create, text(errorBuffer))
        }
        var keep = false
        defer { if !keep { pcap_close(handle) } }

        // Each setter only fails on an already-activated handle or a bad value: report which one.
        func check(_ status: Int32, _ what: String) throws(PacketCaptureError) {
            if status != 0 {
                throw failure(.configure, status: status, "\(what): \(String(cString: pcap_geterr(handle)))")
            }
        }
        try check(pcap_set_snaplen(handle, settings.snapLength), "pcap_set_snaplen(\(settings.snapLength))")
        try check(pcap_set_promisc(handle, 0), "pcap_set_promisc(0)")
        // Immediate mode: every packet is delivered as soon as it arrives (libpcap then uses
        // TPACKET_V2 frames, so no block timeout can hold back the tail of a capture).
        try check(pcap_set_immediate_mode(handle, 1), "pcap_set_immediate_mode(1)")
        try check(pcap_set_buffer_size(handle, settings.bufferSize), "pcap_set_buffer_size(\(settings.bufferSize))")
        let precision = pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO))
        if precision != 0 && precision != PCAP_ERROR_TSTAMP_PRECISION_NOTSUP {
            try check(precision, "pcap_set_tstamp_precision(NANO)")
        }

        let status = pcap_activate(handle)
        var warnings: [String] = []
        if status < 0 {
            let text = String(cString: pcap_geterr(handle))
            throw failure(.activate, status: status, text)
        } else if status > 0 {
            warnings.append("\(PacketCaptureError.statusName(status)): \(String(cString: pcap_geterr(handle)))")
        }

        if let filter = settings.filter {
            var program = bpf_program()
            if pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 {
                throw failure(.compileFilter, "filter \"\(filter)\": \(String(cString: pcap_geterr(handle)))")
            }
            let set = pcap_setfilter(handle, &program)
            pcap_freecode(&program)
            if set != 0 {
                throw failure(.setFilter, status: set, "filter \"\(filter)\": \(String(cString: pcap_geterr(handle)))")
            }
        }

        if pcap_setnonblock(handle, 1, &errorBuffer) != 0 {
            throw failure(.setNonBlocking, text(errorBuffer))
        }
        let fd = pcap_get_selectable_fd(handle)
        if fd < 0 {
            throw failure(.selectableDescriptor, "libpcap gave no descriptor to poll")
        }
        keep = true
        return PcapHandle(pointer: handle, linkType: pcap_datalink(handle), snapLength: pcap_snapshot(handle),
                          nanosecondTimestamps: pcap_get_tstamp_precision(handle) == Int32(PCAP_TSTAMP_PRECISION_NANO),
                          selectableFD: fd, warnings: warnings)
    }

    private init(pointer: OpaquePointer, linkType: Int32, snapLength: Int32, nanosecondTimestamps: Bool,
                 selectableFD: Int32, warnings: [String]) {
        self.pointer = pointer
        self.linkType = linkType
        self.snapLength = snapLength
        self.nanosecondTimestamps = nanosecondTimestamps
        self.selectableFD = selectableFD
        self.warnings = warnings
    }

    /// libpcap's counters: (received, dropped by the kernel, dropped by the interface), or the error text.
    func statistics() -> Result<(received: UInt64, dropped: UInt64, interfaceDropped: UInt64), PcapStatsFailure> {
        var stats = pcap_stat()
        if pcap_stats(pointer, &stats) != 0 {
            return .failure(PcapStatsFailure(message: String(cString: pcap_geterr(pointer))))
        }
        return .success((UInt64(stats.ps_recv), UInt64(stats.ps_drop), UInt64(stats.ps_ifdrop)))
    }

    var lastError: String { String(cString: pcap_geterr(pointer)) }

    func close() {
        if closed { return }
        closed = true
        pcap_close(pointer)
    }

    deinit { close() }
}

/// A NUL-terminated error buffer as text.
private func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

struct PcapStatsFailure: Error {
    var message: String
}
