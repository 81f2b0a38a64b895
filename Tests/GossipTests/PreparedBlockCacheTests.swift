import Dispatch
import Foundation
import Testing
import P2PCore
import Rollup
@testable import Gossip

/// What the message-id function prepares for the validator (decompress once, payload hash on
/// another core) and the ids it remembers by content (duplicates skip both).
@Suite struct PreparedBlockCacheTests {
    private func block(_ bytes: [UInt8]) -> PreparedBlock { PreparedBlock(decompressed: bytes) }

    @Test func takeReturnsOnceAndMissesAfter() {
        let cache = PreparedBlockCache(capacity: 4, maxBytes: 1000)
        cache.insert(id: [1], block([1, 2, 3]))
        #expect(cache.take(id: [1])?.decompressed == [1, 2, 3])
        #expect(cache.take(id: [1]) == nil)
        #expect(cache.take(id: [2]) == nil)
        #expect(cache.usage.count == 0 && cache.usage.bytes == 0)
    }

    @Test func boundedByEntriesAndBytesOldestFirst() {
        let cache = PreparedBlockCache(capacity: 3, maxBytes: 100)
        for i in 0..<5 { cache.insert(id: [UInt8(i)], block([UInt8](repeating: UInt8(i), count: 10))) }
        #expect(cache.usage.count == 3 && cache.usage.bytes == 30)
        #expect(cache.take(id: [0]) == nil && cache.take(id: [1]) == nil)
        #expect(cache.take(id: [4])?.decompressed == [UInt8](repeating: 4, count: 10))
        // Bytes: 60 + 50 > 100 evicts the oldest until it fits.
        cache.insert(id: [10], block([UInt8](repeating: 0, count: 60)))
        cache.insert(id: [11], block([UInt8](repeating: 0, count: 50)))
        #expect(cache.usage.bytes <= 100)
        #expect(cache.take(id: [10]) == nil)
        #expect(cache.take(id: [11])?.decompressed.count == 50)
        // Larger than the whole budget: not kept. Re-inserting a key replaces it.
        cache.insert(id: [12], block([UInt8](repeating: 0, count: 101)))
        #expect(cache.take(id: [12]) == nil)
        cache.insert(id: [13], block([1]))
        cache.insert(id: [13], block([1, 2]))
        #expect(cache.usage.count <= 3 && cache.usage.bytes <= 100)
        #expect(cache.take(id: [13])?.decompressed == [1, 2])
    }

