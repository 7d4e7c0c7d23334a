import Values

/// Measures of one flow at one vantage that several failure modes share: the handshake's round
/// trip, the window-scale shift each side agreed, the MSS each side announced.
extension FlowTrace {
    /// The handshake's round trip as this vantage saw it: from the last SYN before the SYN/ACK to
    /// the client's first ACK after it (client, server and any vantage between see one RTT there).
    var handshakeRTT: TimeSpan? {
        guard let synAck = notes.firstIndex(where: { $0.isSYNACK && !$0.fromClient }) else { return nil }
        guard let syn = notes[..<synAck].last(where: { $0.isSYN && $0.fromClient }) else { return nil }
        guard let ack = notes[(synAck + 1)...].first(where: { $0.fromClient && !$0.isSYN && $0.flags.contains(.ack) }) else { return nil }
        return ack.time - syn.time
    }

    /// The client's SYN and the server's SYN/ACK as seen here (the first of each).
    var syn: PacketNote? { notes.first { $0.isSYN && $0.fromClient } }
    var synAck: PacketNote? { notes.first { $0.isSYNACK && !$0.fromClient } }

    /// The shift applied to the windows `fromClient`'s side advertises: its own SYN's window-scale
    /// option when both SYNs carried one (RFC 7323), else 0. Nil when the handshake was not seen.
    func windowShift(fromClient: Bool) -> Int? {
        guard let syn, let synAck else { return nil }
        guard syn.windowScale >= 0, synAck.windowScale >= 0 else { return 0 }
        return Int(fromClient ? syn.windowScale : synAck.windowScale)
    }

    /// The window `note` advertises in bytes (scaled; a SYN's own window is never scaled).
    func advertisedWindow(_ note: PacketNote) -> Int {
        if note.flags.contains(.syn) { return Int(note.window) }
        return Int(note.window) << (windowShift(fromClient: note.fromClient) ?? 0)
    }

    /// The largest segment `fromClient`'s side may send: the MSS the other side announced (536 when
    /// it announced none, RFC 9293), or the largest segment seen when larger (offloads).
    func sendMSS(fromClient: Bool) -> Int {
        let announced = (fromClient ? synAck : syn).map { Int($0.mss) } ?? 0
        return announced > 0 ? announced : 536
    }
}

/// The (upper) median of spans, zero for none.
func medianSpan(_ values: [TimeSpan]) -> TimeSpan {
    Stats.median(values) ?? .zero
}
