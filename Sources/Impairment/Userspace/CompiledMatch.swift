/// A `PacketMatch` compiled for the per-packet path: no allocation, no string work.
struct CompiledMatch: Sendable, Equatable {
    struct Prefix: Sendable, Equatable {
        var version: UInt8
        var high: UInt64, low: UInt64
        var maskHigh: UInt64, maskLow: UInt64

        init(_ prefix: IPPrefix) {
            let bytes = prefix.address
            version = bytes.count == 4 ? 4 : 6
            var value = (high: UInt64(0), low: UInt64(0))
            if bytes.count == 4 {
                value.low = bytes.reduce(0) { $0 << 8 | UInt64($1) }
                let length = min(Int(prefix.prefixLength), 32)
                maskHigh = 0
                maskLow = length == 0 ? 0 : (UInt64(0xffff_ffff) << UInt64(32 - length)) & 0xffff_ffff
            } else {
                value.high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
                value.low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
                let length = min(Int(prefix.prefixLength), 128)
                maskHigh = length >= 64 ? ~0 : (length == 0 ? 0 : ~0 << UInt64(64 - length))
                maskLow = length <= 64 ? 0 : (length == 128 ? ~0 : ~0 << UInt64(128 - length))
            }
            high = value.high & maskHigh
            low = value.low & maskLow
        }

        @inline(__always)
        func contains(version v: UInt8, high h: UInt64, low l: UInt64) -> Bool {
            v == version && h & maskHigh == high && l & maskLow == low
        }
    }

    var version: UInt8 = 0            // 0: any
    var transport: Int16 = -1         // -1: any
    var sources: [Prefix]? = nil      // nil: any; else any of these
    var destinations: [Prefix]? = nil
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
        func resolve(_ address: AddressMatch?, _ key: String) throws(UserspaceEngineError) -> [Prefix]? {
            switch address {
            case nil: return nil
            case .prefix(let p)?: return [Prefix(p)]
            case .node(let name)?:
                guard let prefixes = nodes[name], !prefixes.isEmpty else {
                    throw UserspaceEngineError.unknownNode(name: name, keyPath: "\(keyPath).\(key)",
                                                            known: nodes.keys.sorted())
                }
                return prefixes.map(Prefix.init)
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
        if let sources, !sources.contains(where: { $0.contains(version: h.version, high: h.sourceHigh, low: h.sourceLow) }) {
            return false
        }
        if let destinations, !destinations.contains(where: {
            $0.contains(version: h.version, high: h.destinationHigh, low: h.destinationLow)
        }) {
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
