#if canImport(CLinux)
import CLinux
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system calls every layer repeats — reading a whole file, writing every byte, starting a
/// thread — written once, with EINTR retried here (and only here, in `retryingInterrupts`).

/// Calls `call` again while it fails with EINTR: a signal arrived before anything was done.
@inlinable
public func retryingInterrupts<T: FixedWidthInteger & SignedInteger>(_ call: () -> T) -> T {
    while true {
        let result = call()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}

#if canImport(Glibc)
private let systemRead = Glibc.read
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
private let systemRead = Darwin.read
private let systemWrite = Darwin.write
#endif

/// Whole-file reads and complete writes on file descriptors.
public enum FileIO {
    /// Every byte `fd` gives until end of file (a file, a pipe whose writers closed, a sysfs or
    /// procfs file). `limit`: stop after that many bytes.
    public static func readAll(fd: Int32, limit: Int = Int.max) throws(Errno) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while result.count < limit {
            let wanted = min(chunk.count, limit - result.count)
            let count = chunk.withUnsafeMutableBytes { raw in retryingInterrupts { systemRead(fd, raw.baseAddress, wanted) } }
            if count < 0 { throw Errno.current }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
        }
        return result
    }

    /// The contents of the file at `path` (opened read-only, close-on-exec).
    public static func read(path: String, limit: Int = Int.max) throws(Errno) -> [UInt8] {
        let fd = retryingInterrupts { open(path, O_RDONLY | O_CLOEXEC) }
        if fd < 0 { throw Errno.current }
        defer { close(fd) }
        return try readAll(fd: fd, limit: limit)
    }

    /// The file at `path` as UTF-8 text.
    public static func readText(path: String, limit: Int = Int.max) throws(Errno) -> String {
        String(decoding: try read(path: path, limit: limit), as: UTF8.self)
    }

    /// Writes every byte of `bytes`, continuing after partial writes.
    public static func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = retryingInterrupts { systemWrite(fd, base + offset, bytes.count - offset) }
            if written < 0 { throw Errno.current }
            offset += written
        }
    }

    public static func writeAll(fd: Int32, _ bytes: [UInt8]) throws(Errno) {
        var failure: Errno?
        bytes.withUnsafeBytes { raw in
            do throws(Errno) { try writeAll(fd: fd, raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public static func writeAll(fd: Int32, _ text: String) throws(Errno) {
        try writeAll(fd: fd, Array(text.utf8))
    }

    /// Replaces the contents of the file at `path` (created with `mode` when missing).
    public static func write(path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(Errno) {
        let fd = retryingInterrupts { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        if fd < 0 { throw Errno.current }
        defer { close(fd) }
        try writeAll(fd: fd, bytes)
    }
}

#if os(Linux)
/// A started POSIX thread.
public struct PosixThread: @unchecked Sendable {
    public let handle: pthread_t

    /// Starts `body` on a new thread (named `name` with prctl, cut to 15 bytes, when given); throws the
    /// errno pthread_create returned. The thread inherits the caller's namespaces, CPU mask and
    /// signal mask; `body` sets anything else (scheduling) itself.
    public static func start(name: String? = nil, _ body: @escaping () -> Void) throws(Errno) -> PosixThread {
        let retained = Unmanaged.passRetained(ThreadBody(name: name, body: body))
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { raw in
            guard let raw else { return nil }
            let thread = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
            if let name = thread.name { _ = fl_prctl_set_name(name) }
            thread.body()
            return nil
        }, retained.toOpaque())
        if rc != 0 {
            retained.release()
            throw Errno(rc)
        }
        return PosixThread(handle: handle)
    }

    /// Waits for the thread to end.
    public func join() {
        pthread_join(handle, nil)
    }
}

private final class ThreadBody {
    let name: String?
    let body: () -> Void
    init(name: String?, body: @escaping () -> Void) {
        self.name = name
        self.body = body
    }
}
#endif
