import CLinux
import Glibc

/// Removes named namespaces (`/run/netns/faultline-<pid>-...`) whose owner process is gone —
/// what a SIGKILLed lab leaves behind. Names without Faultline's prefix are never touched.
public enum NamespaceSweeper {
    public struct Swept: Sendable, Equatable {
        public var name: String
        public var ownerPID: Int32
        public init(name: String, ownerPID: Int32) {
            self.name = name
            self.ownerPID = ownerPID
        }
    }

    /// The owner pid encoded in a Faultline namespace name, or nil for any other name.
    public static func ownerPID(of name: String) -> Int32? {
        guard name.hasPrefix(NetworkNamespace.namePrefix) else { return nil }
        let rest = name.dropFirst(NetworkNamespace.namePrefix.count)
        guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[rest.startIndex..<dash]), pid > 0 else { return nil }
        return pid
    }

    public static func isAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Names of Faultline namespaces currently mounted, with their owners.
    public static func mounted() -> [(name: String, owner: Int32)] {
        guard let dir = opendir(NetworkNamespace.runDirectory) else { return [] }
        defer { closedir(dir) }
        var result: [(String, Int32)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let pid = ownerPID(of: name) { result.append((name, pid)) }
        }
        return result.sorted { $0.0 < $1.0 }
    }

    /// Unmounts and removes every Faultline namespace whose owner is dead. Killing processes
    /// still running inside them is left to the kernel: PR_SET_PDEATHSIG took them with their owner.
    @discardableResult
    public static func sweep() -> [Swept] {
        var swept: [Swept] = []
        for (name, owner) in mounted() where !isAlive(owner) {
            let path = "\(NetworkNamespace.runDirectory)/\(name)"
            _ = fl_umount_detach(path)
            if unlink(path) == 0 { swept.append(Swept(name: name, ownerPID: owner)) }
        }
        return swept
    }
}
