import CLinux

/// One look at the kernel's own view of a connection: TCP_INFO plus the socket's queue sizes
/// (SIOCINQ, SIOCOUTQ, SIOCOUTQNSD). Times are microseconds as the kernel reports them.
public struct TCPInfoSample: Sendable, Equatable {
    public var state: UInt8
    public var caState: UInt8
    /// Consecutive unanswered retransmission timeouts (tcpi_retransmits).
    public var retransmits: UInt8
    /// Unanswered zero-window or keepalive probes (tcpi_probes).
    public var probes: UInt8
    public var backoff: UInt8
    public var rtoMicroseconds: UInt32
    public var atoMicroseconds: UInt32
    public var sndMss: UInt32
    public var rcvMss: UInt32
    public var unacked: UInt32
    public var sacked: UInt32
    public var lost: UInt32
    /// Retransmitted segments not yet acknowledged (tcpi_retrans).
    public var retrans: UInt32
    public var lastDataSentMilliseconds: UInt32
    public var lastDataReceivedMilliseconds: UInt32
    public var lastAckReceivedMilliseconds: UInt32
    public var pmtu: UInt32
    public var rcvSsthresh: UInt32
    public var rttMicroseconds: UInt32
    public var rttvarMicroseconds: UInt32
    public var sndSsthresh: UInt32
    public var sndCwnd: UInt32
    public var reordering: UInt32
    public var rcvRttMicroseconds: UInt32
    public var rcvSpace: UInt32
    public var totalRetrans: UInt32
    public var bytesAcked: UInt64
    public var bytesReceived: UInt64
    public var bytesSent: UInt64
    public var bytesRetrans: UInt64
    public var notsentBytes: UInt32
    public var minRttMicroseconds: UInt32
    public var deliveryRate: UInt64
    public var busyTimeMicroseconds: UInt64
    public var rwndLimitedMicroseconds: UInt64
    public var sndbufLimitedMicroseconds: UInt64
    public var dsackDups: UInt32
    public var reordSeen: UInt32
    public var rcvOooPackets: UInt32
    public var segsOut: UInt32
    public var segsIn: UInt32
    /// The peer's advertised window (tcpi_snd_wnd), nil where the kernel does not report it.
    public var sndWnd: UInt32?
    /// The window this end advertises (tcpi_rcv_wnd, Linux 6.2+), nil where not reported.
    public var rcvWnd: UInt32?
    /// Unread bytes in the receive queue (SIOCINQ).
    public var inq: Int?
    /// Unacknowledged bytes in the send queue (SIOCOUTQ).
    public var outq: Int?
    /// Not yet sent bytes in the send queue (SIOCOUTQNSD).
    public var outqUnsent: Int?

    init(_ info: fl_tcp_info, _ more: fl_tcp_info_more, inq: Int?, outq: Int?, unsent: Int?) {
        state = info.state
        caState = info.ca_state
        retransmits = info.retransmits
        probes = info.probes
        backoff = info.backoff
        rtoMicroseconds = info.rto
        atoMicroseconds = info.ato
        sndMss = info.snd_mss
        rcvMss = info.rcv_mss
        unacked = info.unacked
        sacked = info.sacked
        lost = info.lost
        retrans = info.retrans
        lastDataSentMilliseconds = info.last_data_sent
        lastDataReceivedMilliseconds = info.last_data_recv
        lastAckReceivedMilliseconds = info.last_ack_recv
        pmtu = info.pmtu
        rcvSsthresh = info.rcv_ssthresh
        rttMicroseconds = info.rtt
        rttvarMicroseconds = info.rttvar
        sndSsthresh = info.snd_ssthresh
        sndCwnd = info.snd_cwnd
        reordering = info.reordering
        rcvRttMicroseconds = info.rcv_rtt
        rcvSpace = info.rcv_space
        totalRetrans = info.total_retrans
        bytesAcked = info.bytes_acked
        bytesReceived = info.bytes_received
        bytesSent = more.bytes_sent
        bytesRetrans = more.bytes_retrans
        notsentBytes = more.notsent_bytes
        minRttMicroseconds = more.min_rtt
        deliveryRate = more.delivery_rate
        busyTimeMicroseconds = more.busy_time
        rwndLimitedMicroseconds = more.rwnd_limited
        sndbufLimitedMicroseconds = more.sndbuf_limited
        dsackDups = more.dsack_dups
        reordSeen = more.reord_seen
        rcvOooPackets = more.rcv_ooopack
        segsOut = more.segs_out
        segsIn = more.segs_in
        sndWnd = more.has_snd_wnd != 0 ? info.snd_wnd : nil
        rcvWnd = more.has_rcv_wnd != 0 ? info.rcv_wnd : nil
        self.inq = inq
        self.outq = outq
        self.outqUnsent = unsent
    }

