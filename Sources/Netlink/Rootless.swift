import Values
import CLinux
import Glibc

/// Who Faultline runs as, and what that allows.
///
/// * `root`: root in the machine's own user namespace — named namespaces under /run/netns,
///   SCHED_FIFO, /dev/cpu_dma_latency, rps_cpus: today's behaviour.
/// * `rootless`: inside a user namespace (the `faultline` executable made one before main for a
///   user that is not root — see Sources/FaultlineEntry/entry.c — or was started inside one).
///   Every network namespace is created inside it, so nothing outside it can be touched: the
///   kernel checks each change against the namespace's owner. Labs are published in the user's
///   runtime folder (`Rootless.registryDirectory`), not /run/netns.
/// * `unprivileged`: neither (user namespaces disabled, or not attempted): commands that build
///   networks stop with `Rootless.cannotBuildReason`.
public enum Rootless {
    public enum Mode: Sendable, Equatable { case root, rootless, unprivileged }

    public static let mode: Mode = {
        guard geteuid() == 0 else { return .unprivileged }
        return fl_in_initial_user_namespace() != 0 ? .root : .rootless
    }()

    public static var isRootless: Bool { mode == .rootless }

    /// Labs and runs are found in `registryDirectory` (not /run/netns): every mode but root.
    public static var usesRegistry: Bool { mode != .root }

    /// The uid this process has outside its user namespace (the real user), read from
    /// /proc/self/uid_map (inside id 0); the euid when not in a user namespace.
    public static let outerUID: UInt32 = {
        guard isRootless, let text = readText("/proc/self/uid_map") else { return UInt32(geteuid()) }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count == 3, fields[0] == "0", let outside = UInt32(fields[1]) { return outside }
        }
        return UInt32(geteuid())
    }()

    /// How this process came to be where it is (one line, for notes and `doctor`).
    public static var entryDescription: String {
        switch Int(fl_userns_entry_state()) {
        case Int(FL_USERNS_CREATED):
            let ranged = fl_userns_entry_subordinate_ids()
            let step = String(cString: fl_userns_entry_step())
            return ranged > 0
                ? "rootless: uid \(outerUID) mapped to root in a user namespace of its own, ids 1-\(ranged) from /etc/subuid (newuidmap)"
                : "rootless: uid \(outerUID) mapped to root in a user namespace of its own (setgroups denied; \(step.isEmpty ? "no /etc/subuid range" : step), so one id)"
        case Int(FL_USERNS_JOINED): return "rootless: joined a lab's user namespace"
        case Int(FL_USERNS_INHERITED): return "inside a user namespace already (uid \(outerUID) outside)"
        case Int(FL_USERNS_REAL_ROOT): return "root"
        default:
            return mode == .root ? "root" : (mode == .rootless ? "inside a user namespace (uid \(outerUID) outside)" : "uid \(geteuid()), not root")
        }
    }

    /// Why this process cannot build networks (nil: it can), with what to do about it.
    public static var cannotBuildReason: String? {
        guard mode == .unprivileged else { return nil }
        let state = Int(fl_userns_entry_state())
        let step = String(cString: fl_userns_entry_step())
        if state == Int(FL_USERNS_SKIPPED) {
            return "not root, and no user namespace entered (\(step)): run without FAULTLINE_ROOTLESS=0, or with sudo"
        }
        var text = "not root, and a user namespace could not be made"
        if state == Int(FL_USERNS_FAILED) {
            text += " (\(step): \(Errno(fl_userns_entry_errno())))"
        }
        if let blocker = userNamespaceBlocker {
            text += ": \(blocker.setting) = \(blocker.value) disables them. Fix: \(blocker.fix) — or run with sudo"
        } else {
            text += ". Run with sudo, or see `faultline doctor`"
        }
        return text
    }

    /// A distribution setting that disables unprivileged user namespaces, if one does.
    public struct Blocker: Sendable, Equatable {
        public var setting: String
        public var value: String
        public var fix: String
    }

    public static var userNamespaceBlocker: Blocker? {
        if let value = readText("/proc/sys/kernel/unprivileged_userns_clone")?.trimmed, value == "0" {
            return Blocker(setting: "kernel.unprivileged_userns_clone", value: value,
                           fix: "sudo sysctl -w kernel.unprivileged_userns_clone=1 (persist it in /etc/sysctl.d/)")
        }
        if let value = readText("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")?.trimmed, value == "1" {
            return Blocker(setting: "kernel.apparmor_restrict_unprivileged_userns", value: value,
                           fix: "an AppArmor profile allowing `userns` for the faultline binary (/etc/apparmor.d/), or sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0")
        }
        if let value = readText("/proc/sys/user/max_user_namespaces")?.trimmed, value == "0" {
            return Blocker(setting: "user.max_user_namespaces", value: value,
                           fix: "sudo sysctl -w user.max_user_namespaces=15000 (persist it in /etc/sysctl.d/)")
        }
        return nil
    }

    /// Where a rootless Faultline publishes its labs' and runs' nodes: `$XDG_RUNTIME_DIR/faultline`
    /// when that folder is the user's own, else `/tmp/faultline-<uid>` (mode 0700, refused unless
    /// it is a real folder of this user's). Created on demand; nil when neither can be had.
    public static var registryDirectory: String? {
        if let runtime = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), runtime.hasPrefix("/"), isPrivateFolder(runtime) {
            let folder = runtime + "/faultline"
            if makePrivateFolder(folder) { return folder }
        }
        let fallback = "/tmp/faultline-\(outerUID)"
        return makePrivateFolder(fallback) ? fallback : nil
    }

    /// A folder that exists (not a symlink), belongs to this process's user and only it can enter.
    static func isPrivateFolder(_ path: String) -> Bool {
        var s = stat()
        guard lstat(path, &s) == 0 else { return false }
        return (s.st_mode & S_IFMT) == S_IFDIR && s.st_uid == geteuid() && (s.st_mode & 0o077) == 0
    }

    static func makePrivateFolder(_ path: String) -> Bool {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { return false }
        return isPrivateFolder(path)
    }

    /// The CPUs this process may run on.
    public static var allowedCPUs: [Int32] {
        var cpus = [Int32](repeating: 0, count: 1024)
        let count = fl_get_thread_cpus(0, &cpus, Int32(cpus.count))
        return count > 0 ? Array(cpus[0..<Int(count)]) : [0]
    }

    static func readText(_ path: String) -> String? {
        try? FileIO.readText(path: path)
    }
}

extension String {
    var trimmed: String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
