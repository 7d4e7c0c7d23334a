// swift-tools-version:6.1
import PackageDescription

// Faultline's layers, bottom to top. C stays in the shim targets (C*), the rest is Swift.
let cSettings: [CSetting] = [.define("_GNU_SOURCE")]

let package = Package(
    name: "Faultline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "faultline", targets: ["faultline"]),
        .library(name: "Analysis", targets: ["Analysis"]),
        // For users' own test suites: load or build scenarios, run them, look at the findings.
        .library(name: "FaultlineTesting", targets: ["FaultlineTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // MARK: C shims
        .target(name: "CLinux", cSettings: cSettings),
        // Linked into the `faultline` executable only: its constructor enters a user namespace
        // before main when the user is not root (see entry.c).
        .target(name: "FaultlineEntry", dependencies: ["CLinux"], cSettings: cSettings),
        .systemLibrary(name: "CMnl", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        .systemLibrary(name: "CNetlinkRoute", pkgConfig: "libnl-route-3.0", providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]),
        .systemLibrary(name: "CNetfilterQueue", pkgConfig: "libnetfilter_queue", providers: [.apt(["libnetfilter-queue-dev"])]),
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "CNftables", pkgConfig: "libnftables", providers: [.apt(["libnftables-dev"])]),

        // MARK: layers
        // Foundation-free; CLinux (Linux only) gives errno names.
        .target(name: "Values", dependencies: [.target(name: "CLinux", condition: .when(platforms: [.linux]))]),
        .target(name: "Netlink", dependencies: ["Values", "CLinux", "CMnl", "CNetlinkRoute"]),
        .target(name: "Impairment", dependencies: ["Values", "Netlink", "CLinux", "CMnl", "CNetfilterQueue"]),
        .target(name: "Peers", dependencies: ["Values", "CLinux"]),
        .target(name: "Capture", dependencies: ["Values", "Netlink", "CLinux", "CPcap"]),
        .target(name: "Analysis", dependencies: ["Values"]),
        .target(name: "Report", dependencies: ["Values", "Analysis"]),
        .target(name: "Scenario", dependencies: ["Values", "Impairment", "Analysis", .product(name: "Yams", package: "Yams")]),
        .target(name: "Runner", dependencies: ["Values", "Scenario", "Netlink", "Impairment", "Peers", "Capture", "Analysis", "Report", "CLinux", "CNftables"]),
        .target(name: "FaultlineTesting", dependencies: ["Values", "Runner", "Scenario", "Impairment", "Analysis", "CLinux", "Netlink"]),
        .executableTarget(name: "faultline", dependencies: [
            "FaultlineEntry", "Values", "Runner", "Netlink", "Impairment", "Peers", "Capture", "Analysis", "Report", "Scenario",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // MARK: tests (one per layer, each test in fresh namespaces where it touches the kernel)
        .target(name: "TestSupport", dependencies: ["Values", "Netlink", "CLinux"], path: "Tests/TestSupport"),
        .testTarget(name: "NetlinkTests", dependencies: ["Values", "Netlink", "TestSupport"]),
        .testTarget(name: "ImpairmentTests", dependencies: ["Values", "Impairment", "Netlink", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PeersTests", dependencies: ["Values", "Peers", "Impairment", "Netlink", "TestSupport"]),
        .testTarget(name: "CaptureTests", dependencies: ["Values", "Capture", "Analysis", "Netlink", "TestSupport"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Values", "Analysis"], exclude: ["Fixtures"]),
        .testTarget(name: "ScenarioTests", dependencies: ["Values", "Scenario", "Analysis"], resources: [.copy("Malformed")]),
        .testTarget(name: "RunnerTests", dependencies: ["Values", "Runner", "Scenario", "Netlink", "Analysis", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
