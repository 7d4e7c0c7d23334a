import Values
#if canImport(Glibc)
import Glibc
#endif

/// A netem delay distribution table: signed 16-bit samples of the inverse CDF scaled by
/// NETEM_DIST_SCALE (8192), as `tc` sends in TCA_NETEM_DELAY_DIST / TCA_NETEM_SLOT_DIST.
///
/// Loaded like tc (`get_distribution` in q_netem.c): `<tc lib dir>/<name>.dist`, where the lib dir
/// is `$TC_LIB_DIR`, else iproute2's LIBDIR (`/usr/lib/x86_64-linux-gnu/tc` on Debian, also
/// `/usr/lib/tc`, `/usr/lib64/tc`); lines starting with `#` and empty lines are skipped, every
/// number (strtol base 0) is a sample. When no file is found, the table is generated with
/// iproute2's own generators (netem/normal.c, pareto.c, paretonormal.c — the "maketable"
/// algorithm, NIST Net's) and `source` says so; on this machine the generated tables are
/// identical to the installed files (checked by a test).
public struct DistributionTable: Sendable, Equatable {
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        case file(String)
        case generated

        public var description: String {
            switch self {
            case .file(let path): return path
            case .generated: return "generated with iproute2's table generator (no .dist file found)"
            }
        }
    }

    public var distribution: DelayDistribution
    public var samples: [Int16]
    public var source: Source

    /// Directories searched, in order.
    public static var searchDirectories: [String] {
        var dirs: [String] = []
        #if canImport(Glibc)
        if let env = getenv("TC_LIB_DIR") { dirs.append(String(cString: env)) }
        #endif
        dirs += ["/usr/lib/x86_64-linux-gnu/tc", "/usr/lib/aarch64-linux-gnu/tc", "/usr/lib/tc", "/usr/lib64/tc", "/usr/local/lib/tc"]
        return dirs
    }

    /// The table for `distribution` (nil for `.uniform`, which netem computes without a table).
    public static func load(_ distribution: DelayDistribution,
                            directories: [String] = searchDirectories) throws(KernelEngineError) -> DistributionTable? {
        if distribution == .uniform { return nil }
        for dir in directories {
            let path = "\(dir)/\(distribution.rawValue).dist"
            guard let text = readTextFile(path) else { continue }
            let samples = try parse(text, path: path)
            return DistributionTable(distribution: distribution, samples: samples, source: .file(path))
        }
        return DistributionTable(distribution: distribution, samples: generate(distribution), source: .generated)
    }

    /// Parses a .dist file as tc does.
    public static func parse(_ text: String, path: String) throws(KernelEngineError) -> [Int16] {
        var samples: [Int16] = []
        for (lineIndex, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }) {
                guard let value = parseCInteger(token) else { break }  // strtol stops at the first non-number
                guard samples.count < 16384 else {
                    throw KernelEngineError.distributionTableInvalid(path: path, line: lineIndex + 1, reason: "too much data (tc's limit is 16384 samples)")
                }
                samples.append(Int16(truncatingIfNeeded: value))  // tc stores the long into __s16
            }
        }
        guard !samples.isEmpty else {
            throw KernelEngineError.distributionTableInvalid(path: path, line: 1, reason: "no samples")
        }
        return samples
    }

    private static func parseCInteger(_ token: Substring) -> Int64? {
        var t = token
        var negative = false
        if t.first == "-" || t.first == "+" { negative = t.first == "-"; t = t.dropFirst() }
        let value: Int64?
        if t.hasPrefix("0x") || t.hasPrefix("0X") { value = Int64(t.dropFirst(2), radix: 16) }
        else if t.count > 1, t.hasPrefix("0") { value = Int64(t.dropFirst(), radix: 8) }
        else { value = Int64(t) }
        return value.map { negative ? -$0 : $0 }
    }

    static func readTextFile(_ path: String) -> String? {
        #if canImport(Glibc)
        try? FileIO.readText(path: path)
        #else
        return nil
        #endif
    }

    // MARK: iproute2's generators (netem/*.c), reproduced with the same floating-point steps.

    static let tableSize = 16384
    static let tableFactor = 8192.0

    /// 4096 samples, as the installed .dist files hold.
    public static func generate(_ distribution: DelayDistribution) -> [Int16] {
        switch distribution {
        case .uniform: return []
        case .normal:
            let table = normalInverseTable()
            return stride(from: 0, to: tableSize, by: 4).map { clamp16(Int(rint(table[$0] * tableFactor))) }
        case .pareto:
            return stride(from: 65536, to: 0, by: -16).map { i in
                var d = Double(i) / 65536
                d = 1.0 / pow(d, 1.0 / 3.0)
                d -= 1.5
                d *= (4.0 / 3.0) * tableFactor
                if d > 32767 { d = 32767 }
                return Int16(rint(d))
            }
        case .paretonormal:
            let table = normalInverseTable()
            return stride(from: 0, to: tableSize, by: 4).map { i in
                let normal = Int(rint(table[i] * tableFactor))
                var d = Double(65536 - 4 * i) / 65536
                d = 1.0 / pow(d, 1.0 / 3.0)
                d -= 1.5
                d *= (4.0 / 3.0) * tableFactor
                if d > 32767 { d = 32767 }
                let pareto = Int(rint(d))
                return clamp16((normal + 3 * pareto) / 4)
            }
        }
    }

    /// table[i] = the last x in −10…10.05 (step .00005) with rint(16384 · Φ(x)) == i.
    private static func normalInverseTable() -> [Double] {
        var table = [Double](repeating: 0, count: tableSize + 1)
        var x = -10.0
        while x < 10.05 {
            let phi = 0.5 + 0.5 * erf(x / (2.0.squareRoot() * 1.0))
            let i = Int(rint(Double(tableSize) * phi))
            if i >= 0, i <= tableSize { table[i] = x }
            x += 0.00005
        }
        return table
    }

    private static func clamp16(_ v: Int) -> Int16 { Int16(max(Int(Int16.min), min(Int(Int16.max), v))) }
}
