/// rollup.json parsing, validation, fork queries, payload versions and the §5.1 block-time math.
import Foundation
import P2PCore
import Testing
@testable import Rollup

@Suite struct RollupConfigTests {
    /// op-node's rollup.json for Unichain Sepolia as `op-node --network` would print it, with
    /// extra fields the parser must ignore. Fork times from the Sepolia superchain schedule.
    static let unichainSepoliaJSON = """
    {
      "genesis": {
        "l1": {"hash": "0x81719966c43c08d616a832331500633db68006f5e8c0b575a6faf1704ad350c0", "number": 6728364},
        "l2": {"hash": "0xb7fe0bc9f98ca03294ca0094ff9374cc3e64130b6ec85850d6e260191f48bfe7", "number": 0},
        "l2_time": 1726852428,
        "system_config": {"batcherAddr": "0x4ab3387810ef500bfe05a49dc53a44c222cbab3e", "overhead": "0x00",
                          "scalar": "0x01", "gasLimit": 30000000, "eip1559Params": "0x0000000000000000"}
      },
      "block_time": 1, "max_sequencer_drift": 600, "seq_window_size": 3600, "channel_timeout": 300,
      "l1_chain_id": 11155111, "l2_chain_id": 1301,
      "regolith_time": 0, "canyon_time": 0, "delta_time": 0, "ecotone_time": 0, "fjord_time": 0, "granite_time": 0,
      "holocene_time": 1734559200, "pectra_blob_schedule_time": 1742486400, "isthmus_time": 1744905600,
      "jovian_time": 1763568001, "interop_time": null,
      "batch_inbox_address": "0xff00000000000000000000000000000000001301",
      "deposit_contract_address": "0x0d83dab629f0e0f9d36c0cbc89b69a489f0751bd",
      "l1_system_config_address": "0xaee94b9ab7752d3f7704bde212c0c6a0b701571d",
      "protocol_versions_address": "0x0000000000000000000000000000000000000000",
      "chain_op_config": {"eip1559Elasticity": 6, "eip1559Denominator": 50, "eip1559DenominatorCanyon": 250},
      "alt_da": null
    }
    """

    static func parse(_ text: String) throws(RollupConfigError) -> RollupConfig {
        try RollupConfig(json: Array(text.utf8))
    }

    /// The document with one top-level or genesis field replaced (nil removes it).
    static func variant(_ key: String, _ value: Any?, inGenesis: Bool = false) throws -> [UInt8] {
        var doc = try #require(try JSONSerialization.jsonObject(with: Data(unichainSepoliaJSON.utf8)) as? [String: Any])
        if inGenesis {
            var g = try #require(doc["genesis"] as? [String: Any])
            g[key] = value
            doc["genesis"] = g
        } else {
            doc[key] = value
        }
        return [UInt8](try JSONSerialization.data(withJSONObject: doc))
    }

    @Test func parsesOpNodeRollupJSON() throws {
        let c = try Self.parse(Self.unichainSepoliaJSON)
        #expect(c.chainID == 1301)
        #expect(c.l1ChainID == 11_155_111)
        #expect(c.blockTime == 1)
        #expect(c.genesis.l2Time == 1_726_852_428)
        #expect(c.genesis.l1.number == 6_728_364)
        #expect(c.genesis.l2.hash.prefixedHex == "0xb7fe0bc9f98ca03294ca0094ff9374cc3e64130b6ec85850d6e260191f48bfe7")
        #expect(c.forkTimes[.isthmus] == 1_744_905_600)
        #expect(c.forkTimes[.jovian] == 1_763_568_001)
        #expect(c.forkTimes.count == 9)
    }

