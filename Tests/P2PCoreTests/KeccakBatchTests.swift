import Testing
@testable import P2PCore

/// `Keccak256.hash(_:ranges:)` (8-way AVX-512F when available) against nettle's single-stream hash.
@Suite struct KeccakBatchTests {
    /// The batch API on separate messages: concatenated, one range each, digests split again.
    static func batch(_ messages: [[UInt8]]) -> [[UInt8]] {
        var ranges: [Range<Int>] = []
        var offset = 0
        for m in messages {
            ranges.append(offset..<(offset + m.count))
            offset += m.count
        }
        let digests = Keccak256.hash(messages.flatMap { $0 }, ranges: ranges)
        return (0..<messages.count).map { Array(digests[(32 * $0)..<(32 * $0 + 32)]) }
    }

    /// Lengths around the 136-byte rate and its multiples, where padding and block counting break.
    static let edgeLengths = [0, 1, 31, 32, 33, 134, 135, 136, 137, 271, 272, 273, 408, 1088, 1089, 4999, 5000]

    @Test func matchesNettleOnEdgeLengths() {
        var rng = TestRNG(seed: 0x6b65_6363)
        let messages = Self.edgeLengths.map { rng.bytes($0) }
        #expect(Self.batch(messages) == messages.map { Keccak256.hash($0) })
        // Reversed: the lanes get the messages in a different order.
        #expect(Self.batch(messages.reversed()) == messages.reversed().map { Keccak256.hash($0) })
    }

    @Test func matchesNettleOnRandomMixedBatches() {
        var rng = TestRNG(seed: 42)
        for round in 0..<12 {
            // Batch sizes around the eight lanes, lengths 0…5000 (a third of them on the edges).
            let count = [0, 1, 2, 7, 8, 9, 15, 16, 17, 40, 3, 64][round]
            let messages = (0..<count).map { _ in
                rng.bytes(Int.random(in: 0..<3, using: &rng) == 0
                          ? Self.edgeLengths.randomElement(using: &rng) ?? 0
                          : Int.random(in: 0...5000, using: &rng))
            }
            let batch = Self.batch(messages)
            #expect(batch.count == messages.count)
            #expect(batch == messages.map { Keccak256.hash($0) }, "round \(round)")
        }
    }

    @Test func knownVectorsAndDuplicates() {
        let (empty, abc) = (Keccak256SingleTests.empty, Keccak256SingleTests.abc)
        let pattern = [false, true, false, true, true, false, true, false, true, true]
        let digests = Self.batch(pattern.map { $0 ? Array("abc".utf8) : [] })
        #expect(digests.map(\.hexString) == pattern.map { $0 ? abc : empty })
    }

    @Test func overlappingAndRepeatedRanges() {
        var rng = TestRNG(seed: 7)
        let bytes = rng.bytes(3000)
        let ranges = [0..<3000, 100..<237, 100..<237, 0..<0, 2999..<3000, 136..<272, 5..<2000, 3000..<3000, 1..<1089]
        let digests = Keccak256.hash(bytes, ranges: ranges)
        #expect(digests.count == 32 * ranges.count)
        for (i, r) in ranges.enumerated() {
            #expect(Array(digests[(32 * i)..<(32 * i + 32)]) == Keccak256.hash(bytes[r]), "range \(r)")
        }
        #expect(Keccak256.hash(bytes, ranges: []).isEmpty)
    }

    #if arch(x86_64)
    @Test func usesTheMultiBufferPathOnAVX512Machines() throws {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard cpuinfo.contains(" avx512f") else { return }
        #expect(Keccak256.avx512Available)
    }
    #endif
}
