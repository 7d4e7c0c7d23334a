#!/usr/bin/env python3
"""Writes the small synthetic seed captures in Fuzz/Seeds/ (committed; rerun only to change them).

Each seed reaches a different corner of the reader and analyzer, so the fuzzer starts from
structure it would take long to find alone: both pcap byte orders and timestamp resolutions,
pcapng with several sections and interfaces, every packet block kind, options, statistics and
unknown blocks, every supported link type, VLAN tags, IPv6 extension headers, and TCP
conversations with the events tshark flags (retransmission, duplicate ACK, zero window, keep-alive,
window update, RST, SACK, out of order).

Usage: Fuzz/make-seeds.py [OUTPUT_DIR]   (default: Fuzz/Seeds next to this script)
"""
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "Seeds")


# ---------- frames ----------

def tcp(sport, dport, seq, ack, flags, window=512, options=b"", payload=0):
    opts = options + b"\x00" * ((4 - len(options) % 4) % 4)
    offset = (20 + len(opts)) // 4
    header = struct.pack(">HHIIHHHH", sport, dport, seq, ack, (offset << 12) | flags, window, 0, 0) + opts
    return header, b"\x5a" * payload


def ipv4(src, dst, segment, ttl=64, ipid=1, proto=6, frag=0x4000, keep_payload=True):
    header, payload = segment
    total = 20 + len(header) + len(payload)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, ipid, frag, ttl, proto, 0, bytes(src), bytes(dst))
    return ip + header + (payload if keep_payload else b"")


def ipv6(src_last, dst_last, segment, hop=64, extensions=()):
    header, payload = segment
    chain = b""
    types = [t for t, _ in extensions] + [6]
    first = types.pop(0)
    for i, (_, body) in enumerate(extensions):
        chain += bytes([types[i]]) + body
    plen = len(chain) + len(header) + len(payload)
    src = b"\xfd\x00" + b"\x00" * 13 + bytes([src_last])
    dst = b"\xfd\x00" + b"\x00" * 13 + bytes([dst_last])
    return struct.pack(">IHBB", 0x60012345, plen, first, hop) + src + dst + chain + header + payload


def ether(payload, ethertype=0x0800, vlans=()):
    frame = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01"
    for i, vid in enumerate(vlans):
        frame += struct.pack(">HH", 0x88A8 if i == 0 and len(vlans) > 1 else 0x8100, vid)
    return frame + struct.pack(">H", ethertype) + payload


