// swift-tools-version:6.1
// calibd: an unattended nightly calibration pipeline for echelle spectrographs.
//
// The target graph is the block diagram: C libraries at the bottom, small
// libraries in the middle, thin executables on top.
//
//   CFITSIO ─► FITS ─► CalibCore ─┬─► CalibDB ─┬─► Pipeline ─┬─► Daemon (calibd)
//                      (frames,   ├─► Recipes ─┘             └─► ctl    (calibctl)
//                       config,   └─► Simulator (a simulated echelle night + truth) ─┘
//                       rules)
import PackageDescription

let swiftSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "calibd",
    products: [
        .executable(name: "calibd", targets: ["Daemon"]),
        .executable(name: "calibctl", targets: ["ctl"]),
        .executable(name: "calib-bench", targets: ["Bench"]),
        .executable(name: "calibd-fuzz", targets: ["Fuzz"]),
        .library(name: "CalibPipeline", targets: ["Pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // CSV export with proper quoting.
        .package(url: "https://github.com/yaslab/CSV.swift.git", from: "2.5.2"),
        // The night report's HTML templates.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        // Metrics in Prometheus's text format for node-exporter's textfile collector.
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The job queue on a server database, so several hosts can share one queue (#16).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // C libraries from Debian.
        .systemLibrary(
            name: "CFITSIO", path: "Sources/CFITSIO", pkgConfig: "cfitsio",
            providers: [.apt(["libcfitsio-dev"])]),

        // zlib: streaming gzip decompression (ingest checks a .fits.gz to its last byte without
        // holding it) and deflate/CRC-32 for the report's PNG thumbnails.
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        .systemLibrary(
            name: "CLAPACK", path: "Sources/CLAPACK", pkgConfig: "lapacke",
            providers: [.apt(["liblapacke-dev", "libopenblas-dev"])]),
        .systemLibrary(
            name: "CGSL", path: "Sources/CGSL", pkgConfig: "gsl",
            providers: [.apt(["libgsl-dev"])]),

        // FITS reading and writing over cfitsio: values in, values out.
        .target(name: "FITS", dependencies: ["CFITSIO", "CZlib"], swiftSettings: swiftSettings),

        // The frame model: configuration, instrument profiles, header rules,
        // observing nights, setups, images. Pure values, no I/O beyond YAML.
        .target(
            name: "CalibCore",
            dependencies: ["FITS", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings),

        // The calibration database (SQLite through GRDB).
        .target(
            name: "CalibDB",
            dependencies: ["CalibCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings),

        // The job queue on PostgreSQL (several hosts, one database): its own migrations,
        // claims with SKIP LOCKED, fenced completion. Synchronous facade over postgres-nio.
        .target(
            name: "CalibDBPostgres",
            dependencies: ["CalibCore", "CalibDB",
                           .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),

        // Numerical reductions over arrays. No files, no database.
        // Least squares through LAPACK; non-linear fits, splines and filters through GSL.
        .target(name: "Recipes", dependencies: ["CalibCore", "CLAPACK", "CGSL"], swiftSettings: swiftSettings),

        // The simulated echelle spectrograph and its truth.
        .target(
            name: "Simulator",
            dependencies: ["CalibCore", "FITS", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings),

        // The daemon's engine: watcher, ingest, scheduling, recipe execution.
        .target(
            name: "Pipeline",
            dependencies: [
                "FITS", "CalibCore", "CalibDB", "CalibDBPostgres", "Recipes", "CZlib",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "Daemon",
            dependencies: [
                "Pipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "ctl",
            dependencies: [
                "Pipeline", "Simulator", "CalibDB",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "CSV", package: "CSV.swift"),
            ],
            swiftSettings: swiftSettings),

        // Release-build benchmarks: `swift run -c release calib-bench`.
        .executableTarget(
            name: "Bench",
            dependencies: ["Pipeline", "Simulator", "Recipes", "FITS", "CalibCore", "CalibDB", "CalibDBPostgres",
                           .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources/Bench",
            swiftSettings: swiftSettings),

        // libFuzzer target for the header examination at ingest (validation, classification, night,
        // setup), the recipes' detector windows and the profile loader (scripts/fuzz.sh).
        .executableTarget(name: "Fuzz", dependencies: ["CalibCore", "FITS"], path: "Sources/Fuzz", swiftSettings: swiftSettings),

        .testTarget(name: "FITSTests", dependencies: ["FITS"], swiftSettings: swiftSettings),
        .testTarget(name: "CalibCoreTests", dependencies: ["CalibCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CalibDBTests", dependencies: ["CalibDB", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Fixtures"], swiftSettings: swiftSettings),
        // The JobQueue contract, run against SQLite and (when a server is found) PostgreSQL.
        .testTarget(
            name: "JobQueueContractTests", dependencies: ["CalibDB", "CalibDBPostgres", "CalibCore"],
            swiftSettings: swiftSettings),
        .testTarget(name: "RecipesTests", dependencies: ["Recipes", "Simulator"], swiftSettings: swiftSettings),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PipelineTests",
            dependencies: ["Pipeline", "Simulator", "FITS", "CalibDB", "Daemon", "ctl",
                           .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "CSV", package: "CSV.swift")],
            swiftSettings: swiftSettings),
    ]
)
