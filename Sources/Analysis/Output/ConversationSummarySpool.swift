#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The summaries of a run's conversations — as text (`CaptureSummary.text(of:)`) or as the
/// caller renders them (JSON for `--json`) — kept in an unlinked temporary file as they are
/// retired, so that memory stays bounded by the connections open at once; `write(to:)` prints
/// them in `tcp.stream` order (a conversation revived by a late packet once per life, in order),
/// `separator` between two, as `CaptureSummary.text` (or the JSON encoder) would. In memory:
/// 16 bytes per conversation (its position in the file).
public final class ConversationSummarySpool {
    private struct Entry {
        var id: Int32
        var length: UInt32
        var offset: Int64
    }
    private var file: UnsafeMutablePointer<FILE>?
    private var entries: ContiguousArray<Entry> = []
    private var offset: Int64 = 0
    private var sorted = true
    private let render: (CaptureSummary.Conversation) -> String
    private let separator: String

    public init(render: @escaping (CaptureSummary.Conversation) -> String = CaptureSummary.text(of:), separator: String = "") {
        file = tmpfile()
        self.render = render
        self.separator = separator
    }

    deinit {
        if let file { fclose(file) }
    }

    /// Conversations added.
    public var count: Int { entries.count }

    /// Adds the summary of a retired (or still held) conversation.
    public func append(_ conversation: TCPConversation) {
        // Each entry carries the separator after it; the last one's is left out when written.
        var text = render(CaptureSummary.Conversation(conversation)) + separator
        let length = text.utf8.count
        text.withUTF8 { bytes in
            if let file { _ = fwrite(bytes.baseAddress, 1, bytes.count, file) }
        }
        if let last = entries.last, Int(last.id) > conversation.id { sorted = false }
        entries.append(Entry(id: Int32(truncatingIfNeeded: conversation.id), length: UInt32(length), offset: offset))
        offset += Int64(length)
    }

    /// Adds the conversations `analysis` still holds at its end.
    public func appendHeld(of analysis: CaptureAnalysis) {
        let analyzer = analysis.analyzer
        for slot in analyzer.heldSlots { append(analyzer.conversations[slot]) }
    }

    /// Writes every summary to `output`, in conversation order.
    public func write(to output: OutputBuffer) {
        guard let file else { return }
        fflush(file)
        let fd = fileno(file)
        if !sorted {
            // Stable: the lives of one conversation keep their order.
            entries = ContiguousArray(entries.enumerated()
                .sorted { $0.element.id != $1.element.id ? $0.element.id < $1.element.id : $0.offset < $1.offset }
                .map(\.element))
            sorted = true
        }
        if !separator.isEmpty, !entries.isEmpty {
            entries[entries.count - 1].length -= UInt32(separator.utf8.count)
        }
        defer { if !separator.isEmpty, !entries.isEmpty { entries[entries.count - 1].length += UInt32(separator.utf8.count) } }
        let chunk = 1 << 16
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        defer { buffer.deallocate() }
        var index = 0
        while index < entries.count {
            // Runs of entries that follow each other in the file are read together.
            let start = entries[index].offset
            var end = start + Int64(entries[index].length)
            index += 1
            while index < entries.count && entries[index].offset == end && end - start < Int64(chunk) * 16 {
                end += Int64(entries[index].length)
                index += 1
            }
            var position = start
            while position < end {
                let want = Int(min(Int64(chunk), end - position))
                let got = pread(fd, buffer, want, off_t(position))
                if got <= 0 { return }
                output.append(bytes: UnsafeBufferPointer(start: buffer, count: got))
                position += Int64(got)
            }
        }
    }
}
