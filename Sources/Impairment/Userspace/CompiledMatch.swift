import Values
/// A `PacketMatch` compiled for the per-packet path: no allocation, no string work.
struct CompiledMatch: Sendable, Equatable {
    var version: UInt8 = 0            // 0: any
    var transport: Int16 = -1         // -1: any
    var sources: [IPPrefix]? = nil      // nil: any; else any of these
    var destinations: [IPPrefix]? = nil
    var sourcePort: PortRange? = nil
    var destinationPort: PortRange? = nil
    var flagsSet: UInt8 = 0
    var flagsClear: UInt8 = 0
    var needsTCP = false
    var payload: PayloadMatch? = nil
    var matchesEverything = true

    /// - Parameter nodes: addresses of topology nodes, for `AddressMatch.node` ("server").
    init(_ match: PacketMatch, nodes: [String: [IPPrefix]], keyPath: String) throws(UserspaceEngineError) {
        matchesEverything = match.isAny
        version = match.ipVersion.map { UInt8($0.rawValue) } ?? 0
        transport = match.transport.map { Int16($0.protocolNumber) } ?? -1
        func resolve(_ address: AddressMatch?, _ key: String) throws(UserspaceEngineError) -> [IPPrefix]? {
            switch address {
            case nil: return nil
            case .prefix(let p)?: return [p]
            case .node(let name)?:
                guard let prefixes = nodes[name], !prefixes.isEmpty else {
                    throw UserspaceEngineError.unknownNode(name: name, keyPath: "\(keyPath).\(key)",
                                                            known: nodes.keys.sorted())
                }
                return prefixes
            }
        }
        sources = try resolve(match.source, "source")
        destinations = try resolve(match.destination, "destination")
        sourcePort = match.sourcePort
        destinationPort = match.destinationPort
        if let flags = match.tcpFlags {
            flagsSet = flags.set.rawValue
            flagsClear = flags.clear.rawValue
            needsTCP = true
        }
        payload = match.payload
    }

    @inline(__always)
    func matches(_ h: PacketHeaders) -> Bool {
        if matchesEverything { return true }
        if version != 0 && h.version != version { return false }
        if transport >= 0 && (h.version == 0 || Int16(h.transport) != transport) { return false }
        if let sources, h.version == 0 || !sources.contains(where: { $0.contains(h.source) }) {
            return false
        }
        if let destinations, h.version == 0 || !destinations.contains(where: { $0.contains(h.destination) }) {
            return false
        }
        if sourcePort != nil || destinationPort != nil {
            guard h.hasPorts else { return false }
            if let sourcePort, !sourcePort.contains(h.sourcePort) { return false }
            if let destinationPort, !destinationPort.contains(h.destinationPort) { return false }
        }
        if needsTCP {
            guard h.transport == 6, h.transportOffset != nil else { return false }
            if h.tcpFlags & flagsSet != flagsSet || h.tcpFlags & flagsClear != 0 { return false }
        }
        switch payload {
        case nil: break
        case .empty?: if h.transportOffset == nil || h.payloadLength != 0 { return false }
        case .nonEmpty?: if h.transportOffset == nil || h.payloadLength == 0 { return false }
        }
        return true
    }
}
