import CLinux
import Foundation
import Glibc

/// Runs a program in the caller's namespace (never a scenario's), collecting stdout and stderr,
/// with a timeout. For tools that read finished artifacts: tshark, external detectors.
enum Subprocess {
    struct Result {
        var status: Int32
        var signaled: Bool
        var timedOut: Bool
        var output: String
        var errorOutput: String

        var statusText: String {
            if timedOut { return "timed out" }
            return signaled ? "was killed by signal \(status)" : "exited with status \(status)"
        }
    }

    static func run(_ argv: [String], environment: [String: String]? = nil, timeoutSeconds: Int) -> Result {
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard fl_pipe_cloexec(&out) == 0 else { return Result(status: -1, signaled: false, timedOut: false, output: "", errorOutput: "pipe: \(String(cString: strerror(errno)))") }
        guard fl_pipe_cloexec(&err) == 0 else {
            close(out[0]); close(out[1])
            return Result(status: -1, signaled: false, timedOut: false, output: "", errorOutput: "pipe: \(String(cString: strerror(errno)))")
        }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var spawnErrno: Int32 = 0
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let pid = withCStringArray(argv) { cArgv in
            withCStringArray(env) { cEnv in
                fl_spawn(argv[0], cArgv, cEnv, devNull, out[1], err[1], 1, &spawnErrno)
            }
        }
        if devNull >= 0 { close(devNull) }
        close(out[1]); close(err[1])
        if pid < 0 {
            close(out[0]); close(err[0])
            return Result(status: 127, signaled: false, timedOut: false, output: "",
                          errorOutput: "cannot start \(argv[0]): \(String(cString: strerror(spawnErrno)))")
        }
        var stdoutData: [UInt8] = []
        var stderrData: [UInt8] = []
        var open = [true, true]
        let deadline = fl_monotonic_ns() + UInt64(timeoutSeconds) * 1_000_000_000
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open[0] || open[1] {
            let now = fl_monotonic_ns()
            if now >= deadline { timedOut = true; break }
            var fds = [pollfd(fd: open[0] ? out[0] : -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: open[1] ? err[0] : -1, events: Int16(POLLIN), revents: 0)]
            let rc = fl_ppoll_ns(&fds, 2, Int64(deadline - now))
            if rc < 0 { if errno == EINTR { continue }; break }
            for (i, fd) in [out[0], err[0]].enumerated() where open[i] && fds[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if i == 0 { stdoutData += buffer[0..<n] } else { stderrData += buffer[0..<n] }
                } else if n == 0 || errno != EINTR {
                    open[i] = false
                }
            }
        }
        if timedOut { kill(-pid, SIGKILL); kill(pid, SIGKILL) }
        close(out[0]); close(err[0])
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        let signaled = (raw & 0x7f) != 0
        return Result(status: signaled ? raw & 0x7f : (raw >> 8) & 0xff, signaled: signaled, timedOut: timedOut,
                      output: String(decoding: stdoutData, as: UTF8.self), errorOutput: String(decoding: stderrData, as: UTF8.self))
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { buffer in body(buffer.baseAddress.unsafelyUnwrapped) }
}
