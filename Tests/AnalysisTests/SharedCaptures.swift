import Analysis
import Testing

/// The real captures in `<repo>/../shared/captures` and tshark 4.0.17's flags for them.
enum SharedCaptures {
    /// `<repo root>/../shared/captures`, from this file's path (Tests/AnalysisTests/...).
    static let directory: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // SharedCaptures.swift, AnalysisTests, Tests
        return parts.joined(separator: "/") + "/../shared/captures"
    }()

    /// (name used by flags/<name>.flags, path) for every capture, semantics/ included.
    static let all: [Capture] = {
        var found: [Capture] = []
        for (sub, prefix) in [("", ""), ("/semantics", "semantics__")] {
            for file in listDirectory(directory + sub).sorted()
            where file.hasSuffix(".pcap") || file.hasSuffix(".pcapng") || file.hasSuffix(".trace") {
                found.append(Capture(name: prefix + file, path: directory + sub + "/" + file))
            }
        }
        return found
    }()

    struct Capture: CustomTestStringConvertible, Sendable {
        var name: String
        var path: String
        var testDescription: String { name }
        var flagsPath: String { SharedCaptures.directory + "/flags/" + name + ".flags" }
    }

    /// Parses `frame,flag;flag` lines into frame → flags.
    static func parseFlagLines(_ text: String) -> [UInt64: AnalysisFlags] {
        var result: [UInt64: AnalysisFlags] = [:]
        for line in text.split(separator: "\n") where !line.isEmpty {
            let parts = line.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, let frame = UInt64(parts[0]) else { continue }
            var flags = AnalysisFlags()
            for name in parts[1].split(separator: ";") {
                if let flag = AnalysisFlags(name: String(name)) { flags.insert(flag) }
            }
            result[frame] = flags
        }
        return result
    }
}

#if canImport(Glibc)
import Glibc
#endif

func listDirectory(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

func readTextFile(_ path: String) -> String? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}
