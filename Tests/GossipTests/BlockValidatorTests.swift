import Foundation
import Testing
import P2PCore
import Rollup
@testable import Gossip

/// op-node's block validator (spec §3) against the shared vectors.
@Suite struct BlockValidatorTests {
    let topics = BlockTopics(chainID: 10)

    func validator(jovian: Bool = false) throws -> BlockValidator {
        BlockValidator(config: BlockValidatorConfig(rollup: try GossipTestData.chain10(jovian: jovian),
                                                    signer: try [UInt8](hex: GossipTestData.signerAddressHex)))
    }

    /// The expected reason class of each of the 14 cases of validation-cases-chain10.json.
    static let expectedClass: [String: Set<String>] = [
        "v2_valid": [],
        "v2_duplicate": ["already_seen"],
        "v2_bad_block_hash": ["block_hash"],
        "v2_nonempty_withdrawals": ["withdrawals_not_empty"],
        "v2_wrong_signer": ["wrong_signer"],
        "v2_wrong_chain_id_in_signature": ["wrong_signer"],
        "v3_layout_on_v2_topic": ["ssz_decode"],
        "v3_nonzero_blob_gas_used_pre_jovian": ["blob_gas_used"],
        "v3_nonzero_excess_blob_gas": ["excess_blob_gas"],
        "v4_valid": [],
        "v3_layout_on_v4_topic": ["ssz_decode"],
        "too_short": ["too_small"],
        // ff ff ff ff 0f declares 2^32-1 bytes: Go's DecodedLen accepts it on 64-bit, the 10 MiB bound rejects.
        "invalid_snappy": ["snappy_length", "too_large", "snappy_decode"],
        "declared_len_over_10MiB": ["too_large"],
    ]

