#define _GNU_SOURCE
#include "CLinux.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <string.h>
#include <stddef.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <signal.h>
#include <pthread.h>
#include <net/if.h>
#include <linux/tcp.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

int fl_unshare(int flags) { return unshare(flags); }
int fl_setns(int fd, int nstype) { return setns(fd, nstype); }
pid_t fl_gettid(void) { return (pid_t)syscall(SYS_gettid); }
int fl_clone_newnet(void) { return CLONE_NEWNET; }
int fl_clone_newuser(void) { return CLONE_NEWUSER; }
int fl_prctl_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }
int fl_prctl_set_name(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0); }
int fl_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }
int fl_fcntl_setfl_nonblock(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}
int fl_fcntl_setfd_cloexec(int fd) { return fcntl(fd, F_SETFD, FD_CLOEXEC); }
int fl_bind_mount(const char *source, const char *target) {
    return mount(source, target, "none", MS_BIND, NULL);
}
int fl_umount_detach(const char *target) { return umount2(target, MNT_DETACH); }
int fl_mount_sysfs(const char *target) { return mount("sysfs", target, "sysfs", 0, NULL); }
int fl_mount_private_root(void) { return mount("", "/", NULL, MS_REC | MS_PRIVATE, NULL); }

int fl_timerfd_create_monotonic(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
}
int fl_timerfd_set_abs_ns(int fd, uint64_t ns) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    if (ns == 0) ns = 1; // 0 would disarm; "now" is 1 ns past the epoch of the monotonic clock
    spec.it_value.tv_sec = (time_t)(ns / 1000000000ull);
    spec.it_value.tv_nsec = (long)(ns % 1000000000ull);
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}
int fl_eventfd(unsigned int initval) { return eventfd(initval, EFD_CLOEXEC | EFD_NONBLOCK); }

uint64_t fl_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
uint64_t fl_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fill_set(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) sigaddset(set, signals[i]);
}
int fl_block_signals(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}
int fl_signalfd(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

// fork + exec rather than posix_spawn: the child must set PR_SET_PDEATHSIG (so it dies with the
// thread that started it) and posix_spawn has no hook for that. Only async-signal-safe calls run
// between fork and exec. An exec failure travels back through a close-on-exec pipe.
pid_t fl_spawn(const char *path, char *const argv[], char *const envp[],
               int stdin_fd, int stdout_fd, int stderr_fd, int new_process_group, int *err_out) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) { if (err_out) *err_out = errno; return -1; }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        if (err_out) *err_out = errno;
        close(pipefd[0]); close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        sigset_t empty;
        sigemptyset(&empty);
        for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
        sigprocmask(SIG_SETMASK, &empty, NULL);
        if (new_process_group) setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != parent) _exit(127); // the parent died before prctl took effect
        if (stdin_fd >= 0 && stdin_fd != 0) dup2(stdin_fd, 0);
        if (stdout_fd >= 0 && stdout_fd != 1) dup2(stdout_fd, 1);
        if (stderr_fd >= 0 && stderr_fd != 2) dup2(stderr_fd, 2);
        // Close every other descriptor (netlink sockets, namespace fds) except the error pipe.
        int keep = pipefd[1];
        if (keep > 3) syscall(SYS_close_range, 3, keep - 1, 0);
        syscall(SYS_close_range, keep + 1, ~0U, 0);
        execve(path, argv, envp);
        int e = errno;
        ssize_t w = write(pipefd[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(pipefd[1]);
    int child_errno = 0;
    ssize_t n;
    do { n = read(pipefd[0], &child_errno, sizeof child_errno); } while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n == (ssize_t)sizeof child_errno) {
        int status;
        waitpid(pid, &status, 0);
        if (err_out) *err_out = child_errno;
        return -1;
    }
    return pid;
}

int fl_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int fl_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int fl_ethtool_set_offload(int sock, const char *ifname, uint32_t cmd, uint32_t value) {
    struct ethtool_value ev = { .cmd = cmd, .data = value };
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_data = (void *)&ev;
    return ioctl(sock, SIOCETHTOOL, &ifr);
}
int fl_ethtool_get_offload(int sock, const char *ifname, uint32_t cmd, uint32_t *value) {
    struct ethtool_value ev = { .cmd = cmd, .data = 0 };
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_data = (void *)&ev;
    int rc = ioctl(sock, SIOCETHTOOL, &ifr);
    if (rc == 0 && value) *value = ev.data;
    return rc;
}

