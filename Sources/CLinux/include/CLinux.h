// Linux calls Swift's Glibc module does not expose: it is built without _GNU_SOURCE, and variadic
// functions (syscall, ioctl, prctl, fcntl) cannot be called from Swift. Each wrapper returns what
// the call returns (-1 with errno set on failure).
#ifndef FAULTLINE_CLINUX_H
#define FAULTLINE_CLINUX_H

// Order matters: netinet/in.h and sys/socket.h before any linux/* header, or in_addr gets two
// definitions in two modules.
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdint.h>
#include <sys/types.h>
#include <signal.h>
#include <time.h>

int fl_unshare(int flags);
int fl_setns(int fd, int nstype);
pid_t fl_gettid(void);
int fl_clone_newnet(void);   // CLONE_NEWNET
int fl_clone_newuser(void);  // CLONE_NEWUSER
int fl_prctl_set_pdeathsig(int sig);
int fl_prctl_set_name(const char *name);
int fl_ioctl_ptr(int fd, unsigned long request, void *arg);
int fl_fcntl_setfl_nonblock(int fd);
int fl_fcntl_setfd_cloexec(int fd);
int fl_bind_mount(const char *source, const char *target);
int fl_umount_detach(const char *target);
int fl_mount_sysfs(const char *target);
int fl_mount_private_root(void);

// timerfd/eventfd (absolute monotonic timers for the hold queue, wakeups)
int fl_timerfd_create_monotonic(void);
int fl_timerfd_set_abs_ns(int fd, uint64_t monotonic_ns);
int fl_eventfd(unsigned int initval);

uint64_t fl_monotonic_ns(void);
uint64_t fl_realtime_ns(void);

// Signals for helpers and peers.
int fl_block_signals(const int *signals, int count);
int fl_signalfd(const int *signals, int count);

// Spawn: posix_spawn with a signal mask reset, a fresh process group if asked, and the
// parent-death signal set in the child (done through a tiny exec trampoline: see CLinux.c).
pid_t fl_spawn(const char *path, char *const argv[], char *const envp[],
               int stdin_fd, int stdout_fd, int stderr_fd, int new_process_group, int *err_out);

int fl_pidfd_open(pid_t pid);
int fl_pidfd_send_signal(int pidfd, int sig);

// Ethtool: segmentation offloads (tso, gso, gro) through the legacy ioctl interface.
int fl_ethtool_set_offload(int sock, const char *ifname, uint32_t cmd, uint32_t value);
int fl_ethtool_get_offload(int sock, const char *ifname, uint32_t cmd, uint32_t *value);

// Socket options with struct layouts Swift cannot spell without the kernel headers.
struct fl_tcp_info {
    uint8_t  state, ca_state, retransmits, probes, backoff, options, wscale_snd, wscale_rcv;
    uint32_t rto, ato, snd_mss, rcv_mss;
    uint32_t unacked, sacked, lost, retrans, fackets;
    uint32_t last_data_sent, last_ack_sent, last_data_recv, last_ack_recv;
    uint32_t pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh, snd_cwnd, advmss, reordering;
    uint32_t rcv_rtt, rcv_space, total_retrans;
    uint64_t bytes_acked, bytes_received;
    uint32_t snd_wnd, rcv_wnd;
    int valid_len; // how many bytes the kernel filled in
};
int fl_get_tcp_info(int fd, struct fl_tcp_info *out);

// A close-on-exec socket; SOCK_* constants import as structs in Swift.
int fl_socket_dgram(int domain);
int fl_socket_cloexec(int domain, int type, int protocol);
int fl_sock_stream(void);
int fl_sock_dgram(void);
int fl_sock_raw(void);
int fl_pipe_cloexec(int fds[2]);

// The symbolic name of an errno value ("ECONNRESET"), or NULL when glibc knows none.
const char *fl_errno_name(int value);

// Peers (Sources/Peers): queue sizes, nanosecond waits, a signal self-pipe, more TCP_INFO.
#include <poll.h>
int fl_sock_inq(int fd);          // SIOCINQ: bytes received and not yet read
int fl_sock_outq(int fd);         // SIOCOUTQ: bytes in the send queue (unsent + unacknowledged)
int fl_sock_outq_unsent(int fd);  // SIOCOUTQNSD: bytes in the send queue not yet sent
// ppoll with a relative timeout in nanoseconds (negative: wait forever), no signal mask change.
int fl_ppoll_ns(struct pollfd *fds, unsigned int nfds, int64_t timeout_ns);
// Installs a handler for each signal that only writes the signal number (one byte) to a
// non-blocking close-on-exec pipe, unblocks them on the calling thread, and returns the pipe's
// read end (or -1). Works whichever thread the kernel picks to deliver a process-wide signal.
int fl_signal_pipe(const int *signals, int count);
int fl_ignore_signal(int sig);    // SIG_IGN (e.g. SIGPIPE, so a write to a reset socket gives EPIPE)
// TCP_INFO fields beyond struct fl_tcp_info (0 where the running kernel does not fill them).
struct fl_tcp_info_more {
    uint64_t pacing_rate, delivery_rate, busy_time, rwnd_limited, sndbuf_limited;
    uint64_t bytes_sent, bytes_retrans;
    uint32_t notsent_bytes, min_rtt, segs_out, segs_in, dsack_dups, reord_seen, rcv_ooopack;
    int has_snd_wnd, has_rcv_wnd; // whether the kernel filled tcpi_snd_wnd / tcpi_rcv_wnd (6.2+)
    int valid_len;
};
int fl_get_tcp_info_more(int fd, struct fl_tcp_info_more *out);

