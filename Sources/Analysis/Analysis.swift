/// Analysis: pure-Swift capture reading, TCP analysis compatible with tshark, diagnoses.
///
/// The pipeline, one pass, no allocation per packet:
///
/// - `CaptureReader` streams `PacketRecord`s out of pcap / pcapng files through one reusable
///   buffer (memory independent of the file size). A file cut mid-record ends the stream and
///   sets `truncation`; inconsistent content throws `CaptureError` with the byte offset.
/// - `PacketDecoder.decode(_:into:)` turns a record into a `TCPSegment` (link layer, VLANs,
///   IPv4/IPv6 with extension headers, TCP header and options), taking segment lengths from the
///   IP header so snap-length-cut captures analyse like full ones.
/// - `TCPAnalyzer.analyze(_:frame:time:interfaceID:)` runs tshark 4.0.17's sequence analysis
///   and returns a `FrameAnalysis` (flags as `AnalysisFlags`, RTTs, RTO, dup-ACK number, bytes
///   in flight, window scaling). Conversation state (`TCPConversation`, two `TCPFlowState`s)
///   stays readable in `TCPAnalyzer.conversations`, indexed like tshark's `tcp.stream`.
/// - `CaptureAnalysis.run(path:observer:)` drives the three and hands every frame to a
///   `CaptureAnalysisObserver` (the subscription point for the Diagnosis layer and for writers
///   such as `FlagLinesWriter`, which prints `faultline analyze --flags` lines).
public enum AnalysisModule {}