int fl_get_tcp_info(int fd, struct fl_tcp_info *out) {
    // A buffer larger than this header's struct: the running kernel (6.2+) appends tcpi_rcv_wnd
    // right after tcpi_snd_wnd, which these older UAPI headers do not declare yet.
    union { struct tcp_info ti; unsigned char raw[512]; } buf;
    memset(&buf, 0, sizeof buf);
    socklen_t len = sizeof buf;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &buf, &len) != 0) return -1;
    struct tcp_info ti = buf.ti;
    memset(out, 0, sizeof *out);
    out->state = ti.tcpi_state; out->ca_state = ti.tcpi_ca_state;
    out->retransmits = ti.tcpi_retransmits; out->probes = ti.tcpi_probes;
    out->backoff = ti.tcpi_backoff; out->options = ti.tcpi_options;
    out->wscale_snd = ti.tcpi_snd_wscale; out->wscale_rcv = ti.tcpi_rcv_wscale;
    out->rto = ti.tcpi_rto; out->ato = ti.tcpi_ato; out->snd_mss = ti.tcpi_snd_mss; out->rcv_mss = ti.tcpi_rcv_mss;
    out->unacked = ti.tcpi_unacked; out->sacked = ti.tcpi_sacked; out->lost = ti.tcpi_lost;
    out->retrans = ti.tcpi_retrans; out->fackets = ti.tcpi_fackets;
    out->last_data_sent = ti.tcpi_last_data_sent; out->last_ack_sent = ti.tcpi_last_ack_sent;
    out->last_data_recv = ti.tcpi_last_data_recv; out->last_ack_recv = ti.tcpi_last_ack_recv;
    out->pmtu = ti.tcpi_pmtu; out->rcv_ssthresh = ti.tcpi_rcv_ssthresh; out->rtt = ti.tcpi_rtt;
    out->rttvar = ti.tcpi_rttvar; out->snd_ssthresh = ti.tcpi_snd_ssthresh; out->snd_cwnd = ti.tcpi_snd_cwnd;
    out->advmss = ti.tcpi_advmss; out->reordering = ti.tcpi_reordering;
    out->rcv_rtt = ti.tcpi_rcv_rtt; out->rcv_space = ti.tcpi_rcv_space; out->total_retrans = ti.tcpi_total_retrans;
    out->bytes_acked = ti.tcpi_bytes_acked; out->bytes_received = ti.tcpi_bytes_received;
    size_t snd_wnd_off = offsetof(struct tcp_info, tcpi_snd_wnd);
    if (len >= snd_wnd_off + 4) out->snd_wnd = ti.tcpi_snd_wnd;
    if (len >= snd_wnd_off + 8) memcpy(&out->rcv_wnd, buf.raw + snd_wnd_off + 4, 4);
    out->valid_len = (int)len;
    return 0;
}

int fl_socket_dgram(int domain) { return socket(domain, SOCK_DGRAM | SOCK_CLOEXEC, 0); }
int fl_socket_cloexec(int domain, int type, int protocol) { return socket(domain, type | SOCK_CLOEXEC, protocol); }
int fl_sock_stream(void) { return SOCK_STREAM; }
int fl_sock_dgram(void) { return SOCK_DGRAM; }
int fl_sock_raw(void) { return SOCK_RAW; }

// ---- Peers -------------------------------------------------------------------------------------
int fl_sock_inq(int fd) { int n = 0; return ioctl(fd, SIOCINQ, &n) == 0 ? n : -1; }
int fl_sock_outq(int fd) { int n = 0; return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : -1; }
int fl_sock_outq_unsent(int fd) { int n = 0; return ioctl(fd, SIOCOUTQNSD, &n) == 0 ? n : -1; }

