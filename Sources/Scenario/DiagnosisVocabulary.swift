extension Scenario {
    /// The words scenario expectations use: diagnosis kinds and causes (the analyzer's findings are
    /// matched by the exact strings `kind/cause`), tshark's TCP analysis flags, and errno names.
    ///
    /// The diagnoses are those of `failure-modes.md` (shared docs). The scenario validator accepts
    /// exactly these; the analyzer (which does not depend on this module) must emit the same strings,
    /// so keep this list and the analyzer's in step.
    public enum DiagnosisVocabulary {
        /// Kind → its causes, in the order failure-modes.md presents them.
        public static let causesByKind: [(kind: String, causes: [String])] = [
            ("zero-window", ["receiver-slow", "receiver-stopped-reading"]),
            ("rst", ["refused-by-host", "injected-by-middlebox", "aborted-by-application", "peer-has-no-connection"]),
            ("syn", ["duplicate-answered-with-challenge-ack", "unanswered"]),
            ("retransmission", ["packet-loss", "spurious-delayed-ack", "rtt-exceeds-rto", "congestion-loss"]),
            // "Also recognise (so they are not mistaken for the failures above)":
            // every packet seen twice or more (a span port, a capture on two interfaces).
            ("capture-artifact", ["duplicated-capture"]),
            // out-of-order arrivals filled within a fraction of the RTT without a retransmission.
            ("reordering", ["path-reordering"]),
            // keep-alives and their answers, where they are not zero-window probes.
            ("keep-alive", ["benign"]),
        ]

        public static var kinds: [String] { causesByKind.map(\.kind) }

        public static func causes(of kind: String) -> [String]? {
            causesByKind.first { $0.kind == kind }?.causes
        }

        /// Every diagnosis as `kind/cause`.
        public static var all: [String] {
            causesByKind.flatMap { kind, causes in causes.map { "\(kind)/\($0)" } }
        }

        /// tshark's `tcp.analysis.*` flags (Wireshark 4.0), without the prefix.
        public static let tsharkFlags: [String] = [
            "retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order",
            "lost_segment", "ack_lost_segment", "duplicate_ack", "zero_window", "zero_window_probe",
            "zero_window_probe_ack", "keep_alive", "keep_alive_ack", "window_full", "window_update",
            "reused_ports",
        ]

        public static let tsharkFlagPrefix = "tcp.analysis."

        /// Linux errno names (asm-generic/errno-base.h and errno.h), the values peers report.
        public static let errnoNames: [String] = [
            "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF", "ECHILD",
            "EAGAIN", "EWOULDBLOCK", "ENOMEM", "EACCES", "EFAULT", "EBUSY", "EEXIST", "EXDEV", "ENODEV",
            "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "EFBIG", "ENOSPC", "ESPIPE",
            "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS",
            "ENOTEMPTY", "ELOOP", "ENOMSG", "EIDRM", "ENOSTR", "ENODATA", "ETIME", "ENOSR", "ENOLINK",
            "EPROTO", "EBADMSG", "EOVERFLOW", "EILSEQ", "ENOTSOCK", "EDESTADDRREQ", "EMSGSIZE",
            "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "EOPNOTSUPP",
            "EPFNOSUPPORT", "EAFNOSUPPORT", "EADDRINUSE", "EADDRNOTAVAIL", "ENETDOWN", "ENETUNREACH",
            "ENETRESET", "ECONNABORTED", "ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN", "ESHUTDOWN",
            "ETOOMANYREFS", "ETIMEDOUT", "ECONNREFUSED", "EHOSTDOWN", "EHOSTUNREACH", "EALREADY",
            "EINPROGRESS", "ESTALE", "EDQUOT", "ECANCELED", "EOWNERDEAD", "ENOTRECOVERABLE",
        ]
    }
}