    @Test func allFourteenCasesInOrder() throws {
        let file = try GossipTestData.json("gossip/validation-cases-chain10.json")
        let cases = try #require(file["cases"] as? [[String: Any]])
        #expect(cases.count == 14)
        var validators: [PayloadVersion: BlockValidator] = [:]  // one per topic, fresh, fed in order
        for c in cases {
            let name = try #require(c["name"] as? String)
            let topic = try #require(c["topic"] as? String)
            let version = try #require(topics.version(of: topic), "\(name): unknown topic \(topic)")
            let data = try [UInt8](hex: try #require(c["data_snappy_block"] as? String))
            let expected = try #require((c["expected"] as? String)?.split(separator: " ").first.map(String.init))
            let now: UInt64 = 1_700_000_000 + 2 * UInt64(version.rawValue)
            var v = try validators[version] ?? validator()
            let result = v.validate(version: version, data: data, now: now)
            validators[version] = v
            let got: String
            switch result.outcome { case .accept: got = "ACCEPT"; case .ignore: got = "IGNORE"; case .reject: got = "REJECT" }
            #expect(got == expected, "\(name): \(result.rejection.map { "\($0)" } ?? "accepted")")
            let classes = try #require(Self.expectedClass[name], "unmapped case \(name)")
            if classes.isEmpty {
                #expect(result.rejection == nil, "\(name)")
            } else {
                #expect(classes.contains(result.rejection?.reasonClass ?? "none"), "\(name): got \(String(describing: result.rejection))")
            }
            // The op-node message id of every case.
            let mid = try #require(c["message_id_opnode"] as? String)
            #expect(OPMessageID.compute(topic: topic, data: data).prefixedHex == mid, "\(name)")
        }
    }

    @Test func blobGasUsedAcceptedOnceJovianIsActive() throws {
        let file = try GossipTestData.json("gossip/validation-cases-chain10.json")
        let cases = try #require(file["cases"] as? [[String: Any]])
        let c = try #require(cases.first { $0["name"] as? String == "v3_nonzero_blob_gas_used_pre_jovian" })
        let data = try [UInt8](hex: try #require(c["data_snappy_block"] as? String))
        var v = try validator(jovian: true)
        #expect(v.validate(version: .v3, data: data, now: 1_700_000_006).outcome == .accept)
    }

    @Test func signedVectorsAcceptWithMatchingIds() throws {
        for n in 1...4 {
            let vector = try GossipTestData.json("gossip/synthetic-chain10-v\(n).json")
            let data = try GossipTestData.bytes("gossip/synthetic-chain10-v\(n).snappy.bin")
            let topic = try #require(vector["topic"] as? String)
            let version = try #require(topics.version(of: topic))
            #expect(version.rawValue == n)
            var v = try validator()
            let r = v.validate(version: version, data: data, now: 1_700_000_000 + 2 * UInt64(n))
            #expect(r.outcome == .accept, "v\(n): \(String(describing: r.rejection))")
            #expect(r.envelope?.payload.blockHash.prefixedHex == vector["computed_block_hash"] as? String)
            #expect(r.signer?.hexString == GossipTestData.signerAddressHex)
            let mid = OPMessageID.compute(topic: topic, data: data)
            #expect(mid.prefixedHex == vector["message_id_opnode (sha256(0x01000000 ++ u64le(len(topic)) ++ topic ++ uncompressed)[:20])"] as? String)
            // The id does not depend on the snappy encoder: our own compression of the same bytes gives it too.
            let raw = try Snappy.decompress(data, maxLength: 1 << 20)
            #expect(OPMessageID.compute(topic: topic, data: Snappy.compress(raw)) == mid)
        }
    }

    @Test func realUnichainBlockSignedWithTestKey() throws {
        let vector = try GossipTestData.json("gossip/unichain-sepolia-35535698.v4.signed-test-key.json")
        let compressed = try [UInt8](hex: try #require(vector["snappy_block_compressed (one valid encoding; encoders may differ)"] as? String))
        let config = RollupConfig.forTesting(chainID: 1301)
        var v = BlockValidator(config: BlockValidatorConfig(rollup: config, signer: try [UInt8](hex: GossipTestData.signerAddressHex)))
        let r = v.validate(version: .v4, data: compressed, now: 1_762_388_126)
        #expect(r.outcome == .accept, "\(String(describing: r.rejection))")
        #expect(r.envelope?.payload.blockNumber == 35_535_698)
        let topic = BlockTopics(chainID: 1301).topic(for: .v4)
        #expect(OPMessageID.compute(topic: topic, data: compressed).prefixedHex == vector["message_id_opnode (sha256(0x01000000 ++ u64le(len(topic)) ++ topic ++ uncompressed)[:20])"] as? String)
        // The same block signed for another chain id is refused.
        var other = BlockValidator(config: BlockValidatorConfig(rollup: RollupConfig.forTesting(chainID: 130),
                                                                signer: try [UInt8](hex: GossipTestData.signerAddressHex)))
        #expect(other.validate(version: .v4, data: compressed, now: 1_762_388_126).rejection?.reasonClass == "wrong_signer")
    }

    @Test func messageIdOfInvalidSnappy() throws {
        let f = try GossipTestData.json("gossip/message-id-invalid-snappy.json")
        let data = try [UInt8](hex: try #require(f["invalid_snappy_data"] as? String))
        let topic = try #require(f["topic"] as? String)
        #expect(OPMessageID.compute(topic: topic, data: data).prefixedHex == f["message_id_opnode"] as? String)
        #expect(OPMessageID.compute(topic: topic, data: data).prefixedHex != f["message_id_spec_text_without_topic"] as? String)
    }

    @Test func timestampWindowEdges() throws {
        let data = try GossipTestData.bytes("gossip/synthetic-chain10-v4.snappy.bin")
        let ts: UInt64 = 1_700_000_008
        func outcome(now: UInt64, threshold: UInt64 = 60) throws -> String {
            var v = try validator()
            v.config.pastThreshold = threshold
            let r = v.validate(version: .v4, data: data, now: now)
            return r.rejection?.reasonClass ?? "accept"
        }
        #expect(try outcome(now: ts - 5) == "accept")
        #expect(try outcome(now: ts - 6) == "timestamp_too_new")
        #expect(try outcome(now: ts + 60) == "accept")
        #expect(try outcome(now: ts + 61) == "timestamp_too_old")
        #expect(try outcome(now: ts + 100, threshold: 120) == "accept")
        // op-node subtracts unsigned: a clock below the threshold wraps and rejects everything as old.
        #expect(try outcome(now: 10) == "timestamp_too_old")
    }

    @Test func noSignerConfiguredIgnoresBeforeRecovery() throws {
        var v = BlockValidator(config: BlockValidatorConfig(rollup: try GossipTestData.chain10(), signer: [UInt8](repeating: 0, count: 20)))
        let data = try GossipTestData.bytes("gossip/synthetic-chain10-v1.snappy.bin")
        let r = v.validate(version: .v1, data: data, now: 1_700_000_002)
        #expect(r.outcome == .ignore)
        #expect(r.rejection == .noSignerConfigured)
        #expect(r.signer == nil)
    }

    @Test func sixDistinctBlocksPerHeightThenReject() throws {
        let vector = try GossipTestData.json("gossip/synthetic-chain10-v4.json")
        let payloadJSON = try #require(vector["payload_json"])
        let pbr = try [UInt8](hex: try #require(vector["parent_beacon_block_root"] as? String))
        let base = try ExecutionPayload(jsonObject: payloadJSON)
        let key = try Secp256k1PrivateKey(bytes: try [UInt8](hex: GossipTestData.signerKeyHex))
        var messages: [[UInt8]] = []
        for i in 0..<8 {
            var p = base
            p.extraData = [UInt8(i)]
            var env = ExecutionPayloadEnvelope(payload: p, parentBeaconBlockRoot: pbr)
            env.payload.blockHash = env.computeBlockHash(version: .v4)
            messages.append(try GossipFactory.message(env, version: .v4, chainID: 10, key: key))
        }
        var v = try validator()
        let now = base.timestamp
        for i in 0..<6 { #expect(v.validate(version: .v4, data: messages[i], now: now).outcome == .accept, "block \(i)") }
        #expect(v.validate(version: .v4, data: messages[6], now: now).rejection?.reasonClass == "too_many_blocks_at_height")
        // Even a re-delivery of an accepted hash is now rejected, not ignored (spec §0.1 item 9).
        #expect(v.validate(version: .v4, data: messages[0], now: now).rejection?.reasonClass == "too_many_blocks_at_height")
        #expect(v.seen.hashes(at: base.blockNumber).count == 6)
    }

    /// For id computations whose decompressed bytes no validator will take (keeps the shared
    /// cache of concurrently running gossip tests undisturbed).
    static let keepNothing = PreparedBlockCache(capacity: 1, maxBytes: 0)

    @Test func hostileMessagesNeverTrap() throws {
        var rng = SystemRandomNumberGenerator()
        let valid = try GossipTestData.bytes("gossip/synthetic-chain10-v3.snappy.bin")
        var v = try validator()
        var rejected = 0
        for i in 0..<2000 {
            var m = valid
            switch i % 4 {
            case 0: m = (0..<Int.random(in: 0..<600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1: m[Int.random(in: 0..<m.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            case 2: m = Array(m.prefix(Int.random(in: 0..<m.count, using: &rng)))
            default:
                // Valid snappy around mutated plaintext: exercises the signature and SSZ paths.
                var raw = try Snappy.decompress(valid, maxLength: 1 << 20)
                raw[Int.random(in: 0..<raw.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                m = Snappy.compress(raw)
            }
            let r = v.validate(version: .v3, data: m, now: 1_700_000_006)
            if r.outcome == .reject { rejected += 1 }
            _ = OPMessageID.compute(topic: topics.topic(for: .v3), data: m, cache: Self.keepNothing)
        }
        #expect(rejected > 1500)
    }

    /// `overlapHashing` and the prepared payload hash only move work to a second core: every message gets the same outcome,
    /// reason, signer and envelope as with serial checks, whichever check decides.
    @Test func overlappedHashingDecidesLikeSerialChecks() throws {
        let file = try GossipTestData.json("gossip/validation-cases-chain10.json")
        let cases = try #require(file["cases"] as? [[String: Any]])
        var messages: [(PayloadVersion, [UInt8], UInt64)] = []
        for c in cases {
            let topic = try #require(c["topic"] as? String)
            let hex = try #require(c["data_snappy_block"] as? String)
            let version = try #require(topics.version(of: topic))
            messages.append((version, try [UInt8](hex: hex), 1_700_000_000 + 2 * UInt64(version.rawValue)))
        }
        // Mutations of a valid V3 block hit every later check (signature, SSZ, timestamps at
        // several `now`, block hash), alone or together.
        var rng = SplitMix64(seed: 0x6f76_6c70)
        let raw = try Snappy.decompress(try GossipTestData.bytes("gossip/synthetic-chain10-v3.snappy.bin"), maxLength: 1 << 20)
        for _ in 0..<60 {
            var m = raw
            for _ in 0..<Int.random(in: 1...2, using: &rng) {
                // Half the flips in the signature, half in the payload.
                let i = rng.chance(0.5) ? Int.random(in: 0..<65, using: &rng) : Int.random(in: 65..<m.count, using: &rng)
                m[i] ^= UInt8.random(in: 1...255, using: &rng)
            }
            let now = [1_700_000_006, 1_700_000_100, 1_600_000_000].randomElement(using: &rng) ?? 0
            messages.append((.v3, Snappy.compress(rng.chance(0.2) ? raw : m), UInt64(now)))
        }
        let chain = try GossipTestData.chain10()
        let signer = try [UInt8](hex: GossipTestData.signerAddressHex)
        let serial = BlockValidator(config: BlockValidatorConfig(rollup: chain, signer: signer))
        let overlapped = BlockValidator(config: BlockValidatorConfig(rollup: chain, signer: signer, overlapHashing: true))
        // And with what the message-id function prepared: the payload hash started on another core.
        let prepared = PreparedBlockCache()
        prepared.speculation = true
        var classes = Set<String>()
        for (i, (version, data, now)) in messages.enumerated() {
            let a = serial.check(version: version, data: data, now: now)
            let b = overlapped.check(version: version, data: data, now: now)
            #expect(a.outcome == b.outcome && a.rejection == b.rejection && a.signer == b.signer, "message \(i)")
            #expect(a.envelope?.payload.blockHash == b.envelope?.payload.blockHash, "message \(i)")
            let id = OPMessageID.compute(topic: topics.topic(for: version), data: data, cache: prepared)
            let c = serial.check(version: version, data: data, now: now, prepared: prepared.take(id: id))
            #expect(a.outcome == c.outcome && a.rejection == c.rejection && a.signer == c.signer, "message \(i), prepared")
            #expect(a.envelope?.payload.blockHash == c.envelope?.payload.blockHash, "message \(i), prepared")
            classes.insert(a.rejection?.reasonClass ?? "accept")
        }
        // The mutations reached the checks the overlap reorders.
        #expect(classes.isSuperset(of: ["accept", "bad_signature", "wrong_signer", "block_hash", "timestamp_too_old"]), "\(classes)")
    }

    @Test func topicsAndPublishVersion() throws {
        #expect(topics.all == ["/optimism/10/0/blocks", "/optimism/10/1/blocks", "/optimism/10/2/blocks", "/optimism/10/3/blocks"])
        #expect(topics.version(of: "/optimism/10/3/blocks") == .v4)
        #expect(topics.version(of: "/optimism/11/3/blocks") == nil)
        #expect(topics.version(of: "/optimism/10/4/blocks") == nil)
        let zero = [UInt8](repeating: 0, count: 32)
        let cfg = try RollupConfig(chainID: 10, genesis: .init(l1: .init(hash: zero, number: 0), l2: .init(hash: zero, number: 0), l2Time: 1),
                                   blockTime: 2, forkTimes: [.regolith: 1, .canyon: 100, .delta: 100, .ecotone: 200, .fjord: 200,
                                                             .granite: 200, .holocene: 200, .isthmus: 300])
        #expect(topics.publishTopic(timestamp: 99, config: cfg) == "/optimism/10/0/blocks")
        #expect(topics.publishTopic(timestamp: 100, config: cfg) == "/optimism/10/1/blocks")
        #expect(topics.publishTopic(timestamp: 250, config: cfg) == "/optimism/10/2/blocks")
        #expect(topics.publishTopic(timestamp: 300, config: cfg) == "/optimism/10/3/blocks")
    }
}
