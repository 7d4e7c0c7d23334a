import Values
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Text output collected in one large buffer and written with write(2) in big chunks, so that
/// printing a line per frame costs a memcpy, not a system call or a String.
public final class OutputBuffer {
    private let fd: Int32
    private var storage: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private var used = 0

    /// Writes to file descriptor `fd` (1 = stdout) whenever `capacity` bytes are pending.
    public init(fd: Int32 = 1, capacity: Int = 1 << 18) {
        self.fd = fd
        self.capacity = max(capacity, 256)
        storage = .allocate(capacity: self.capacity)
    }

    deinit {
        flush()
        storage.deallocate()
    }

    @inline(__always)
    private func reserve(_ count: Int) {
        if used + count > capacity { flush() }
    }

    @inline(__always)
    public func append(byte: UInt8) {
        reserve(1)
        storage[used] = byte
        used += 1
    }

    /// Appends ASCII/UTF-8 text (for fixed strings; `StaticString` needs no allocation).
    @inline(__always)
    public func append(_ text: StaticString) {
        text.withUTF8Buffer { append(bytes: $0) }
    }

    public func append(_ text: String) {
        var copy = text
        copy.withUTF8 { append(bytes: $0) }
    }

    @inline(__always)
    public func append(bytes: UnsafeBufferPointer<UInt8>) {
        if bytes.count > capacity {
            flush()
            writeAll(bytes.baseAddress.unsafelyUnwrapped, bytes.count)
            return
        }
        reserve(bytes.count)
        (storage + used).update(from: bytes.baseAddress.unsafelyUnwrapped, count: bytes.count)
        used += bytes.count
    }

    /// Appends the decimal digits of `value`.
    @inline(__always)
    public func append(decimal value: UInt64) {
        reserve(20)
        if value < 10 {
            storage[used] = 0x30 &+ UInt8(value)
            used += 1
            return
        }
        var digits = 0
        var probe = value
        while probe > 0 { digits += 1; probe /= 10 }
        var remaining = value
        var at = used + digits - 1
        while remaining > 0 {
            storage[at] = 0x30 &+ UInt8(remaining % 10)
            remaining /= 10
            at -= 1
        }
        used += digits
    }

    /// Writes everything pending.
    public func flush() {
        if used > 0 { writeAll(storage, used) }
        used = 0
    }

    private func writeAll(_ start: UnsafePointer<UInt8>, _ count: Int) {
        // A closed pipe: nothing sensible left to do with the output.
        try? FileIO.writeAll(fd: fd, UnsafeRawBufferPointer(start: start, count: count))
    }
}
