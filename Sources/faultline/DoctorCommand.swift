import ArgumentParser
import Foundation
import Netlink
import Runner

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check which kernel features Faultline can use here, and what to do about missing ones.",
        discussion: """
        Every probe runs in throwaway network namespaces; nothing in the root namespace changes.
        Probed: netns, veth, netem, tbf, nfqueue (iptables NFQUEUE + nfnetlink_queue), nftables
        (reject with tcp reset), af_packet, userns, tshark; then what this user can do: user (root,
        rootless in a user namespace, or why neither), labs (what `run` and `lab` build: a named
        namespace, flows kept in order), realtime (SCHED_FIFO) and cpu_wakeup
        (/dev/cpu_dma_latency), which need real root and only sharpen the engine's delays, and
        nfqueue_payload (the kernel applies packets the userspace engine changed; refused in a
        user namespace by recent kernels, where the engine sends changed copies itself).

        A missing feature with a fallback is reported but does not fail: without netem, for
        example, Faultline applies impairments with its userspace engine.

        Exit status: 0 everything Faultline needs is here; 3 a feature without fallback is missing.

        Examples:
          faultline doctor
          faultline doctor --json | jq '.features[] | select(.available == false)'
        """)

    @Flag(help: "Print {\"features\":[{\"name\",\"available\",\"detail\",\"remedy\"}...]}.")
    var json = false

    func run() throws {
        let report = Doctor.run()
        if json {
            let features: [[String: Any]] = report.features.map { feature in
                var entry: [String: Any] = ["name": feature.name, "available": feature.available, "detail": feature.detail]
                entry["remedy"] = feature.remedy ?? NSNull()
                return entry
            }
            let data = try JSONSerialization.data(withJSONObject: ["features": features], options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("faultline doctor — \(kernelRelease()), \(Rootless.entryDescription), probed in throwaway namespaces")
            let width = report.features.map(\.name.count).max() ?? 10
            for feature in report.features {
                let status = feature.available ? "ok     " : (feature.hasFallback ? "missing" : "MISSING")
                print("  \(status)  \(feature.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(feature.detail)")
                if !feature.available, let remedy = feature.remedy {
                    print(String(repeating: " ", count: 13 + width) + "→ \(remedy)")
                }
            }
            if report.blocking {
                print("Faultline cannot run here: a feature without fallback is missing (above).")
            }
        }
        if report.blocking { throw ExitCode(3) }
    }

    private func kernelRelease() -> String {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "Linux \(release)"
    }
}
