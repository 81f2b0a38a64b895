import Dispatch
import Testing
import P2PCore
@testable import Gossip

/// The message-id function's decompressed bytes, handed to the validator (decompress once).
@Suite struct DecompressedBlockCacheTests {
    @Test func takeReturnsOnceAndMissesAfter() {
        let cache = DecompressedBlockCache(capacity: 4, maxBytes: 1000)
        cache.insert(id: [1], bytes: [1, 2, 3])
        #expect(cache.take(id: [1]) == [1, 2, 3])
        #expect(cache.take(id: [1]) == nil)
        #expect(cache.take(id: [2]) == nil)
        #expect(cache.usage.count == 0 && cache.usage.bytes == 0)
    }

    @Test func boundedByEntriesAndBytesOldestFirst() {
        let cache = DecompressedBlockCache(capacity: 3, maxBytes: 100)
        for i in 0..<5 { cache.insert(id: [UInt8(i)], bytes: [UInt8](repeating: UInt8(i), count: 10)) }
        #expect(cache.usage.count == 3 && cache.usage.bytes == 30)
        #expect(cache.take(id: [0]) == nil && cache.take(id: [1]) == nil)
        #expect(cache.take(id: [4]) == [UInt8](repeating: 4, count: 10))
        // Bytes: 60 + 50 > 100 evicts the oldest until it fits.
        cache.insert(id: [10], bytes: [UInt8](repeating: 0, count: 60))
        cache.insert(id: [11], bytes: [UInt8](repeating: 0, count: 50))
        #expect(cache.usage.bytes <= 100)
        #expect(cache.take(id: [10]) == nil)
        #expect(cache.take(id: [11])?.count == 50)
        // Larger than the whole budget: not kept. Re-inserting a key replaces it.
        cache.insert(id: [12], bytes: [UInt8](repeating: 0, count: 101))
        #expect(cache.take(id: [12]) == nil)
        cache.insert(id: [13], bytes: [1])
        cache.insert(id: [13], bytes: [1, 2])
        #expect(cache.usage.count <= 3 && cache.usage.bytes <= 100)
        #expect(cache.take(id: [13]) == [1, 2])
    }

    @Test func concurrentUseStaysBounded() {
        let cache = DecompressedBlockCache(capacity: 8, maxBytes: 4096)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            var rng = SplitMix64(seed: UInt64(t))
            for i in 0..<500 {
                let id = [UInt8(t), UInt8(i % 16)]
                if rng.chance(0.5) { cache.insert(id: id, bytes: rng.bytes(Int.random(in: 0...700, using: &rng))) } else { _ = cache.take(id: id) }
                let u = cache.usage
                #expect(u.count <= 8 && u.bytes <= 4096)
            }
        }
    }

    @Test func messageIdFunctionLeavesTheDecompressedBytes() throws {
        let cache = DecompressedBlockCache(capacity: 4, maxBytes: 1 << 20)
        let data = try GossipTestData.bytes("gossip/synthetic-chain10-v3.snappy.bin")
        let topic = BlockTopics(chainID: 10).topic(for: .v3)
        let id = OPMessageID.compute(topic: topic, data: data, cache: cache)
        #expect(id == OPMessageID.compute(topic: topic, data: data, decompressed: OPMessageID.decompress(data)))
        #expect(cache.take(id: id) == (try Snappy.decompress(data, maxLength: 1 << 20)))
        // Invalid snappy: an id, nothing cached.
        let bad: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0x0f]
        #expect(OPMessageID.compute(topic: topic, data: bad, cache: cache).count == 20)
        #expect(cache.usage.count == 0)
    }
}
