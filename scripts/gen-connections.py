#!/usr/bin/env python3
"""Writes a classic pcap of many short TCP connections (the "many-connections" bench shape).

    scripts/gen-connections.py OUT.pcap [CONNECTIONS] [--rate PER_SECOND] [--rtt-us RTT]

Each connection, seen at the client: SYN, SYN/ACK, ACK, one 100-byte request (PSH/ACK),
the client's FIN/ACK, the server's FIN/ACK acknowledging everything: 6 packets, no analysis
flag. A new connection starts every 1/RATE seconds (default 10,000/s) and lasts about two round
trips (default RTT 2 ms), so some 50 connections are open at any moment whatever the total.
Tuples never repeat: 2,000 clients (10.64.0.0/16) with one port each per 2,000 connections,
all to 192.0.2.80:80. Deterministic: the same arguments give the same bytes.
"""
import argparse
import struct
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("connections", nargs="?", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=10_000.0, help="new connections per second")
    parser.add_argument("--rtt-us", type=int, default=2_000, help="round-trip time in microseconds")
    args = parser.parse_args()

    clients = 2_000
    start_ns = 1_700_000_000_000_000_000
    step_ns = int(1e9 / args.rate)
    rtt = args.rtt_us * 1_000
    half = rtt // 2
    server = bytes([192, 0, 2, 80])
    eth_c2s = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    eth_s2c = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"
    syn_options = b"\x02\x04\x05\xb4\x04\x02\x01\x03\x03\x07"  # MSS 1460, SACK permitted, WS 7
    synack_options = b"\x02\x04\x05\xb4\x04\x02\x01\x03\x03\x07"
    request = b"GET / HTTP/1.1\r\nHost: bench\r\nX: " + b"x" * 64 + b"\r\n\r\n"
    assert len(request) == 100

    def packet(eth, src, dst, sport, dport, seq, ack, flags, window, options, payload, ipid):
        options += b"\x00" * (-len(options) % 4)
        tcp_len = 20 + len(options)
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (tcp_len // 4) << 4, flags, window, 0, 0) + options
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + tcp_len + len(payload), ipid & 0xFFFF, 0x4000, 64, 6, 0, src, dst)
        return eth + ip + tcp + payload

    # Each connection's packets as (time, connection, order, bytes); connections overlap, so the
    # file is written in time order from a sliding window of pending packets.
    def connection(i):
        t0 = start_ns + i * step_ns
        client = bytes([10, 64, (i % clients) >> 8, (i % clients) & 0xFF])
        cport = 10_000 + (i // clients) % 55_000
        ciss = (i * 2_654_435_761) & 0xFFFFFFFF
        siss = (i * 40_503 + 12_345) & 0xFFFFFFFF
        ipid = (i * 7) & 0xFFFF
        A, PA, S, SA, FA = 0x10, 0x18, 0x02, 0x12, 0x11
        return [
            (t0, packet(eth_c2s, client, server, cport, 80, ciss, 0, S, 64_240, syn_options, b"", ipid)),
            (t0 + rtt, packet(eth_s2c, server, client, 80, cport, siss, ciss + 1, SA, 65_160, synack_options, b"", 0)),
            (t0 + rtt + 20_000, packet(eth_c2s, client, server, cport, 80, ciss + 1, siss + 1, A, 502, b"", b"", ipid + 1)),
            (t0 + rtt + 40_000, packet(eth_c2s, client, server, cport, 80, ciss + 1, siss + 1, PA, 502, b"", request, ipid + 2)),
            (t0 + rtt + 60_000, packet(eth_c2s, client, server, cport, 80, (ciss + 101) & 0xFFFFFFFF, siss + 1, FA, 502,
                                       b"", b"", ipid + 3)),
            (t0 + 2 * rtt + 60_000, packet(eth_s2c, server, client, 80, cport, siss + 1, (ciss + 102) & 0xFFFFFFFF, FA, 509,
                                           b"", b"", 0)),
        ]

    import heapq
    pending = []
    packets = 0
    with open(args.out, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262_144, 1))
        write = out.write
        pack = struct.pack
        for i in range(args.connections):
            for order, (t, frame) in enumerate(connection(i)):
                heapq.heappush(pending, (t, i, order, frame))
            horizon = start_ns + (i + 1) * step_ns
            while pending and pending[0][0] < horizon:
                t, _, _, frame = heapq.heappop(pending)
                write(pack("<IIII", t // 1_000_000_000, (t % 1_000_000_000) // 1_000, len(frame), len(frame)))
                write(frame)
                packets += 1
        while pending:
            t, _, _, frame = heapq.heappop(pending)
            write(pack("<IIII", t // 1_000_000_000, (t % 1_000_000_000) // 1_000, len(frame), len(frame)))
            write(frame)
            packets += 1
    print(f"{args.connections} connections, {packets} packets", file=sys.stderr)


if __name__ == "__main__":
    main()
