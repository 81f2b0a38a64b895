/// SSZ payload codec against the real blocks and the synthetic gossip vectors (spec §1.3),
/// and every decoder bound with a crafted input.
import P2PCore
import Testing
@testable import Rollup

@Suite struct SSZTests {
    @Test(arguments: TestData.realBlocks.map(\.ssz))
    func realSSZRoundTripsByteForByte(file: String) throws {
        let entry = try #require(TestData.realBlocks.first { $0.ssz == file })
        let bytes = try TestData.bytes(file)
        let payload = try ExecutionPayload(ssz: bytes, version: entry.version)
        #expect(try payload.sszEncoded(version: entry.version) == bytes)
        // The same block from its JSON file decodes to the same value.
        let fromJSON = try ExecutionPayloadEnvelope(engineJSON: TestData.bytes(entry.json)).payload
        #expect(fromJSON == payload)
        // ArraySlice input (as gossip hands it up, after the signature) decodes identically.
        let framed = [UInt8](repeating: 0xaa, count: 7) + bytes
        #expect(try ExecutionPayload(ssz: framed[7...], version: entry.version) == payload)
    }

    @Test func realPayloadShapes() throws {
        let v1 = try ExecutionPayload(ssz: TestData.bytes("real/goerli-l1-8651337-pre-shanghai.payload-v1.ssz"), version: .v1)
        #expect(v1.transactions.count == 62)
        #expect(v1.withdrawals == nil && v1.blobGasUsed == nil && v1.withdrawalsRoot == nil)
        #expect(v1.blockNumber == 0x840249)
        #expect(v1.baseFeePerGas.hexQuantity == "0x7ccf990f8")
        let v2 = try ExecutionPayload(ssz: TestData.bytes("real/goerli-l1-8656414-post-shanghai.payload-v2.ssz"), version: .v2)
        #expect(v2.transactions.count == 29)
        #expect(v2.withdrawals?.count == 16)
        #expect(v2.withdrawals?.first == Withdrawal(index: 0x1170, validatorIndex: 0x38c2c,
                                                     address: try hex("0x8f0844fd51e31ff6bf5babe21dccf7328e19fd9f"),
                                                     amount: 0x66edfd65))
        let v4 = try ExecutionPayload(ssz: TestData.bytes("real/unichain-sepolia-35535698.payload-v4.ssz"), version: .v4)
        #expect(v4.withdrawals == [])
        #expect(v4.blobGasUsed == 0 && v4.excessBlobGas == 0)
        #expect(v4.withdrawalsRoot == (try hex("0x62ed62e0391b081bf172f287fbbe75e87d8a6c22f1d3b1f1aef4788c134633d2")))
        #expect(v4.extraData == (try hex("0x00000000320000000c")))
    }

    @Test func unichainEnvelopeSSZ() throws {
        let bytes = try TestData.bytes("real/unichain-sepolia-35535698.envelope-v4.ssz")
        let env = try ExecutionPayloadEnvelope(ssz: bytes, version: .v4)
        #expect(env == (try TestData.unichainEnvelope()))
        #expect(try env.sszEncoded(version: .v4) == bytes)
        #expect(Array(bytes[32...]) == (try TestData.bytes("real/unichain-sepolia-35535698.payload-v4.ssz")))
        // V1/V2 envelopes are the bare payload.
        let goerli = try TestData.bytes("real/goerli-l1-8656414-post-shanghai.payload-v2.ssz")
        let e2 = try ExecutionPayloadEnvelope(ssz: goerli, version: .v2)
        #expect(e2.parentBeaconBlockRoot == nil)
        #expect(try e2.sszEncoded(version: .v2) == goerli)
    }

    static let signedVectorFiles = (1...4).map { "gossip/synthetic-chain10-v\($0).json" }
        + ["gossip/unichain-sepolia-35535698.v4.signed-test-key.json"]

    @Test(arguments: signedVectorFiles)
    func signedGossipVectors(file: String) throws {
        let doc = try TestData.json(file)
        let v = try #require((doc["block_version"] as? String).flatMap { Int($0.dropFirst()) }.flatMap(PayloadVersion.init(rawValue:)))
        let payload = try ExecutionPayload(jsonObject: try #require(doc["payload_json"]), path: "payload_json")
        let ssz = try hex(vectorField(doc, "ssz_execution_payload"))
        #expect(try payload.sszEncoded(version: v) == ssz)
        #expect(try ExecutionPayload(ssz: ssz, version: v) == payload)
        let root = try (doc["parent_beacon_block_root"] as? String).map(hex)
        let env = ExecutionPayloadEnvelope(payload: payload, parentBeaconBlockRoot: root)
        #expect(try env.sszEncoded(version: v) == hex(vectorField(doc, "signed_bytes")))
        #expect(env.computeBlockHash(version: v) == (try hex(vectorField(doc, "computed_block_hash"))))
    }

    @Test func layoutComesFromTheCallersVersion() throws {
        let v4 = try TestData.bytes("real/unichain-sepolia-35535698.payload-v4.ssz")
        #expect(throws: SSZError.invalidExtraDataOffset(expected: 528, got: 560)) { try ExecutionPayload(ssz: v4, version: .v3) }
        let v1 = try TestData.bytes("real/goerli-l1-8651337-pre-shanghai.payload-v1.ssz")
        #expect(throws: SSZError.invalidExtraDataOffset(expected: 512, got: 508)) { try ExecutionPayload(ssz: v1, version: .v2) }
        // A V4 payload encodes in whichever layout the caller asks for that its fields allow.
        let p = try ExecutionPayload(ssz: v4, version: .v4)
        let asV3 = try p.sszEncoded(version: .v3)
        #expect(asV3.count == v4.count - 32)
        var back = try ExecutionPayload(ssz: asV3, version: .v3)
        #expect(back.withdrawalsRoot == nil)
        back.withdrawalsRoot = p.withdrawalsRoot
        #expect(back == p)
    }

    // MARK: Decoder bounds, one crafted input each

    /// A minimal valid payload of `version` with `extra` extraData, `txs` and `withdrawals`.
    static func minimal(_ version: PayloadVersion, extra: [UInt8] = [], txs: [[UInt8]] = [], withdrawals: [Withdrawal] = []) -> ExecutionPayload {
        let h = [UInt8](repeating: 1, count: 32)
        return ExecutionPayload(
            parentHash: h, feeRecipient: [UInt8](repeating: 2, count: 20), stateRoot: h, receiptsRoot: h,
            logsBloom: [UInt8](repeating: 0, count: 256), prevRandao: h, blockNumber: 7, gasLimit: 30_000_000,
            gasUsed: 21000, timestamp: 1_700_000_000, extraData: extra, baseFeePerGas: UInt256(1_000_000_007),
            blockHash: h, transactions: txs, withdrawals: version >= .v2 ? withdrawals : nil,
            blobGasUsed: version >= .v3 ? 0 : nil, excessBlobGas: version >= .v3 ? 0 : nil,
            withdrawalsRoot: version >= .v4 ? h : nil)
    }

    static func putU32(_ b: inout [UInt8], at: Int, _ v: Int) {
        for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
    }

    @Test func scopeAndHeaderOffsets() throws {
        for v in PayloadVersion.allCases {
            let good = try Self.minimal(v).sszEncoded(version: v)
            #expect(good.count == v.sszFixedSize)
            #expect(try ExecutionPayload(ssz: good, version: v) == Self.minimal(v))
            #expect(throws: SSZError.scopeTooSmall(version: v, fixedSize: v.sszFixedSize, scope: v.sszFixedSize - 1)) {
                try ExecutionPayload(ssz: good.dropLast(), version: v)
            }
            var b = good
            Self.putU32(&b, at: 436, v.sszFixedSize + 4)
            #expect(throws: SSZError.invalidExtraDataOffset(expected: v.sszFixedSize, got: v.sszFixedSize + 4)) {
                try ExecutionPayload(ssz: b, version: v)
            }
            b = good + [UInt8](repeating: 0, count: 40)
            if v >= .v2 { Self.putU32(&b, at: 508, b.count) }
            Self.putU32(&b, at: 504, v.sszFixedSize + 33)
            #expect(throws: SSZError.extraDataTooLong(33)) { try ExecutionPayload(ssz: b, version: v) }
            b = good
            Self.putU32(&b, at: 504, v.sszFixedSize + 1)
            #expect(throws: SSZError.invalidTransactionsOffset(offset: v.sszFixedSize + 1, extraDataOffset: v.sszFixedSize, scope: v.sszFixedSize)) {
                try ExecutionPayload(ssz: b, version: v)
            }
            Self.putU32(&b, at: 504, v.sszFixedSize - 1)
            #expect(throws: SSZError.invalidTransactionsOffset(offset: v.sszFixedSize - 1, extraDataOffset: v.sszFixedSize, scope: v.sszFixedSize)) {
                try ExecutionPayload(ssz: b, version: v)
            }
        }
    }

    @Test func withdrawalsOffsetAndRegion() throws {
        let v = PayloadVersion.v2
        let w = Withdrawal(index: 1, validatorIndex: 2, address: [UInt8](repeating: 9, count: 20), amount: 3)
        let good = try Self.minimal(v, withdrawals: [w]).sszEncoded(version: v)
        #expect(good.count == 512 + 44)
        var b = good
        Self.putU32(&b, at: 508, good.count + 1)
        #expect(throws: SSZError.invalidWithdrawalsOffset(offset: good.count + 1, transactionsOffset: 512, scope: good.count)) {
            try ExecutionPayload(ssz: b, version: v)
        }
        b = good
        Self.putU32(&b, at: 504, 520)  // transactions after withdrawals
        #expect(throws: SSZError.invalidWithdrawalsOffset(offset: 512, transactionsOffset: 520, scope: good.count)) {
            try ExecutionPayload(ssz: b, version: v)
        }
        #expect(throws: SSZError.invalidWithdrawalsSize(43)) { try ExecutionPayload(ssz: good.dropLast(), version: v) }
        let seventeen = try Self.minimal(v, withdrawals: Array(repeating: w, count: 16)).sszEncoded(version: v) + good.suffix(44)
        #expect(throws: SSZError.tooManyWithdrawals(17)) { try ExecutionPayload(ssz: seventeen, version: v) }
        #expect(throws: SSZError.tooManyWithdrawals(17)) {
            try Self.minimal(v, withdrawals: Array(repeating: w, count: 17)).sszEncoded(version: v)
        }
    }

    @Test func transactionListBounds() throws {
        let v = PayloadVersion.v1
        let good = try Self.minimal(v, txs: [[0xaa, 0xbb], [], [0xcc]]).sszEncoded(version: v)
        #expect(try ExecutionPayload(ssz: good, version: v).transactions == [[0xaa, 0xbb], [], [0xcc]])
        let list = 508  // list start
        // List of 1..3 bytes.
        #expect(throws: SSZError.transactionListTooShort(3)) {
            try ExecutionPayload(ssz: Self.minimal(v).sszEncoded(version: v) + [1, 2, 3], version: v)
        }
        var b = good
        Self.putU32(&b, at: list, 0)
        #expect(throws: SSZError.invalidFirstTransactionOffset(offset: 0, listSize: good.count - list)) { try ExecutionPayload(ssz: b, version: v) }
        Self.putU32(&b, at: list, 6)
        #expect(throws: SSZError.invalidFirstTransactionOffset(offset: 6, listSize: good.count - list)) { try ExecutionPayload(ssz: b, version: v) }
        Self.putU32(&b, at: list, 100)
        #expect(throws: SSZError.invalidFirstTransactionOffset(offset: 100, listSize: good.count - list)) { try ExecutionPayload(ssz: b, version: v) }
        b = good
        Self.putU32(&b, at: list + 4, 15)  // second offset > third (14)
        #expect(throws: SSZError.invalidTransactionOffset(index: 2, offset: 14, previous: 15, listSize: good.count - list)) {
            try ExecutionPayload(ssz: b, version: v)
        }
        b = good
        Self.putU32(&b, at: list + 8, 99)
        #expect(throws: SSZError.invalidTransactionOffset(index: 2, offset: 99, previous: 14, listSize: good.count - list)) {
            try ExecutionPayload(ssz: b, version: v)
        }
        // More than 2^20 offsets: rejected before anything is allocated for them.
        let n = (1 << 20) + 1
        var huge = try Self.minimal(v).sszEncoded(version: v) + [UInt8](repeating: 0, count: 4 * n)
        Self.putU32(&huge, at: list, 4 * n)
        #expect(throws: SSZError.tooManyTransactions(n)) { try ExecutionPayload(ssz: huge, version: v) }
    }

    @Test func encoderChecksFieldsForTheVersion() throws {
        var p = Self.minimal(.v1)
        #expect(throws: SSZError.missingField("withdrawals", version: .v2)) { try p.sszEncoded(version: .v2) }
        p.withdrawals = []
        #expect(throws: SSZError.missingField("blobGasUsed", version: .v3)) { try p.sszEncoded(version: .v3) }
        p.blobGasUsed = 0
        p.excessBlobGas = 0
        #expect(throws: SSZError.missingField("withdrawalsRoot", version: .v4)) { try p.sszEncoded(version: .v4) }
        p.withdrawalsRoot = [1, 2]
        #expect(throws: SSZError.wrongFieldLength(field: "withdrawalsRoot", expected: 32, got: 2)) { try p.sszEncoded(version: .v4) }
        p.parentHash = [0]
        #expect(throws: SSZError.wrongFieldLength(field: "parentHash", expected: 32, got: 1)) { try p.sszEncoded(version: .v1) }
        p = Self.minimal(.v1, extra: [UInt8](repeating: 0, count: 33))
        #expect(throws: SSZError.extraDataTooLong(33)) { try p.sszEncoded(version: .v1) }
        let env = ExecutionPayloadEnvelope(payload: Self.minimal(.v3))
        #expect(throws: SSZError.missingField("parentBeaconBlockRoot", version: .v3)) { try env.sszEncoded(version: .v3) }
        #expect(throws: SSZError.envelopeTooShort(31)) { try ExecutionPayloadEnvelope(ssz: [UInt8](repeating: 0, count: 31), version: .v4) }
    }

    @Test func decodingA100KBBlockIsFast() throws {
        let txs = (0..<100).map { i in [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 1000) }
        let bytes = try Self.minimal(.v3, txs: txs).sszEncoded(version: .v3)
        #expect(bytes.count > 100_000)
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for _ in 0..<200 { _ = try ExecutionPayload(ssz: bytes, version: .v3) }
        }
        // 20 MB decoded; a per-byte loop in a debug build takes several seconds.
        #expect(elapsed < .seconds(2), "200 decodes of 100 KB took \(elapsed)")
    }
}