def sll(payload, ethertype=0x0800):
    return struct.pack(">HHH8sH", 0, 1, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00", ethertype) + payload


def sll2(payload, ethertype=0x86DD):
    return struct.pack(">HHIHBB8s", ethertype, 0, 3, 1, 0, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00") + payload


C = [198, 18, 1, 2]
S = [198, 18, 2, 2]
MSS = b"\x02\x04\x05\xb4"
WS = b"\x01\x03\x03\x07"
SACKP = b"\x04\x02"
TS = lambda v, e: b"\x01\x01\x08\x0a" + struct.pack(">II", v, e)
SACK = lambda l, r: b"\x01\x01\x05\x0a" + struct.pack(">II", l, r)


def conversation(wrap=lambda p: ether(p), v6=False, full_payload=False):
    """A connection with most of what tshark flags. Returns [(time_us, frame, wire_length)]."""
    out = []
    t = 1_700_000_000_000_000

    def add(dt, from_client, seq, ack, flags, window=512, options=b"", payload=0, ttl=None, ipid=1):
        nonlocal t
        t += dt
        sport, dport = (40000, 9000) if from_client else (9000, 40000)
        seg = tcp(sport, dport, seq, ack, flags, window, options, payload)
        if v6:
            pkt = ipv6(2, 3, seg) if from_client else ipv6(3, 2, seg, hop=63)
        else:
            src, dst = (C, S) if from_client else (S, C)
            pkt = ipv4(src, dst, seg, ttl=ttl or (64 if from_client else 63), ipid=ipid, keep_payload=full_payload)
        frame = wrap(pkt)
        wire = len(frame) + (0 if full_payload else seg and len(seg[1]))
        out.append((t, frame, wire))

    a, b = 1000, 5000
    add(0, True, a, 0, 0x002, 64240, MSS + SACKP + TS(1, 0) + WS)
    add(150, False, b, a + 1, 0x012, 65160, MSS + SACKP + TS(9, 1) + WS)
    add(150, True, a + 1, b + 1, 0x010, 502, TS(2, 9))
    for i in range(4):
        add(10, True, a + 1 + i * 100, b + 1, 0x018, 502, TS(3, 9), payload=100, ipid=2 + i)
    add(200, False, b + 1, a + 101, 0x010, 509, TS(10, 3))
    add(5, False, b + 1, a + 101, 0x010, 509, TS(10, 3) + SACK(a + 201, a + 401))  # dup ACK + SACK
    add(5, False, b + 1, a + 101, 0x010, 509, TS(10, 3) + SACK(a + 201, a + 401))
    add(5, False, b + 1, a + 101, 0x010, 509, TS(10, 3) + SACK(a + 201, a + 401))
    add(20, True, a + 101, b + 1, 0x018, 502, TS(4, 10), payload=100, ipid=9)  # fast retransmission
    add(300, True, a + 401, b + 1, 0x018, 502, TS(5, 10), payload=100, ipid=10)
    add(1, True, a + 301, b + 1, 0x018, 502, TS(5, 10), payload=100, ipid=11)  # out of order / spurious
    add(200, False, b + 1, a + 501, 0x010, 0, TS(11, 5))  # zero window
    add(300_000, True, a + 500, b + 1, 0x010, 502, TS(6, 11), payload=1)  # probe (keep-alive look)
    add(100, False, b + 1, a + 501, 0x010, 0, TS(12, 6))
    add(200_000, False, b + 1, a + 501, 0x010, 400, TS(13, 6))  # window update
    add(100, True, a + 501, b + 1, 0x018, 502, TS(7, 13), payload=400)  # window full
    add(40_000, True, a + 501, b + 1, 0x018, 502, TS(8, 13), payload=400)  # RTO retransmission
    add(100, False, b + 1, a + 901, 0x018, 509, TS(14, 8) + SACK(a + 501, a + 901), payload=50)  # D-SACK
    add(10_000_000, True, a + 900, b + 51, 0x010, 502, TS(9, 14))  # keep-alive
    add(100, False, b + 51, a + 901, 0x010, 509, TS(15, 9))
    add(100, True, a + 901, b + 51, 0x011, 502, TS(10, 15))  # FIN
    add(100, False, b + 51, a + 902, 0x004, 0, ttl=64)  # RST with another TTL
    add(1_000_000, True, a + 7777, 0, 0x002, 64240, MSS + WS)  # port reuse, new SYN
    add(1_000_000, True, a + 7777, 0, 0x002, 64240, MSS + WS)  # SYN retransmission
    add(100, False, 0, a + 7778, 0x014, 0)  # RST/ACK refusal
    return out


# ---------- containers ----------

def pcap(records, linktype=1, big=False, nano=False, snaplen=65535):
    e = ">" if big else "<"
    data = struct.pack(e + "IHHiIII", 0xA1B23C4D if nano else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)
    for t_us, frame, wire in records:
        frac = (t_us % 1_000_000) * (1000 if nano else 1)
        data += struct.pack(e + "IIII", t_us // 1_000_000, frac, len(frame), wire) + frame
    return data


def block(btype, body, big=False):
    e = ">" if big else "<"
    body += b"\x00" * ((4 - len(body) % 4) % 4)
    length = len(body) + 12
    return struct.pack(e + "II", btype, length) + body + struct.pack(e + "I", length)


def opt(code, value, big=False):
    e = ">" if big else "<"
    return struct.pack(e + "HH", code, len(value)) + value + b"\x00" * ((4 - len(value) % 4) % 4)


def end(big=False):
    return opt(0, b"", big)


def shb(big=False, comment=None):
    e = ">" if big else "<"
    body = struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    if comment:
        body += opt(1, comment.encode(), big) + opt(4, b"make-seeds", big) + end(big)
    return block(0x0A0D0D0A, body, big)


def idb(linktype, tsresol=None, name=None, snaplen=0, big=False, fcslen=None, tsoffset=None):
    e = ">" if big else "<"
    body = struct.pack(e + "HHI", linktype, 0, snaplen)
    opts = b""
    if name:
        opts += opt(2, name.encode(), big) + opt(3, ("vantage " + name).encode(), big)
    if tsresol is not None:
        opts += opt(9, bytes([tsresol]), big)
    if fcslen is not None:
        opts += opt(13, bytes([fcslen]), big)
    if tsoffset is not None:
        opts += opt(14, struct.pack(e + "q", tsoffset), big)
    if opts:
        opts += end(big)
    return block(1, body + opts, big)


def epb(iface, ticks, frame, wire, comment=None, big=False, flags=None):
    e = ">" if big else "<"
    body = struct.pack(e + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), wire) + frame
    body += b"\x00" * ((4 - len(frame) % 4) % 4)
    opts = b""
    if comment:
        opts += opt(1, comment.encode(), big)
    if flags is not None:
        opts += opt(2, struct.pack(e + "I", flags), big)
    if opts:
        body += opts + end(big)
    return block(6, body, big)


def spb(frame, wire, big=False):
    e = ">" if big else "<"
    return block(3, struct.pack(e + "I", wire) + frame, big)


def obsolete_pb(iface, ticks, frame, wire, big=False):
    e = ">" if big else "<"
    return block(2, struct.pack(e + "HHIIII", iface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), wire) + frame, big)


def isb(iface, ticks, recv, drop, big=False):
    e = ">" if big else "<"
    body = struct.pack(e + "III", iface, ticks >> 32, ticks & 0xFFFFFFFF)
    body += opt(1, b"counters", big) + opt(4, struct.pack(e + "Q", recv), big) + opt(5, struct.pack(e + "Q", drop), big) + end(big)
    return block(5, body, big)


def pcapng(records, linktype=1, tsresol=9, big=False, name="eth0", comments=False):
    data = shb(big, "seed section") + idb(linktype, tsresol, name, 262144, big)
    scale = {6: 1, 9: 1000, 3: 0}.get(tsresol)
    for i, (t_us, frame, wire) in enumerate(records):
        ticks = t_us * scale if scale else (t_us << 20) // 1_000_000 if tsresol == 0x94 else t_us // 1000
        data += epb(0, ticks, frame, wire, comment=("frame %d" % (i + 1)) if comments and i % 3 == 0 else None,
                    big=big, flags=1 if i % 2 == 0 else 2)
    return data + isb(0, records[-1][0] * (scale or 1), len(records), 0, big)


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    ethernet = conversation()
    write("pcap-le-usec-ethernet.pcap", pcap(ethernet))
    write("pcap-be-nsec-ethernet-full.pcap", pcap(conversation(full_payload=True), big=True, nano=True))
    write("pcap-raw-ipv6-ext.pcap", pcap(conversation(wrap=lambda p: p, v6=True), linktype=101))
    hop_by_hop = [(0, b"\x00" + b"\x01\x04\x00\x00\x00\x00")]  # next-header filled by ipv6()
    write("pcap-sll2-ipv6-hbh.pcap", pcap(
        [(t, sll2(ipv6(2, 3, tcp(40000, 9000, 1, 0, 0x002, options=MSS), extensions=hop_by_hop)), len(f)) for t, f, _ in
         conversation()[:3]], linktype=276))
    write("pcap-sll-vlan.pcap", pcap([(t, sll(f[14:]), w) for t, f, w in ethernet], linktype=113))
    write("pcap-qinq.pcap", pcap([(t, ether(f[14:], vlans=(10, 20)), w + 8) for t, f, w in ethernet]))
    write("pcap-null-loop.pcap", pcap([(t, struct.pack("<I", 2) + f[14:], w - 10) for t, f, w in ethernet], linktype=0))
    write("pcap-loop-be.pcap", pcap([(t, struct.pack(">I", 2) + f[14:], w - 10) for t, f, w in ethernet], linktype=108))
    write("pcap-rawipv4-fragments.pcap", pcap(
        [(1, ipv4(C, S, tcp(1, 2, 3, 4, 0x010), frag=0x2000), 60), (2, ipv4(C, S, tcp(1, 2, 3, 4, 0x010), frag=0x0010), 60),
         (3, ipv4(C, S, tcp(1, 2, 3, 4, 0x010), proto=17), 40)], linktype=228))
    write("pcapng-le-nsec-comments.pcapng", pcapng(ethernet, comments=True))
    write("pcapng-be-usec.pcapng", pcapng(conversation(v6=True, wrap=lambda p: ether(p, 0x86DD)), tsresol=6, big=True))
    write("pcapng-binary-tsresol.pcapng", pcapng(ethernet[:10], tsresol=0x94))
    # Two sections (LE then BE), two interfaces in the first, SPB, obsolete PB, unknown blocks.
    first = shb(False, "section one") + idb(1, 9, "client", 0) + idb(113, 6, "any", 128, fcslen=4, tsoffset=-5)
    for i, (t, f, w) in enumerate(ethernet[:8]):
        first += epb(i % 2, t * 1000 if i % 2 == 0 else t, f if i % 2 == 0 else sll(f[14:]), w)
    first += spb(ethernet[8][1], ethernet[8][2]) + obsolete_pb(0, ethernet[9][0] * 1000, ethernet[9][1], ethernet[9][2])
    first += block(4, struct.pack("<HH", 1, 9) + bytes(C) + b"host\x00\x00\x00\x00" + b"\x00" * 4) + block(0x00000BAD, b"custom")
    second = shb(True, "section two") + idb(1, 9, "server", 0, big=True)
    for t, f, w in ethernet[10:]:
        second += epb(0, t * 1000, f, w, big=True)
    write("pcapng-two-sections.pcapng", first + second)
    # Cut in the middle of a record (a writer that died).
    whole = pcapng(ethernet)
    write("pcapng-truncated.pcapng", whole[:len(whole) - 37])
    write("pcap-truncated.pcap", pcap(ethernet)[:300])


if __name__ == "__main__":
    main()
