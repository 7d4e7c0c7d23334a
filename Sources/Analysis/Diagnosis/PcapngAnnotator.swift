import Values
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an annotated copy could not be written.
public enum AnnotateError: Error, Equatable, Sendable, CustomStringConvertible {
    case read(CaptureError)
    case cannotCreate(path: String, errno: Int32, message: String)
    case writeFailed(path: String, offset: Int, errno: Int32, message: String)

    public var description: String {
        switch self {
        case let .read(error): return "\(error)"
        case let .cannotCreate(path, errno, message): return "cannot create \(path): \(message) (errno \(errno))"
        case let .writeFailed(path, offset, errno, message):
            return "write to \(path) failed at byte \(offset): \(message) (errno \(errno))"
        }
    }
}

/// Writes a pcapng copy of a capture (pcap or pcapng) with an `opt_comment` on every packet a
/// finding points at ("faultline: rst/injected-by-middlebox (high): decisive frame. ...").
/// Frames keep their numbers, timestamps (nanosecond resolution) and bytes; existing packet
/// comments are kept.
public enum PcapngAnnotator {
    /// Annotates the capture of `vantage` in `result` into `output`. Returns the number of
    /// packets that received a comment.
    @discardableResult
    public static func annotate(_ result: DiagnosisResult, vantage: String, output: String) throws(AnnotateError) -> Int {
        guard let source = result.vantages.first(where: { $0.name == vantage }) else { return 0 }
        return try write(input: source.path, output: output, comments: result.annotations(for: vantage))
    }

    /// Copies `input` to `output` as pcapng, adding `comments[frame]` to each frame.
    @discardableResult
    public static func write(input: String, output: String, comments: [UInt64: [String]]) throws(AnnotateError) -> Int {
        let reader: CaptureReader
        do throws(CaptureError) { reader = try CaptureReader(path: input) } catch { throw .read(error) }
        let writer = try BlockWriter(path: output)
        defer { writer.finish() }
        try writer.sectionHeader()
        var interfacesWritten = 0
        var annotated = 0
        while true {
            let next: PacketRecord?
            do throws(CaptureError) { next = try reader.next() } catch { throw .read(error) }
            guard let packet = next else { break }
            let interfaces = reader.interfaces
            while interfacesWritten <= Int(packet.interfaceID) {
                let interface = interfacesWritten < interfaces.count ? interfaces[interfacesWritten]
                    : CaptureInterface(id: UInt32(interfacesWritten), linkType: packet.linkType, snapLength: 0,
                                       timestampResolution: 9, name: nil, description: nil, fcsLength: nil)
                try writer.interface(interface)
                interfacesWritten += 1
            }
            var notes: [String] = []
            if let existing = packet.comment { notes.append(existing) }
            if let added = comments[packet.frameNumber] {
                notes += added
                annotated += 1
            }
            try writer.packet(packet, comments: notes)
        }
        try writer.flush()
        return annotated
    }
}

/// Little-endian pcapng block writer over a file descriptor.
private final class BlockWriter {
    private let fd: Int32
    private let path: String
    private var buffer: [UInt8] = []
    private var written = 0

    init(path: String) throws(AnnotateError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            let code = errno
            throw .cannotCreate(path: path, errno: code, message: Errno(code).message)
        }
        self.fd = fd
        self.path = path
        buffer.reserveCapacity(1 << 16)
    }

    func finish() {
        _ = close(fd)
    }

    private func u16(_ value: UInt16) { buffer.append(UInt8(value & 0xFF)); buffer.append(UInt8(value >> 8)) }
    private func u32(_ value: UInt32) { for shift in stride(from: 0, to: 32, by: 8) { buffer.append(UInt8((value >> UInt32(shift)) & 0xFF)) } }
    private func pad() { while buffer.count % 4 != 0 { buffer.append(0) } }

    private func option(_ code: UInt16, _ bytes: [UInt8]) {
        u16(code)
        u16(UInt16(min(bytes.count, 65_532)))
        buffer += bytes.prefix(65_532)
        pad()
    }

    /// Writes a block whose body `body` appends (type, lengths and trailer added here).
    private func block(_ type: UInt32, _ body: () -> Void) throws(AnnotateError) {
        let start = buffer.count
        u32(type)
        u32(0)
        body()
        pad()
        let length = UInt32(buffer.count - start + 4)
        u32(length)
        for (i, byte) in [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF),
                          UInt8(length >> 24)].enumerated() {
            buffer[start + 4 + i] = byte
        }
        if buffer.count >= 1 << 16 { try flush() }
    }

    func sectionHeader() throws(AnnotateError) {
        try block(0x0A0D_0D0A) {
            u32(0x1A2B_3C4D)
            u16(1)
            u16(0)
            u32(0xFFFF_FFFF)
            u32(0xFFFF_FFFF)
            option(4, Array("faultline analyze --annotate".utf8))
            option(0, [])
        }
    }

    func interface(_ interface: CaptureInterface) throws(AnnotateError) {
        try block(1) {
            u16(UInt16(truncatingIfNeeded: interface.linkType.rawValue))
            u16(0)
            u32(interface.snapLength)
            if let name = interface.name { option(2, Array(name.utf8)) }
            if let description = interface.description { option(3, Array(description.utf8)) }
            option(9, [9])
            if let fcs = interface.fcsLength { option(13, [UInt8(clamping: fcs)]) }
            option(0, [])
        }
    }

    func packet(_ packet: PacketRecord, comments: [String]) throws(AnnotateError) {
        try block(6) {
            u32(packet.interfaceID)
            let time = UInt64(bitPattern: packet.timestamp)
            u32(UInt32(truncatingIfNeeded: time >> 32))
            u32(UInt32(truncatingIfNeeded: time))
            u32(UInt32(packet.capturedLength))
            u32(UInt32(clamping: max(packet.originalLength, packet.capturedLength)))
            buffer += packet.bytes
            pad()
            if !comments.isEmpty {
                for comment in comments { option(1, Array(comment.utf8)) }
                option(0, [])
            }
        }
    }

    func flush() throws(AnnotateError) {
        var offset = 0
        while offset < buffer.count {
            let result = buffer.withUnsafeBytes { raw in
                write(fd, raw.baseAddress.unsafelyUnwrapped + offset, raw.count - offset)
            }
            if result < 0 {
                let code = errno
                if code == EINTR { continue }
                throw .writeFailed(path: path, offset: written + offset, errno: code, message: Errno(code).message)
            }
            offset += result
        }
        written += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }
}
