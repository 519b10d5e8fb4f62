// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

/// A release build of the executables on Linux carries the Swift runtime and Foundation inside
/// it instead of loading them at start: a command starts ~20 ms sooner and peaks ~5 MiB lower
/// (docs/benchmarks.md). Only the executables' own targets use unsafe flags: a library target
/// with them could not be a versioned dependency of another package (a backend's, say). Their
/// module is compiled for it (its link entries then name Foundation's static libraries), the
/// libraries FoundationXML needs are named here (S3Client imports it, compiled as usual), and
/// lld links it in seconds without repeating the static Foundation's warning about `mktemp`.
/// Its relative relocations are packed (`DT_RELR`, glibc 2.36+): 130 000 of them took a 3 MB
/// table that every start read; 25 KB now (`swamp --version` peaks at 17 MiB, not 22).
let staticRelease = BuildSettingCondition.when(platforms: [.linux], configuration: .release)
let executable: [SwiftSetting] = strict + [.unsafeFlags(["-static-stdlib"], staticRelease)]
let selfContained: [LinkerSetting] = [
    .unsafeFlags(["-static-stdlib", "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], staticRelease),
    .linkedLibrary("_CFXMLInterface", staticRelease),
    .linkedLibrary("xml2", staticRelease),
]

let package = Package(
    name: "swamp",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swamp", targets: ["SwampCLI"]),
        .library(name: "SwampContracts", targets: ["SwampContracts"]),
        .library(name: "SwampSupport", targets: ["SwampSupport"]),
        .library(name: "SwampCore", targets: ["SwampCore"]),
        .library(name: "SwampTesting", targets: ["SwampTesting"]),
        .library(name: "S3Client", targets: ["S3Client"]),
        .library(name: "S3Datastore", targets: ["S3Datastore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // What a backend implements and what the orchestration calls: no files, HTTP or SQLite here.
        .target(name: "SwampContracts", swiftSettings: strict),
        // Plumbing every layer shares, without GRDB or Yams: atomic files, hashing, lock waiting,
        // bounded concurrency, the cache layout, crash points for tests.
        .target(
            name: "SwampSupport",
            dependencies: ["SwampContracts", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // Repository, catalog, locks, orchestration, filesystem datastore, configuration.
        .target(
            name: "SwampCore",
            dependencies: [
                "SwampContracts",
                "SwampSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        // An S3 client of our own: Signature V4, conditional requests, retries, accounting.
        .target(
            name: "S3Client",
            dependencies: [
                "SwampContracts",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The S3 datastore backend: partitioned index, dirty sidecar, conditional-write locks.
        .target(
            name: "S3Datastore",
            dependencies: [
                "SwampContracts", "SwampSupport", "S3Client", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Conformance suites and test doubles for backend authors.
        .target(name: "SwampTesting", dependencies: ["SwampContracts", "SwampSupport", "SwampCore"], swiftSettings: strict),
        // The command-line tool: parses, builds configuration, calls the libraries.
        .executableTarget(
            name: "SwampCLI",
            dependencies: [
                "SwampContracts",
                "SwampSupport",
                "SwampCore",
                "S3Datastore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: executable,
            linkerSettings: selfContained
        ),
        // Reproducible S3 sync benchmarks against a local S3-compatible server (scripts/bench.sh).
        .executableTarget(
            name: "SwampBench",
            dependencies: [
                "SwampContracts", "SwampSupport", "SwampCore", "S3Client", "S3Datastore", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: executable,
            linkerSettings: selfContained
        ),
        // Test infrastructure shared by the test targets: the scripts' servers, the fault proxy.
        .target(name: "SwampTestSupport", path: "Tests/SwampTestSupport", swiftSettings: strict),
        .testTarget(name: "SwampContractsTests", dependencies: ["SwampContracts"], swiftSettings: strict),
        .testTarget(name: "S3ClientTests", dependencies: ["S3Client"], swiftSettings: strict),
        .testTarget(
            name: "S3DatastoreTests",
            dependencies: ["S3Client", "S3Datastore", "SwampContracts", "SwampSupport", "SwampCore", "SwampTesting", "SwampTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SwampCoreTests",
            dependencies: ["SwampContracts", "SwampSupport", "SwampCore", "SwampTesting"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SwampCLITests",
            // Not SwampCLI: the tests run the built `swamp` (`swift build --build-tests` builds
            // it), and a test bundle that linked the executable's objects would also take its
            // linker settings (the static runtime) in a release build.
            dependencies: ["SwampContracts", "SwampSupport", "SwampCore", "SwampTesting", "S3Client", "S3Datastore", "SwampTestSupport"],
            swiftSettings: strict
        ),
    ]
)
