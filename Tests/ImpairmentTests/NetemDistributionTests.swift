import Impairment
import Testing

@Suite("netem distribution tables: tc's files, or generated the same way")
struct NetemDistributionTests {
    @Test("the installed .dist files are found and read like tc reads them",
          arguments: [DelayDistribution.normal, .pareto, .paretonormal])
    func installed(distribution: DelayDistribution) throws {
        let table = try #require(try DistributionTable.load(distribution))
        guard case .file(let path) = table.source else {
            Issue.record("no \(distribution).dist in \(DistributionTable.searchDirectories); iproute2's tables are expected on this machine")
            return
        }
        #expect(path.hasSuffix("/\(distribution.rawValue).dist"))
        #expect(table.samples.count == 4096)
        // The model's minimum factor (used by validation) is the table's minimum.
        let minimum = try #require(table.samples.min())
        #expect(Double(minimum) / 8192 == distribution.minimumFactor)
    }

    @Test("iproute2's generators reproduce the installed tables sample for sample",
          arguments: [DelayDistribution.normal, .pareto, .paretonormal])
    func generated(distribution: DelayDistribution) throws {
        let installed = try #require(try DistributionTable.load(distribution))
        let generated = DistributionTable.generate(distribution)
        #expect(generated.count == 4096)
        let differing = zip(generated, installed.samples).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(differing.isEmpty, "\(differing.count) samples differ, first at \(differing.first.map { "\($0.offset): \($0.element)" } ?? "")")
    }

    @Test("with no table directory, the table is generated and says so")
    func fallback() throws {
        let table = try #require(try DistributionTable.load(.normal, directories: ["/nonexistent-faultline-dir"]))
        #expect(table.source == .generated)
        #expect(table.samples == DistributionTable.generate(.normal))
        #expect(try DistributionTable.load(.uniform) == nil)  // netem needs no table for uniform
    }

    @Test("a malformed table names file and line")
    func malformed() throws {
        #expect(throws: KernelEngineError.distributionTableInvalid(path: "x.dist", line: 1, reason: "no samples")) {
            try DistributionTable.parse("# only a comment\n", path: "x.dist")
        }
        #expect(try DistributionTable.parse("# c\n 1 -2 0x10\n\n3 junk 4\n", path: "x.dist") == [1, -2, 16, 3])
    }
}
