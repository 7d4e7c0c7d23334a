import Values
import CLinux
import Glibc

/// Peers: the socket behaviours that reproduce application failures (bulk send, slow read, never
/// read, abort, close with unread data, connect, request/response, hold), each reporting what the
/// application saw as JSON events. `faultline peer <role>` runs one; scenarios start them inside
/// namespaces.
///
/// # Event log
///
/// One JSON object per line, on stdout or in the file given by `--events`. Every line starts with
/// `ts_ns` (CLOCK_MONOTONIC nanoseconds, comparable across peers on one machine) and `event`.
/// Byte counts are bytes, times ending in `_ns` nanoseconds, `_us` microseconds (as TCP_INFO
/// reports them), `_ms` milliseconds. Events (see `eventSchema` for every field):
///
/// - `start` — role, pid, ppid, `realtime_ns` (CLOCK_REALTIME at the same instant, to line up
///   with capture timestamps), `options` (the effective settings).
/// - `listening`, `accepting` (what ended a wait for overflows), `accepted`, `connecting`,
///   `connected` — addresses, buffer sizes, `connect_ns`.
/// - `progress` — `bytes_written`, `bytes_read` so far; at most one per `--progress-interval`.
/// - `write_blocked` — a send() that found the send buffer full, and `blocked_ns` until it could
///   go on (`ongoing: true` if it never did).
/// - `tcp_info` — the kernel's view of the connection: TCP_INFO and the queue sizes.
/// - `response` (request), `write` (hold), `sent` (send), `eof`, `peer_closed`, `peer_reset`,
///   `signal`, `close` (`how`, `unread_bytes`, `sends`: FIN or RST).
/// - `error` — `call`, `errno` (name), `errno_value`, `message`.
/// - `summary` — always the last line: `outcome` (`completed`, `failed`, `terminated`,
///   `exit-after`), `exit_code`, totals and maxima.
public enum Peers {
    /// A role with its options.
    public enum Role: Sendable, Equatable {
        case listen(ListenOptions)
        case send(SendOptions)
        case connect(ConnectOptions)
        case request(RequestOptions)
        case hold(HoldOptions)

        public var name: String {
            switch self {
            case .listen: return "listen"
            case .send: return "send"
            case .connect: return "connect"
            case .request: return "request"
            case .hold: return "hold"
            }
        }

        var fields: JSONObject {
            switch self {
            case .listen(let options): return options.fields
            case .send(let options): return options.fields
            case .connect(let options): return options.fields
            case .request(let options): return options.fields
            case .hold(let options): return options.fields
            }
        }

        /// Option combinations that make no sense (for the command line to report as usage errors).
        public func problems() -> [String] {
            switch self {
            case .listen(let options): return options.problems()
            case .send(let options): return options.problems()
            case .connect: return []
            case .request(let options): return options.problems()
            case .hold(let options): return options.problems()
            }
        }
    }

    /// Exit codes of `faultline peer`.
    public enum ExitCode {
        /// Finished as asked (also: stopped by SIGTERM/SIGINT/SIGHUP or --exit-after).
        public static let success: Int32 = 0
        /// The network failed it: a call returned an errno (named in the summary), or the peer
        /// broke the exchange.
        public static let networkFailure: Int32 = 1
        /// Bad arguments.
        public static let usage: Int32 = 2
    }

