import Foundation
import Glibc
import Runner
import Testing
import TestSupport

/// `faultline doctor` probes the real kernel. scripts/setup installs every tool it looks for, so
/// here each feature must be available — except netem where the kernel was built without it,
/// which must then be reported with the kernel's own words and a remedy, without failing.
@Suite("Doctor")
struct DoctorTests {
    /// Whether this kernel was built with sch_netem (CONFIG_NET_SCH_NETEM), read from its config.
    static var kernelHasNetem: Bool {
        let config = TestSupport.runCommand(["/bin/sh", "-c", "zcat /proc/config.gz 2>/dev/null | grep '^CONFIG_NET_SCH_NETEM='"])
        return config.output.contains("CONFIG_NET_SCH_NETEM=")
    }

    @Test("every feature is probed; netem follows the kernel's config, with its refusal message")
    func probes() throws {
        let report = Doctor.run()
        #expect(report.features.map(\.name) == Doctor.featureNames)
        for feature in report.features where feature.name != "netem" {
            #expect(feature.available, "\(feature.name): \(feature.detail)")
        }
        let netem = try #require(report.feature("netem"))
        if Self.kernelHasNetem {
            #expect(netem.available)
        } else {
            #expect(!netem.available)
            #expect(netem.detail == "RTM_NEWQDISC kind \"netem\": ENOENT, kernel says \"Specified qdisc kind is unknown\"")
            #expect(netem.remedy?.hasPrefix("Load sch_netem (modprobe sch_netem") == true)
            #expect(netem.hasFallback)
        }
        #expect(!report.blocking)
    }

    @Test("doctor --json has the documented shape and exits 0 when nothing without fallback is missing")
    func json() throws {
        let result = try Faultline.run(["doctor", "--json"], directory: "/tmp")
        #expect(result.status == 0, "\(result.error)")
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let features = try #require(object?["features"] as? [[String: Any]])
        #expect(features.compactMap { $0["name"] as? String } == Doctor.featureNames)
        for feature in features {
            #expect(feature["available"] is Bool)
            #expect(feature["detail"] is String)
            #expect(feature.keys.contains("remedy"))
        }
    }
}
