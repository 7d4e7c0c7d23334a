import Foundation
import Glibc
import Runner
import Testing
import TestSupport

/// `faultline doctor` probes the real kernel. scripts/setup installs every tool it looks for, so
/// here each feature must be available — except netem where the kernel lacks it (asked of the
/// kernel through iproute2, `KernelFeatures`), which must then be reported with the kernel's own
/// words and a remedy, without failing.
@Suite("Doctor")
struct DoctorTests {
    @Test("every feature is probed; netem as the kernel answers tc, with its refusal message where it is missing")
    func probes() throws {
        let report = Doctor.run()
        #expect(report.features.map(\.name) == Doctor.featureNames)
        for feature in report.features where feature.name != "netem" {
            #expect(feature.available, "\(feature.name): \(feature.detail)")
        }
        let netem = try #require(report.feature("netem"))
        if KernelFeatures.hasNetem {
            #expect(netem.available, "tc installs netem here, doctor says: \(netem.detail)")
            #expect(netem.detail == "kernel netem qdisc")
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
