import Values
import CLinux
import Glibc

/// A process Faultline started. Killing or waiting twice is harmless.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    public let argv: [String]
    private let lock = PThreadMutex()
    private var status: ExitStatus?

    public enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)
        public var description: String {
            switch self {
            case .exited(let code): return "exited with \(code)"
            case .signaled(let sig): return "killed by signal \(sig)"
            }
        }
    }

    init(pid: pid_t, argv: [String]) {
        self.pid = pid
        self.argv = argv
    }

    /// Forks and execs on the calling thread (which should be a namespace thread).
    static func spawn(_ argv: [String], environment: [String: String]?, stdin: Int32, stdout: Int32,
                      stderr: Int32) throws(NetlinkError) -> ChildProcess {
        guard let program = argv.first else {
            throw NetlinkError(operation: "start a process", errno: .EINVAL, remedy: "The command is empty")
        }
        guard let path = resolve(program) else {
            throw NetlinkError(operation: "start \(program)", errno: .ENOENT,
                               remedy: "\(program) is not in PATH: install it or give its full path")
        }
        let env = environment.map { $0.map { "\($0.key)=\($0.value)" } } ?? currentEnvironment()
        var spawnErrno: Int32 = 0
        let pid = withCStrings(argv) { cArgv in
            withCStrings(env) { cEnv in
                fl_spawn(path, cArgv, cEnv, stdin, stdout, stderr, 1, &spawnErrno)
            }
        }
        if pid < 0 {
            throw NetlinkError(operation: "start \(argv.joined(separator: " "))", errno: Errno(spawnErrno))
        }
        return ChildProcess(pid: pid, argv: argv)
    }

    public var hasExited: Bool { lock.withLock { status != nil } || poll() != nil }

    /// Non-blocking check; reaps the child if it has exited.
    public func poll() -> ExitStatus? {
        if let known = lock.withLock({ status }) { return known }
        var raw: Int32 = 0
        let rc = waitpid(pid, &raw, WNOHANG)
        if rc == pid { return record(raw) }
        return nil
    }

    /// Blocks until the child exits.
    @discardableResult
    public func wait() -> ExitStatus {
        if let known = lock.withLock({ status }) { return known }
        var raw: Int32 = 0
        while true {
            let rc = waitpid(pid, &raw, 0)
            if rc == pid { return record(raw) }
            if rc < 0 && errno == EINTR { continue }
            // ECHILD: someone else reaped it; report it as gone.
            return lock.withLock { status ?? .signaled(0) }
        }
    }

    /// Waits up to `timeoutNanoseconds`; nil if still running.
    public func wait(timeoutNanoseconds: UInt64) -> ExitStatus? {
        let deadline = fl_monotonic_ns() + timeoutNanoseconds
        while true {
            if let done = poll() { return done }
            if fl_monotonic_ns() >= deadline { return nil }
            usleep(1_000)
        }
    }

    public func signal(_ sig: Int32) {
        if lock.withLock({ status }) == nil { Glibc.kill(pid, sig) }
    }

    /// SIGKILL to the child's whole process group (it was started as a group leader).
    public func kill() {
        if lock.withLock({ status }) == nil {
            Glibc.kill(-pid, SIGKILL)
            Glibc.kill(pid, SIGKILL)
        }
    }

    private func record(_ raw: Int32) -> ExitStatus {
        let value: ExitStatus = (raw & 0x7f) == 0 ? .exited((raw >> 8) & 0xff) : .signaled(raw & 0x7f)
        lock.withLock { status = value }
        return value
    }

    /// The full path `program` would run as (PATH lookup), or nil.
    public static func resolveInPath(_ program: String) -> String? { resolve(program) }

    static func resolve(_ program: String) -> String? {
        if program.contains("/") { return access(program, X_OK) == 0 ? program : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        // The system folders last, for tools (iptables, tc) a root shell's PATH may lack.
        for dir in path.split(separator: ":") + ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let candidate = "\(dir)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    static func currentEnvironment() -> [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer = pointer.advanced(by: 1)
        }
        return result
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { buffer in
        // baseAddress is non-nil: the array holds at least the terminating nil.
        body(buffer.baseAddress.unsafelyUnwrapped)
    }
}

extension ChildProcess {
    /// Starts `argv` in the caller's namespace. Prefer `NetworkNamespace.spawn`; this is for
    /// tools that must run where Faultline itself runs (tshark on a finished capture, ...).
    public static func start(_ argv: [String], environment: [String: String]? = nil,
                             stdin: Int32 = -1, stdout: Int32 = -1, stderr: Int32 = -1) throws(NetlinkError) -> ChildProcess {
        try spawn(argv, environment: environment, stdin: stdin, stdout: stdout, stderr: stderr)
    }
}

extension ChildProcess {
    /// What a finished command printed and how it ended.
    public struct Output: Sendable {
        /// nil when it was killed for running past its timeout.
        public var status: ExitStatus?
        public var standardOutput: String
        public var standardError: String
        public var timedOut: Bool { status == nil }
        /// "exited with 1", "killed by signal 9", "timed out".
        public var statusDescription: String { status.map { "\($0)" } ?? "timed out" }
    }

    /// Runs `argv` to completion — inside `namespace`, or where Faultline runs — with stdin on
    /// /dev/null, collecting stdout and stderr (read together, so neither pipe can fill and stall
    /// the child). Past the timeout the child's process group is killed and `status` is nil.
    public static func run(_ argv: [String], in namespace: NetworkNamespace? = nil, environment: [String: String]? = nil,
                           timeoutNanoseconds: UInt64 = 60_000_000_000) throws(NetlinkError) -> Output {
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard fl_pipe_cloexec(&out) == 0 else { throw NetlinkError(operation: "pipe for \(argv.first ?? "?")", errno: .current) }
        guard fl_pipe_cloexec(&err) == 0 else {
            let error = Errno.current
            close(out[0]); close(out[1])
            throw NetlinkError(operation: "pipe for \(argv.first ?? "?")", errno: error)
        }
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if devNull >= 0 { close(devNull) } }
        let child: ChildProcess
        do {
            if let namespace {
                child = try namespace.spawn(argv, environment: environment, stdin: devNull, stdout: out[1], stderr: err[1])
            } else {
                child = try spawn(argv, environment: environment, stdin: devNull, stdout: out[1], stderr: err[1])
            }
        } catch {
            close(out[0]); close(out[1]); close(err[0]); close(err[1])
            throw error
        }
        close(out[1]); close(err[1])
        var collected: [[UInt8]] = [[], []]
        var open = [true, true]
        let deadline = fl_monotonic_ns() &+ timeoutNanoseconds
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open[0] || open[1] {
            let now = fl_monotonic_ns()
            if now >= deadline { timedOut = true; break }
            var fds = [pollfd(fd: open[0] ? out[0] : -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: open[1] ? err[0] : -1, events: Int16(POLLIN), revents: 0)]
            if fl_ppoll_ns(&fds, 2, Int64(deadline - now)) < 0 {
                if errno == EINTR { continue }
                break
            }
            for (index, fd) in [out[0], err[0]].enumerated() where open[index] && fds[index].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    collected[index] += buffer[0..<count]
                } else if count == 0 || errno != EINTR {
                    open[index] = false
                }
            }
        }
        if timedOut { child.kill() }
        close(out[0]); close(err[0])
        let status = child.wait()
        return Output(status: timedOut ? nil : status, standardOutput: String(decoding: collected[0], as: UTF8.self),
                      standardError: String(decoding: collected[1], as: UTF8.self))
    }
}
