// swift-tools-version:6.1
import PackageDescription

// A user's own package that tests a client (and a detector) with Faultline: it depends on
// Faultline by path and imports FaultlineTesting in its tests. `scripts/test` builds and runs it.
let package = Package(
    name: "ClientTests",
    dependencies: [
        .package(name: "Faultline", path: "../.."),
    ],
    targets: [
        .testTarget(name: "ClientTests", dependencies: [.product(name: "FaultlineTesting", package: "Faultline")]),
    ],
    swiftLanguageModes: [.v6]
)
