import Foundation
import P2PCore
#if arch(x86_64)
import KeccakSIMD
#endif

/// Crypto and compression throughput against the platform limits (BENCHMARKS.md §Primitives).
enum PrimitiveBenchmarks {
    struct Costs {
        var keccakNsPerByte = 0.0
        /// `Keccak256.hash(_:ranges:)` on trie-like batches (nettle's figure without AVX-512F).
        var keccakBatchNsPerByte = 0.0
        var sha256NsPerByte = 0.0
        var recoverNs = 0.0
        var snappyUncompressNsPerByte = 0.0
    }

    static func run() -> Costs {
        print("Primitives (single core, release):")
        var costs = Costs()
        var rng = SystemRandomNumberGenerator()
        let size = 1 << 20
        let mb = Double(size) / 1e6
        let data = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }

        let keccak = Bench.opsPerSecond { _ = Keccak256.hash(data) } * mb
        Bench.row("keccak256 (\(Keccak256.preferredPermutation)), 1 MiB", keccak, unit: "MB/s", limit: Limits.keccakMBs)
        costs.keccakNsPerByte = 1e3 / keccak
        keccakSingleStream(data)
        costs.keccakBatchNsPerByte = keccakBatch(costs.keccakNsPerByte)

        let sha = Bench.opsPerSecond { _ = SHA2.sha256(data) } * mb
        Bench.row("SHA-256 (swift-crypto), 1 MiB", sha, unit: "MB/s", limit: Limits.sha256MBs)
        costs.sha256NsPerByte = 1e3 / sha

        let key = secureRandomBytes(32)
        let chunk = Array(data.prefix(65535 - 16))
        let chunkMB = Double(chunk.count) / 1e6
        var out = [UInt8](repeating: 0, count: chunk.count + 16)
        let seal = Bench.opsPerSecond {
            chunk.withUnsafeBytes { p in out.withUnsafeMutableBytes { o in _ = ChaChaPoly.seal(key: key, nonce: 1, ad: [], plaintext: p, into: o) } }
        } * chunkMB
        Bench.row("ChaCha20-Poly1305 seal (\(ChaChaPoly.largeMessageLibrary)), 64 KiB", seal, unit: "MB/s", limit: Limits.chachaSealMBs)
        let sealed = ChaChaPoly.seal(key: key, nonce: 1, ad: [], plaintext: chunk)
        var work = sealed
        let open = Bench.opsPerSecond {
            work = sealed
            _ = try? work.withUnsafeMutableBytes { try ChaChaPoly.open(key: key, nonce: 1, ad: [], inPlace: $0) }
        } * chunkMB
        Bench.row("ChaCha20-Poly1305 open in place (\(ChaChaPoly.largeMessageLibrary)), 64 KiB", open, unit: "MB/s", limit: Limits.chachaOpenMBs)

        let dh = X25519KeyPair()
        let other = X25519KeyPair().publicKey
        let x = Bench.opsPerSecond(seconds: 0.5) { _ = try? dh.sharedSecret(with: other) }
        Bench.row("X25519 (libsodium)", x, unit: "ops/s", limit: Limits.x25519PerSec)

        let sk = Secp256k1PrivateKey()
        let hash = Keccak256.hash([1, 2, 3])
        let sig = (try? sk.signRecoverable(hash: hash)) ?? []
        let sign = Bench.opsPerSecond(seconds: 0.5) { _ = try? sk.signRecoverable(hash: hash) }
        Bench.row("secp256k1 sign (recoverable)", sign, unit: "ops/s", limit: Limits.secpSignPerSec)
        let recover = Bench.opsPerSecond(seconds: 0.5) { _ = try? Secp256k1.recover(hash: hash, signature: sig) }
        Bench.row("secp256k1 recover", recover, unit: "ops/s", limit: Limits.secpRecoverPerSec)
        costs.recoverNs = 1e9 / recover

