import Values
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sequential reader of a capture file through one reusable buffer.
///
/// Memory stays constant whatever the file size: the buffer holds the unread tail of the last
/// `read(2)` and is refilled in large chunks (one system call per few thousand packets). A record
/// larger than the buffer grows it once. Bytes handed out by `pointer` stay valid until the next
/// call to `ensure(_:)` or `consume(_:)` that refills.
final class ChunkedInput {
    /// Default buffer size: large enough that system calls are rare, small enough to stay in L2/L3.
    static let defaultChunk = 1 << 20

    private let fd: Int32
    private let ownsDescriptor: Bool
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    /// Index in `buffer` of the first unconsumed byte.
    private var start = 0
    /// Index in `buffer` one past the last valid byte.
    private var end = 0
    /// File offset of `buffer[start]`.
    private(set) var offset = 0
    /// True once read(2) returned 0.
    private(set) var atEndOfFile = false

    /// Opens `path` for reading.
    init(path: String, chunk: Int = ChunkedInput.defaultChunk) throws(CaptureError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            throw .cannotOpen(path: path, errno: code, message: Errno(code).message)
        }
        #if os(Linux)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
        self.fd = fd
        self.ownsDescriptor = true
        self.capacity = max(chunk, 4096)
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    /// Reads an already open descriptor (a pipe, a terminal, a file), which it does not close.
    init(fileDescriptor: Int32, chunk: Int = ChunkedInput.defaultChunk) {
        self.fd = fileDescriptor
        self.ownsDescriptor = false
        self.capacity = max(chunk, 4096)
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    /// Serves bytes already in memory (used by tests and by callers that hold a capture in RAM).
    init(bytes: some Collection<UInt8>) {
        self.fd = -1
        self.ownsDescriptor = false
        self.capacity = max(bytes.count, 16)
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        let typed = buffer.bindMemory(to: UInt8.self, capacity: capacity)
        var index = 0
        for byte in bytes {
            typed[index] = byte
            index += 1
        }
        self.end = index
        self.atEndOfFile = true
    }

    deinit {
        buffer.deallocate()
        if ownsDescriptor { close(fd) }
    }

    /// Bytes available at the read position without another read.
    @inline(__always)
    var available: Int { end - start }

    /// The read position.
    @inline(__always)
    var pointer: UnsafeRawPointer { UnsafeRawPointer(buffer + start) }

    /// Makes at least `count` bytes available at the read position. Returns false if the file
    /// ends first (then `available` tells how many there are).
    @inline(__always)
    func ensure(_ count: Int) throws(CaptureError) -> Bool {
        if end - start >= count { return true }
        return try refill(count)
    }

    /// Skips `count` bytes (which must be available).
    @inline(__always)
    func consume(_ count: Int) {
        start += count
        offset += count
    }

    private func refill(_ count: Int) throws(CaptureError) -> Bool {
        if atEndOfFile { return false }
        // Move the unread tail to the front, then grow if one record is larger than the buffer.
        let pending = end - start
        if start > 0 {
            if pending > 0 { memmove(buffer, buffer + start, pending) }
            start = 0
            end = pending
        }
        if count > capacity {
            var newCapacity = capacity
            while newCapacity < count { newCapacity *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            grown.copyMemory(from: buffer, byteCount: end)
            buffer.deallocate()
            buffer = grown
            capacity = newCapacity
        }
        while end < count {
            let got = read(fd, buffer + end, capacity - end)
            if got < 0 {
                let code = errno
                if code == EINTR { continue }
                throw .readFailed(offset: offset + end, errno: code, message: Errno(code).message)
            }
            if got == 0 {
                atEndOfFile = true
                return false
            }
            end += got
        }
        return true
    }
}
