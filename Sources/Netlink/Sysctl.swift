import Values
import Glibc

extension NetworkNamespace {
    /// Reads a sysctl as this namespace sees it (`net.*` keys are per namespace), e.g.
    /// `net.ipv4.tcp_rmem` → "4096 131072 6291456".
    public func sysctl(_ key: String) throws(NetlinkError) -> String {
        let path = try Self.sysctlPath(key)
        return try run { () throws(NetlinkError) -> String in
            let fd = retryingInterrupts { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
            if fd < 0 { throw NetlinkError(operation: "read sysctl \(key) in \(label)", errno: Errno.current, remedy: Self.sysctlRemedy(key)) }
            defer { close(fd) }
            let text: String
            do throws(Errno) {
                text = String(decoding: try FileIO.readAll(fd: fd), as: UTF8.self)
            } catch {
                throw NetlinkError(operation: "read sysctl \(key) in \(label)", errno: error)
            }
            return text.trimmingCharacters(in: " \n\t").replacingOccurrences(of: "\t", with: " ")
        }
    }

    /// Writes a sysctl inside this namespace (`sysctl -w`).
    public func setSysctl(_ key: String, _ value: String) throws(NetlinkError) {
        let path = try Self.sysctlPath(key)
        try run { () throws(NetlinkError) in
            let fd = retryingInterrupts { Glibc.open(path, O_WRONLY | O_CLOEXEC) }
            if fd < 0 { throw NetlinkError(operation: "write sysctl \(key) in \(label)", errno: Errno.current, remedy: Self.sysctlRemedy(key)) }
            defer { close(fd) }
            do throws(Errno) {
                try FileIO.writeAll(fd: fd, value)
            } catch {
                throw NetlinkError(operation: "write sysctl \(key)=\(value) in \(label)", errno: error,
                                   remedy: "Check the value's format: `sysctl \(key)` shows the current one")
            }
        }
    }

    static func sysctlPath(_ key: String) throws(NetlinkError) -> String {
        let valid = !key.isEmpty && !key.contains("..") && key.allSatisfy { $0.isLetter || $0.isNumber || "._-/".contains($0) }
        guard valid else {
            throw NetlinkError(operation: "use sysctl key \"\(key)\"", errno: .EINVAL, remedy: "Keys look like net.ipv4.ip_forward")
        }
        return "/proc/sys/" + key.replacingOccurrences(of: ".", with: "/")
    }

    static func sysctlRemedy(_ key: String) -> String? {
        key.hasPrefix("net.") ? "No such sysctl in this kernel (or not per-namespace): check `sysctl -a | grep \(key.split(separator: ".").last ?? "")`"
            : "Only net.* sysctls are per network namespace; others would change the whole machine"
    }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