    @Test func forkQueriesAndPayloadVersions() throws {
        let c = try Self.parse(Self.unichainSepoliaJSON)
        // The real Unichain Sepolia block in the test data is Isthmus, pre-Jovian.
        let ts: UInt64 = 1_762_388_126
        #expect(c.payloadVersion(at: ts) == .v4)
        #expect(c.fork(at: ts) == .isthmus)
        #expect(!c.isActive(.jovian, at: ts))
        #expect(c.isActive(.jovian, at: 1_763_568_001))
        #expect(!c.isActive(.jovian, at: 1_763_568_000))
        #expect(c.fork(at: 1_763_568_001) == .jovian)
        #expect(c.payloadVersion(at: 1_744_905_599) == .v3)
        #expect(c.fork(at: 1_744_905_599) == .holocene)
        #expect(c.isActive(.bedrock, at: 0))

        var times: [Fork: UInt64] = [.regolith: 0, .canyon: 100, .delta: 150, .ecotone: 200]
        let g = RollupConfig.Genesis(l1: .init(hash: [UInt8](repeating: 0, count: 32), number: 0),
                                     l2: .init(hash: [UInt8](repeating: 0, count: 32), number: 0), l2Time: 1)
        var custom = try RollupConfig(chainID: 5, genesis: g, blockTime: 2, forkTimes: times)
        #expect(custom.payloadVersion(at: 99) == .v1)
        #expect(custom.payloadVersion(at: 100) == .v2)
        #expect(custom.payloadVersion(at: 199) == .v2)
        #expect(custom.payloadVersion(at: 200) == .v3)
        #expect(custom.fork(at: 50) == .regolith)
        #expect(!custom.isActive(.isthmus, at: .max))
        times[.bedrock] = 12345  // ignored
        custom = try RollupConfig(chainID: 5, genesis: g, blockTime: 2, forkTimes: times)
        #expect(custom.forkTimes[.bedrock] == nil)
    }