    /// Runs `role` in this process and returns the exit code. Call once per process, from the
    /// main thread: it installs signal handlers (SIGTERM, SIGINT, SIGHUP stop the peer and still
    /// write the summary; SIGUSR1 is for `hold`), ignores SIGPIPE, and arranges to receive
    /// SIGTERM when the parent dies (PR_SET_PDEATHSIG).
    public static func run(_ role: Role, common: CommonOptions, log: EventLog) -> Int32 {
        let parentBefore = getppid()
        _ = fl_ignore_signal(SIGPIPE)
        let signals: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGUSR1]
        let signalFD = signals.withUnsafeBufferPointer { fl_signal_pipe($0.baseAddress, Int32($0.count)) }
        _ = fl_prctl_set_pdeathsig(SIGTERM)
        let session = PeerSession(role: role.name, log: log, options: common, signalFD: signalFD)
        var start = JSONObject()
        start["role"] = .string(role.name)
        start["pid"] = .from(getpid())
        start["ppid"] = .from(parentBefore)
        start["realtime_ns"] = .from(fl_realtime_ns())
        var options = role.fields
        if let interval = common.tcpInfoInterval { options["tcp_info_interval_ns"] = .from(interval.nanoseconds) }
        if let exitAfter = common.exitAfter { options["exit_after_ns"] = .from(exitAfter.nanoseconds) }
        start["options"] = .object(options)
        log.emit("start", at: session.startTime, start)
        if signalFD < 0 {
            return session.finish(.failed(SocketError(call: "sigaction", errno: .current, detail: "signal handlers")))
        }
        // The parent may have died before PR_SET_PDEATHSIG took effect: then no signal will come.
        if getppid() != parentBefore {
            session.emit("parent_gone", JSONObject([("ppid", .from(getppid()))]))
            return session.finish(.signal(SIGTERM))
        }
        do {
            switch role {
            case .listen(let options): try ListenRole(options: options).run(session)
            case .send(let options): try SendRole(options: options).run(session)
            case .connect(let options): try ConnectRole(options: options).run(session)
            case .request(let options): try RequestRole(options: options).run(session)
            case .hold(let options): try HoldRole(options: options).run(session)
            }
        } catch {
            return session.finish(error)
        }
        return session.finish(nil)
    }

    /// The event schema, for `faultline peer --help` and readers of the logs.
    public static let eventSchema = """
    EVENT LOG
      JSON lines on stdout, or in the file given by --events; each line written
      whole, with one write(2). Every line starts with
        {"ts_ns":<CLOCK_MONOTONIC ns>,"event":"<name>", ...}
      Units: bytes; *_ns nanoseconds, *_us microseconds, *_ms milliseconds.

      start          role, pid, ppid, realtime_ns (CLOCK_REALTIME at start, to
                     line up with capture timestamps), options {effective}
      listening      address, port, rcvbuf, sndbuf (as the kernel set them: it
                     doubles SO_RCVBUF/SO_SNDBUF)
      accepting      after ("overflows" or "accept-delay"), listen_overflows:
                     with --accept-after-overflows, what ended the wait before
                     the first accept()
      accepted       local, remote, connection (1, 2, ...), rcvbuf, sndbuf, inq
      connecting     to, from (with --bind/--bind-port)
      connected      local, remote, connect_ns, sndbuf, rcvbuf
      progress       bytes_written, bytes_read: totals so far, at most one
                     event per --progress-interval
      write_blocked  blocked_ns, since_ns, bytes_written, outq: a send() found
                     the send buffer full for blocked_ns (ongoing:true if it
                     was still blocked at the end)
      tcp_info       the kernel's view: state, ca_state, rtt_us, rttvar_us,
                     min_rtt_us, rto_us, ato_us, retransmits, total_retrans,
                     retrans, probes, backoff, snd_cwnd, snd_ssthresh, unacked,
                     sacked, lost, snd_mss, rcv_mss, pmtu, rcv_space,
                     rcv_ssthresh, snd_wnd, rcv_wnd (null where the kernel
                     lacks them), inq (SIOCINQ: unread), outq (SIOCOUTQ:
                     unacknowledged), outq_unsent (SIOCOUTQNSD), bytes_acked,
                     bytes_received, bytes_sent, bytes_retrans, dsack_dups,
                     reord_seen, rcv_ooopack, segs_out, segs_in,
                     delivery_rate, busy_us, rwnd_limited_us,
                     sndbuf_limited_us, last_data_sent_ms, last_data_recv_ms,
                     last_ack_recv_ms; final:true on the sample taken just
                     before close
      sent           (send) every byte handed to the kernel: bytes_written,
                     elapsed_ns, outq
      response       (request) seq, rtt_ns, request_bytes, response_bytes
      write          (hold) trigger (--write-after or SIGUSR1), bytes, write
      eof            recv() returned 0, the peer closed: bytes_read/requests
      peer_closed    (--never-read) the peer's FIN arrived; unread_bytes
      peer_reset     (--never-read) the connection was reset; errno
      signal         signal, action (stop, write or ignored)
      close          how (close or abort), reason, unread_bytes,
                     unsent_bytes, sends (FIN or RST: what the kernel sends)
      error          call (connect, send, recv, accept, bind, ...), errno
                     (name), errno_value, message, detail; or reason when
                     the peer broke the exchange without an errno
      summary        always the last line:
                       role, outcome (completed, failed, terminated or
                       exit-after), exit_code, errno, errno_value, error_call
                       (null unless failed), signal, duration_ns, start_ns,
                       bytes_written, bytes_read, first_write_ns,
                       last_write_ns, first_read_ns, last_read_ns,
                       write_blocks, max_write_block_ns,
                       total_write_block_ns, connections, tcp_info_samples,
                       max_inq, max_outq, zero_window_advertised (a sample
                       had rcv_wnd 0 with data unread: the receive queue was
                       full), peer_zero_window (a sample had snd_wnd 0),
                       last_rtt_us, total_retrans, connect_ns, connect_result
                     send: bytes_requested
                     request: requests, rtt_min_ns, rtt_median_ns,
                       rtt_p99_ns, rtt_max_ns, rtt_mean_ns, rtts_ns (first
                       1000)
                     listen --respond: requests;  hold: writes
    """
}
