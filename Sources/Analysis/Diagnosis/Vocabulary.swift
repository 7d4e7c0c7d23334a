/// Diagnosis kinds and causes as typed values, as a `Finding` carries them
/// (`finding.cause == .injectedByMiddlebox`). The strings are `DiagnosisName`'s, the analyzer's
/// own; any other word — an external detector's own kind or cause — is kept as written
/// (`DiagnosisCause("my-cause")`), so reading another detector's findings loses nothing.
public struct DiagnosisKind: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }

    public static let zeroWindow = Self(DiagnosisName.Kind.zeroWindow)
    public static let rst = Self(DiagnosisName.Kind.rst)
    public static let syn = Self(DiagnosisName.Kind.syn)
    public static let retransmission = Self(DiagnosisName.Kind.retransmission)
    public static let captureArtifact = Self(DiagnosisName.Kind.captureArtifact)
    public static let reordering = Self(DiagnosisName.Kind.reordering)
    public static let keepAlive = Self(DiagnosisName.Kind.keepAlive)
    public static let connectionLost = Self(DiagnosisName.Kind.connectionLost)
    public static let stall = Self(DiagnosisName.Kind.stall)
    public static let latency = Self(DiagnosisName.Kind.latency)
    public static let throughput = Self(DiagnosisName.Kind.throughput)
}

public struct DiagnosisCause: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }

    public static let receiverSlow = Self(DiagnosisName.Cause.receiverSlow)
    public static let receiverStoppedReading = Self(DiagnosisName.Cause.receiverStoppedReading)
    public static let refusedByHost = Self(DiagnosisName.Cause.refusedByHost)
    public static let injectedByMiddlebox = Self(DiagnosisName.Cause.injectedByMiddlebox)
    public static let abortedByApplication = Self(DiagnosisName.Cause.abortedByApplication)
    public static let peerHasNoConnection = Self(DiagnosisName.Cause.peerHasNoConnection)
    public static let duplicateAnsweredWithChallengeAck = Self(DiagnosisName.Cause.duplicateAnsweredWithChallengeAck)
    public static let unanswered = Self(DiagnosisName.Cause.unanswered)
    public static let packetLoss = Self(DiagnosisName.Cause.packetLoss)
    public static let spuriousDelayedAck = Self(DiagnosisName.Cause.spuriousDelayedAck)
    public static let rttExceedsRTO = Self(DiagnosisName.Cause.rttExceedsRTO)
    public static let congestionLoss = Self(DiagnosisName.Cause.congestionLoss)
    public static let duplicatedCapture = Self(DiagnosisName.Cause.duplicatedCapture)
    public static let pathReordering = Self(DiagnosisName.Cause.pathReordering)
    public static let benign = Self(DiagnosisName.Cause.benign)
    public static let rejectedByICMP = Self(DiagnosisName.Cause.rejectedByICMP)
    public static let listenQueueOverflow = Self(DiagnosisName.Cause.listenQueueOverflow)
    public static let peerOrPathDown = Self(DiagnosisName.Cause.peerOrPathDown)
    public static let middleboxStateExpired = Self(DiagnosisName.Cause.middleboxStateExpired)
    public static let nagleDelayedAck = Self(DiagnosisName.Cause.nagleDelayedAck)
    public static let serverThinkTime = Self(DiagnosisName.Cause.serverThinkTime)
    public static let bufferbloat = Self(DiagnosisName.Cause.bufferbloat)
    public static let receiveWindowLimited = Self(DiagnosisName.Cause.receiveWindowLimited)
    public static let pathMTUBlackHole = Self(DiagnosisName.Cause.pathMTUBlackHole)
    public static let undetermined = Self(DiagnosisName.Cause.undetermined)
}

extension DiagnosisName {
    /// Kinds that explain what the flags show without anything being wrong on the network: keep-
    /// alives, a capture's own duplicates, reordering that cost nothing. Every other kind is a
    /// failure — one rule for the analyzer's headline and the runner's.
    public static let benignKinds: Set<String> = [Kind.keepAlive, Kind.captureArtifact, Kind.reordering]

    public static func isFailure(kind: String) -> Bool { !benignKinds.contains(kind) }