    public static let stateNames = ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
                                    "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"]
    public static let congestionStateNames = ["open", "disorder", "cwr", "recovery", "loss"]

    public var stateName: String { Int(state) < Self.stateNames.count ? Self.stateNames[Int(state)] : "state-\(state)" }
    public var congestionStateName: String {
        Int(caState) < Self.congestionStateNames.count ? Self.congestionStateNames[Int(caState)] : "ca-\(caState)"
    }

    /// This end advertises a zero window while data waits unread: the receive queue is full.
    public var advertisesZeroWindow: Bool { rcvWnd == 0 && (inq ?? 0) > 0 }
    /// The peer advertises a zero window (this end cannot send).
    public var peerAdvertisesZeroWindow: Bool { sndWnd == 0 && state == 1 }

    /// The fields of a `tcp_info` event (names as in the event schema).
    public var fields: JSONObject {
        var out = JSONObject()
        out["state"] = .string(stateName)
        out["ca_state"] = .string(congestionStateName)
        out["rtt_us"] = .from(rttMicroseconds)
        out["rttvar_us"] = .from(rttvarMicroseconds)
        out["min_rtt_us"] = .from(minRttMicroseconds)
        out["rto_us"] = .from(rtoMicroseconds)
        out["ato_us"] = .from(atoMicroseconds)
        out["retransmits"] = .from(retransmits)
        out["total_retrans"] = .from(totalRetrans)
        out["retrans"] = .from(retrans)
        out["probes"] = .from(probes)
        out["backoff"] = .from(backoff)
        out["snd_cwnd"] = .from(sndCwnd)
        out["snd_ssthresh"] = .from(sndSsthresh)
        out["unacked"] = .from(unacked)
        out["sacked"] = .from(sacked)
        out["lost"] = .from(lost)
        out["snd_mss"] = .from(sndMss)
        out["rcv_mss"] = .from(rcvMss)
        out["pmtu"] = .from(pmtu)
        out["rcv_space"] = .from(rcvSpace)
        out["rcv_ssthresh"] = .from(rcvSsthresh)
        out["snd_wnd"] = sndWnd.map { .from($0) } ?? .null
        out["rcv_wnd"] = rcvWnd.map { .from($0) } ?? .null
        out["inq"] = inq.map { .from($0) } ?? .null
        out["outq"] = outq.map { .from($0) } ?? .null
        out["outq_unsent"] = outqUnsent.map { .from($0) } ?? .null
        out["bytes_acked"] = .from(bytesAcked)
        out["bytes_received"] = .from(bytesReceived)
        out["bytes_sent"] = .from(bytesSent)
        out["bytes_retrans"] = .from(bytesRetrans)
        out["dsack_dups"] = .from(dsackDups)
        out["reord_seen"] = .from(reordSeen)
        out["rcv_ooopack"] = .from(rcvOooPackets)
        out["segs_out"] = .from(segsOut)
        out["segs_in"] = .from(segsIn)
        out["delivery_rate"] = .from(deliveryRate)
        out["busy_us"] = .from(busyTimeMicroseconds)
        out["rwnd_limited_us"] = .from(rwndLimitedMicroseconds)
        out["sndbuf_limited_us"] = .from(sndbufLimitedMicroseconds)
        out["last_data_sent_ms"] = .from(lastDataSentMilliseconds)
        out["last_data_recv_ms"] = .from(lastDataReceivedMilliseconds)
        out["last_ack_recv_ms"] = .from(lastAckReceivedMilliseconds)
        return out
    }
}
