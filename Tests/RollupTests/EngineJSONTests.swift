/// Engine-API JSON (spec §1.5): the Unichain newPayloadV4 request, round trips of every JSON payload
/// in the test data, typed errors for hostile documents, and randomized mutations.
import Foundation
import P2PCore
import Testing
@testable import Rollup

@Suite struct EngineJSONTests {
    @Test func unichainEncodingReproducesNewPayloadV4Params() throws {
        let request = try TestData.json("engine/unichain-sepolia-35535698.engine_newPayloadV4.request.json")
        let params = try #require(request["params"] as? [Any])
        #expect(params.count == 4)
        let env = try ExecutionPayloadEnvelope(ssz: TestData.bytes("real/unichain-sepolia-35535698.envelope-v4.ssz"), version: .v4)
        #expect(jsonEqual(try parseJSON(env.payload.engineJSON()), params[0]))
        #expect(params[2] as? String == env.parentBeaconBlockRoot?.prefixedHex)
        // And params[0] decodes to the same payload.
        #expect(try ExecutionPayload(jsonObject: params[0]) == env.payload)
    }

    /// Every JSON payload in the test data, as (name, payload object, whole document when it is one).
    static func jsonPayloads() throws -> [(String, Any)] {
        var out: [(String, Any)] = []
        for file in try TestData.files(in: "real", suffix: ".json") {
            out.append((file, try JSONSerialization.jsonObject(with: Data(contentsOf: TestData.url(file)))))
        }
        for file in try TestData.files(in: "gossip", suffix: ".json") {
            if let p = try TestData.json(file)["payload_json"] { out.append((file, p)) }
        }
        for file in try TestData.files(in: "engine", suffix: ".json") where file.contains("newPayload") {
            let params = try #require(try TestData.json(file)["params"] as? [Any])
            out.append((file, params[0]))
        }
        return out
    }

    @Test func everyJSONPayloadRoundTrips() throws {
        let docs = try Self.jsonPayloads()
        #expect(docs.count >= 9)
        for (name, object) in docs {
            let env = try ExecutionPayloadEnvelope(jsonObject: object)
            let text = env.parentBeaconBlockRoot == nil && (object as? [String: Any])?["executionPayload"] == nil
                ? env.payload.engineJSON() : env.engineJSON()
            #expect(jsonEqual(try parseJSON(text), object), "\(name) does not round-trip")
            #expect(try ExecutionPayloadEnvelope(engineJSON: Array(text.utf8)) == env, "\(name) re-decodes differently")
        }
    }

