import Foundation
import Testing
import P2PCore
import Rollup
@testable import ReqResp

private let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/testdata")
private func bytes(_ p: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: testdata.appendingPathComponent(p))) }

/// payload_by_number wire format (spec §5.1) against the real Unichain response.
@Suite struct PayloadByNumberCodecTests {
    let config = RollupConfig.forTesting(chainID: 1301)
    let number: UInt64 = 35_535_698

    @Test func realResponseDecodesToTheUnichainBlock() throws {
        let meta = try #require(try JSONSerialization.jsonObject(with: Data(try bytes("reqresp/unichain-sepolia-35535698.response.json"))) as? [String: Any])
        #expect(PayloadByNumber.protocolID(chainID: 1301) == meta["protocol_id"] as? String)
        #expect(PayloadByNumber.encodeRequest(number).prefixedHex == meta["request_hex (u64 little-endian block number)"] as? String)
        #expect(try PayloadByNumber.decodeRequest(PayloadByNumber.encodeRequest(number)) == number)
        let response = try bytes("reqresp/unichain-sepolia-35535698.response.bin")
        #expect(Array(response.prefix(5)).prefixedHex == meta["response_header_hex"] as? String)
        let (env, layout) = try PayloadByNumber.decodeResponse(response, requestedNumber: number, config: config)
        #expect(layout == .v4)
        #expect(env.payload.blockHash.prefixedHex == meta["expected_block_hash"] as? String)
        #expect(try env.sszEncoded(version: .v4) == (try bytes("real/unichain-sepolia-35535698.envelope-v4.ssz")))
        #expect(try env.sszEncoded(version: .v4).count == meta["decoded_len"] as? Int)
    }

    @Test func streamingByteByByteMatchesOneShot() throws {
        let response = try bytes("reqresp/unichain-sepolia-35535698.response.bin")
        var d = ResponseDecoder(requestedNumber: number, config: config)
        for b in response { try d.feed([b]) }
        let (env, _) = try d.finish()
        #expect(env.payload.blockNumber == number)
    }

    @Test func serverEncodingRoundTripsAndPicksVersionByEcotone() throws {
        let env = try ExecutionPayloadEnvelope(ssz: try bytes("real/unichain-sepolia-35535698.envelope-v4.ssz"), version: .v4)
        let encoded = try PayloadByNumber.encodeSuccess(env, config: config)
        #expect(Array(encoded.prefix(5)) == [0, 1, 0, 0, 0])
        #expect(Array(encoded[5..<15]) == SnappyFramed.streamIdentifier)
        let (back, _) = try PayloadByNumber.decodeResponse(encoded, requestedNumber: number, config: config)
        #expect(back == env)
        // A pre-Ecotone V2 block is sent as version 0 and decoded with the V2 layout (Canyon active).
        let v2 = try ExecutionPayload(ssz: try bytes("real/goerli-l1-8656414-post-shanghai.payload-v2.ssz"), version: .v2)
        let zero = [UInt8](repeating: 0, count: 32)
        let canyonOnly = try RollupConfig(chainID: 5, genesis: .init(l1: .init(hash: zero, number: 0), l2: .init(hash: zero, number: 0), l2Time: 1),
                                          blockTime: 12, forkTimes: [.regolith: 1, .canyon: 1])
        let enc2 = try PayloadByNumber.encodeSuccess(ExecutionPayloadEnvelope(payload: v2), config: canyonOnly)
        #expect(Array(enc2.prefix(5)) == [0, 0, 0, 0, 0])
        let (back2, layout2) = try PayloadByNumber.decodeResponse(enc2, requestedNumber: v2.blockNumber, config: canyonOnly)
        #expect(layout2 == .v2 && back2.payload == v2)
    }

    @Test func errorsAreTyped() throws {
        let response = try bytes("reqresp/unichain-sepolia-35535698.response.bin")
        #expect(throws: PayloadByNumberError.emptyResponse) { try PayloadByNumber.decodeResponse([], requestedNumber: number, config: config) }
        // kona/base send 01 00; anything after a non-zero code is ignored.
        let notFound = #expect(throws: PayloadByNumberError.self) { try PayloadByNumber.decodeResponse([1, 0], requestedNumber: number, config: config) }
        #expect(notFound?.isNotFound == true)
        #expect(throws: PayloadByNumberError.resultCode(3)) { try PayloadByNumber.decodeResponse([3], requestedNumber: number, config: config) }
        #expect(throws: PayloadByNumberError.truncatedHeader) { try PayloadByNumber.decodeResponse([0, 1, 0], requestedNumber: number, config: config) }
        var v2 = response
        v2[1] = 2   // the prose spec's "version 2" is not what op-node speaks
        #expect(throws: PayloadByNumberError.unknownVersion(2)) { try PayloadByNumber.decodeResponse(v2, requestedNumber: number, config: config) }
        #expect(throws: PayloadByNumberError.wrongBlockNumber(expected: number + 1, got: number)) {
            try PayloadByNumber.decodeResponse(response, requestedNumber: number + 1, config: config)
        }
        // A payload whose contents do not match its hash (re-encoded after changing gasUsed).
        var env = try ExecutionPayloadEnvelope(ssz: try bytes("real/unichain-sepolia-35535698.envelope-v4.ssz"), version: .v4)
        env.payload.gasUsed += 1
        let forged = PayloadByNumber.encodeSuccess(version: 1, ssz: try env.sszEncoded(version: .v4))
        #expect(throws: PayloadByNumberError.invalidBlockHash) { try PayloadByNumber.decodeResponse(forged, requestedNumber: number, config: config) }
        #expect(throws: PayloadByNumberError.badRequestLength(7)) { try PayloadByNumber.decodeRequest([1, 2, 3, 4, 5, 6, 7]) }
        // Over 10 MiB of stream is refused while feeding, before it is buffered.
        var d = ResponseDecoder(requestedNumber: number, config: config)
        try d.feed(Array(response.prefix(15)))
        #expect(throws: PayloadByNumberError.responseTooLarge) { try d.feed([UInt8](repeating: 0, count: PayloadByNumber.maxResponseSize)) }
    }

    @Test func hostileResponsesNeverTrap() throws {
        let response = try bytes("reqresp/unichain-sepolia-35535698.response.bin")
        var rng = SystemRandomNumberGenerator()
        var failures = 0
        for i in 0..<3000 {
            var m = response
            switch i % 3 {
            case 0: m[Int.random(in: 0..<m.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            case 1: m = Array(m.prefix(Int.random(in: 0..<m.count, using: &rng)))
            default: m = [0, 1, 0, 0, 0] + (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            do { _ = try PayloadByNumber.decodeResponse(m, requestedNumber: number, config: config) } catch { failures += 1 }
        }
        #expect(failures > 2900)
    }
}