int fl_ppoll_ns(struct pollfd *fds, unsigned int nfds, int64_t timeout_ns) {
    if (timeout_ns < 0) return ppoll(fds, nfds, NULL, NULL);
    struct timespec ts;
    ts.tv_sec = (time_t)(timeout_ns / 1000000000ll);
    ts.tv_nsec = (long)(timeout_ns % 1000000000ll);
    return ppoll(fds, nfds, &ts, NULL);
}

static volatile int fl_signal_pipe_write_fd = -1;
static void fl_signal_to_pipe(int sig) {
    int saved = errno;
    unsigned char byte = (unsigned char)sig;
    ssize_t written = write(fl_signal_pipe_write_fd, &byte, 1);
    (void)written;
    errno = saved;
}
int fl_signal_pipe(const int *signals, int count) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    fl_signal_pipe_write_fd = fds[1];
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = fl_signal_to_pipe;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) {
        if (sigaction(signals[i], &action, NULL) != 0) return -1;
        sigaddset(&set, signals[i]);
    }
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return fds[0];
}
int fl_ignore_signal(int sig) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_IGN;
    sigemptyset(&action.sa_mask);
    return sigaction(sig, &action, NULL);
}

int fl_get_tcp_info_more(int fd, struct fl_tcp_info_more *out) {
    union { struct tcp_info ti; unsigned char raw[512]; } buf;
    memset(&buf, 0, sizeof buf);
    socklen_t len = sizeof buf;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &buf, &len) != 0) return -1;
    struct tcp_info ti = buf.ti;
    memset(out, 0, sizeof *out);
#define FL_HAS(field) (len >= offsetof(struct tcp_info, field) + sizeof ti.field)
    if (FL_HAS(tcpi_pacing_rate)) out->pacing_rate = ti.tcpi_pacing_rate;
    if (FL_HAS(tcpi_delivery_rate)) out->delivery_rate = ti.tcpi_delivery_rate;
    if (FL_HAS(tcpi_busy_time)) out->busy_time = ti.tcpi_busy_time;
    if (FL_HAS(tcpi_rwnd_limited)) out->rwnd_limited = ti.tcpi_rwnd_limited;
    if (FL_HAS(tcpi_sndbuf_limited)) out->sndbuf_limited = ti.tcpi_sndbuf_limited;
    if (FL_HAS(tcpi_bytes_sent)) out->bytes_sent = ti.tcpi_bytes_sent;
    if (FL_HAS(tcpi_bytes_retrans)) out->bytes_retrans = ti.tcpi_bytes_retrans;
    if (FL_HAS(tcpi_notsent_bytes)) out->notsent_bytes = ti.tcpi_notsent_bytes;
    if (FL_HAS(tcpi_min_rtt)) out->min_rtt = ti.tcpi_min_rtt;
    if (FL_HAS(tcpi_segs_out)) out->segs_out = ti.tcpi_segs_out;
    if (FL_HAS(tcpi_segs_in)) out->segs_in = ti.tcpi_segs_in;
    if (FL_HAS(tcpi_dsack_dups)) out->dsack_dups = ti.tcpi_dsack_dups;
    if (FL_HAS(tcpi_reord_seen)) out->reord_seen = ti.tcpi_reord_seen;
    if (FL_HAS(tcpi_rcv_ooopack)) out->rcv_ooopack = ti.tcpi_rcv_ooopack;
#undef FL_HAS
    size_t snd_wnd_off = offsetof(struct tcp_info, tcpi_snd_wnd);
    out->has_snd_wnd = len >= snd_wnd_off + 4;
    out->has_rcv_wnd = len >= snd_wnd_off + 8;
    out->valid_len = (int)len;
    return 0;
}
int fl_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

