/// BlockStore: round trips of the real blocks, canonical-chain selection and fork switches, gap
/// fills, retention, restart, and the per-height and size bounds.
import Foundation
import P2PCore
import Testing
@testable import Rollup

@Suite struct BlockStoreTests {
    /// The real blocks as the SSZ the store keeps: the V4 one as its envelope (pbr ++ payload).
    static let realSSZ: [(file: String, version: PayloadVersion)] = [
        ("real/goerli-l1-8651337-pre-shanghai.payload-v1.ssz", .v1),
        ("real/goerli-l1-8656414-post-shanghai.payload-v2.ssz", .v2),
        ("real/unichain-sepolia-35535698.envelope-v4.ssz", .v4),
    ]

    @Test func realBlocksRoundTripByteIdenticalAfterReopen() throws {
        let dir = StoreFixtures.scratchDirectory()
        defer { StoreFixtures.remove(dir) }
        var hashes = [[UInt8]]()
        do {
            let store = try BlockStore(directory: dir)
            for (i, (file, version)) in Self.realSSZ.enumerated() {
                let ssz = try TestData.bytes(file)
                #expect(try store.put(ssz: ssz, version: version, receivedAt: 1000 + UInt64(i), source: .gossip) == .inserted)
                #expect(try store.put(ssz: ssz, version: version, receivedAt: 9, source: .reqresp) == .alreadyPresent)
                hashes.append(try ExecutionPayloadEnvelope(ssz: ssz, version: version).payload.blockHash)
            }
            // The same blocks from Engine-API JSON encode to the same bytes: already present.
            for (_, json, version) in TestData.realBlocks {
                let env = try ExecutionPayloadEnvelope(engineJSON: TestData.bytes(json))
                #expect(try store.put(env, version: version, receivedAt: 1, source: .import) == .alreadyPresent)
            }
            #expect(try store.count() == 3)
            store.close()
            #expect(throws: BlockStoreError.closed(path: store.path)) { try store.count() }
        }
        let store = try BlockStore(directory: dir)
        #expect(try store.count() == 3)
        #expect(try store.range() == 8_651_337...35_535_698)
        for (i, (file, version)) in Self.realSSZ.enumerated() {
            let ssz = try TestData.bytes(file)
            let stored = try #require(try store.get(hash: hashes[i]))
            #expect(stored.version == version)
            #expect(stored.source == .gossip)
            #expect(stored.receivedAt == 1000 + UInt64(i))
            #expect(stored.sszSize == ssz.count)
            #expect(try stored.sszBytes() == ssz)
            let env = try #require(try stored.envelope())
            #expect(env.checkBlockHash(version: version))
            #expect(env.payload.blockNumber == stored.number)
            #expect(env.payload.parentHash == stored.parentHash)
            #expect(env.payload.timestamp == stored.timestamp)
        }
        let head = try #require(try store.head())
        #expect(head.hash.prefixedHex == TestData.unichainBlockHash)
        #expect(head.isCanonical)
        let served = try #require(try store.sszBytes(number: 35_535_698))
        #expect(served.version == .v4)
        #expect(served.ssz == (try TestData.bytes("real/unichain-sepolia-35535698.envelope-v4.ssz")))
    }

