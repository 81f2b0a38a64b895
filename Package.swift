// swift-tools-version:6.0
// p2pnode — the OP Stack rollup node's p2p layer in Swift, wire-compatible with op-node.
// Layout and dependency direction: docs/ARCHITECTURE.md.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

// KeccakSIMD: AVX-512F only (the narrowest flag that makes LLVM emit zmm vprolq/vpternlogq),
// and -O even in debug builds (unoptimised SIMD8 code is ~1000x slower and would stall the
// tests that hash blocks). The manifest is compiled for the host, so the flag is x86_64-only.
// P2PCore calls into it only after a runtime AVX-512F check.
#if arch(x86_64)
let keccakSIMDFlags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-mavx512f", "-O"])]
#else
let keccakSIMDFlags: [SwiftSetting] = [.unsafeFlags(["-O"])]
#endif

let package = Package(
    name: "p2pnode",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "p2pnode", targets: ["p2pnode"]),
        .executable(name: "p2pnode-bench", targets: ["p2pnode-bench"]),
        .library(name: "P2PCore", targets: ["P2PCore"]),
        .library(name: "Rollup", targets: ["Rollup"]),
        .library(name: "Gossip", targets: ["Gossip"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        // System libraries (Debian -dev packages; see scripts/setup).
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CSecp256k1", pkgConfig: "libsecp256k1", providers: [.apt(["libsecp256k1-dev"])]),
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CNettle", pkgConfig: "nettle", providers: [.apt(["nettle-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CMalloc"),  // glibc's <malloc.h> (mallopt), no package needed
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),

        // 8-way Keccak-f[1600] for batches of independent keccak256 hashes (transaction trie).
        // Called by P2PCore only after a runtime AVX-512F check (libsodium); no dependencies.
        .target(name: "KeccakSIMD", swiftSettings: strict + keccakSIMDFlags),

        // Single-stream Keccak-f[1600] with the state in five zmm registers (keccak256 of one
        // message, e.g. a block's signing hash). AVX-512F via target attributes on its functions;
        // P2PCore calls it only after a runtime AVX-512F check. -O2 even in debug builds: the
        // intrinsics at -O0 run 10x slower than nettle and would slow every test that hashes.
        .target(name: "CKeccakAVX512", cSettings: [.unsafeFlags(["-O2"])]),

        // Everything libp2p that is not pubsub: crypto, encodings, identity, multiaddr,
        // transport, multistream-select, Noise, yamux, host.
        .target(
            name: "P2PCore",
            dependencies: [
                "CSodium", "CSecp256k1", "CSnappy", "CNettle", "COpenSSL", "CMalloc", "KeccakSIMD", "CKeccakAVX512",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // OP Stack data: payloads, SSZ, JSON, RLP, trie, block hash, rollup config, signing, block store.
        .target(
            name: "Rollup",
            dependencies: ["P2PCore", "CSQLite", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Gossipsub router, wire format, and the OP block topics and validator.
        .target(
            name: "Gossip",
            dependencies: [
                "P2PCore", "Rollup",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // payload_by_number server and client.
        .target(
            name: "ReqResp",
            dependencies: ["P2PCore", "Rollup", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Engine API client and the unsafe-block driver.
        .target(
            name: "Driver",
            dependencies: ["P2PCore", "Rollup", "Gossip", "ReqResp", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "p2pnode",
            dependencies: [
                "P2PCore", "Rollup", "Gossip", "ReqResp", "Driver",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "p2pnode-interop-peer",
            dependencies: ["P2PCore", "Gossip", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "interop/swift-peer",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "p2pnode-bench",
            dependencies: ["P2PCore", "Rollup", "Gossip", "ReqResp", "KeccakSIMD"],
            path: "Benchmarks/p2pnode-bench",
            swiftSettings: strict
        ),

        .testTarget(name: "P2PCoreTests", dependencies: ["P2PCore"], exclude: ["Vectors"], swiftSettings: strict),
        .testTarget(name: "RollupTests", dependencies: ["Rollup", "P2PCore"], swiftSettings: strict),
        .testTarget(name: "GossipTests", dependencies: ["Gossip", "Rollup", "P2PCore"], swiftSettings: strict),
        .testTarget(name: "SimulationTests", dependencies: ["P2PCore", "Gossip", "Rollup", "ReqResp"], swiftSettings: strict),
        .testTarget(name: "ReqRespTests", dependencies: ["ReqResp", "Rollup", "P2PCore"], swiftSettings: strict),
        .testTarget(name: "DriverTests", dependencies: ["Driver", "Rollup", "P2PCore"], swiftSettings: strict),
        .testTarget(name: "CLITests", dependencies: ["P2PCore", "Rollup"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