    @Test func forTestingActivatesThroughIsthmusOnly() {
        let c = RollupConfig.forTesting(chainID: 10, genesisTime: 1_700_000_000, genesisNumber: 1000)
        #expect(c.chainID == 10)
        for fork in Fork.allCases { #expect(c.isActive(fork, at: 0) == (fork != .jovian), "\(fork)") }
        #expect(c.payloadVersion(at: 0) == .v4)
        #expect(c.fork(at: .max) == .isthmus)
        // The synthetic chain-10 vectors: block 1000 + k at 1700000000 + 2k.
        #expect(c.timestampForBlock(1004) == 1_700_000_008)
    }

    @Test func blockTimeArithmetic() throws {
        let c = try Self.parse(Self.unichainSepoliaJSON)
        #expect(c.timestampForBlock(35_535_698) == 1_762_388_126)  // the real block's timestamp
        #expect(c.timestampForBlock(0) == c.genesis.l2Time)
        #expect(c.targetBlockNumber(now: 1_762_388_126) == 35_535_698)
        #expect(c.targetBlockNumber(now: c.genesis.l2Time) == 0)
        #expect(c.targetBlockNumber(now: 0) == 0)  // before genesis: no wrap-around
        #expect(c.timestampForBlock(.max) == .max)  // saturates
        let op = try #require(RollupConfig.opMainnet)
        #expect(op.timestampForBlock(op.genesis.l2.number - 1) == op.genesis.l2Time)
        #expect(op.timestampForBlock(op.genesis.l2.number + 10) == op.genesis.l2Time + 20)
        // floor((now − l2Time) / 2)
        #expect(op.targetBlockNumber(now: op.genesis.l2Time + 5) == op.genesis.l2.number + 2)
    }

    @Test func validationErrors() throws {
        #expect(throws: RollupConfigError.missingChainID) { try RollupConfig(json: Self.variant("l2_chain_id", nil)) }
        #expect(throws: RollupConfigError.missingChainID) { try RollupConfig(json: Self.variant("l2_chain_id", 0)) }
        #expect(throws: RollupConfigError.zeroBlockTime) { try RollupConfig(json: Self.variant("block_time", 0)) }
        #expect(throws: RollupConfigError.missingGenesisL2Time) { try RollupConfig(json: Self.variant("l2_time", nil, inGenesis: true)) }
        #expect(throws: RollupConfigError.forkOrder(earlier: .delta, later: .ecotone)) {
            try RollupConfig(json: Self.variant("delta_time", nil))
        }
        #expect(throws: RollupConfigError.forkOrder(earlier: .holocene, later: .isthmus)) {
            try RollupConfig(json: Self.variant("isthmus_time", 1_000))
        }
        #expect(throws: RollupConfigError.invalidField(field: "genesis.l2.hash", reason: "hash lacks the 0x prefix")) {
            try RollupConfig(json: Self.variant("l2", ["hash": String(repeating: "ab", count: 32), "number": 0], inGenesis: true))
        }
        #expect(throws: RollupConfigError.invalidField(field: "genesis.l1.hash", reason: "expected 32 bytes of hex, got 2")) {
            try RollupConfig(json: Self.variant("l1", ["hash": "0xabcd", "number": 0], inGenesis: true))
        }
    }

    @Test func hostileJSON() throws {
        let bad: [[UInt8]] = [
            Array("not json".utf8), Array("[]".utf8), Array("{}".utf8), [],
            try Self.variant("block_time", "2"), try Self.variant("block_time", -2), try Self.variant("block_time", 2.5),
            try Self.variant("l2_chain_id", 1e30), try Self.variant("canyon_time", true), try Self.variant("genesis", 7),
            Array(Self.unichainSepoliaJSON.replacingOccurrences(of: "\"l2_chain_id\": 1301", with: "\"l2_chain_id\": 18446744073709551616").utf8),
        ]
        for doc in bad {
            #expect(throws: RollupConfigError.self, "\(String(decoding: doc, as: UTF8.self).prefix(60))") { try RollupConfig(json: doc) }
        }
        #expect(throws: RollupConfigError.invalidField(field: "block_time", reason: "expected UInt64")) {
            try RollupConfig(json: Self.variant("block_time", "2"))
        }
        let huge = [UInt8](repeating: 0x20, count: RollupConfig.maxJSONSize + 1)
        #expect(throws: RollupConfigError.fileTooLarge(path: "<memory>", size: huge.count, max: RollupConfig.maxJSONSize)) {
            try RollupConfig(json: huge)
        }
        // Unknown and null fork fields are ignored; a null time is "never".
        let c = try RollupConfig(json: Self.variant("jovian_time", NSNull()))
        #expect(c.forkTimes[.jovian] == nil)
        // Random byte mutations: a typed error or a valid configuration.
        var rng = SplitMix64(seed: 0xC0F)
        let original = Array(Self.unichainSepoliaJSON.utf8)
        for _ in 0..<500 {
            do { _ = try RollupConfig(json: rng.mutate(original)) } catch { #expect(!error.description.isEmpty) }
        }
    }

    @Test func readsFiles() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rollup-\(UInt64.random(in: 0...UInt64.max)).json").path
        try Data(Self.unichainSepoliaJSON.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try RollupConfig(jsonFile: path) == (try Self.parse(Self.unichainSepoliaJSON)))
        #expect(throws: RollupConfigError.unreadableFile(path: path + ".missing")) { try RollupConfig(jsonFile: path + ".missing") }
    }

    @Test func presets() throws {
        #expect(RollupConfig.presetNames.count == 3)
        for name in RollupConfig.presetNames { #expect(RollupConfig.preset(named: name) != nil, "\(name)") }
        #expect(RollupConfig.preset(named: "op-sepolia") == nil)
        let op = try #require(RollupConfig.preset(named: "op-mainnet"))
        #expect(op.chainID == 10 && op.blockTime == 2)
        #expect(op.genesis.l2.number == 105_235_063 && op.genesis.l2Time == 1_686_068_903)
        #expect(op.payloadVersion(at: 1_704_992_400) == .v1)
        #expect(op.payloadVersion(at: 1_704_992_401) == .v2)
        #expect(op.payloadVersion(at: 1_710_374_401) == .v3)
        #expect(op.payloadVersion(at: 1_746_806_401) == .v4)
        #expect(op.fork(at: 1_764_691_201) == .jovian)
        let base = try #require(RollupConfig.preset(named: "base-mainnet"))
        #expect(base.chainID == 8453 && base.genesis.l2.number == 0)
        let uni = try #require(RollupConfig.preset(named: "unichain-mainnet"))
        #expect(uni.chainID == 130 && uni.blockTime == 1)
        #expect(uni.payloadVersion(at: uni.genesis.l2Time) == .v3)
        #expect(uni.fork(at: 1_746_806_400) == .holocene)
    }
}