    @Test func concurrentUseStaysBounded() {
        let cache = PreparedBlockCache(capacity: 8, maxBytes: 4096)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            var rng = SplitMix64(seed: UInt64(t))
            for i in 0..<500 {
                let id = [UInt8(t), UInt8(i % 16)]
                let data = rng.bytes(Int.random(in: 0...700, using: &rng))
                switch i % 3 {
                case 0: cache.insert(id: id, block(data))
                case 1: _ = cache.take(id: id)
                default:
                    cache.remember(topic: "t", data: data, count: data.count, id: id)
                    #expect(data.withUnsafeBytes { cache.knownID(topic: "t", data: $0) } ?? id == id)
                }
                let u = cache.usage, r = cache.recentUsage
                #expect(u.count <= 8 && u.bytes <= 4096 && r.count <= 8 && r.bytes <= 4096)
            }
        }
    }

    @Test func messageIdFunctionPreparesTheBlock() throws {
        let cache = PreparedBlockCache(capacity: 4, maxBytes: 1 << 20)
        cache.speculation = true
        let data = try GossipTestData.bytes("gossip/synthetic-chain10-v3.snappy.bin")
        let topic = BlockTopics(chainID: 10).topic(for: .v3)
        let id = OPMessageID.compute(topic: topic, data: data, cache: cache)
        let raw = try Snappy.decompress(data, maxLength: 1 << 20)
        #expect(id == OPMessageID.compute(topic: topic, data: data, decompressed: raw))
        var prepared = try #require(cache.take(id: id))
        #expect(prepared.decompressed == raw)
        // The speculative hash is the payload hash of the signature check. (Other suites may hold
        // the process-wide slots for a moment: then nothing starts and we try again.)
        for _ in 0..<200 where prepared.payloadHash == nil {
            usleep(2000)
            let fresh = PreparedBlockCache(capacity: 4, maxBytes: 1 << 20)
            fresh.speculation = true
            prepared = try #require(fresh.take(id: OPMessageID.compute(topic: topic, data: data, cache: fresh)))
        }
        let hash = try #require(prepared.payloadHash).value()
        #expect(hash == BlockSigning.payloadHash(payloadBytes: raw[65...]))
        // Invalid snappy: an id, nothing prepared.
        let bad: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0x0f]
        #expect(OPMessageID.compute(topic: topic, data: bad, cache: cache).count == 20)
        #expect(cache.usage.count == 0)
        // Our own publishes: remembered, not prepared.
        let mine = Snappy.compress(raw + [1])
        let mineID = OPMessageID.compute(topic: topic, data: mine, cache: cache, forValidation: false)
        #expect(cache.take(id: mineID) == nil)
    }

    /// A copy with the same topic and bytes gets the remembered id without decompressing
    /// (nothing new prepared); any difference — even one byte between the fingerprinted
    /// head and tail, or the topic — is computed afresh and gets its own id.
    @Test func knownContentsSkipTheWorkAndNothingElseDoes() throws {
        let cache = PreparedBlockCache(capacity: 8, maxBytes: 1 << 20)
        let data = try GossipTestData.bytes("gossip/synthetic-chain10-v3.snappy.bin")
        let topics = BlockTopics(chainID: 10)
        let id = OPMessageID.compute(topic: topics.topic(for: .v3), data: data, cache: cache)
        _ = cache.take(id: id)
        #expect(OPMessageID.compute(topic: topics.topic(for: .v3), data: data, cache: cache) == id)
        #expect(cache.duplicateHits == 1)
        #expect(cache.take(id: id) == nil)  // the copy prepared nothing
        // Same head and tail, one byte flipped in the middle: not the same content.
        var mutated = data
        mutated[data.count / 2] ^= 1
        let other = OPMessageID.compute(topic: topics.topic(for: .v3), data: mutated, cache: cache)
        #expect(other != id && other == OPMessageID.compute(topic: topics.topic(for: .v3), data: mutated))
        // Same bytes on another topic: another id.
        #expect(OPMessageID.compute(topic: topics.topic(for: .v2), data: data, cache: cache) != id)
        #expect(cache.duplicateHits == 1)
        // Hostile: random data of many lengths never traps and always matches the plain computation.
        var rng = SplitMix64(seed: 0x6b6e_6f77)
        for _ in 0..<300 {
            mutated = rng.bytes(Int.random(in: 0...300, using: &rng))
            for _ in 0..<2 {
                #expect(OPMessageID.compute(topic: "x", data: mutated, cache: cache)
                        == OPMessageID.compute(topic: "x", data: mutated, decompressed: OPMessageID.decompress(mutated)))
            }
        }
    }

    /// Payload hashes start only on a free core, and a waiter never depends on a free worker.
    @Test func speculationNeedsAFreeCoreAndWaitersNeverStarve() throws {
        let cache = PreparedBlockCache(capacity: 64, maxBytes: 64 << 20)
        let payload = [UInt8](repeating: 7, count: 300_000)
        let expected = Keccak256.hash(payload[65...])
        // Off: nothing starts.
        #expect(cache.speculate(payload) == nil)
        cache.speculation = true
        #expect(cache.speculate([UInt8](repeating: 0, count: 65)) == nil)  // cannot be a block
        // Every core busy validating: nothing starts.
        for _ in 0..<ValidationCores.available { ValidationCores.enter() }
        #expect(cache.speculate(payload) == nil)
        for _ in 0..<ValidationCores.available { ValidationCores.leave() }
        // A core free (other suites may be validating for a moment: try again).
        var job = cache.speculate(payload)
        for _ in 0..<500 where job == nil {
            usleep(1000)
            job = cache.speculate(payload)
        }
        #expect(try #require(job).value() == expected)
        // A hash nobody started is computed by its first waiter.
        let idle = SpeculativeHash(bytes: payload, from: 65)
        #expect(!idle.isDone)
        #expect(idle.value() == expected && idle.isDone)
    }
}