    @Test func canonicalFollowsParentsFromTheHighestHeadAndSwitchesForks() throws {
        let dir = StoreFixtures.scratchDirectory()
        defer { StoreFixtures.remove(dir) }
        let store = try BlockStore(directory: dir)
        let a = StoreFixtures.chain(from: 0, to: 7)
        for b in a[0...5] { #expect(try store.put(b, version: .v4, receivedAt: 0, source: .gossip) == .inserted) }
        let aHashes = a.map(\.payload.blockHash)
        #expect(try store.canonicalHashes(0...5) == aHashes[0...5].map { $0 })
        #expect(try store.head()?.hash == aHashes[5])

        // Branch B off A2: B3, B4 are not canonical; B5 ties the head and loses (first stored wins).
        let b = StoreFixtures.chain(from: 3, to: 6, parent: aHashes[2], tag: 1)
        for blk in b[0...2] { try store.put(blk, version: .v4, receivedAt: 1, source: .gossip) }
        let at3 = try store.blocks(atNumber: 3)
        #expect(at3.map(\.hash) == [aHashes[3], b[0].payload.blockHash])
        #expect(at3.map(\.isCanonical) == [true, false])
        #expect(try store.head()?.hash == aHashes[5])
        #expect(try store.canonical(number: 5)?.hash == aHashes[5])

        // B6 is higher: the chain switches to B from 3 up; 0…2 stay A.
        try store.put(b[3], version: .v4, receivedAt: 2, source: .gossip)
        #expect(try store.head()?.hash == b[3].payload.blockHash)
        #expect(try store.canonicalHashes(0...6) == Array(aHashes[0...2]) + b.map(\.payload.blockHash))
        #expect(try store.get(hash: aHashes[4])?.isCanonical == false)
        #expect(try store.sszBytes(number: 4)?.ssz == (try b[1].sszEncoded(version: .v4)))

        // A6 ties B6 (B stays); A7 is higher: back to A everywhere.
        try store.put(a[6], version: .v4, receivedAt: 3, source: .gossip)
        #expect(try store.head()?.hash == b[3].payload.blockHash)
        try store.put(a[7], version: .v4, receivedAt: 4, source: .gossip)
        #expect(try store.canonicalHashes(0...7) == aHashes.map { $0 })
        #expect(try store.count() == 12)

        // The listing marks the canonical block at each height.
        let listed = try store.blocks(from: 3, limit: 100)
        #expect(listed.count == 9)
        #expect(listed.filter(\.isCanonical).map(\.hash) == Array(aHashes[3...7]))
        // The newest blocks at or below a number, oldest first.
        #expect(try store.blocks(through: 5, limit: 3).map(\.hash) == [b[1].payload.blockHash, aHashes[5], b[2].payload.blockHash])
        #expect(try store.blocks(through: .max, limit: 2).map(\.number) == [6, 7])
    }

    @Test func gapsFillDownwardsAndConflictsBelowAGapAreDropped() throws {
        let dir = StoreFixtures.scratchDirectory()
        defer { StoreFixtures.remove(dir) }
        let store = try BlockStore(directory: dir)
        let c = StoreFixtures.chain(from: 0, to: 10)
        let hashes = c.map(\.payload.blockHash)
        // Backwards, newest first, as the req-resp client delivers.
        for blk in c.reversed() { try store.put(blk, version: .v4, receivedAt: 0, source: .reqresp) }
        #expect(try store.canonicalHashes(0...10) == hashes.map { $0 })

        // Ascending with a hole at 5: both sides canonical, 5 joins when it arrives.
        let dir2 = StoreFixtures.scratchDirectory()
        defer { StoreFixtures.remove(dir2) }
        let s2 = try BlockStore(directory: dir2)
        for blk in c where blk.payload.blockNumber != 5 { try s2.put(blk, version: .v4, receivedAt: 0, source: .gossip) }
        #expect(try s2.canonical(number: 5) == nil)
        #expect(try s2.canonical(number: 4)?.hash == hashes[4])
        #expect(try s2.canonical(number: 6)?.hash == hashes[6])
        try s2.put(c[5], version: .v4, receivedAt: 0, source: .reqresp)
        #expect(try s2.canonicalHashes(0...10) == hashes.map { $0 })

        // A new head whose parent is missing drops the conflicting entry at the gap only; filling
        // the branch downwards replaces the old one until it joins.
        let b = StoreFixtures.chain(from: 4, to: 11, parent: hashes[3], tag: 9)
        try s2.put(b[7], version: .v4, receivedAt: 0, source: .gossip)  // B11; B10 missing
        #expect(try s2.canonical(number: 10) == nil)
        #expect(try s2.canonical(number: 9)?.hash == hashes[9])
        for blk in b[0...6].reversed() { try s2.put(blk, version: .v4, receivedAt: 0, source: .reqresp) }
        #expect(try s2.canonicalHashes(0...11) == Array(hashes[0...3]) + b.map(\.payload.blockHash))
    }

    @Test func retentionKeepsTheMostRecentBlocks() throws {
        let dir = StoreFixtures.scratchDirectory()
        defer { StoreFixtures.remove(dir) }
        let c = StoreFixtures.chain(from: 0, to: 19)
        do {
            let store = try BlockStore(directory: dir, retention: 5)
            for blk in c { try store.put(blk, version: .v4, receivedAt: 0, source: .gossip) }
            #expect(try store.count() == 5)
            #expect(try store.range() == 15...19)
            #expect(try store.canonical(number: 14) == nil)
            #expect(try store.canonicalHashes(15...19) == c[15...19].map { $0.payload.blockHash })
            let old = StoreFixtures.block(number: 3, parent: c[2].payload.blockHash, tag: 7)
            #expect(try store.put(old, version: .v4, receivedAt: 0, source: .gossip) == .belowRetention)
            #expect(try store.get(hash: old.payload.blockHash) == nil)
        }
        do {
            // Reopening with a smaller window prunes at once; a store without one keeps the rest.
            let store = try BlockStore(directory: dir, retention: 3)
            #expect(try store.range() == 17...19)
        }
        let store = try BlockStore(directory: dir)
        #expect(try store.prune(keepingFrom: 19) == 2)
        #expect(try store.count() == 1)
        #expect(try store.head()?.number == 19)
        #expect(throws: BlockStoreError.invalidRetention(0)) { try BlockStore(directory: dir, retention: 0) }
    }

    @Test func boundsAndHostileInputsGiveTypedErrors() throws {
        let dir = StoreFixtures.scratchDirectory()
        defer { StoreFixtures.remove(dir) }
        let store = try BlockStore(directory: dir)
        func expectInvalid(_ body: () throws -> Void) {
            do { try body(); Issue.record("expected invalidBlock") } catch let e as BlockStoreError {
                if case .invalidBlock = e {} else { Issue.record("unexpected \(e)") }
                #expect(!e.description.isEmpty)
            } catch { Issue.record("untyped \(error)") }
        }
        for v in PayloadVersion.allCases {
            expectInvalid { try store.put(ssz: [], version: v, receivedAt: 0, source: .gossip) }
            expectInvalid { try store.put(ssz: [UInt8](repeating: 0, count: v.sszFixedSize - 1), version: v, receivedAt: 0, source: .gossip) }
        }
        expectInvalid { try store.put(ssz: [UInt8](repeating: 0, count: BlockStore.maxBlockSize + 1), version: .v1, receivedAt: 0, source: .gossip) }
        var noRoot = StoreFixtures.block(number: 1, parent: [UInt8](repeating: 0, count: 32))
        noRoot.parentBeaconBlockRoot = nil
        expectInvalid { try store.put(noRoot, version: .v4, receivedAt: 0, source: .gossip) }
        var shortHash = StoreFixtures.block(number: 1, parent: [UInt8](repeating: 0, count: 32))
        shortHash.payload.blockHash = [1, 2, 3]
        expectInvalid { try store.put(shortHash, version: .v4, receivedAt: 0, source: .gossip) }
        let huge = StoreFixtures.block(number: UInt64(Int64.max) + 1, parent: [UInt8](repeating: 0, count: 32))
        expectInvalid { try store.put(huge, version: .v4, receivedAt: 0, source: .gossip) }
        #expect(try store.count() == 0)

        // Random bytes and mutations of a real block: stored only if they decode, never a trap.
        var rng = SplitMix64(seed: 0xB10C_5703)
        let valid = try TestData.bytes("real/unichain-sepolia-35535698.envelope-v4.ssz")
        var inserted = 0
        for i in 0..<200 {
            let input = i < 40 ? rng.bytes(Int.random(in: 0...700, using: &rng)) : rng.mutate(valid)
            let version = PayloadVersion.allCases[i % 4]
            do {
                if try store.put(ssz: input, version: version, receivedAt: 0, source: .gossip) == .inserted {
                    inserted += 1
                    let decoded = try ExecutionPayloadEnvelope(ssz: input, version: version)
                    #expect(try store.sszBytes(hash: decoded.payload.blockHash)?.ssz == input)
                }
            } catch let e as BlockStoreError {
                switch e {
                case .invalidBlock, .tooManyBlocksAtHeight: break
                default: Issue.record("unexpected \(e)")
                }
            }
        }
        #expect(try store.count() == inserted)

        // Lookups with nonsense keys and limits.
        #expect(try store.get(hash: []) == nil)
        #expect(try store.get(hash: [UInt8](repeating: 0xee, count: 33)) == nil)
        #expect(try store.blocks(from: .max, limit: 10).isEmpty)
        #expect(try store.blocks(from: 0, limit: -5).isEmpty)
        #expect(try store.blocks(from: 0, limit: .max).count == min(inserted, BlockStore.maxQueryLimit))
        #expect(try store.canonical(number: .max) == nil)
        #expect(try store.sszBytes(number: .max) == nil)
    }

    @Test func aHeightHoldsAtMostMaxBlocksPerHeight() throws {
        let dir = StoreFixtures.scratchDirectory()
        defer { StoreFixtures.remove(dir) }
        let store = try BlockStore(directory: dir)
        let parent = [UInt8](repeating: 0xaa, count: 32)
        for tag in 0..<BlockStore.maxBlocksPerHeight {
            try store.put(StoreFixtures.block(number: 7, parent: parent, tag: UInt8(tag)), version: .v4, receivedAt: 0, source: .gossip)
        }
        let extra = StoreFixtures.block(number: 7, parent: parent, tag: 0xff)
        #expect(throws: BlockStoreError.tooManyBlocksAtHeight(number: 7, limit: BlockStore.maxBlocksPerHeight)) {
            try store.put(extra, version: .v4, receivedAt: 0, source: .gossip)
        }
        let atHeight = try store.blocks(atNumber: 7)
        #expect(atHeight.count == BlockStore.maxBlocksPerHeight)
        #expect(atHeight.filter(\.isCanonical).count == 1)
        #expect(atHeight.first?.isCanonical == true)  // the first stored is the head
    }
}
