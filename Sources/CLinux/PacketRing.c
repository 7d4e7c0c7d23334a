// A TPACKET_V3 receive ring on one interface: the kernel copies each packet into shared memory
// blocks as it reaches the interface (before the IP layer), and the reader walks whole blocks
// without a system call per packet. Used as a cheap traffic sink by the impairment benchmark.
#define _GNU_SOURCE
#include "CLinux.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <net/ethernet.h>
#include <sys/mman.h>
#include <sys/socket.h>

struct fl_packet_ring {
    int fd;
    uint8_t *map;
    size_t map_size;
    unsigned block_size;
    unsigned block_count;
    unsigned block;          // the block being read
    uint32_t left;           // packets of that block still to read (0: not started)
    uint8_t *next;           // the next packet's header in that block
    int in_block;            // 1 while a handed-over block is being read
};

int fl_packet_ring_open(int ifindex, unsigned block_size, unsigned block_count, unsigned retire_ms,
                        struct fl_packet_ring **out) {
    *out = NULL;
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) return -1;
    int version = TPACKET_V3;
    struct tpacket_req3 req;
    memset(&req, 0, sizeof req);
    req.tp_block_size = block_size;
    req.tp_block_nr = block_count;
    req.tp_frame_size = 2048;
    req.tp_frame_nr = (block_size / 2048) * block_count;
    req.tp_retire_blk_tov = retire_ms;
    struct sockaddr_ll addr;
    memset(&addr, 0, sizeof addr);
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = ifindex;
    void *map = MAP_FAILED;
    size_t size = (size_t)block_size * block_count;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0 ||
        (map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int saved = errno;
        if (map != MAP_FAILED) munmap(map, size);
        close(fd);
        errno = saved;
        return -1;
    }
    struct fl_packet_ring *ring = calloc(1, sizeof *ring);
    if (!ring) { munmap(map, size); close(fd); errno = ENOMEM; return -1; }
    ring->fd = fd;
    ring->map = map;
    ring->map_size = size;
    ring->block_size = block_size;
    ring->block_count = block_count;
    *out = ring;
    return 0;
}

int fl_packet_ring_fd(const struct fl_packet_ring *ring) { return ring->fd; }

void fl_packet_ring_close(struct fl_packet_ring *ring) {
    if (!ring) return;
    munmap(ring->map, ring->map_size);
    close(ring->fd);
    free(ring);
}

int fl_packet_ring_stats(const struct fl_packet_ring *ring, uint32_t *packets, uint32_t *drops) {
    struct tpacket_stats_v3 stats;
    socklen_t length = sizeof stats;
    if (getsockopt(ring->fd, SOL_PACKET, PACKET_STATISTICS, &stats, &length) != 0) return -1;
    *packets = stats.tp_packets;   // the kernel resets both on every read
    *drops = stats.tp_drops;
    return 0;
}

// The UDP payload of an IPv4 or IPv6 packet to `port` (no extension headers), or NULL.
static const uint8_t *udp_payload(const uint8_t *ip, uint32_t length, uint16_t port, uint32_t *payload_length) {
    if (length < 1) return NULL;
    uint32_t header;
    if ((ip[0] >> 4) == 4) {
        header = (uint32_t)(ip[0] & 0x0f) * 4;
        if (length < header + 8 || header < 20 || ip[9] != 17) return NULL;
        if ((ip[6] & 0x3f) != 0 || ip[7] != 0) return NULL;   // fragments
    } else if ((ip[0] >> 4) == 6) {
        header = 40;
        if (length < header + 8 || ip[6] != 17) return NULL;
    } else {
        return NULL;
    }
    const uint8_t *udp = ip + header;
    if (((uint16_t)udp[2] << 8 | udp[3]) != port) return NULL;
    *payload_length = length - header - 8;
    return udp + 8;
}

int fl_packet_ring_read(struct fl_packet_ring *ring, uint16_t port, uint8_t *out, size_t copy, int *lengths,
                        uint64_t *stamps, int max) {
    int n = 0;
    while (n < max) {
        struct tpacket_block_desc *desc =
            (struct tpacket_block_desc *)(ring->map + (size_t)ring->block * ring->block_size);
        if (!ring->in_block) {
            if ((__atomic_load_n(&desc->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;
            ring->in_block = 1;
            ring->left = desc->hdr.bh1.num_pkts;
            ring->next = (uint8_t *)desc + desc->hdr.bh1.offset_to_first_pkt;
        }
        while (ring->left > 0 && n < max) {
            struct tpacket3_hdr *packet = (struct tpacket3_hdr *)ring->next;
            uint32_t payload_length = 0;
            const uint8_t *payload = udp_payload((const uint8_t *)packet + packet->tp_mac, packet->tp_snaplen, port,
                                                 &payload_length);
            if (payload) {
                size_t take = payload_length < copy ? payload_length : copy;
                memcpy(out + (size_t)n * copy, payload, take);
                lengths[n] = (int)payload_length;
                stamps[n] = (uint64_t)packet->tp_sec * 1000000000ull + packet->tp_nsec;
                n++;
            }
            ring->left--;
            ring->next = (uint8_t *)packet + packet->tp_next_offset;
        }
        if (ring->left == 0) {
            // Hand the block back to the kernel and move on to the next one.
            __atomic_store_n(&desc->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
            ring->in_block = 0;
            ring->block = (ring->block + 1) % ring->block_count;
        }
    }
    return n;
}