// --- Userspace impairment engine: batched datagram I/O, timer slack ---
#include <sys/uio.h>
int fl_recvmmsg_buffers(int fd, void *const *bufs, size_t buflen, unsigned int count, int *lens,
                        uint64_t *stamps, int flags) {
    if (count > 1024) count = 1024;
    if (count == 0) return 0;
    struct mmsghdr msgs[count];
    struct iovec iovs[count];
    // Room for one SCM_TIMESTAMPNS (a struct timespec) per message.
    char control[stamps ? count : 1][CMSG_SPACE(sizeof(struct timespec))];
    memset(msgs, 0, sizeof msgs);
    for (unsigned int i = 0; i < count; i++) {
        iovs[i].iov_base = bufs[i];
        iovs[i].iov_len = buflen;
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        if (stamps) {
            msgs[i].msg_hdr.msg_control = control[i];
            msgs[i].msg_hdr.msg_controllen = sizeof control[i];
        }
    }
    int n = recvmmsg(fd, msgs, count, flags | MSG_TRUNC, NULL);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) {
        lens[i] = (int)msgs[i].msg_len;
        if (stamps) {
            stamps[i] = 0;
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm; cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm)) {
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(cm), sizeof ts);
                    stamps[i] = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
                }
            }
        }
    }
    return n;
}
int fl_sendmmsg_buffers(int fd, const void *const *bufs, const size_t *lens, unsigned int count,
                        const struct sockaddr *to, socklen_t tolen, int flags) {
    if (count > 1024) count = 1024;
    if (count == 0) return 0;
    struct mmsghdr msgs[count];
    struct iovec iovs[count];
    memset(msgs, 0, sizeof msgs);
    for (unsigned int i = 0; i < count; i++) {
        iovs[i].iov_base = (void *)bufs[i];
        iovs[i].iov_len = lens[i];
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = (void *)to;
        msgs[i].msg_hdr.msg_namelen = to ? tolen : 0;
    }
    return sendmmsg(fd, msgs, count, flags);
}
int fl_prctl_set_timerslack_ns(unsigned long ns) { return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0); }
int fl_enable_rx_timestamps_ns(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
}
#include <sched.h>
int fl_set_thread_fifo(int priority) {
    struct sched_param param;
    memset(&param, 0, sizeof param);
    param.sched_priority = priority;
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
}
int fl_set_thread_slice_ns(uint64_t ns) {
    struct { uint32_t size; uint32_t policy; uint64_t flags; int32_t nice; uint32_t priority;
             uint64_t runtime, deadline, period; uint32_t util_min, util_max; } attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.policy = 0;   // SCHED_OTHER
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    if (nice == -1 && errno != 0) nice = 0;
    attr.nice = nice;
    attr.runtime = ns;
    return syscall(SYS_sched_setattr, 0, &attr, 0) == 0 ? 0 : errno;
}
int fl_set_thread_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu >= 0) {
        CPU_SET(cpu, &set);
    } else {
        long n = sysconf(_SC_NPROCESSORS_CONF);
        for (long i = 0; i < n && i < CPU_SETSIZE; i++) CPU_SET(i, &set);
    }
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
const char *fl_errno_name(int value) { return strerrorname_np(value); }

// --- Rootless state (set by FaultlineEntry's constructor before main; read-only after).
static int userns_state = FL_USERNS_NOT_ATTEMPTED;
static int userns_errno = 0;
static const char *userns_step = "";
static unsigned userns_subordinate = 0;
void fl_userns_set_entry(int state, int error, const char *step, unsigned subordinate_ids) {
    userns_state = state;
    userns_errno = error;
    userns_step = step ? step : "";
    userns_subordinate = subordinate_ids;
}
int fl_userns_entry_state(void) { return userns_state; }
int fl_userns_entry_errno(void) { return userns_errno; }
const char *fl_userns_entry_step(void) { return userns_step; }
unsigned fl_userns_entry_subordinate_ids(void) { return userns_subordinate; }
int fl_in_initial_user_namespace(void) {
    // The initial user namespace's inode is fixed (PROC_USER_INIT_INO).
    struct stat s;
    if (stat("/proc/self/ns/user", &s) != 0) return 1;
    return s.st_ino == 0xEFFFFFFDu;
}
int fl_set_thread_cpus(const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : errno;
}
int fl_get_thread_cpus(int tid, int *cpus, int max) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(tid, sizeof set, &set) != 0) return -1;
    int n = 0;
    for (int i = 0; i < CPU_SETSIZE && n < max; i++) if (CPU_ISSET(i, &set)) cpus[n++] = i;
    return n;
}