    @Test func omissionFollowsThePresentFields() throws {
        var p = SSZTests.minimal(.v1)
        var o = try #require(try parseJSON(p.engineJSON()) as? [String: Any])
        for key in ["withdrawals", "blobGasUsed", "excessBlobGas", "withdrawalsRoot"] { #expect(o[key] == nil) }
        p = SSZTests.minimal(.v4)
        o = try #require(try parseJSON(p.engineJSON()) as? [String: Any])
        #expect(o["withdrawals"] as? [Any] != nil && o["blobGasUsed"] as? String == "0x0" && o["withdrawalsRoot"] != nil)
        #expect(o["baseFeePerGas"] as? String == "0x3b9aca07")
        #expect(o["gasUsed"] as? String == "0x5208")
        let env = ExecutionPayloadEnvelope(payload: p)
        let e = try #require(try parseJSON(env.engineJSON()) as? [String: Any])
        #expect(e["parentBeaconBlockRoot"] == nil && e["executionPayload"] != nil)
        // A bare payload document decodes as an envelope without a root.
        #expect(try ExecutionPayloadEnvelope(engineJSON: Array(p.engineJSON().utf8)) == env)
    }

    // MARK: Hostile documents

    /// The Unichain payload object with one field replaced (nil removes it).
    static func unichain(_ key: String, _ value: Any?) throws -> [UInt8] {
        let request = try TestData.json("engine/unichain-sepolia-35535698.engine_newPayloadV4.request.json")
        var p = try #require((request["params"] as? [Any])?.first as? [String: Any])
        p[key] = value
        return [UInt8](try JSONSerialization.data(withJSONObject: ["executionPayload": p]))
    }

    static func decode(_ bytes: [UInt8]) throws(PayloadJSONError) -> ExecutionPayloadEnvelope {
        try ExecutionPayloadEnvelope(engineJSON: bytes)
    }

    @Test func hostileFieldValues() throws {
        let cases: [(String, Any?, PayloadJSONError)] = [
            ("parentHash", nil, .missingField("executionPayload.parentHash")),
            ("parentHash", NSNull(), .missingField("executionPayload.parentHash")),
            ("parentHash", 12, .wrongType(field: "executionPayload.parentHash", expected: "a string")),
            ("parentHash", "0x1234", .wrongLength(field: "executionPayload.parentHash", expected: 32, got: 2)),
            ("parentHash", "0x123", .invalidHex(field: "executionPayload.parentHash", reason: "hex string has odd length 3")),
            ("stateRoot", String(repeating: "ab", count: 32), .invalidHex(field: "executionPayload.stateRoot", reason: "hex string lacks the 0x prefix")),
            ("feeRecipient", "0x" + String(repeating: "zz", count: 20),
             .invalidHex(field: "executionPayload.feeRecipient", reason: "invalid hex character 'z' at offset 0")),
            ("blockNumber", "0x01", .invalidQuantity(field: "executionPayload.blockNumber", .leadingZeros)),
            ("blockNumber", "0x", .invalidQuantity(field: "executionPayload.blockNumber", .empty)),
            ("blockNumber", "12", .invalidQuantity(field: "executionPayload.blockNumber", .missingPrefix)),
            ("blockNumber", 12, .wrongType(field: "executionPayload.blockNumber", expected: "a string")),
            ("gasLimit", "0x1" + String(repeating: "0", count: 16), .invalidQuantity(field: "executionPayload.gasLimit", .overflow(maxBits: 64))),
            ("baseFeePerGas", "0x1" + String(repeating: "0", count: 64), .invalidQuantity(field: "executionPayload.baseFeePerGas", .overflow(maxBits: 256))),
            ("baseFeePerGas", 1e300, .wrongType(field: "executionPayload.baseFeePerGas", expected: "a string")),
            ("extraData", "0x" + String(repeating: "00", count: 33), .tooMany(field: "executionPayload.extraData", max: 32, got: 33)),
            ("transactions", nil, .missingField("executionPayload.transactions")),
            ("transactions", "0x00", .wrongType(field: "executionPayload.transactions", expected: "an array")),
            ("transactions", ["0x02", 5], .wrongType(field: "executionPayload.transactions[1]", expected: "a string")),
            ("transactions", ["0x0"], .invalidHex(field: "executionPayload.transactions[0]", reason: "hex string has odd length 1")),
            ("withdrawals", [["index": "0x1"]], .missingField("executionPayload.withdrawals[0].validatorIndex")),
            ("withdrawals", [[1]], .expectedObject(field: "executionPayload.withdrawals[0]")),
            ("withdrawals", Array(repeating: ["index": "0x1", "validatorIndex": "0x1", "address": "0x" + String(repeating: "11", count: 20),
                                               "amount": "0x1"], count: 17),
             .tooMany(field: "executionPayload.withdrawals", max: 16, got: 17)),
            ("withdrawalsRoot", "0x00", .wrongLength(field: "executionPayload.withdrawalsRoot", expected: 32, got: 1)),
            ("blobGasUsed", true, .wrongType(field: "executionPayload.blobGasUsed", expected: "a string")),
        ]
        for (key, value, expected) in cases {
            let doc = try Self.unichain(key, value)
            #expect(throws: expected, "\(key) = \(String(describing: value))") { try Self.decode(doc) }
        }
        // Optional fields set to null are absent.
        let env = try Self.decode(Self.unichain("withdrawalsRoot", NSNull()))
        #expect(env.payload.withdrawalsRoot == nil)
    }

    @Test func hostileDocuments() throws {
        #expect(throws: PayloadJSONError.malformedJSON) { try Self.decode(Array("{\"parentHash\":".utf8)) }
        #expect(throws: PayloadJSONError.malformedJSON) { try Self.decode([]) }
        #expect(throws: PayloadJSONError.expectedObject(field: "document")) { try Self.decode(Array("[1,2]".utf8)) }
        #expect(throws: PayloadJSONError.expectedObject(field: "executionPayload")) { try Self.decode(Array("{\"executionPayload\":7}".utf8)) }
        #expect(throws: PayloadJSONError.missingField("parentHash")) { try Self.decode(Array("{}".utf8)) }
        let big = [UInt8](repeating: 0x20, count: PayloadJSONLimits.maxDocumentSize + 1)
        #expect(throws: PayloadJSONError.documentTooLarge(big.count, max: PayloadJSONLimits.maxDocumentSize)) { try Self.decode(big) }
        let deep = Array((String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)).utf8)
        #expect(throws: PayloadJSONError.nestingTooDeep(max: PayloadJSONLimits.maxNesting)) { try Self.decode(deep) }
        // Brackets inside strings do not count.
        let quoted = Array(("{\"x\":\"" + String(repeating: "[", count: 100) + "\"}").utf8)
        #expect(throws: PayloadJSONError.missingField("parentHash")) { try Self.decode(quoted) }
        var doc = try #require(try JSONSerialization.jsonObject(with: Data(Self.unichain("parentHash", "0x" + String(repeating: "00", count: 32)))) as? [String: Any])
        doc["parentBeaconBlockRoot"] = "0x00"
        #expect(throws: PayloadJSONError.wrongLength(field: "parentBeaconBlockRoot", expected: 32, got: 1)) {
            try Self.decode([UInt8](try JSONSerialization.data(withJSONObject: doc)))
        }
    }

    // MARK: Randomized

    @Test func randomTextMutations() throws {
        let original = try TestData.bytes("real/unichain-sepolia-35535698.envelope.json")
        var rng = SplitMix64(seed: 0x15_0A)
        var decoded = 0
        for _ in 0..<1500 {
            var m = original
            for _ in 0..<Int.random(in: 1...2, using: &rng) { m = rng.mutate(m) }
            do {
                let env = try Self.decode(m)
                #expect(try Self.decode(Array(env.engineJSON().utf8)) == env)
                decoded += 1
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
        #expect(decoded > 0)
    }

    /// Replaces a random field of the payload object with a random JSON value.
    @Test func randomStructuralMutations() throws {
        let request = try TestData.json("engine/unichain-sepolia-35535698.engine_newPayloadV4.request.json")
        let base = try #require((request["params"] as? [Any])?.first as? [String: Any])
        let keys = Array(base.keys).sorted() + ["unknownField"]
        var rng = SplitMix64(seed: 0xD0C)
        func randomValue() -> Any {
            switch Int.random(in: 0..<9, using: &rng) {
            case 0: return NSNull()
            case 1: return Int.random(in: -5...Int.max, using: &rng)
            case 2: return Bool.random(using: &rng)
            case 3: return "0x" + rng.bytes(Int.random(in: 0...40, using: &rng)).hexString
            case 4: return "0x" + String(rng.bytes(Int.random(in: 0...40, using: &rng)).hexString.dropFirst())
            case 5: return [randomValue(), randomValue()]
            case 6: return ["index": randomValue()]
            case 7: return String(UInt64.random(in: 0...UInt64.max, using: &rng), radix: 16)
            default: return "0x" + String(UInt64.random(in: 0...UInt64.max, using: &rng), radix: 16)
            }
        }
        for _ in 0..<2000 {
            var p = base
            p[keys[Int.random(in: 0..<keys.count, using: &rng)]] = randomValue()
            let data = [UInt8](try JSONSerialization.data(withJSONObject: p))
            do {
                let env = try Self.decode(data)
                #expect(try Self.decode(Array(env.engineJSON().utf8)) == env)
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }
}
