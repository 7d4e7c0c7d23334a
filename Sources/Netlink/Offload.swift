import Values
import CLinux
import Glibc

/// Segmentation offloads, switched with the ethtool ioctl. With them on, a capture shows 64 KB
/// "segments" that never exist on a real wire; with them off it shows what a NIC would send.
public struct Offloads: Sendable, Equatable {
    public var tso: Bool
    public var gso: Bool
    public var gro: Bool
    public init(tso: Bool, gso: Bool, gro: Bool) { self.tso = tso; self.gso = gso; self.gro = gro }
    public static let allOff = Offloads(tso: false, gso: false, gro: false)
}

// ETHTOOL_{G,S}{TSO,GSO,GRO} from linux/ethtool.h
private let ETHTOOL_GTSO: UInt32 = 0x1e, ETHTOOL_STSO: UInt32 = 0x1f
private let ETHTOOL_GGSO: UInt32 = 0x23, ETHTOOL_SGSO: UInt32 = 0x24
private let ETHTOOL_GGRO: UInt32 = 0x2b, ETHTOOL_SGRO: UInt32 = 0x2c

extension NetworkNamespace {
    public func setOffloads(_ offloads: Offloads, interface: String) throws(NetlinkError) {
        try run { () throws(NetlinkError) in
            let sock = fl_socket_dgram(AF_INET)
            if sock < 0 { throw NetlinkError(operation: "open ethtool socket in \(label)", errno: Errno.current) }
            defer { close(sock) }
            for (command, value, name) in [(ETHTOOL_STSO, offloads.tso, "tso"), (ETHTOOL_SGSO, offloads.gso, "gso"),
                                           (ETHTOOL_SGRO, offloads.gro, "gro")] {
                if fl_ethtool_set_offload(sock, interface, command, value ? 1 : 0) != 0 {
                    throw NetlinkError(operation: "set \(name) \(value ? "on" : "off") on \"\(interface)\" in \(label)",
                                       errno: Errno.current)
                }
            }
        }
    }

    public func offloads(interface: String) throws(NetlinkError) -> Offloads {
        try run { () throws(NetlinkError) -> Offloads in
            let sock = fl_socket_dgram(AF_INET)
            if sock < 0 { throw NetlinkError(operation: "open ethtool socket in \(label)", errno: Errno.current) }
            defer { close(sock) }
            var values: [UInt32] = []
            for command in [ETHTOOL_GTSO, ETHTOOL_GGSO, ETHTOOL_GGRO] {
                var value: UInt32 = 0
                if fl_ethtool_get_offload(sock, interface, command, &value) != 0 {
                    throw NetlinkError(operation: "read offloads of \"\(interface)\" in \(label)", errno: Errno.current)
                }
                values.append(value)
            }
            return Offloads(tso: values[0] != 0, gso: values[1] != 0, gro: values[2] != 0)
        }
    }
}