// --- Userspace impairment engine (Sources/Impairment/Userspace) and its traffic generators ---
// Batched datagram I/O over plain buffers (struct mmsghdr needs _GNU_SOURCE, which Swift lacks).
// fl_recvmmsg_buffers: one recvmmsg of up to `count` (<= 1024) datagrams, datagram i into bufs[i]
// (buflen bytes each). lens[i] gets its full length (> buflen if it was truncated: MSG_TRUNC is
// passed per message). If stamps is not NULL, stamps[i] gets the kernel receive time from an
// SCM_TIMESTAMPNS control message (CLOCK_REALTIME ns; enable SO_TIMESTAMPNS first) or 0.
// Returns the number of datagrams, or -1 with errno.
int fl_recvmmsg_buffers(int fd, void *const *bufs, size_t buflen, unsigned int count, int *lens,
                        uint64_t *stamps, int flags);
// fl_sendmmsg_buffers: one sendmmsg of `count` (<= 1024) datagrams bufs[i] of lens[i] bytes, to
// `to` (NULL on a connected socket). Returns how many were sent, or -1 with errno.
int fl_sendmmsg_buffers(int fd, const void *const *bufs, const size_t *lens, unsigned int count,
                        const struct sockaddr *to, socklen_t tolen, int flags);
// PR_SET_TIMERSLACK for the calling thread (1 ns: timerfd wakeups as precise as the kernel can).
int fl_prctl_set_timerslack_ns(unsigned long ns);
// SO_TIMESTAMPNS (the old, CLOCK_REALTIME form) on a socket.
int fl_enable_rx_timestamps_ns(int fd);
// SCHED_FIFO at `priority` (1-99) for the calling thread; 0 on success, else the error number.
// --- A TPACKET_V3 receive ring (PacketRing.c): packets copied by the kernel into shared memory
// blocks as they reach an interface, read a block at a time. For cheap traffic sinks.
struct fl_packet_ring;
// Opens an AF_PACKET socket on `ifindex` (in the calling thread's network namespace) with a ring
// of `block_count` blocks of `block_size` bytes (a multiple of the page size and of 2048); a
// partly filled block is handed over after `retire_ms`. Returns 0, or -1 with errno.
int fl_packet_ring_open(int ifindex, unsigned block_size, unsigned block_count, unsigned retire_ms,
                        struct fl_packet_ring **out);
int fl_packet_ring_fd(const struct fl_packet_ring *ring);   // to poll
void fl_packet_ring_close(struct fl_packet_ring *ring);
// Packets seen and dropped (ring full) since the last call.
int fl_packet_ring_stats(const struct fl_packet_ring *ring, uint32_t *packets, uint32_t *drops);
// Reads up to `max` UDP datagrams to `port` (IPv4 or IPv6) from the blocks the kernel has
// filled: datagram i's first `copy` payload bytes go to out + i*copy, its payload length to
// lengths[i], its arrival time (CLOCK_REALTIME ns) to stamps[i]. Other packets are skipped;
// finished blocks go back to the kernel. Returns the number of datagrams (0: nothing ready).
int fl_packet_ring_read(struct fl_packet_ring *ring, uint16_t port, uint8_t *out, size_t copy, int *lengths,
                        uint64_t *stamps, int max);

int fl_set_thread_fifo(int priority);
// The calling thread stays SCHED_OTHER (nice unchanged) with a custom EEVDF slice of `ns`
// (sched_setattr's sched_runtime; the kernel clamps it to 0.1-100 ms; Linux 6.6+, a shorter
// slice also preempts on wakeup since 6.12): no privilege needed. 0 on success, else the error number.
int fl_set_thread_slice_ns(uint64_t ns);
// Pins the calling thread to one CPU (-1: any CPU again); 0 on success, else the error number.
int fl_set_thread_cpu(int cpu);

// --- Rootless: the user namespace the `faultline` executable entered before main (FaultlineEntry).
enum {
    FL_USERNS_NOT_ATTEMPTED = 0, // no entry code ran (libraries, test bundles)
    FL_USERNS_REAL_ROOT = 1,     // root in the initial user namespace: nothing done
    FL_USERNS_INHERITED = 2,     // started inside a user namespace already (peers of a rootless run)
    FL_USERNS_CREATED = 3,       // unshared a new one, this uid mapped to 0 inside
    FL_USERNS_JOINED = 4,        // joined a lab's (faultline exec)
    FL_USERNS_FAILED = 5,        // not root, and unshare or the id maps failed (errno, step)
    FL_USERNS_SKIPPED = 6,       // not root, and not attempted (FAULTLINE_ROOTLESS=0, exec)
    FL_USERNS_JOIN_FAILED = 7,   // faultline exec could not join (errno, step)
};
void fl_userns_set_entry(int state, int error, const char *step, unsigned subordinate_ids);
int fl_userns_entry_state(void);
int fl_userns_entry_errno(void);
const char *fl_userns_entry_step(void);          // "" when none
unsigned fl_userns_entry_subordinate_ids(void);  // inside ids 1..N mapped from /etc/subuid (0: none)
int fl_in_initial_user_namespace(void);          // 1 when /proc/self/ns/user is the machine's own
// The calling thread's CPUs (what the threads and processes it starts inherit); 0 or errno.
int fl_set_thread_cpus(const int *cpus, int count);
// The CPUs thread `tid` may run on, into cpus (up to max); returns how many, or -1.
int fl_get_thread_cpus(int tid, int *cpus, int max);

#endif