    /// Every kind the analyzer can report, in its order.
    public static var kinds: [String] {
        var out: [String] = []
        for diagnosis in all {
            let kind = String(diagnosis.prefix { $0 != "/" })
            if !out.contains(kind) { out.append(kind) }
        }
        return out
    }
}

// The classifiers compare findings with `DiagnosisName`'s strings (`$0.kind == DiagnosisName.Kind.syn`).
extension DiagnosisKind {
    static func == (kind: DiagnosisKind, name: String) -> Bool { kind.rawValue == name }
    static func != (kind: DiagnosisKind, name: String) -> Bool { kind.rawValue != name }
}

extension DiagnosisCause {
    static func == (cause: DiagnosisCause, name: String) -> Bool { cause.rawValue == name }
    static func != (cause: DiagnosisCause, name: String) -> Bool { cause.rawValue != name }
}

/// Every diagnosis the analyzer itself can produce (undetermined ones included), closed: code
/// that must say something about each of them — `faultline explain`'s texts — switches over it,
/// so a new diagnosis without its explanation does not compile. (`DiagnosisKind` and
/// `DiagnosisCause` stay open: another detector's words are kept as written.)
public enum AnalyzerDiagnosis: String, CaseIterable, Sendable, Hashable {
    case zeroWindowReceiverSlow = "zero-window/receiver-slow"
    case zeroWindowReceiverStoppedReading = "zero-window/receiver-stopped-reading"
    case zeroWindowUndetermined = "zero-window/undetermined"
    case rstRefusedByHost = "rst/refused-by-host"
    case rstInjectedByMiddlebox = "rst/injected-by-middlebox"
    case rstAbortedByApplication = "rst/aborted-by-application"
    case rstPeerHasNoConnection = "rst/peer-has-no-connection"
    case rstUndetermined = "rst/undetermined"
    case synDuplicateAnsweredWithChallengeAck = "syn/duplicate-answered-with-challenge-ack"
    case synUnanswered = "syn/unanswered"
    case synUndetermined = "syn/undetermined"
    case synRejectedByICMP = "syn/rejected-by-icmp"
    case synListenQueueOverflow = "syn/listen-queue-overflow"
    case retransmissionPacketLoss = "retransmission/packet-loss"
    case retransmissionSpuriousDelayedAck = "retransmission/spurious-delayed-ack"
    case retransmissionRTTExceedsRTO = "retransmission/rtt-exceeds-rto"
    case retransmissionCongestionLoss = "retransmission/congestion-loss"
    case retransmissionUndetermined = "retransmission/undetermined"
    case captureArtifactDuplicatedCapture = "capture-artifact/duplicated-capture"
    case reorderingPathReordering = "reordering/path-reordering"
    case keepAliveBenign = "keep-alive/benign"
    case connectionLostPeerOrPathDown = "connection-lost/peer-or-path-down"
    case connectionLostMiddleboxStateExpired = "connection-lost/middlebox-state-expired"
    case connectionLostUndetermined = "connection-lost/undetermined"
    case stallNagleDelayedAck = "stall/nagle-delayed-ack"
    case stallServerThinkTime = "stall/server-think-time"
    case stallUndetermined = "stall/undetermined"
    case latencyBufferbloat = "latency/bufferbloat"
    case latencyUndetermined = "latency/undetermined"
    case throughputReceiveWindowLimited = "throughput/receive-window-limited"
    case throughputUndetermined = "throughput/undetermined"
    case retransmissionPathMTUBlackHole = "retransmission/path-mtu-black-hole"

    /// The kind, the part before the slash.
    public var kind: DiagnosisKind { DiagnosisKind(String(rawValue[..<(rawValue.firstIndex(of: "/") ?? rawValue.endIndex)])) }
    /// The cause, the part after it.
    public var cause: DiagnosisCause {
        DiagnosisCause(String(rawValue[(rawValue.firstIndex(of: "/").map(rawValue.index(after:)) ?? rawValue.endIndex)...]))
    }

    /// The analyzer's diagnosis named `kind`/`cause`, if it is one.
    public init?(kind: DiagnosisKind, cause: DiagnosisCause) {
        self.init(rawValue: "\(kind.rawValue)/\(cause.rawValue)")
    }
}
