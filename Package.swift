// swift-tools-version:6.0
import PackageDescription

// Targets follow the project's layering: CURing (C over liburing) <- Reactor (rings, threads,
// queues; no Redis knowledge) <- Redis (RESP, keyspace, commands) <- swift-redis (thin main).
let strict: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "swift-redis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swift-redis", targets: ["swift-redis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .target(
            name: "CURing",
            linkerSettings: [.linkedLibrary("uring")]
        ),
        // Debian's Lua 5.1 (liblua5.1-0-dev, lua-cjson-dev, lua-bitop-dev) for scripting.
        .systemLibrary(
            name: "CLua",
            pkgConfig: "lua5.1",
            providers: [.apt(["liblua5.1-0-dev", "lua-cjson-dev", "lua-bitop-dev"])]
        ),
        .target(
            name: "Reactor",
            dependencies: ["CURing", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "Redis",
            dependencies: ["Reactor", "CLua", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "swift-redis",
            dependencies: [
                "Redis", "Reactor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "keyspace-bench",
            dependencies: ["Redis", "Reactor", .product(name: "Logging", package: "swift-log")],
            path: "Bench/KeyspaceBench",
            swiftSettings: strict
        ),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor"], swiftSettings: strict),
        .testTarget(name: "RedisTests", dependencies: ["Redis", "Reactor"], swiftSettings: strict),
    ]
)
