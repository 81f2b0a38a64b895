/// Block-hash check (spec §1.4) on the real Goerli V1/V2 blocks (SSZ and JSON), the real Unichain
/// Isthmus envelope, the synthetic V1–V4 vectors and the FCU example; every field mutation fails.
import P2PCore
import Testing
@testable import Rollup

@Suite struct BlockHashTests {
    @Test(arguments: TestData.realBlocks.map(\.ssz))
    func realBlocksVerifyFromSSZAndJSON(file: String) throws {
        let entry = try #require(TestData.realBlocks.first { $0.ssz == file })
        let fromJSON = try ExecutionPayloadEnvelope(engineJSON: TestData.bytes(entry.json))
        let payload = try ExecutionPayload(ssz: TestData.bytes(file), version: entry.version)
        let fromSSZ = ExecutionPayloadEnvelope(payload: payload, parentBeaconBlockRoot: fromJSON.parentBeaconBlockRoot)
        for env in [fromJSON, fromSSZ] {
            #expect(env.computeBlockHash(version: entry.version) == env.payload.blockHash)
            #expect(env.checkBlockHash(version: entry.version))
        }
    }

    @Test func unichainIsthmusHash() throws {
        let env = try TestData.unichainEnvelope()
        #expect(env.computeBlockHash(version: .v4).prefixedHex == TestData.unichainBlockHash)
        #expect(env.checkBlockHash(version: .v4))
        // The wrong version's header rules give another hash.
        #expect(!env.checkBlockHash(version: .v3))
        // The forkchoiceUpdated example points at this block.
        let fcu = try TestData.json("engine/unichain-sepolia-35535698.engine_forkchoiceUpdatedV3.request.json")
        let state = try #require((fcu["params"] as? [Any])?.first as? [String: Any])
        #expect(state["headBlockHash"] as? String == env.computeBlockHash(version: .v4).prefixedHex)
    }

    @Test(arguments: 1...4)
    func syntheticVectors(version: Int) throws {
        let v = try #require(PayloadVersion(rawValue: version))
        let doc = try TestData.json("gossip/synthetic-chain10-v\(version).json")
        let env = try ExecutionPayloadEnvelope(ssz: hex(vectorField(doc, "signed_bytes")), version: v)
        #expect(env.computeBlockHash(version: v) == (try hex(vectorField(doc, "computed_block_hash"))))
        #expect(env.checkBlockHash(version: v))
    }

    /// Each mutation must change the hash (checked on the version that carries the field).
    @Test func everyFieldMutationFails() throws {
        let unichain = try TestData.unichainEnvelope()
        let goerliV2 = ExecutionPayloadEnvelope(payload: try ExecutionPayload(
            ssz: TestData.bytes("real/goerli-l1-8656414-post-shanghai.payload-v2.ssz"), version: .v2))
        typealias Mutation = (String, PayloadVersion, (inout ExecutionPayloadEnvelope) -> Void)
        let mutations: [Mutation] = [
            ("parentHash", .v4, { $0.payload.parentHash[0] ^= 1 }),
            ("feeRecipient", .v4, { $0.payload.feeRecipient[19] ^= 1 }),
            ("stateRoot", .v4, { $0.payload.stateRoot[5] ^= 1 }),
            ("receiptsRoot", .v4, { $0.payload.receiptsRoot[31] ^= 1 }),
            ("logsBloom", .v4, { $0.payload.logsBloom[100] ^= 1 }),
            ("prevRandao", .v4, { $0.payload.prevRandao[0] ^= 1 }),
            ("blockNumber", .v4, { $0.payload.blockNumber += 1 }),
            ("gasLimit", .v4, { $0.payload.gasLimit -= 1 }),
            ("gasUsed", .v4, { $0.payload.gasUsed += 1 }),
            ("timestamp", .v4, { $0.payload.timestamp += 1 }),
            ("extraData", .v4, { $0.payload.extraData.append(0) }),
            ("baseFeePerGas", .v4, { $0.payload.baseFeePerGas = UInt256(52) }),
            ("transaction byte", .v4, { $0.payload.transactions[1][10] ^= 1 }),
            ("transaction order", .v4, { $0.payload.transactions.swapAt(1, 2) }),
            ("transaction dropped", .v4, { $0.payload.transactions.removeLast() }),
            ("blobGasUsed", .v4, { $0.payload.blobGasUsed = 1 }),
            ("excessBlobGas", .v4, { $0.payload.excessBlobGas = 1 }),
            ("withdrawalsRoot", .v4, { $0.payload.withdrawalsRoot?[0] ^= 1 }),
            ("parentBeaconBlockRoot", .v4, { $0.parentBeaconBlockRoot?[0] ^= 1 }),
            ("withdrawal amount", .v2, { $0.payload.withdrawals?[3].amount += 1 }),
            ("withdrawal address", .v2, { $0.payload.withdrawals?[0].address[0] ^= 1 }),
            ("withdrawal dropped", .v2, { $0.payload.withdrawals?.removeLast() }),
        ]
        for (name, version, mutate) in mutations {
            var env = version == .v4 ? unichain : goerliV2
            #expect(env.checkBlockHash(version: version))
            mutate(&env)
            #expect(!env.checkBlockHash(version: version), "mutating \(name) still verifies")
        }
    }

    @Test func missingFieldsFailTheCheck() throws {
        var env = try TestData.unichainEnvelope()
        env.parentBeaconBlockRoot = nil
        #expect(!env.checkBlockHash(version: .v4))
        env = try TestData.unichainEnvelope()
        env.payload.withdrawalsRoot = nil
        #expect(!env.checkBlockHash(version: .v4))
        env = try TestData.unichainEnvelope()
        env.payload.blobGasUsed = nil
        #expect(!env.checkBlockHash(version: .v3))
        env.payload.blockHash = [1, 2, 3]
        #expect(!env.checkBlockHash(version: .v1))
    }
}