        // A real block (the 60 KB Goerli payload in shared testdata, 62 transactions): snappy's
        // speed depends on the data, and random bytes would measure its incompressible fast path.
        let real = FileManager.default.contents(atPath: "../shared/testdata/real/goerli-l1-8651337-pre-shanghai.payload-v1.ssz")
        let block = real.map { [UInt8]($0) } ?? Array(data.prefix(100_000))
        let blockMB = Double(block.count) / 1e6
        let compressed = Snappy.compress(block)
        let comp = Bench.opsPerSecond { _ = Snappy.compress(block) } * blockMB
        Bench.row("snappy compress, real 60 KB block", comp, unit: "MB/s", limit: Limits.snappyCompressMBs)
        let uncomp = Bench.opsPerSecond { _ = try? Snappy.decompress(compressed, maxLength: 1 << 24) } * blockMB
        Bench.row("snappy uncompress, real 60 KB block", uncomp, unit: "MB/s", limit: Limits.snappyUncompressMBs)
        costs.snappyUncompressNsPerByte = 1e3 / uncomp
        let framed = SnappyFramed.encode(block)
        let framedRate = Bench.opsPerSecond { _ = try? SnappyFramed.decode(framed, maxOutput: 1 << 24) } * blockMB
        Bench.row("snappy framed decode (CRC-32C), same", framedRate, unit: "MB/s", limit: Limits.snappyUncompressMBs)
        return costs
    }

    /// One message at a time, per permutation: a block's signing hash (100 KB, one sponge) and
    /// the 32/64-byte hashes of trie nodes and addresses. The limit is nettle's figure.
    static func keccakSingleStream(_ data: [UInt8]) {
        let permutations: [Keccak256.Permutation] = Keccak256.avx512Available ? [.nettle, .avx512] : [.nettle]
        let block = Array(data.prefix(100_000))
        var nettleBlock = 0.0
        for p in permutations {
            let rate = Bench.opsPerSecond { _ = Keccak256.hash(block, permutation: p) } * Double(block.count) / 1e6
            if p == .nettle { nettleBlock = rate }
            Bench.row("keccak256 (\(p)), 100 KB", rate, unit: "MB/s", limit: nettleBlock)
        }
        for size in [32, 64] {
            let message = Array(data.prefix(size))
            var nettleSmall = 0.0
            for p in permutations {
                let rate = Bench.opsPerSecond(seconds: 0.5, batch: 1000) {
                    for _ in 0..<1000 { _ = Keccak256.hash(message, permutation: p) }
                }
                if p == .nettle { nettleSmall = rate }
                Bench.row("keccak256 (\(p)), \(size) B", rate, unit: "hash/s", limit: nettleSmall)
            }
        }
    }

    /// The multi-buffer row: ~100 KB in 40 messages of 1–4 KB, as a block's transaction-trie
    /// leaves. Its limit is the bare 8-way permutation measured here (8 × 136 bytes per call):
    /// what hashing could reach if absorbing, padding and lane refills cost nothing.
    static func keccakBatch(_ nettleNsPerByte: Double) -> Double {
        var rng = SplitMix64(seed: 0x6b62)
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        while bytes.count < 100_000 {
            let n = Int.random(in: 1_000...4_000, using: &rng)
            ranges.append(bytes.count..<(bytes.count + n))
            bytes += rng.bytes(n)
        }
        let batch = Bench.opsPerSecond { _ = Keccak256.hash(bytes, ranges: ranges) } * Double(bytes.count) / 1e6
        guard Keccak256.avx512Available else {
            Bench.row("keccak256 batch (no AVX-512F: nettle), 100 KB", batch, unit: "MB/s", limit: Limits.keccakMBs)
            return 1e3 / batch
        }
        #if arch(x86_64)
        // The state and one all-zero block, absorbed by all eight lanes.
        let state = UnsafeMutableRawPointer.allocate(byteCount: 25 * 64 + 136, alignment: 64)
        defer { state.deallocate() }
        state.initializeMemory(as: UInt8.self, repeating: 0, count: 25 * 64 + 136)
        let blocks = UnsafeMutablePointer<UnsafeRawPointer>.allocate(capacity: 8)
        defer { blocks.deallocate() }
        blocks.initialize(repeating: UnsafeRawPointer(state + 25 * 64), count: 8)
        let permute = Bench.opsPerSecond(batch: 100) {
            for _ in 0..<100 { keccakF1600x8(state, absorbing: blocks) }
        } * 8 * 136 / 1e6
        Bench.row("keccak256 ×8 (AVX-512F), 40 msgs / 100 KB", batch, unit: "MB/s", limit: permute,
                  limitNote: "(bare 8-way Keccak-f; nettle ×\(String(format: "%.1f", batch * nettleNsPerByte / 1e3)))")
        #endif
        return 1e3 / batch
    }
}
