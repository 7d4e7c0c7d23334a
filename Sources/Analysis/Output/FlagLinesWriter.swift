/// Writes `frame,flag;flag` lines exactly like
/// `tshark -Y tcp.analysis.flags -T fields -E separator=, -E aggregator=';' -e frame.number -e tcp.analysis.<flag>...`
/// prints them (flags in `AnalysisFlags.all` order, with tshark's retransmission aliasing).
public struct FlagLinesWriter: CaptureAnalysisObserver {
    private let output: OutputBuffer
    /// Names as UTF-8, indexed by flag bit, prepared once.
    private let names: [[UInt8]]
    private let prefix: [UInt8]

    /// `prefix` goes in front of every line (e.g. "file.pcap:" when several files are listed).
    public init(output: OutputBuffer, prefix: String = "") {
        self.output = output
        self.prefix = Array(prefix.utf8)
        var names = [[UInt8]](repeating: [], count: 16)
        for (flag, name) in AnalysisFlags.all { names[flag.rawValue.trailingZeroBitCount] = Array(name.utf8) }
        self.names = names
    }

    @inline(__always)
    public mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
        let flags = frame.tsharkFlags
        if flags.isEmpty { return }
        if !prefix.isEmpty { prefix.withUnsafeBufferPointer { output.append(bytes: $0) } }
        output.append(decimal: frame.frameNumber)
        var separator: UInt8 = 0x2C  // ','
        var bits = flags.rawValue
        while bits != 0 {
            let bit = bits.trailingZeroBitCount
            bits &= bits &- 1
            output.append(byte: separator)
            separator = 0x3B  // ';'
            names[bit].withUnsafeBufferPointer { output.append(bytes: $0) }
        }
        output.append(byte: 0x0A)
    }
}
