#!/usr/bin/env python3
"""Writes hand-made hostile captures into Tests/AnalysisTests/FuzzRegressions/handmade-*.

Each targets a classic parser failure (huge lengths, lengths that do not add up, option loops
that never advance, deep header chains, counters at their limits). FuzzRegressionTests replays
them with the fuzzer's crash inputs: the reader must reject or skip them, never crash or spin.

Usage: Fuzz/make-hostile.py [OUTPUT_DIR]
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "Tests", "AnalysisTests", "FuzzRegressions")
sys.path.insert(0, HERE)
seeds = __import__("make-seeds")  # frame and block builders

C, S = seeds.C, seeds.S


def pcap_raw(frames, linktype=1, snaplen=65535, header=None):
    data = header or struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)
    for i, (frame, caplen, wire) in enumerate(frames):
        data += struct.pack("<IIII", 1_700_000_000 + i, i, caplen, wire) + frame
    return data


def tcp_with_options(options, flags=0x012, offset_words=None):
    header, _ = seeds.tcp(40000, 9000, 0xFFFFFFF0, 0xFFFFFFFF, flags, 0, b"")
    raw = bytearray(header) + options
    words = offset_words if offset_words is not None else (len(raw) + 3) // 4
    raw[12] = (words << 4) | (raw[12] & 0x0F)
    return bytes(raw) + b"\x00" * ((4 - len(raw) % 4) % 4)


def ipv4_packet(tcp_bytes, total=None, ihl=5, ttl=64):
    total = total if total is not None else 20 + len(tcp_bytes)
    return struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, 0x4000, ttl, 6, 0, bytes(C), bytes(S)) + tcp_bytes


def write(name, data):
    with open(os.path.join(OUT, "handmade-" + name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    shb = seeds.shb(False, "hostile")
    idb = seeds.idb(1, 9, "eth0", 0)
    frame = seeds.conversation()[0][1]

    # pcapng: a block that claims 4 GiB; a block shorter than its header; lengths that disagree.
    write("pcapng-huge-block.pcapng", shb + idb + struct.pack("<II", 6, 0xFFFFFFFC) + b"\x00" * 64)
    write("pcapng-tiny-block.pcapng", shb + idb + struct.pack("<III", 6, 8, 8))
    epb = bytearray(seeds.epb(0, 1, frame, len(frame)))
    epb[-4:] = struct.pack("<I", len(epb) + 4)
    write("pcapng-trailer-mismatch.pcapng", shb + idb + bytes(epb))
    # EPB whose captured length runs past its block, and one on an interface that does not exist.
    epb = bytearray(seeds.epb(0, 1, frame, len(frame)))
    epb[20:24] = struct.pack("<I", 0xFFFFFFF0)
    write("pcapng-caplen-past-block.pcapng", shb + idb + bytes(epb))
    write("pcapng-no-such-interface.pcapng", shb + idb + seeds.epb(7, 1, frame, len(frame)))
    # if_tsresol out of range (2^-127), and an option whose length runs past the block.
    write("pcapng-tsresol-2-127.pcapng", shb + seeds.idb(1, 0xFF, "eth0", 0) + seeds.epb(0, 2 ** 63, frame, len(frame)))
    bad_option = seeds.block(1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HH", 2, 0xFFF0) + b"eth0")
    write("pcapng-option-overrun.pcapng", shb + bad_option + seeds.epb(0, 1, frame, len(frame)))
    # Extreme timestamps and offsets: maximum ticks, if_tsoffset at both ends.
    write("pcapng-extreme-time.pcapng",
          shb + seeds.idb(1, 0, "eth0", 0, tsoffset=-(2 ** 63)) + seeds.epb(0, 2 ** 64 - 1, frame, len(frame))
          + seeds.idb(1, 19, "eth1", 0, tsoffset=2 ** 63 - 1) + seeds.epb(1, 2 ** 64 - 1, frame, len(frame)))
    # Simple packet block with no interface, and a SPB claiming a 4 GiB original length.
    write("pcapng-spb-without-idb.pcapng", shb + seeds.spb(frame, len(frame)))
    write("pcapng-spb-huge-original.pcapng", shb + idb + seeds.spb(frame, 0xFFFFFFFF))

    # pcap: a record claiming 4 GiB; zero-length records; snap length 0.
    write("pcap-huge-record.pcap", pcap_raw([(b"", 0xFFFFFFFF, 0xFFFFFFFF)]))
    write("pcap-empty-records.pcap", pcap_raw([(b"", 0, 0)] * 50 + [(frame, len(frame), 0)], snaplen=0))

    # TCP options: kind with length 0 and 1 (a loop that never advances), a SACK option with
    # 40 bytes of blocks, a window scale of 255, option bytes past the data offset.
    for name, options in [("tcp-option-length-0", b"\x05\x00" * 8), ("tcp-option-length-1", b"\x08\x01" * 8),
                          ("tcp-sack-40-bytes", b"\x05\x26" + b"\xff" * 36 + b"\x00\x00"),
                          ("tcp-wscale-255", b"\x03\x03\xff\x01")]:
        tcp_bytes = tcp_with_options(options)
        packet = ipv4_packet(tcp_bytes)
        frames = [(seeds.ether(packet), 14 + len(packet), 14 + len(packet))] * 3
        write(name + ".pcap", pcap_raw(frames))
    # Data offset 15 with the header cut short; data offset below 5.
    short = ipv4_packet(tcp_with_options(b"", offset_words=15))
    write("tcp-offset-15-cut.pcap", pcap_raw([(seeds.ether(short), 14 + len(short), 14 + len(short))]))
    low = ipv4_packet(tcp_with_options(b"", offset_words=2))
    write("tcp-offset-2.pcap", pcap_raw([(seeds.ether(low), 14 + len(low), 14 + len(low))]))
    # IPv4: IHL 15 on a 20-byte packet; total length 0; total length larger than the wire.
    for name, packet in [("ipv4-ihl-15", ipv4_packet(tcp_with_options(b""), ihl=15)),
                         ("ipv4-total-0", ipv4_packet(tcp_with_options(b""), total=0)),
                         ("ipv4-total-65535", ipv4_packet(tcp_with_options(b""), total=65535))]:
        write(name + ".pcap", pcap_raw([(seeds.ether(packet), 14 + len(packet), 14 + len(packet))]))
    # IPv6 with 200 chained destination-options headers.
    chain = [(60, b"\x00" + b"\x01\x04\x00\x00\x00\x00")] * 200
    v6 = seeds.ipv6(2, 3, seeds.tcp(1, 2, 3, 4, 0x010), extensions=chain)
    write("ipv6-200-extension-headers.pcap", pcap_raw([(v6, len(v6), len(v6))], linktype=101))
    # 300 stacked VLAN tags.
    tags = seeds.ether(ipv4_packet(tcp_with_options(b"")), vlans=[1] * 300)
    write("ethernet-300-vlan-tags.pcap", pcap_raw([(tags, len(tags), len(tags))]))
    # Many conversations: 3000 SYNs from distinct ports (state tables must stay bounded by input).
    syns = []
    for port in range(3000):
        header, _ = seeds.tcp(1024 + port, 80, port * 7919, 0, 0x002, 1024, seeds.MSS)
        p = ipv4_packet(header)
        syns.append((p, len(p), len(p)))
    write("many-conversations.pcap", pcap_raw(syns, linktype=101))
    # One flow whose sequence numbers wrap around 2^32 with retransmissions and SACK edges across it.
    wrap = []
    for i in range(40):
        seq = (0xFFFFF000 + (i % 20) * 512) & 0xFFFFFFFF
        header, _ = seeds.tcp(40000, 9000, seq, 1, 0x018, 512, seeds.SACK(0xFFFFFF00, 0x00000100))
        p = ipv4_packet(header, total=20 + len(header) + 512)
        wrap.append((p, len(p), len(p) + 512))
    write("sequence-wraparound.pcap", pcap_raw(wrap, linktype=101))


if __name__ == "__main__":
    main()
