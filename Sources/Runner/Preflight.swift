import Values
import Foundation
import Glibc
import Netlink

/// What `faultline run` checks before it builds anything: a run that cannot write the report
/// it was asked for, or cannot start its detector, must fail at once, not after the catalog.
public enum Preflight {
    /// A file that will be written at the end (`--junit`): its folder must exist and be
    /// writable, and the file itself (if it exists) writable and not a folder.
    public static func checkWritable(_ path: String, flag: String) throws(RunnerError) {
        var s = stat()
        if stat(path, &s) == 0 {
            if (s.st_mode & S_IFMT) == S_IFDIR { throw .badInput("\(flag) \(path): is a folder; expected a file path") }
            if access(path, W_OK) != 0 { throw .badInput("\(flag) \(path): cannot be written (\(Errno.current))") }
            return
        }
        let folder = path.contains("/") ? String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) : "."
        let directory = folder.isEmpty ? "/" : folder
        var d = stat()
        guard stat(directory, &d) == 0, (d.st_mode & S_IFMT) == S_IFDIR else {
            throw .badInput("\(flag) \(path): the folder \(directory) does not exist")
        }
        if access(directory, W_OK) != 0 { throw .badInput("\(flag) \(path): the folder \(directory) cannot be written (\(Errno.current))") }
    }

    /// The detector's program exists: `cmd:PROGRAM` must name an executable (a path, or a name
    /// in PATH); tshark must be installed.
    public static func checkDetector(_ choice: DetectorChoice) throws(RunnerError) {
        try choice.detector.preflight()
    }

    /// Writes a requested report; a failure is an error (exit 3), never a note.
    public static func write(_ text: String, to path: String, flag: String) throws(RunnerError) {
        if !FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) {
            throw .environment("cannot write \(flag) \(path): \(Errno.current)")
        }
    }

    /// A warning when `-j` far exceeds the cores: runs then compete for the CPU and timing
    /// diagnoses (RTT, delays, congestion) measure the contention.
    public static func jobsWarning(jobs: Int, cores: Int) -> String? {
        guard jobs > 2 * max(1, cores) else { return nil }
        return "warning: -j \(jobs) on \(cores) core\(cores == 1 ? "" : "s"): the runs compete for the CPU, which inflates RTTs "
            + "and delays and can turn loss into congestion in the diagnoses; -j \(cores) (the default) or less measures the network"
    }
}
