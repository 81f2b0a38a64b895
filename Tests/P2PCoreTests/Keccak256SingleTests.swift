import Testing
@testable import P2PCore

/// Single-stream keccak256: CKeccakAVX512's permutation (state in zmm registers) against
/// nettle's, byte for byte, one-shot and streaming, plus published vectors for both.
@Suite struct Keccak256SingleTests {
    static let empty = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    static let abc = "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"

    /// Lengths around the rate and its multiples, where block counting and padding break.
    static let edgeLengths: [Int] = [135, 136, 137, 271, 272, 273, 407, 408, 409, 543, 544, 545,
                                     679, 680, 681, 1087, 1088, 1089, 1223, 1224, 1225]

    /// Without AVX-512F both permutations are nettle and the comparisons pass vacuously.
    static var avx512: Bool { Keccak256.avx512Available }

    @Test func bothPermutationsGiveKnownVectors() throws {
        for p in [Keccak256.Permutation.nettle, .avx512] {
            #expect(Keccak256.hash([UInt8](), permutation: p).hexString == Self.empty, "\(p)")
            #expect(Keccak256.hash(Array("abc".utf8), permutation: p).hexString == Self.abc, "\(p)")
            #expect(Keccak256.hash(Array("The quick brown fox jumps over the lazy dog".utf8), permutation: p).hexString
                    == "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15", "\(p)")
            // 1462 bytes (ten full blocks and a tail), digest from the independent reference.
            let envelope = try TestData.bytes("real/unichain-sepolia-35535698.envelope-v4.ssz")
            #expect(Keccak256.hash(envelope, permutation: p).hexString
                    == "ccddb0b3086235d74c664e914ce9727aa48a485bdcf744deb5a8c7d46c9450c1", "\(p)")
            var k = Keccak256(permutation: p)
            k.update(Array("ab".utf8))
            k.update(Array("c".utf8))
            #expect(k.finalize().hexString == Self.abc, "\(p) streaming")
        }
    }

    @Test func preferredPermutationFollowsTheCPU() {
        #expect(Keccak256.preferredPermutation == (Self.avx512 ? .avx512 : .nettle))
        #expect(Keccak256().permutation == Keccak256.preferredPermutation)
        // Asking for AVX-512 without it falls back instead of trapping.
        #expect(Keccak256(permutation: .avx512).permutation == (Self.avx512 ? .avx512 : .nettle))
        #expect(Keccak256(permutation: .nettle).permutation == .nettle)
    }

    @Test func matchesNettleOnEveryLengthUpTo2000() {
        var rng = TestRNG(seed: 0x6b31)
        let data = rng.bytes(2000)
        var mismatches: [Int] = []
        for n in 0...2000 {
            let slice = data[..<n]
            if Keccak256.hash(slice, permutation: .avx512) != Keccak256.hash(slice, permutation: .nettle) {
                mismatches.append(n)
            }
        }
        #expect(mismatches.isEmpty, "lengths \(mismatches.prefix(10))")
    }

    @Test func matchesNettleOnEdgeLengthsAndUnalignedStarts() {
        var rng = TestRNG(seed: 0x6b32)
        let data = rng.bytes(136 * 9 + 16)
        for n in Self.edgeLengths {
            for offset in 0..<8 {  // loads from every 8-byte misalignment
                let slice = data[offset..<(offset + n)]
                #expect(Keccak256.hash(slice, permutation: .avx512) == Keccak256.hash(slice, permutation: .nettle),
                        "length \(n) offset \(offset)")
            }
        }
    }

    @Test func matchesNettleOn100KB() {
        var rng = TestRNG(seed: 0x6b33)
        for n in [100_000, 100_000 - 100_000 % 136, 131_072] {
            let block = rng.bytes(n)
            let expected = Keccak256.hash(block, permutation: .nettle)
            #expect(Keccak256.hash(block, permutation: .avx512) == expected, "\(n)")
            #expect(Keccak256.hash(block) == expected, "\(n) default")
        }
    }

    /// Streaming splits at random points (sizes from 0 to a few blocks, so a split lands
    /// before, on and after block boundaries) for both permutations, against one-shot nettle.
    @Test func streamingSplitsMatchOneShot() {
        var rng = TestRNG(seed: 0x6b34)
        for round in 0..<150 {
            let n = round < 50 ? Int(rng.next() % 600) : Int(rng.next() % 5000)
            let data = rng.bytes(n)
            let expected = Keccak256.hash(data, permutation: .nettle)
            for p in [Keccak256.Permutation.nettle, .avx512] {
                var k = Keccak256(permutation: p)
                var i = 0
                while i < data.count {
                    let step = min(data.count - i, Int(rng.next() % 420))  // 0 = an empty update
                    k.update(data[i..<(i + step)])
                    i += step
                }
                #expect(k.finalize() == expected, "round \(round) \(p)")
            }
        }
    }

    @Test func streamingWholeBlocksThenTail() {
        // Updates of exactly one block and of many blocks go straight to the permutation, with
        // and without a partly filled buffer in front.
        var rng = TestRNG(seed: 0x6b35)
        let data = rng.bytes(136 * 40 + 77)
        let expected = Keccak256.hash(data, permutation: .nettle)
        for p in [Keccak256.Permutation.nettle, .avx512] {
            for cuts in [[136, 136 * 20], [1, 136, 136 * 30], [135, 137, 136 * 10 + 5], [136 * 40, 77]] {
                var k = Keccak256(permutation: p)
                var i = 0
                for c in cuts + [data.count] where i < data.count {
                    let end = min(data.count, i + c)
                    k.update(data[i..<end])
                    i = end
                }
                k.update(data[i...])
                #expect(k.finalize() == expected, "\(p) \(cuts)")
            }
        }
    }

    @Test func partsAndNonContiguousCollections() {
        var rng = TestRNG(seed: 0x6b36)
        let parts = (0..<7).map { _ in rng.bytes(Int(rng.next() % 300)) }
        let joined = parts.flatMap { $0 }
        #expect(Keccak256.hash(parts: parts) == Keccak256.hash(joined, permutation: .nettle))
        // A collection without contiguous storage is copied once and hashed the same.
        let mapped = joined.lazy.map { $0 }
        #expect(Keccak256.hash(mapped) == Keccak256.hash(joined, permutation: .nettle))
    }
}
